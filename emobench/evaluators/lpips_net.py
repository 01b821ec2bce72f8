"""LPIPS v0.1 networks from the ``lpips`` package, filled from local weights (no download).

``lpips.LPIPS(pnet_rand=True)`` builds the backbone without asking torchvision to
download ImageNet weights; the conv weights then come from the weights manager
(``alexnet-imagenet`` / ``vgg16-imagenet``: a pickle of numpy arrays with flax HWIO
kernels, sha256-verified and read with a numpy-only unpickler) and the linear head from
``lpips-head-<net>``.

Example:
    >>> import torch
    >>> net = build_lpips("alex")  # doctest: +SKIP
    >>> float(net(torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 64), normalize=True))  # doctest: +SKIP
    0.0
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from emobench.weights import resolve

BACKBONE_ASSET = {"alex": "alexnet-imagenet", "vgg": "vgg16-imagenet"}
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"), ("collections", "OrderedDict"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and refuses anything else (no code execution)."""

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: only numpy arrays are expected")


def load_numpy_pickle(path: Path) -> dict:
    """Read a pickle that holds (nested) dicts of numpy arrays only."""
    with open(path, "rb") as fh:
        return _NumpyOnlyUnpickler(fh).load()


def _backbone_kernels(tree: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel HWIO, bias) pairs of the backbone's convs in order, from the flax-style tree."""
    (backbone_name,) = [k for k in tree if not k.startswith("NetLinLayer")]
    convs = tree[backbone_name]
    order = sorted(convs, key=lambda k: int(k.split("_")[-1]))
    return [(np.asarray(convs[k]["kernel"]), np.asarray(convs[k]["bias"])) for k in order]


def build_lpips(net: str = "alex", device: torch.device | str = "cpu") -> nn.Module:
    """An ``lpips.LPIPS`` v0.1 model (eval, frozen) for ``net`` in {"alex", "vgg"}.

    Raises :class:`emobench.weights.MissingWeightError` if a weight file is absent.
    """
    import lpips

    if net not in BACKBONE_ASSET:
        raise ValueError(f"LPIPS net must be one of {', '.join(BACKBONE_ASSET)}, got {net!r}")
    head = resolve(f"lpips-head-{net}")
    kernels = _backbone_kernels(load_numpy_pickle(resolve(BACKBONE_ASSET[net])))
    with warnings.catch_warnings():
        # lpips passes torchvision the deprecated ``pretrained=False``; the warning is noise here.
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        model = lpips.LPIPS(pretrained=True, net=net, version="0.1", pnet_rand=True, model_path=str(head),
                            verbose=False)
    convs = [m for m in model.net.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != len(kernels):
        raise ValueError(f"LPIPS {net}: backbone has {len(convs)} convs but the weight file has {len(kernels)}")
    with torch.no_grad():
        for conv, (kernel, bias) in zip(convs, kernels):
            weight = torch.from_numpy(kernel).permute(3, 2, 0, 1).contiguous()
            if tuple(weight.shape) != tuple(conv.weight.shape):
                raise ValueError(f"LPIPS {net}: kernel shape {tuple(weight.shape)} != {tuple(conv.weight.shape)}")
            conv.weight.copy_(weight)
            conv.bias.copy_(torch.from_numpy(bias))
    model.eval().requires_grad_(False)
    return model.to(device)
