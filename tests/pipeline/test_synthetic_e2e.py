"""``emobench run --method identity --protocol synthetic`` end to end, with the real synthetic
dataset and whichever of the protocol's evaluators are installed (skips until they are)."""

import importlib
import json
from pathlib import Path

import pytest

from emobench.cards import load_protocol
from emobench.cli import main
from emobench.evaluators import EVALUATORS
from emobench.store import read_run


def _importable(target: str) -> bool:
    try:
        importlib.import_module(target.partition(":")[0])
    except ImportError:
        return False
    return True


def test_identity_on_synthetic(tmp_path, capsys, shared_weights):
    if not _importable("emobench.synthetic.dataset"):
        pytest.skip("the synthetic dataset (emobench.synthetic) is not in this checkout")
    wanted = [e for e in load_protocol("synthetic").evaluators if _importable(EVALUATORS.target(e))]
    if "emotion" in wanted:  # its synthetic-judge backend needs trained weights
        try:
            from emobench.evaluators.emotion import EmotionEvaluator

            EmotionEvaluator.from_config({"backend": "synthetic-judge"}, "cpu")
        except Exception:  # noqa: BLE001 - any reason to be unusable here means: leave it out
            wanted.remove("emotion")
    argv = ["run", "--method", "identity", "--protocol", "synthetic", "--set", "per_class=1",
            "--set", f"protocol.evaluators={json.dumps(wanted)}", "--out", str(tmp_path), "--quiet",
            "--device", "cpu"]
    assert main(argv) == 0
    run_dir = Path(capsys.readouterr().out.split(":")[0])
    records = read_run(run_dir)
    assert len(records) == 42 and all(r["status"] == "ok" for r in records)  # 36 directions + contempt's 6
    assert len({r["output_sha256"] for r in records}) == 8  # the identity edit of each of the 8 sources
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert [e["name"] for e in manifest["evaluators"]] == wanted
    metric_columns = [k for k in records[0] if k.startswith("metric.")]
    assert len(metric_columns) >= len(wanted)
    if "metric.psnr" in records[0]:  # the identity edit equals its (8-bit) source
        assert all(r["metric.psnr"] >= 79.9 for r in records)
    paired = [k for k in metric_columns if k.startswith("metric.paired")]
    if "paired" in wanted:  # references reached the evaluator
        assert paired and all(r[k] is not None for r in records for k in paired)
