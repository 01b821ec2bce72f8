"""Landmark templates of the shared photos: Webmorph ``.tem`` files and a 68-point iBUG stand-in made from them."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np

# Points 0 and 1 of both templates are the pupils. Per template (by its point count): the face
# contour ear to ear by the chin, the chin, and the brows' upper edges (image-left brow first).
TEMPLATES = {
    189: {"contour": (109, 110, 111, 125, 126, 127, 128, 129, 130, 131, 132, 133, 114, 113, 112), "chin": 129,
          "brows": ((71, 72, 73, 74, 75, 76), (77, 78, 79, 80, 81, 82))},  # the London Set (Face Research Lab)
    106: {"contour": tuple(range(2, 35)), "chin": 18,
          "brows": ((53, 54, 55, 56, 57), (63, 64, 65, 66, 67))},  # lisa_cc0 (webmorphR.stim)
}


def read_tem(path: Path) -> np.ndarray:
    """Points of a Webmorph/Psychomorph .tem file (first line = count, then 'x y')."""
    lines = Path(path).read_text().split("\n")
    n = int(lines[0])
    return np.array([[float(v) for v in line.split()] for line in lines[1:n + 1]])


def templated_photos(folder: Path) -> list[str]:
    return [p for p in sorted(glob.glob(str(Path(folder) / "*.jpg"))) if Path(p).with_suffix(".tem").is_file()]


def _along(points: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced along a polyline."""
    seg = np.r_[0, np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))]
    at = np.linspace(0, seg[-1], n)
    return np.stack([np.interp(at, seg, points[:, 0]), np.interp(at, seg, points[:, 1])], axis=1)


def ibug68_from_tem(tem: np.ndarray) -> np.ndarray:
    """68 iBUG-ordered points from a 189-point template: the jaw along the face contour, the brows
    along their upper edges, each eye a ring of six around its pupil (so its mean is the pupil),
    nose and mouth on the midline inside the face. Only what the paper's crop reads (the box and
    the eye centres) follows the face; the rest stays inside the box."""
    spec = TEMPLATES[len(tem)]
    out = np.zeros((68, 2))
    out[0:17] = _along(tem[list(spec["contour"])], 17)
    out[17:22] = _along(tem[list(spec["brows"][0])], 5)
    out[22:27] = _along(tem[list(spec["brows"][1])], 5)
    eyes = tem[:2]
    ring = (eyes[1, 0] - eyes[0, 0]) * 0.12 * np.stack([np.cos(a := np.linspace(0, 2 * np.pi, 7)[:6]),
                                                        0.4 * np.sin(a)], axis=1)
    out[36:42] = eyes[0] + ring
    out[42:48] = eyes[1] + ring
    mid, chin = eyes.mean(0), tem[spec["chin"]]
    out[27:36] = mid + np.linspace(0.1, 0.5, 9)[:, None] * (chin - mid)
    out[48:68] = mid + np.linspace(0.6, 0.8, 20)[:, None] * (chin - mid)
    return out
