"""Run a plain Keras functional graph (as saved in an ``.hdf5``) as a torch module.

Only the layer kinds that small classifiers such as the FER2013 mini-Xception use are
supported (InputLayer, Conv2D, SeparableConv2D, BatchNormalization, Activation,
MaxPooling2D, AveragePooling2D, Add, GlobalAveragePooling2D, Dropout, Flatten, Dense);
any other kind is a clear error. Keras' ``same`` padding is reproduced exactly (the extra
pixel goes after, and max-pooling pads with −inf). Weights are read with ``h5py``, so no
TensorFlow is needed.

Example:
    >>> net = KerasGraph.from_hdf5("model.hdf5")  # doctest: +SKIP
    >>> net(torch.zeros(1, 1, 64, 64)).shape  # doctest: +SKIP
    torch.Size([1, 7])
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

SUPPORTED = {"InputLayer", "Conv2D", "SeparableConv2D", "BatchNormalization", "Activation", "MaxPooling2D",
             "AveragePooling2D", "Add", "GlobalAveragePooling2D", "Dropout", "Flatten", "Dense"}
_ACTIVATIONS = {"linear": lambda x: x, "relu": F.relu, "softmax": lambda x: torch.softmax(x, dim=1),
                "sigmoid": torch.sigmoid, "tanh": torch.tanh}


@dataclass(frozen=True)
class _Layer:
    kind: str
    name: str
    config: dict[str, Any]
    inputs: tuple[str, ...]


def _inbound(layer: dict) -> tuple[str, ...]:
    names: list[str] = []
    for node in layer.get("inbound_nodes") or []:
        if isinstance(node, list):  # Keras 2: [[name, node_index, tensor_index, kwargs], ...]
            names += [item[0] for item in node]
        elif isinstance(node, dict):  # Keras 3: {"args": [{"config": {"keras_history": [name, ...]}}]}
            for arg in node.get("args", []):
                args = arg if isinstance(arg, list) else [arg]
                names += [a["config"]["keras_history"][0] for a in args]
    return tuple(names)


def _same_pad(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], value: float) -> torch.Tensor:
    pads = []
    for size, k, s in ((x.shape[-1], kernel[1], stride[1]), (x.shape[-2], kernel[0], stride[0])):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


class KerasGraph(nn.Module):
    """A Keras functional model, executed layer by layer in the saved (topological) order."""

    def __init__(self, layers: list[_Layer], weights: dict[str, list[torch.Tensor]]):
        super().__init__()
        unknown = sorted({l.kind for l in layers} - SUPPORTED)
        if unknown:
            raise ValueError(f"unsupported Keras layer kind(s): {', '.join(unknown)}; supported: {', '.join(sorted(SUPPORTED))}")
        self.layers = layers
        self.params = nn.ParameterDict()
        for name, tensors in weights.items():
            for i, t in enumerate(tensors):
                self.params[f"{name}__{i}"] = nn.Parameter(t, requires_grad=False)
        self.output_name = layers[-1].name

    @classmethod
    def from_hdf5(cls, path: str | Path) -> "KerasGraph":
        """Read the graph (``model_config``) and weights (``model_weights``) of a Keras .hdf5 file."""
        import h5py

        with h5py.File(path, "r") as fh:
            if "model_config" not in fh.attrs:
                raise ValueError(f"{path}: no 'model_config' attribute; not a whole-model Keras HDF5 file")
            raw = fh.attrs["model_config"]
            cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            layers = [_Layer(l["class_name"], l["config"]["name"], l["config"], _inbound(l)) for l in cfg["config"]["layers"]]
            weights: dict[str, list[torch.Tensor]] = {}
            group = fh["model_weights"]
            for layer in layers:
                if layer.name not in group:
                    continue
                g = group[layer.name]
                names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs.get("weight_names", [])]
                if names:
                    weights[layer.name] = [torch.from_numpy(g[n][()]).float() for n in names]
        return cls(layers, _to_torch_layout(layers, weights))

    def _w(self, name: str, i: int) -> torch.Tensor:
        return self.params[f"{name}__{i}"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {}
        for layer in self.layers:
            c, n = layer.config, layer.name
            inputs = [values[i] for i in layer.inputs]
            if layer.kind == "InputLayer":
                values[n] = x
                continue
            h = inputs[0]
            if layer.kind in ("Conv2D", "SeparableConv2D"):
                k, s = tuple(c["kernel_size"]), tuple(c["strides"])
                if c["padding"] == "same":
                    h = _same_pad(h, k, s, 0.0)
                if layer.kind == "Conv2D":
                    bias = self._w(n, 1) if c.get("use_bias") else None
                    h = F.conv2d(h, self._w(n, 0), bias, stride=s)
                else:
                    h = F.conv2d(h, self._w(n, 0), None, stride=s, groups=h.shape[1])
                    bias = self._w(n, 2) if c.get("use_bias") else None
                    h = F.conv2d(h, self._w(n, 1), bias)
                h = _ACTIVATIONS[c.get("activation", "linear")](h)
            elif layer.kind == "BatchNormalization":
                gamma, beta, mean, var = (self._w(n, i) for i in range(4))
                h = F.batch_norm(h, mean, var, gamma, beta, training=False, eps=c["epsilon"])
            elif layer.kind == "Activation":
                h = _ACTIVATIONS[c["activation"]](h)
            elif layer.kind in ("MaxPooling2D", "AveragePooling2D"):
                k, s = tuple(c["pool_size"]), tuple(c["strides"])
                if layer.kind == "MaxPooling2D":
                    if c["padding"] == "same":
                        h = _same_pad(h, k, s, float("-inf"))
                    h = F.max_pool2d(h, k, s)
                else:
                    if c["padding"] == "same":
                        raise ValueError(f"{n}: AveragePooling2D with 'same' padding is not supported")
                    h = F.avg_pool2d(h, k, s)
            elif layer.kind == "Add":
                h = torch.stack(inputs).sum(0)
            elif layer.kind == "GlobalAveragePooling2D":
                h = h.mean(dim=(2, 3))
            elif layer.kind == "Flatten":
                h = h.permute(0, 2, 3, 1).flatten(1)  # Keras flattens channels-last
            elif layer.kind == "Dense":
                h = F.linear(h, self._w(n, 0), self._w(n, 1) if c.get("use_bias") else None)
                h = _ACTIVATIONS[c.get("activation", "linear")](h)
            values[n] = h  # Dropout: identity at inference
        return values[self.output_name]


def _to_torch_layout(layers: list[_Layer], weights: dict[str, list[torch.Tensor]]) -> dict[str, list[torch.Tensor]]:
    """Keras HWIO kernels → torch OIHW; depthwise (H,W,C,1) → (C,1,H,W); Dense (in,out) → (out,in)."""
    kinds = {l.name: l.kind for l in layers}
    out = {}
    for name, ts in weights.items():
        kind = kinds[name]
        if kind == "Conv2D":
            ts = [ts[0].permute(3, 2, 0, 1).contiguous()] + ts[1:]
        elif kind == "SeparableConv2D":
            depth = ts[0].permute(2, 3, 0, 1).contiguous()  # (H,W,C,M) -> (C,M,H,W) with M = 1
            point = ts[1].permute(3, 2, 0, 1).contiguous()
            ts = [depth, point] + ts[2:]
        elif kind == "Dense":
            ts = [ts[0].t().contiguous()] + ts[1:]
        out[name] = ts
    return out
