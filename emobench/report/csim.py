"""CSIM only over pairs aligned on both sides; missing faces as a separate count.

When the detector misses a face, that side is embedded from the whole image resized (or, with
the default ``on_no_face = "exclude"``, not at all): the cosine of an aligned crop with an
unaligned one measures the crop, not the person. The report therefore averages CSIM over the
pairs whose source and edit were both aligned, and reports the others as ``no face`` (a count
and a rate), never in the mean. ``mode = "all"`` is the old behaviour: every recorded CSIM
value (only meaningful for runs scored with ``on_no_face = "center"``).

The flags are the identity evaluator's ``metric.face_detected`` (edit) and
``metric.source_face_detected`` (source; runs scored before it existed lack it, and only the
edit's flag is used). NaN flags mean "not checked" (no detection, e.g. ``synthetic-id``).

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"metric.csim": [0.9, 0.2, 0.5], "metric.face_detected": [1.0, 0.0, 1.0],
    ...                    "metric.source_face_detected": [1.0, 1.0, 0.0]})
    >>> out, rule = apply_csim_rule(df, "aligned")
    >>> out["metric.csim"].tolist()[0], out["metric.face_missing"].tolist(), rule.missing
    (0.9, [0.0, 1.0, 1.0], 2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MODES = ("aligned", "all")
EDIT_FLAG, SOURCE_FLAG, MISSING = "metric.face_detected", "metric.source_face_detected", "metric.face_missing"


@dataclass(frozen=True)
class CsimRule:
    """What CSIM in a report means: ``mode``, pairs checked, pairs with a missing face, and flags present."""

    mode: str
    checked: int
    missing: int
    source_flag: bool
    detection: bool

    def sentence(self, backend: str = "") -> str:
        """One sentence for captions.

        Example:
            >>> CsimRule("aligned", 48, 12, True, True).sentence("sface")
            'CSIM (sface) over the pairs with a face found in source and edit; No face: 12 of 48 pairs (25.0%), not in the mean.'
        """
        who = f"CSIM ({backend})" if backend else "CSIM"
        if not self.detection:
            return f"{who} on whole frames (no face detection)."
        if self.mode == "all":
            return (f"{who} over every recorded pair, aligned or not (--csim all, the old behaviour); "
                    f"{self.missing} of {self.checked} pairs had a missing face.")
        sides = "source and edit" if self.source_flag else "the edit (source detection not recorded: re-score)"
        rate = 100.0 * self.missing / self.checked if self.checked else float("nan")
        return (f"{who} over the pairs with a face found in {sides}; No face: {self.missing} of {self.checked} "
                f"pairs ({rate:.1f}%), not in the mean.")


def apply_csim_rule(records: pd.DataFrame, mode: str = "aligned") -> tuple[pd.DataFrame, CsimRule | None]:
    """``records`` with ``metric.csim`` masked to aligned pairs (``aligned``) and a ``metric.face_missing``
    column (1 missing, 0 aligned, NaN not checked); None as the rule when there is no CSIM."""
    if mode not in MODES:
        raise ValueError(f"csim mode must be one of {', '.join(MODES)}, got {mode!r}")
    if "metric.csim" not in records or EDIT_FLAG not in records:
        return records, None
    out = records.copy()
    edit = pd.to_numeric(out[EDIT_FLAG], errors="coerce")
    source = pd.to_numeric(out[SOURCE_FLAG], errors="coerce") if SOURCE_FLAG in out else pd.Series(np.nan, out.index)
    checked = edit.notna() | source.notna()
    missing = (edit == 0) | (source == 0)
    out[MISSING] = np.where(checked, missing.astype(float), np.nan)
    if mode == "aligned":
        out["metric.csim"] = out["metric.csim"].where(~missing)
    return out, CsimRule(mode, int(checked.sum()), int((missing & checked).sum()), bool(source.notna().any()),
                         bool(checked.any()))
