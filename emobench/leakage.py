"""The leakage guard: say so when an editor was tuned with a network that also scores the run.

CGF tunes the U-Net against a direction network (CLIP) and an identity network (ArcFace).
If the emotion or identity evaluator of a run is the same model (same weights sha256), the
edits were optimised for the judge and its numbers are not independent evidence. Stand-in
networks are named as such too, and so is an evaluator that fell back from the paper's backend
to an offline stand-in (``EvaluatorInfo.settings["fallback"]``). The runner writes these lines into
``manifest["warnings"]``; every report caption prints them.

Example:
    >>> from emobench.evaluators.base import EvaluatorInfo
    >>> editor = {"loss_networks": [{"role": "identity", "backend": "insightface",
    ...                              "weights_sha256": {"w600k_r50.onnx": "ab" * 32}}]}
    >>> ev = EvaluatorInfo("identity", "insightface", {"w600k_r50.onnx": "ab" * 32})
    >>> print(leakage_warnings(editor, [ev])[0])  # doctest: +ELLIPSIS
    LEAKAGE: the editor was tuned with its identity loss network insightface (w600k_r50.onnx abababababab), the same weights as the identity evaluator ...
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from emobench.evaluators.base import EvaluatorInfo


def leakage_warnings(editor_identity: Mapping[str, Any], evaluators: Sequence[EvaluatorInfo]) -> list[str]:
    """Warnings for every tuning network shared with an evaluator, and for stand-in networks."""
    out: list[str] = []
    for net in editor_identity.get("loss_networks", []) or []:
        role = net.get("role", "loss")
        shas = dict(net.get("weights_sha256") or {})
        for ev in evaluators:
            shared = [(f, s) for f, s in shas.items() if s and s in set(ev.weights_sha256.values())]
            for file, sha in shared:
                out.append(f"LEAKAGE: the editor was tuned with its {role} loss network {net.get('backend', '?')} "
                           f"({file} {sha[:12]}), the same weights as the {ev.name} evaluator ({ev.backend}); "
                           f"its {ev.name} scores are not independent evidence.")
        if net.get("note"):
            out.append(f"Tuning {role} network: {net['note']}.")
    for ev in evaluators:  # an evaluator that fell back from the paper's backend says so wherever results go
        if ev.settings.get("fallback"):
            out.append(f"FALLBACK: {ev.settings['fallback']}.")
    return list(dict.fromkeys(out))
