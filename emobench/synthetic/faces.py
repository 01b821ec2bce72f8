"""Procedural, licence-free synthetic faces with known identity and expression.

Every face is drawn from smooth signed-distance shapes evaluated on the pixel grid in torch
(batched: one tensor op per facial part for the whole batch), so it renders at any
resolution, anti-aliased, deterministically. An :class:`Identity` fixes the person (face
shape, skin, hair, eyes, brows, nose, mouth, lighting, background); an :class:`Expression`
holds FACS-like action intensities, with a prototype per AffectNet class.

Coordinates: ``u`` runs left→right and ``v`` top→bottom over ``[-1, 1]``; eyes sit at a
fixed height (``v = -0.12``) like an aligned face crop.

Example:
    >>> face = render(Identity.sample(3), Expression.prototype("happy"), 64)
    >>> face.shape, bool(face.min() >= 0) and bool(face.max() <= 1)
    (torch.Size([3, 64, 64]), True)
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, fields, replace
from typing import Sequence

import numpy as np
import torch

from emobench.labels import EMOTIONS, parse_label

# "identity" trains the synthetic-id identity evaluator (emobench.synthetic.identity_net).
SPLITS = ("train", "judge", "encoder", "identity", "test")

# Skin tones (linear-ish RGB) spanning light to dark; identities interpolate between them.
_SKIN = np.array([[0.96, 0.80, 0.69], [0.90, 0.70, 0.55], [0.78, 0.57, 0.42], [0.58, 0.40, 0.28],
                  [0.40, 0.27, 0.18]])
_HAIR = np.array([[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.50, 0.33, 0.18], [0.80, 0.66, 0.40],
                  [0.55, 0.20, 0.10], [0.60, 0.60, 0.60]])
_IRIS = np.array([[0.30, 0.20, 0.10], [0.20, 0.35, 0.60], [0.25, 0.45, 0.30], [0.15, 0.10, 0.06]])


@dataclass(frozen=True)
class Identity:
    """The person: every field is a float so identities are easy to hash, sample and store."""

    face_width: float = 0.62
    face_height: float = 0.80
    jaw: float = 0.35  # 0 round … 1 pointed chin
    skin: float = 0.3  # position along the skin-tone ramp 0..1
    hair: float = 0.0  # index into the hair palette (fraction → palette position)
    hair_volume: float = 0.1
    hairline: float = -0.42
    eye_spacing: float = 0.22
    eye_size: float = 0.075
    iris: float = 0.0
    brow_thickness: float = 0.030
    nose_length: float = 0.16
    nose_width: float = 0.055
    mouth_width: float = 0.16
    lip_thickness: float = 0.028
    light_x: float = -0.4
    light_strength: float = 0.35
    background: float = 0.5

    @staticmethod
    def sample(seed: int) -> "Identity":
        """A random identity, deterministic in ``seed``.

        Example:
            >>> Identity.sample(1) == Identity.sample(1), Identity.sample(1) == Identity.sample(2)
            (True, False)
        """
        r = np.random.default_rng(seed)
        u = lambda lo, hi: float(r.uniform(lo, hi))  # noqa: E731 - a short local sampler reads best here
        return Identity(
            face_width=u(0.54, 0.68), face_height=u(0.74, 0.86), jaw=u(0.1, 0.7), skin=u(0, 1),
            hair=u(0, 1), hair_volume=u(0.0, 0.25), hairline=u(-0.50, -0.36), eye_spacing=u(0.19, 0.25),
            eye_size=u(0.062, 0.085), iris=u(0, 1), brow_thickness=u(0.022, 0.040), nose_length=u(0.12, 0.20),
            nose_width=u(0.045, 0.07), mouth_width=u(0.13, 0.19), lip_thickness=u(0.020, 0.036),
            light_x=u(-0.8, 0.8), light_strength=u(0.15, 0.45), background=u(0.15, 0.9),
        )


def split_seed(split: str, index: int, seed: int = 0) -> int:
    """The identity seed of person ``index`` in ``split``; splits never share a seed (salted hash).

    Example:
        >>> split_seed("train", 0) != split_seed("test", 0)
        True
    """
    if split not in SPLITS:
        raise ValueError(f"unknown synthetic split {split!r}; expected one of {', '.join(SPLITS)}")
    if index < 0:
        raise ValueError(f"identity index must be >= 0, got {index}")
    digest = hashlib.sha256(f"emobench-synthetic/{split}/{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def identities(split: str, n: int, seed: int = 0) -> list[Identity]:
    """``n`` identities of a split ("train", "judge", "encoder", "identity", "test"), disjoint across splits.

    Example:
        >>> len(identities("test", 4)), identities("test", 2) == identities("test", 2)
        (4, True)
    """
    return [Identity.sample(split_seed(split, i, seed)) for i in range(n)]


@dataclass(frozen=True)
class Expression:
    """FACS-like action intensities (0 = rest; most in 0..1).

    brow_inner: AU1 inner brow raise; brow_outer: AU2 outer brow raise; brow_lower: AU4
    (brows down and together); lid_raise: AU5; lid_tighten: AU7 (narrower eyes);
    cheek_raise: AU6; nose_wrinkle: AU9; upper_lip_raise: AU10; lip_corner_pull: AU12
    (negative = AU15 depressor); lip_stretch: AU20; lip_press: AU24; jaw_drop: AU26/27;
    pucker: rounder mouth (surprise "O"); unilateral: AU14 one-sided corner (contempt).
    """

    brow_inner: float = 0.0
    brow_outer: float = 0.0
    brow_lower: float = 0.0
    lid_raise: float = 0.0
    lid_tighten: float = 0.0
    cheek_raise: float = 0.0
    nose_wrinkle: float = 0.0
    upper_lip_raise: float = 0.0
    lip_corner_pull: float = 0.0
    lip_stretch: float = 0.0
    lip_press: float = 0.0
    jaw_drop: float = 0.0
    pucker: float = 0.0
    unilateral: float = 0.0

    @staticmethod
    def prototype(label: str | int, intensity: float = 1.0) -> "Expression":
        """The prototype of an AffectNet class scaled by ``intensity``.

        Example:
            >>> Expression.prototype("happy").lip_corner_pull
            1.0
        """
        proto = _PROTOTYPES[EMOTIONS[parse_label(label)]]
        return Expression(**{f.name: getattr(proto, f.name) * float(intensity) for f in fields(Expression)})

    @staticmethod
    def sample(label: str | int, rng: np.random.Generator, low: float = 0.6, high: float = 1.15,
               jitter: float = 0.08) -> "Expression":
        """The class prototype at a random intensity plus small per-action jitter (training diversity).

        Example:
            >>> e = Expression.sample("sad", np.random.default_rng(0)); e.lip_corner_pull < 0
            True
        """
        base = Expression.prototype(label, float(rng.uniform(low, high)))
        noisy = {f.name: getattr(base, f.name) + float(rng.normal(0, jitter)) * (getattr(base, f.name) != 0)
                 for f in fields(Expression)}
        return replace(base, **noisy)

    def as_vector(self) -> list[float]:
        return [float(getattr(self, f.name)) for f in fields(Expression)]


_PROTOTYPES: dict[str, Expression] = {
    "neutral": Expression(),
    "happy": Expression(cheek_raise=1.0, lip_corner_pull=1.0, jaw_drop=0.35, lid_tighten=0.35),
    "sad": Expression(brow_inner=1.0, brow_lower=0.35, lip_corner_pull=-0.9, lid_tighten=0.25, lip_press=0.2),
    "surprise": Expression(brow_inner=1.0, brow_outer=1.0, lid_raise=1.0, jaw_drop=1.0, pucker=0.8),
    "fear": Expression(brow_inner=1.0, brow_outer=0.6, brow_lower=0.5, lid_raise=1.0, lip_stretch=1.0,
                       jaw_drop=0.45, lip_corner_pull=-0.2),
    "disgust": Expression(brow_lower=0.7, nose_wrinkle=1.0, upper_lip_raise=1.0, lid_tighten=0.5,
                          lip_corner_pull=-0.45, cheek_raise=0.3),
    "anger": Expression(brow_lower=1.0, lid_tighten=0.7, lid_raise=0.2, lip_press=1.0, lip_corner_pull=-0.25,
                        nose_wrinkle=0.2),
    "contempt": Expression(unilateral=1.0, lid_tighten=0.2, brow_outer=0.15),
}


# --------------------------------------------------------------------------- rendering

def _soft(sd: torch.Tensor, px: float) -> torch.Tensor:
    """Coverage of a signed distance (negative inside) with ~1.5 px of anti-aliasing."""
    return torch.sigmoid(-sd / (0.6 * px))


def _ellipse(u: torch.Tensor, v: torch.Tensor, cu, cv, ru, rv) -> torch.Tensor:
    """Approximate signed distance to an axis-aligned ellipse (exact on the axes)."""
    q = torch.sqrt(((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 + 1e-12)
    return (q - 1.0) * torch.minimum(torch.as_tensor(ru), torch.as_tensor(rv))


def _col(values: Sequence[float], device: torch.device) -> torch.Tensor:
    """A per-face parameter as a ``(N, 1, 1)`` tensor that broadcasts over the pixel grid."""
    return torch.tensor(values, dtype=torch.float32, device=device).view(-1, 1, 1)


def _palette(palette: np.ndarray, positions: Sequence[float]) -> np.ndarray:
    pos = np.clip(np.asarray(positions, dtype=np.float64), 0, 1) * (len(palette) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(palette) - 1)
    frac = (pos - lo)[:, None]
    return palette[lo] * (1 - frac) + palette[hi] * frac


def _paint(canvas: torch.Tensor, mask: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """Alpha-composite ``colour`` ``(N,3,1,1)`` or ``(N,3,H,W)`` over ``canvas`` with coverage ``mask`` ``(N,H,W)``."""
    m = mask.unsqueeze(1)
    return canvas * (1 - m) + colour * m


def _rgb(rows: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.tensor(np.asarray(rows), dtype=torch.float32, device=device).view(-1, 3, 1, 1)


def render_batch(people: Sequence[Identity], expressions: Sequence[Expression], resolution: int,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Render faces ``(N, 3, R, R)`` float32 RGB in [0, 1], one per (identity, expression) pair.

    Example:
        >>> ids = identities("test", 2)
        >>> render_batch(ids, [Expression.prototype(1), Expression.prototype(2)], 32).shape
        torch.Size([2, 3, 32, 32])
    """
    if len(people) != len(expressions):
        raise ValueError(f"expected one expression per identity, got {len(people)} identities "
                         f"and {len(expressions)} expressions")
    if not people:
        raise ValueError("expected at least one identity, got none")
    if int(resolution) < 8:
        raise ValueError(f"resolution must be >= 8 pixels, got {resolution}")
    device = torch.device(device)
    n, res = len(people), int(resolution)
    px = 2.0 / res
    coords = (torch.arange(res, dtype=torch.float32, device=device) + 0.5) * px - 1.0
    v, u = torch.meshgrid(coords, coords, indexing="ij")
    u = u.expand(n, res, res)
    v = v.expand(n, res, res)
    P = lambda name: _col([getattr(p, name) for p in people], device)  # noqa: E731
    E = lambda name: _col([getattr(e, name) for e in expressions], device)  # noqa: E731

    skin_rgb = _palette(_SKIN, [p.skin for p in people])
    hair_rgb = _palette(_HAIR, [p.hair for p in people])
    iris_rgb = _palette(_IRIS, [p.iris for p in people])
    bg = np.array([p.background for p in people])[:, None] * np.array([[0.75, 0.85, 1.0]]) + 0.05

    # Background: a vertical gradient.
    canvas = _rgb(bg, device).expand(n, 3, res, res) * (1.0 - 0.25 * (v.unsqueeze(1) + 1) / 2)

    fw, fh, jaw = P("face_width"), P("face_height"), P("jaw")
    face_cv = torch.full_like(fw, 0.02)
    # Face: an ellipse whose lower half narrows toward the chin (jaw); the jaw drop lengthens it.
    drop = E("jaw_drop")
    fh_eff = fh + 0.05 * drop
    below = torch.clamp((v - face_cv) / fh_eff, min=0.0)
    rw = fw * (1.0 - jaw * 0.45 * below ** 2)
    face_sd = _ellipse(u, v, 0.0, face_cv + 0.025 * drop, rw, fh_eff)
    face = _soft(face_sd, px)

    # Hair behind the head and a fringe above the hairline.
    hv = P("hair_volume")
    hair_back = _soft(_ellipse(u, v, 0.0, face_cv - 0.06, fw + 0.06 + 0.15 * hv, fh * 0.92 + 0.06 + 0.08 * hv), px)
    hair_back = hair_back * _soft(v - (face_cv + 0.25), px)  # only down to ear level
    neck = _soft(torch.maximum(u.abs() - fw * 0.48, face_cv + 0.3 - v), px)

    # Lighting: a pseudo-normal of the face ellipsoid, lit from the side.
    nx = torch.clamp(u / rw, -1, 1)
    ny = torch.clamp((v - face_cv) / fh_eff, -1, 1)
    nz = torch.sqrt(torch.clamp(1 - nx ** 2 - ny ** 2, min=0.0))
    lx = P("light_x")
    lit = (nx * lx + nz * 0.8) / torch.sqrt(lx ** 2 + 0.64)
    shade = 1.0 - P("light_strength") + P("light_strength") * torch.clamp(lit, 0, 1) * 1.15
    skin = _rgb(skin_rgb, device) * shade.unsqueeze(1)

    canvas = _paint(canvas, hair_back, _rgb(hair_rgb * 0.8, device))
    canvas = _paint(canvas, neck, _rgb(skin_rgb * 0.78, device))
    canvas = _paint(canvas, face, skin)

    # Cheek raise: rosy, lifted cheeks and nasolabial folds (happy, disgust).
    es = P("eye_spacing")
    cheek = E("cheek_raise")
    for side in (-1.0, 1.0):
        ck = _soft(_ellipse(u, v, side * (es + 0.04), 0.10 - 0.03 * cheek, 0.11, 0.07), 3 * px) * face
        canvas = _paint(canvas, ck * torch.clamp(0.10 + 0.30 * cheek, 0, 0.45), _rgb(skin_rgb * [1.05, 0.72, 0.70], device))

    # Hair fringe over the forehead (hairline with a gentle wave).
    hairline = P("hairline") - 0.03 * torch.cos(u * 6.0 + P("hair") * 9.0) * hv
    fringe = _soft(v - hairline, px) * _soft(_ellipse(u, v, 0.0, face_cv - 0.02, fw + 0.02, fh + 0.03), px)
    canvas = _paint(canvas, fringe, _rgb(hair_rgb, device) * (0.85 + 0.15 * shade.unsqueeze(1)))

    # Eyes.
    eye_v = -0.12
    size = P("eye_size")
    open_frac = torch.clamp(0.55 + 0.55 * E("lid_raise") - 0.30 * E("lid_tighten") - 0.22 * cheek, 0.12, 1.2)
    ew, eh = size * 1.25, size * open_frac * 0.75
    brow_low = E("brow_lower")
    for side in (-1.0, 1.0):
        cu = side * es
        white = _soft(_ellipse(u, v, cu, eye_v, ew, eh), px)
        socket = _soft(_ellipse(u, v, cu, eye_v - 0.01, ew * 1.25, eh * 1.3 + 0.012), 3 * px)
        canvas = _paint(canvas, socket * 0.25, _rgb(skin_rgb * 0.6, device))
        canvas = _paint(canvas, white, _rgb(np.full((n, 3), 0.95), device))
        iris_r = size * 0.55
        iris = _soft(_ellipse(u, v, cu, eye_v, iris_r, iris_r), px) * white
        canvas = _paint(canvas, iris, _rgb(iris_rgb, device))
        pupil = _soft(_ellipse(u, v, cu, eye_v, iris_r * 0.45, iris_r * 0.45), px) * white
        canvas = _paint(canvas, pupil, _rgb(np.full((n, 3), 0.03), device))
        # Upper lid line: a dark arc on the eye's top edge.
        lid = _soft((_ellipse(u, v, cu, eye_v, ew, eh)).abs() - 0.35 * px - 0.006, px) * (v < eye_v).float()
        canvas = _paint(canvas, lid * 0.9, _rgb(np.full((n, 3), 0.08), device))

        # Brows: a thick bar whose inner and outer ends move independently (AU1, AU2, AU4).
        inner_u, outer_u = cu - side * ew * 0.95, cu + side * ew * 1.15
        base_v = eye_v - eh - 0.07
        inner_v = base_v - 0.09 * E("brow_inner") + 0.06 * brow_low
        outer_v = base_v - 0.07 * E("brow_outer") + 0.02 * brow_low - 0.01
        inner_u = inner_u + side * 0.035 * brow_low  # brows drawn together
        t = torch.clamp((u - inner_u) / (outer_u - inner_u), 0, 1)
        curve_v = inner_v + (outer_v - inner_v) * t - 0.025 * torch.sin(t * math.pi)
        thick = P("brow_thickness") * (1.0 - 0.3 * t)
        along = torch.maximum((u - (inner_u + outer_u) / 2).abs() - (outer_u - inner_u).abs() / 2, torch.zeros_like(u))
        brow_sd = torch.sqrt((v - curve_v) ** 2 + along ** 2) - thick / 2
        canvas = _paint(canvas, _soft(brow_sd, px) * face, _rgb(hair_rgb * 0.7, device))
        # Frown lines between the brows (AU4).
        frown = _soft(torch.maximum((u - side * 0.025).abs() - 0.004, (v - (base_v + 0.02)).abs() - 0.035), px)
        canvas = _paint(canvas, frown * torch.clamp(brow_low - 0.3, 0, 1) * 0.6, _rgb(skin_rgb * 0.55, device))

    # Nose: a soft shadow on the lit side's opposite, nostrils, and wrinkles (AU9).
    nl, nw = P("nose_length"), P("nose_width")
    nose_tip_v = eye_v + nl + 0.02
    bridge = _soft(torch.maximum((u + 0.02 * torch.sign(lx)).abs() - 0.012, (v - (eye_v + nose_tip_v) / 2).abs() - nl / 2), 2 * px)
    canvas = _paint(canvas, bridge * 0.25, _rgb(skin_rgb * 0.6, device))
    wr = E("nose_wrinkle")
    for side in (-1.0, 1.0):
        nostril = _soft(_ellipse(u, v, side * nw * 0.55, nose_tip_v - 0.01 * wr, nw * 0.35, nw * 0.2), px)
        canvas = _paint(canvas, nostril * 0.85, _rgb(skin_rgb * 0.35, device))
        for k in range(3):
            line_v = eye_v + 0.05 + 0.022 * k
            wrinkle = _soft(torch.maximum((v - line_v - 0.012 * (u * side * 8) ** 2).abs() - 0.004,
                                          (u - side * 0.045).abs() - 0.03), px)
            canvas = _paint(canvas, wrinkle * torch.clamp(wr, 0, 1) * 0.7, _rgb(skin_rgb * 0.5, device))
    ala = _soft(_ellipse(u, v, 0.0, nose_tip_v - 0.02, nw * 1.1, 0.035), 2 * px)
    canvas = _paint(canvas, ala * 0.18, _rgb(skin_rgb * 0.7, device))

    # Mouth: corners move up/down (AU12/AU15, one-sided for AU14), the opening follows the jaw.
    mouth_v = nose_tip_v + 0.13 + 0.03 * drop
    pull, stretch, press = E("lip_corner_pull"), E("lip_stretch"), E("lip_press")
    pucker, uni, ulr = E("pucker"), E("unilateral"), E("upper_lip_raise")
    half_w = P("mouth_width") * (1.0 + 0.25 * torch.clamp(pull, 0, None) + 0.45 * stretch - 0.45 * pucker - 0.1 * press)
    x = torch.clamp((u) / half_w, -1.2, 1.2)
    corner_lift = 0.075 * pull + 0.07 * uni * torch.clamp(x, 0, None) / 1.0  # positive = corners up
    centre_v = mouth_v - corner_lift * x ** 2  # the mouth line bends with the corners
    opening = torch.clamp(0.13 * drop + 0.02 * stretch - 0.012 * press + 0.03 * ulr, 0, None)
    open_shape = torch.clamp(1 - x ** 2, 0, None) ** (0.5 + 0.5 * pucker)
    top = centre_v - opening * open_shape * 0.35 - 0.01 * ulr * torch.clamp(1 - (x * 1.5) ** 2, 0, None)
    bottom = centre_v + opening * open_shape * 0.65 + 0.004
    inside_w = torch.clamp(1 - x.abs(), 0, None)
    lip = P("lip_thickness") * (1.0 - 0.65 * press)
    # Coverage of the mouth's horizontal extent, measured in pixels so nothing leaks past the corners.
    span = _soft(u.abs() - half_w, px)
    upper_lip = _soft(torch.maximum(top - lip * (0.4 + 0.6 * inside_w) - v, v - top - 0.002), px) * span
    lower_lip = _soft(torch.maximum(bottom - 0.002 - v, v - bottom - lip * (0.5 + 0.9 * inside_w)), px) * span
    cavity = _soft(torch.maximum(top - v, v - bottom), px) * span * (opening > 0.004).float()
    lip_rgb = skin_rgb * np.array([0.85, 0.55, 0.55])
    canvas = _paint(canvas, upper_lip, _rgb(lip_rgb, device))
    canvas = _paint(canvas, lower_lip, _rgb(lip_rgb * 1.08, device))
    canvas = _paint(canvas, cavity, _rgb(np.full((n, 3), 0.12) * [1.2, 0.5, 0.5], device))
    teeth_line = top + torch.clamp(bottom - top, 0, 0.035) * 0.9
    teeth = cavity * _soft(v - teeth_line, px)
    canvas = _paint(canvas, teeth * 0.92, _rgb(np.full((n, 3), 0.93), device))
    # The closed-mouth line, darker where the lips are pressed.
    seam = _soft((v - centre_v).abs() - 0.0035 - 0.003 * press, px) * span * (opening <= 0.004).float()
    canvas = _paint(canvas, seam, _rgb(lip_rgb * 0.45, device))
    # Dimple/corner shadows that make smiles and frowns readable at low resolution.
    for side in (-1.0, 1.0):
        corner_v = mouth_v - (0.075 * pull + 0.07 * uni * (side > 0)) * 1.0
        dimple = _soft(_ellipse(u, v, side * (half_w + 0.012), corner_v, 0.012, 0.02), px)
        canvas = _paint(canvas, dimple * 0.45, _rgb(skin_rgb * 0.55, device))
        fold = _soft(torch.abs(torch.sqrt((u - side * (nw * 0.9)) ** 2 + ((v - nose_tip_v) * 0.8) ** 2)
                               - (half_w * 0.55 + 0.05)) - 0.004, px)
        fold = fold * (v > nose_tip_v - 0.01).float() * (v < mouth_v).float() * (u * side > nw * 0.9).float()
        canvas = _paint(canvas, fold * torch.clamp(cheek + 0.5 * wr, 0, 1) * 0.55, _rgb(skin_rgb * 0.55, device))

    return canvas.clamp(0, 1).contiguous()


def render(identity: Identity, expression: Expression, resolution: int) -> torch.Tensor:
    """Render one face ``(3, R, R)``; see :func:`render_batch`.

    Example:
        >>> render(Identity(), Expression(), 16).shape
        torch.Size([3, 16, 16])
    """
    return render_batch([identity], [expression], resolution)[0]
