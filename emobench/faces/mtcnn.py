"""MTCNN face detector (P-Net → R-Net → O-Net) with 5 landmarks, from facenet-pytorch's weights.

An optional alternative to YuNet: the three small networks are written here with the layer
names of ``facenet-pytorch``'s ``pnet.pt`` / ``rnet.pt`` / ``onet.pt`` state dicts (assets
``mtcnn-pnet/rnet/onet``, loaded strictly with ``weights_only=True``), and the cascade follows
the MTCNN paper (Zhang et al. 2016): an image pyramid scored by P-Net, candidate boxes
refined by R-Net at 24 px and O-Net at 48 px, non-maximum suppression between stages.
Landmarks come back in YuNet's order (image-left eye first), as :class:`~emobench.faces.detect.Face`.

Example:
    >>> det = MTCNNDetector.from_weights()  # doctest: +SKIP
    >>> det.detect(bgr_uint8_image)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emobench.faces.face import Face
from emobench.weights import resolve


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - 127.5) * 0.0078125


class PNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), self.conv4_1(x).softmax(dim=1)


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x):
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(x))
        # The weights were converted from Caffe, whose flatten order is (W, H, C).
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
        return self.dense5_2(x), self.dense5_1(x).softmax(dim=1)


class ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x):
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), self.dense6_1(x).softmax(dim=1)


def _load(module: nn.Module, asset: str) -> nn.Module:
    state = torch.load(resolve(asset), map_location="cpu", weights_only=True)
    module.load_state_dict(state, strict=True)
    return module.eval().requires_grad_(False)


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Grow (x0, y0, x1, y1) boxes to squares around their centres."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    x0, y0 = boxes[:, 0] + (w - side) / 2, boxes[:, 1] + (h - side) / 2
    return torch.stack([x0, y0, x0 + side, y0 + side], dim=1)


def _regress(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """Apply MTCNN's box regression (offsets in units of the box size)."""
    size = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, dim=1)
    return boxes + reg * size


def _crops(image: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Crop (zero padding outside the image) and resize each box to ``size``×``size`` (area)."""
    _, h, w = image.shape
    out = []
    for x0, y0, x1, y1 in boxes.round().long().tolist():
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        patch = torch.zeros(3, y1 - y0, x1 - x0)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if sx1 > sx0 and sy1 > sy0:
            patch[:, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[:, sy0:sy1, sx0:sx1]
        out.append(F.interpolate(patch[None], size=(size, size), mode="area"))
    return torch.cat(out)


class MTCNNDetector:
    """MTCNN cascade; ``thresholds`` per stage, ``min_size`` smallest face side in pixels."""

    def __init__(self, pnet: PNet, rnet: RNet, onet: ONet, *, min_size: int = 20,
                 thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7), factor: float = 0.709):
        self.pnet, self.rnet, self.onet = pnet, rnet, onet
        self.min_size, self.thresholds, self.factor = min_size, thresholds, factor

    @classmethod
    def create(cls, device: str = "cpu") -> "MTCNNDetector":
        """The registry's constructor (runs on the CPU)."""
        return cls.from_weights()

    @classmethod
    def from_weights(cls) -> "MTCNNDetector":
        """The three networks from the weights manager (``mtcnn-pnet``, ``mtcnn-rnet``, ``mtcnn-onet``)."""
        return cls(_load(PNet(), "mtcnn-pnet"), _load(RNet(), "mtcnn-rnet"), _load(ONet(), "mtcnn-onet"))

    @torch.no_grad()
    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        """Every face in an ``(H, W, 3)`` uint8 BGR image, best score first."""
        from torchvision.ops import nms

        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 BGR image, got {image_bgr.shape} {image_bgr.dtype}")
        image = torch.from_numpy(np.ascontiguousarray(image_bgr[:, :, ::-1])).permute(2, 0, 1).float()  # RGB
        _, h, w = image.shape
        # Stage 1: P-Net over an image pyramid; a 12-px window at stride 2 per output cell.
        candidates = []
        scale = 12.0 / self.min_size
        while min(h, w) * scale >= 12:
            scaled = F.interpolate(image[None], size=(int(h * scale + 1), int(w * scale + 1)), mode="area")
            reg, prob = self.pnet(_normalise(scaled))
            ys, xs = torch.nonzero(prob[0, 1] >= self.thresholds[0], as_tuple=True)
            if len(ys):
                cells = torch.stack([xs, ys], dim=1).float()
                boxes = torch.cat([((2 * cells + 1) / scale).floor(), ((2 * cells + 12) / scale).floor()], dim=1)
                scores = prob[0, 1, ys, xs]
                keep = nms(boxes, scores, 0.5)
                candidates.append((boxes[keep], scores[keep], reg[0, :, ys, xs].T[keep]))
            scale *= self.factor
        if not candidates:
            return []
        boxes, scores, reg = (torch.cat(t) for t in zip(*candidates))
        keep = nms(boxes, scores, 0.7)
        boxes = _square(_regress(boxes[keep], reg[keep]))
        # Stage 2: R-Net on 24-px crops.
        reg, prob = self.rnet(_normalise(_crops(image, boxes, 24)))
        ok = prob[:, 1] > self.thresholds[1]
        boxes, scores, reg = boxes[ok], prob[ok, 1], reg[ok]
        if not len(boxes):
            return []
        keep = nms(boxes, scores, 0.7)
        boxes = _square(_regress(boxes[keep], reg[keep]))
        # Stage 3: O-Net on 48-px crops: final boxes, scores and 5 landmarks.
        reg, marks, prob = self.onet(_normalise(_crops(image, boxes, 48)))
        ok = prob[:, 1] > self.thresholds[2]
        boxes, scores, reg, marks = boxes[ok], prob[ok, 1], reg[ok], marks[ok]
        if not len(boxes):
            return []
        size_w, size_h = (boxes[:, 2] - boxes[:, 0])[:, None], (boxes[:, 3] - boxes[:, 1])[:, None]
        xs = boxes[:, 0:1] + marks[:, 0:5] * size_w
        ys = boxes[:, 1:2] + marks[:, 5:10] * size_h
        boxes = _regress(boxes, reg)
        keep = nms(boxes, scores, 0.7)
        faces = []
        for i in keep.tolist():
            x0, y0, x1, y1 = boxes[i].tolist()
            pts = torch.stack([xs[i], ys[i]], dim=1).double().numpy()
            faces.append(Face((x0, y0, x1 - x0, y1 - y0), pts, float(scores[i])))
        return sorted(faces, key=lambda f: -f.score)
