"""`emobench study make|ingest|analyze` on tiny fake runs: balance, reproducibility, validation, numbers."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from emobench.cli import main
from emobench.errors import UserError
from emobench.labels import TARGET_EMOTIONS
from emobench.study.analyze import analyze_counts
from emobench.study.design import load_design
from emobench.study.ingest import read_answers
from emobench.study.make import make_study
from tests.reports.fakes import study_run


@pytest.fixture()
def runs(tmp_path: Path) -> list[Path]:
    root = tmp_path / "runs"
    return [study_run(root, "ldm"), study_run(root, "ganmut"), study_run(root, "identity")]


def write_answers(path: Path, study_id: str, rows: list[tuple[str, str, str]], header: str | None = None) -> Path:
    lines = [header or "study_id,participant,item_id,choice"] + [f"{study_id},{p},{i},{c}" for p, i, c in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_realism_design_is_balanced_reproducible_and_keeps_the_key_off_the_page(runs, tmp_path):
    design = make_study(runs, tmp_path / "s1", "realism", seed=3, n=5)
    assert design.comparisons == ("ldm vs ganmut", "ldm vs real", "ganmut vs real")
    assert design.conditions == ("ldm", "ganmut", "real")
    per = Counter(i.comparison for i in design.items)
    assert per == {c: 5 for c in design.comparisons}
    for comparison in design.comparisons:
        items = [i for i in design.items if i.comparison == comparison]
        sides = Counter(i.key for i in items)
        assert sorted(sides.values()) == [2, 3]  # the first method is on the left in half the items
        assert max(Counter(i.target for i in items).values()) == 2  # 5 items over 3 targets, round-robin
        a, b = comparison.split(" vs ")
        for i in items:
            assert i.shown(i.key) == a and set(i.conditions) == {a, b}
            assert len(set(i.images)) == 2
    assert [i.position for i in design.items] == list(range(1, 16))
    # same seed, same design and id; another seed, another order
    again = make_study(runs, tmp_path / "s2", "realism", seed=3, n=5)
    assert again.study_id == design.study_id and again.items == design.items
    assert make_study(runs, tmp_path / "s3", "realism", seed=4, n=5).study_id != design.study_id
    page = (tmp_path / "s1" / "questionnaire" / "index.html").read_text()
    for secret in ("ldm", "ganmut", "identity", "vs real", '"key"'):
        assert secret not in page
    for item in design.items:
        for name in item.images:
            assert (tmp_path / "s1" / "questionnaire" / name).is_file() and name.startswith("images/")
    assert load_design(tmp_path / "s1") == design
    rows = list(csv.DictReader(open(tmp_path / "s1" / "design.csv")))
    assert len(rows) == 15 and rows[0]["condition_1"] in design.conditions


def test_emotion_design_covers_every_method_and_target(runs, tmp_path):
    design = make_study(runs, tmp_path / "s", "emotion", n=2)
    assert design.choices == TARGET_EMOTIONS and design.conditions == ("ldm", "ganmut")
    cells = Counter((i.comparison, i.target) for i in design.items)
    assert cells == {(m, t): 2 for m in ("ldm", "ganmut") for t in ("happy", "sad", "anger")}
    assert all(i.key == i.target and len(i.images) == 1 for i in design.items)
    # fewer edits than asked: a note, not an error
    short = make_study(runs, tmp_path / "t", "emotion", n=9, methods=["ganmut"], targets=["sad"])
    assert len(short.items) == 4 and short.notes == ("ganmut → sad: only 4 edits available, asked for 9",)


def test_settings_become_conditions_and_embed_makes_one_file(tmp_path):
    root = tmp_path / "runs"
    study_run(root, "ldm", params={"guidance": 1.0})
    study_run(root, "ldm", params={"guidance": 3.0})
    design = make_study([root], tmp_path / "s", "realism", n=2, embed=True)
    assert design.comparisons == ("ldm [guidance=1.0] vs ldm [guidance=3.0]",)
    page = (tmp_path / "s" / "questionnaire" / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and not (tmp_path / "s" / "questionnaire" / "images").exists()


def test_make_refuses_bad_input(runs, tmp_path):
    with pytest.raises(UserError, match="needs two methods, or one method and an `identity` run"):
        make_study(runs[:1], tmp_path / "a", "realism")
    with pytest.raises(UserError, match="--methods: no edits of 'stargan' in the runs; expected one of ldm, ganmut"):
        make_study(runs, tmp_path / "b", "emotion", methods=["stargan"])
    with pytest.raises(UserError, match="expected a positive number of items, got 0"):
        make_study(runs, tmp_path / "c", "emotion", n=0)
    with pytest.raises(UserError, match="--targets: expected some of happy"):
        make_study(runs, tmp_path / "c", "emotion", targets=["contempt"])
    make_study(runs, tmp_path / "d", "emotion", n=1)
    with pytest.raises(UserError, match="design.json exists"):
        make_study(runs, tmp_path / "d", "emotion", n=1)
    make_study(runs, tmp_path / "d", "emotion", n=1, overwrite=True)
    (runs[0] / "edits" / "ldm-0-happy.png").unlink()
    with pytest.raises(UserError, match="ldm-0-happy.png: saved edit not found"):
        make_study(runs, tmp_path / "e", "emotion", n=4)
    with pytest.raises(UserError, match="no design.json"):
        load_design(tmp_path / "nowhere")


def test_ingest_names_file_and_line_of_every_problem(runs, tmp_path):
    design = make_study(runs, tmp_path / "s", "realism", n=2)
    other = make_study(runs, tmp_path / "o", "emotion", n=1)
    sid, q = design.study_id, [i.item_id for i in design.items]
    good = write_answers(tmp_path / "a.csv", sid, [("p1", q[0], "left"), ("p1", q[1], "right")])
    bad = write_answers(tmp_path / "b.csv", sid, [("p2", "q99", "left"), ("p1", q[0], "right"),
                                                  ("p2", q[2], "up"), ("p 2", q[3], "left")])
    with open(bad, "a") as fh:
        fh.write(f"{sid},p2,{q[4]}\n{sid},p2,,left\n")
    wrong = write_answers(tmp_path / "c.csv", other.study_id, [("p3", "q1", "happy")] * 2)
    header = write_answers(tmp_path / "d.csv", sid, [], header="study,participant,item,choice")
    with pytest.raises(UserError) as err:
        read_answers(design, [good, bad, wrong, header, tmp_path / "missing.csv"])
    message = str(err.value)
    for expected in (f"{bad}, line 2: unknown item id 'q99'",
                     f"{bad}, line 3: duplicate answer of participant 'p1' to item '{q[0]}' (first at {good}, line 2)",
                     f"{bad}, line 4: choice 'up' for item {q[2]}: expected one of left, right",
                     f"{bad}, line 5: malformed participant id 'p 2'",
                     f"{bad}, line 6: malformed row: expected 4 fields (study_id,participant,item_id,choice), got 3",
                     f"{bad}, line 7: malformed row: empty item_id",
                     f"{wrong}, line 2: answers to study '{other.study_id}' (2 rows), but the design is study '{sid}'",
                     f"{header}, line 1: expected the columns study_id,participant,item_id,choice, got "
                     "study,participant,item,choice (missing study_id, item_id; unexpected 'study', 'item')",
                     f"{tmp_path / 'missing.csv'}: file not found"):
        assert expected in message, (expected, message)
    answers = read_answers(design, [good])
    assert answers.incomplete() == {"p1": 2} and answers.participants() == ["p1"]


def _answer_all(design, participant: str, success_per_comparison: dict[str, int]) -> list[tuple[str, str, str]]:
    """Answer every item; the first ``k`` items of each comparison get the key (a success)."""
    left = dict(success_per_comparison)
    rows = []
    for item in design.items:
        hit = left.get(item.comparison, 0) > 0
        left[item.comparison] = left.get(item.comparison, 0) - 1
        other = [c for c in design.choices if c != item.key][0]
        rows.append((participant, item.item_id, item.key if hit else other))
    return rows


def test_cli_ingest_and_analyze_give_table2(runs, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["study", "make", *map(str, runs), "--kind", "realism", "--out", str(out), "--n", "6", "--seed", "1"]) == 0
    design = load_design(out)
    files = [write_answers(tmp_path / "p1.csv", design.study_id, _answer_all(design, "p1", {"ldm vs ganmut": 6,
                                                                                         "ldm vs real": 3})),
             write_answers(tmp_path / "p2.csv", design.study_id, _answer_all(design, "p2", {"ldm vs ganmut": 5,
                                                                                         "ganmut vs real": 1}))]
    merged = tmp_path / "answers.csv"
    assert main(["study", "ingest", str(out), *map(str, files), "--out", str(merged)]) == 0
    assert "36 answers of 2 participants from 2 files" in capsys.readouterr().out
    assert main(["study", "analyze", str(out), str(merged), "--out", str(tmp_path / "res")]) == 0
    table = list(csv.DictReader(open(tmp_path / "res" / "realism.csv")))
    expected = analyze_counts({"ldm vs ganmut": (11, 12), "ldm vs real": (3, 12), "ganmut vs real": (1, 12)})
    assert [r["Comparison"] for r in table] == ["ldm vs ganmut", "ldm vs real", "ganmut vs real"]
    for got, want in zip(table, expected):
        assert (int(got["Count"]), int(got["N"])) == (want["successes"], want["trials"])
        assert float(got["Proportion"]) == pytest.approx(want["proportion"])
        for col, key in (("p (two-sided)", "p_two_sided"), ("p (one-sided)", "p_greater"),
                         ("p Holm (two-sided)", "p_two_sided_holm"), ("p Holm (one-sided)", "p_greater_holm")):
            assert float(got[col]) == pytest.approx(want[key], rel=1e-12)
    tex = (tmp_path / "res" / "realism.tex").read_text()
    assert "\\toprule" in tex and "ldm vs ganmut & 0.917 & 11 & 12 & 6.35e-03" in tex  # p in scientific notation
    assert "| ldm vs ganmut | 0.917 | 11 | 12 |" in (tmp_path / "res" / "realism.md").read_text()
    assert len(list(csv.DictReader(open(tmp_path / "res" / "answers_joined.csv")))) == 36
    bad = write_answers(tmp_path / "bad.csv", design.study_id, [("p1", "nope", "left")])
    assert main(["study", "ingest", str(out), str(bad), "--out", str(tmp_path / "x.csv")]) == 2
    assert f"{bad}, line 2: unknown item id 'nope'" in capsys.readouterr().err


def test_emotion_analysis_accuracy_against_chance(runs, tmp_path):
    from emobench.study.results import analyze_study

    design = make_study(runs, tmp_path / "s", "emotion", n=2)
    # ldm: every answer right (6/6); ganmut: happy right, the rest answered "fear" (2/6 wrong per target)
    rows = [("p1", i.item_id, i.key if i.comparison == "ldm" or i.target == "happy" else "fear") for i in design.items]
    answers = read_answers(design, [write_answers(tmp_path / "a.csv", design.study_id, rows)])
    result = analyze_study(answers)
    by_method = {t.name: t for t in result.tables}["emotion_by_method"].frame().set_index("Method")
    want = analyze_counts({"ldm": (6, 6), "ganmut": (2, 6)}, p0=1 / 6)
    assert by_method.loc["ldm", "Accuracy"] == 1.0 and by_method.loc["ganmut", "Correct"] == 2
    assert by_method.loc["ganmut", "p (one-sided)"] == pytest.approx(want[1]["p_greater"])
    assert by_method.loc["ldm", "p Holm (one-sided)"] == pytest.approx(want[0]["p_greater_holm"])
    by_target = {t.name: t for t in result.tables}["emotion_by_target"].frame()
    assert len(by_target) == 6 and set(by_target["Target"]) == {"happy", "sad", "anger"}
    confusion = {t.name: t for t in result.tables}["emotion_confusion"].frame().set_index(["Method", "Target"])
    assert confusion.loc[("ganmut", "sad"), "fear"] == 2 and confusion.loc[("ldm", "sad"), "sad"] == 2


def test_study_help_has_examples(capsys):
    for argv in (["study", "--help"], ["study", "make", "--help"], ["study", "ingest", "--help"],
                 ["study", "analyze", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "examples:" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["study"])


def test_attention_checks_are_obvious_pairs_reported_per_participant(runs, tmp_path):
    import numpy as np
    from PIL import Image

    from emobench.study.design import ATTENTION
    from emobench.study.results import analyze_study

    design = make_study(runs, tmp_path / "s", "realism", seed=1, n=2, attention=3)
    checks = [i for i in design.items if i.comparison == ATTENTION]
    assert len(checks) == 3 and ATTENTION not in design.comparisons
    for item in checks:  # the real photo on the key's side, its shuffled tiles on the other
        real_side = design.choices.index(item.key)
        assert item.conditions[real_side] == "real" and item.conditions[1 - real_side] == "scrambled"
        real, fake = (Image.open(tmp_path / "s" / "questionnaire" / item.images[k]) for k in (real_side, 1 - real_side))
        a, b = (np.asarray(im.convert("RGB")).reshape(-1, 3) for im in (real, fake))
        assert real.size == fake.size and not np.array_equal(a, b)
        assert sorted(map(tuple, a)) == sorted(map(tuple, b))  # the same pixels, moved
    other = [i for i in design.items if i.comparison != ATTENTION]
    rows = [("good", i.item_id, i.key) for i in design.items] + \
           [("careless", i.item_id, next(c for c in design.choices if c != i.key)) for i in checks] + \
           [("careless", i.item_id, i.key) for i in other]
    answers = read_answers(design, [write_answers(tmp_path / "a.csv", design.study_id, rows)])
    result = analyze_study(answers)
    attention = next(t for t in result.tables if t.name == "attention")
    assert attention.rows == [["good", 3, 3, 1.0], ["careless", 3, 0, 0.0]]
    assert "1 of 2 participants missed at least one" in result.summary
    realism = next(t for t in result.tables if t.name == "realism")
    assert all(row[0] != ATTENTION for row in realism.rows) and all(row[3] == 4 for row in realism.rows)
    with pytest.raises(UserError, match="--attention"):
        make_study(runs, tmp_path / "e", "emotion", n=1, attention=2)
