"""Reading and writing images with clear errors and atomic, lossless writes.

Every reader returns float32 ``(3, H, W)`` RGB in ``[0, 1]``: grayscale is repeated to
three channels, alpha is composited on white, 16-bit images are scaled by 65535. Whatever goes
wrong while decoding (a truncated or foreign file, a decompression bomb, broken metadata) is an
:class:`ImageReadError`, so a run records that image's rows as errors and goes on. Images larger
than :data:`MAX_PIXELS` are refused from their header, before any pixel is decoded.

Example:
    >>> import torch, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.png"
    >>> _ = save_png(torch.zeros(3, 16, 16), p); load_image(p).shape
    torch.Size([3, 16, 16])
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from emobench.atomic import atomic_file


class ImageReadError(ValueError):
    """An image file that cannot be read (missing, corrupt, not an image, too large)."""


#: The most pixels one image may have (8192 x 8192, 64 megapixels): decoded to float32 RGB that is
#: already 0.8 GB, and a face benchmark never needs more. A small file declaring more is a bomb.
MAX_PIXELS = 8192 * 8192


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if arr.max(initial=0) > 255 or mode.startswith("I;16") else 255.0
        arr = np.clip(arr / scale, 0, 1)
        return np.repeat(arr[..., None], 3, axis=2).astype(np.float32)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3:4]
        return rgba[..., :3] * alpha + (1.0 - alpha)  # composite on white
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """Read an image file as float32 ``(3, H, W)`` RGB in [0, 1]; raise :class:`ImageReadError`.

    ``max_pixels`` caps width x height, checked from the header before decoding.

    Example:
        >>> load_image("/nonexistent.png")
        Traceback (most recent call last):
        ...
        emobench.imageio.ImageReadError: /nonexistent.png: file not found
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: file not found")
    try:
        with warnings.catch_warnings():
            # Pillow warns (on stderr) about sizes our own cap refuses below; the cap's error says it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            _check_size(path, img.size, max_pixels)
            img.load()
            arr = _to_rgb_array(img)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own, larger limit, hit while opening
        raise ImageReadError(f"{path}: refused as a decompression bomb ({exc}); emobench reads images of at "
                             f"most {max_pixels:,} pixels") from exc
    except Exception as exc:  # noqa: BLE001 - decoders raise anything (struct.error, IndexError, ...) on hostile files
        raise ImageReadError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from exc
    if arr.shape[0] < 8 or arr.shape[1] < 8:
        raise ImageReadError(f"{path}: image is {arr.shape[1]}x{arr.shape[0]} pixels; expected at least 8x8")
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def _check_size(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageReadError(f"{path}: image is {width}x{height} = {width * height:,} pixels, more than the "
                             f"{max_pixels:,} emobench reads (a decompression bomb, or a photo to downscale first)")


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` float in [0, 1] → ``(H, W, 3)`` uint8 (round to nearest)."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) image, got shape {tuple(image.shape)}")
    arr = image.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(arr)


def save_png(image: torch.Tensor, path: str | Path) -> str:
    """Write a lossless 8-bit PNG atomically (tmp file + ``os.replace``); return the file's sha256."""
    path = Path(path)
    with atomic_file(path) as fh:
        Image.fromarray(to_uint8(image)).save(fh, format="PNG")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pixel_sha256(image: torch.Tensor) -> str:
    """Content hash of an image's 8-bit pixels (stable across file formats); used as cache key."""
    arr = to_uint8(image)
    h = hashlib.sha256()
    h.update(str(arr.shape).encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def square_resize(image: torch.Tensor, resolution: int) -> torch.Tensor:
    """Centre-crop ``(3, H, W)`` to a square and resize to ``resolution`` (bilinear, antialiased).

    Example:
        >>> square_resize(torch.rand(3, 20, 10), 8).shape
        torch.Size([3, 8, 8])
    """
    _, h, w = image.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = image[:, top:top + side, left:left + side]
    if side == resolution:
        return crop.contiguous()
    out = F.interpolate(crop[None], size=(resolution, resolution), mode="bilinear", antialias=True,
                        align_corners=False)[0]
    return out.clamp(0, 1)
