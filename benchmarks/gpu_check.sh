#!/usr/bin/env bash
# The device checks, as one script for a lent GPU machine (prepared here by scripts/device_prepare.sh):
# the CUDA tests (tests/pipeline/test_cuda.py), the fidelity table against the released code
# (benchmarks/cuda_fidelity.py) and the throughput benchmark (benchmarks/protocol_throughput.py).
# Each writes its log under $OUT; docs/performance.md records the figures. ~5 minutes on one H200.
#
#   EDITS=600 THROUGHPUT_S=300 bash benchmarks/gpu_check.sh
#   DEVICE=cpu EDITS=2 DDIM_STEPS=2 BF16=0 bash benchmarks/gpu_check.sh   # a dry run here (~2 min)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu_check}
mkdir -p "$out"
[ -d .device/whl ] || { echo "error: .device/ is missing: run scripts/device_prepare.sh and carry .device"; exit 2; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
  .device/whl/*.whl || { echo "error: could not install .device/whl"; exit 2; }
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 EMOBENCH_OFFLINE=1 \
  EMOBENCH_SHARED=$PWD/.device/shared EMOBENCH_WEIGHTS=$PWD/.device/shared/weights
rc=0
{ nvidia-smi || true; python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA')"; } \
  > "$out/device.txt" 2>&1
python3 -m pytest -q -p no:cacheprovider -m gpu tests/pipeline/test_cuda.py 2>&1 | tee "$out/gpu_tests.txt" \
  || rc=1
python3 benchmarks/cuda_fidelity.py --device "${DEVICE:-cuda}" 2>&1 | tee "$out/fidelity.txt" || rc=1
timeout "${THROUGHPUT_S:-300}" python3 benchmarks/protocol_throughput.py --device "${DEVICE:-cuda}" --edits "${EDITS:-600}" \
  --ddim-steps "${DDIM_STEPS:-40}" $([ "${BF16:-1}" = 1 ] && echo --bf16) 2>&1 | tee "$out/throughput.txt" || rc=1
exit $rc
