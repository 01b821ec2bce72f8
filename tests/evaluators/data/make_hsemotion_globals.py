"""Regenerate hsemotion_pickle_globals.json: what whole-model timm EfficientNet pickles name.

The HSEmotion files are ``torch.save(model)`` of timm EfficientNets (saved with timm 0.4.5); the
loader in ``emobench.evaluators.hsemotion`` unpickles only the globals listed here. Each timm
version is installed into its own folder and run in its own process, e.g.::

    for v in 0.4.5 0.4.12 0.5.4 0.6.13 0.9.16; do pip install --no-deps --target /tmp/timm-$v timm==$v; done
    python tests/evaluators/data/make_hsemotion_globals.py /tmp/timm-0.4.5 /tmp/timm-0.4.12 ... installed

(``installed`` means the timm of the running environment). Names torch itself allowlists for
``weights_only`` (tensor and storage rebuild helpers, ``OrderedDict``, ``set``) are not listed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import types
from pathlib import Path

ARCHS = ("efficientnet_b0", "efficientnet_b2", "tf_efficientnet_b0", "tf_efficientnet_b2")
OUT = Path(__file__).with_name("hsemotion_pickle_globals.json")


def _globals_of_this_timm() -> dict:
    import collections.abc

    import torch

    # timm 0.4/0.5 import torch._six, which torch 2 removed; a stand-in is enough to build models.
    six = types.ModuleType("torch._six")
    six.container_abcs, six.string_classes, six.int_classes, six.inf = collections.abc, (str,), (int,), float("inf")
    sys.modules.setdefault("torch._six", six)
    import timm

    names: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ARCHS:
            for classes in (7, 8):
                path = Path(tmp) / f"{arch}_{classes}.pt"
                torch.save(timm.create_model(arch, num_classes=classes, pretrained=False), path)
                names |= set(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    return {"timm": timm.__version__, "globals": sorted(names)}


def main(folders: list[str]) -> None:
    if folders[:1] == ["--child"]:  # one timm per process: folders[1] goes first on sys.path
        if folders[1] != "installed":
            sys.path.insert(0, folders[1])
        print(json.dumps(_globals_of_this_timm()))
        return
    versions = {}
    for folder in folders:
        out = subprocess.run([sys.executable, __file__, "--child", folder], capture_output=True, text=True,
                             check=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        versions[row["timm"]] = row["globals"]
    OUT.write_text(json.dumps({"architectures": list(ARCHS), "classes": [7, 8], "timm": versions}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
