"""Headless Chromium: a participant fills in each questionnaire and downloads the answers, which
ingest and analyze turn into the expected numbers; a report's index.html shows every image and table.

Skips (saying what is missing) without /usr/bin/chromium, chromedriver or selenium; `.ci/run`
installs them. A few seconds in all: one browser for the whole module.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from emobench.cli import main
from emobench.imageio import save_png
from emobench.report.build import build_report
from emobench.report.prepare import ReportOptions
from emobench.study.analyze import analyze_counts
from emobench.study.design import load_design
from tests.reports.fakes import three_method_study, wait_for

pytestmark = pytest.mark.browser


def _loaded_images(driver) -> list[tuple[str, int]]:
    wait_for(lambda: driver.execute_script("return Array.from(document.images).every(i => i.complete)"),
             what="images to finish loading")
    return driver.execute_script("return Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth])")


@pytest.mark.parametrize("kind", ["realism", "emotion"])
def test_participant_fills_in_the_questionnaire(chrome, tmp_path, kind):
    from selenium.webdriver.common.by import By

    out = three_method_study(tmp_path, kind, n=2, seed=5)
    design = load_design(out)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    chrome.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    chrome.get((out / "questionnaire" / "index.html").as_uri())
    chrome.find_element(By.ID, "begin").click()
    assert "participant id" in chrome.find_element(By.ID, "start-error").text  # an id is required
    chrome.find_element(By.ID, "participant").send_keys("P-01")
    chrome.find_element(By.ID, "begin").click()
    # The participant picks the key (the first method / the right emotion) on every other item of each
    # comparison, and changes the very first answer once with Back.
    seen: Counter = Counter()
    expected: Counter = Counter()
    for step in range(len(design.items)):
        item = design.by_id[chrome.find_element(By.ID, "trial").get_attribute("data-item")]
        assert chrome.find_element(By.ID, "progress").text == f"Question {step + 1} of {len(design.items)}"
        images = _loaded_images(chrome)
        assert len(images) == len(item.images) and all(width == 16 for _, width in images), images
        hit = seen[item.comparison] % 2 == 0
        seen[item.comparison] += 1
        choice = item.key if hit else next(c for c in design.choices if c != item.key)
        expected[item.comparison] += hit
        if step == 0:
            wrong = next(c for c in design.choices if c != choice)
            chrome.find_element(By.CSS_SELECTOR, f"button[data-choice='{wrong}']").click()
            chrome.find_element(By.ID, "back").click()
        chrome.find_element(By.CSS_SELECTOR, f"button[data-choice='{choice}']").click()
    assert chrome.find_element(By.ID, "answered").text == f"{len(design.items)} of {len(design.items)} answered."
    chrome.find_element(By.ID, "download").click()
    name = f"answers-{design.study_id}-P-01.csv"
    wait_for(lambda: (downloads / name).is_file() and (downloads / name).stat().st_size > 0, what=f"download {name}")

    merged, results = tmp_path / "answers.csv", tmp_path / "results"
    assert main(["study", "ingest", str(out), str(downloads / name), "--out", str(merged)]) == 0
    assert main(["study", "analyze", str(out), str(merged), "--out", str(results)]) == 0
    table = "realism.csv" if kind == "realism" else "emotion_by_method.csv"
    label, count = ("Comparison", "Count") if kind == "realism" else ("Method", "Correct")
    rows = {r[label]: r for r in csv.DictReader(open(results / table))}
    p0 = 0.5 if kind == "realism" else 1 / 6
    want = {r["comparison"]: r for r in analyze_counts({c: (expected[c], seen[c]) for c in seen}, p0=p0)}
    assert set(rows) == set(want) == set(design.comparisons)
    for comparison, row in rows.items():
        assert (int(row[count]), int(row["N"])) == (want[comparison]["successes"], want[comparison]["trials"])
        assert float(row["p (two-sided)"]) == pytest.approx(want[comparison]["p_two_sided"], rel=1e-12)


def test_report_index_shows_every_image_and_table(chrome, tmp_path):
    from selenium.webdriver.common.by import By

    run_dir = tmp_path / "syn" / "m" / "abc"
    rows = []
    for i, target in enumerate(["happy", "sad"] * 2):
        rid = f"r{i}"
        save_png(torch.rand(3, 16, 16), run_dir / "edits" / f"{rid}.png")
        rows.append({"request_id": rid, "image_id": f"img{i // 2}", "method": "m", "target": target, "status": "ok",
                     "output": f"edits/{rid}.png", "param.guidance": [1.0, 3.0][i % 2],
                     "metric.accuracy": float(i % 2), "metric.psnr": 20.0 + i, "metric.target_prob": 0.5})
    (run_dir / "manifest.json").write_text(json.dumps({"evaluators": []}))
    (run_dir / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = build_report([tmp_path / "syn"], tmp_path / "report", ReportOptions(n_boot=20))
    chrome.get((tmp_path / "report" / "index.html").as_uri())
    images = _loaded_images(chrome)
    assert len(images) == len(report.figures) >= 3
    assert all(width > 0 for _, width in images), [src for src, width in images if width == 0]
    tables = chrome.find_elements(By.CSS_SELECTOR, "table.table")
    assert len(tables) == len(report.tables)
    for table, built in zip(tables, report.tables):
        assert built.name in table.get_attribute("class")
        body_rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(body_rows) == len(built.rows) > 0


def test_index_shows_the_incomplete_run_banner_and_figure_captions(chrome, tmp_path):
    from selenium.webdriver.common.by import By

    from tests.reports.fakes import metric_run

    rows = [{"image_id": f"img{i}", "target": t, "metric.accuracy": float(i % 2), "metric.psnr": 20.0 + i}
            for i in range(4) for t in ("happy", "sad")]
    metric_run(tmp_path / "runs", "ldm", rows[:4], status="partial", expected=8, title="LDM (Pikoulis et al.)")
    metric_run(tmp_path / "runs", "ganmut", rows, title="GANmut")
    report = build_report([tmp_path / "runs"], tmp_path / "report", ReportOptions(n_boot=20))
    chrome.get((tmp_path / "report" / "index.html").as_uri())
    banner = chrome.find_element(By.CSS_SELECTOR, ".banner")
    assert banner.is_displayed() and banner.location["y"] < 300  # at the top, before the tables
    assert "Incomplete runs: ldm (partial: 4 of 8 requests ok)" in banner.text
    assert "Compared on the 4 requests every row shares" in banner.text
    flagged = [r.text for r in chrome.find_elements(By.CSS_SELECTOR, "table.runs tr.incomplete")]
    assert len(flagged) == 1 and "partial" in flagged[0]
    captions = [c.text for c in chrome.find_elements(By.CSS_SELECTOR, "figcaption")]
    assert len(captions) == len(report.figures) > 0
    assert all(len(c) > 40 and ".png" not in c for c in captions), captions
    # the partial run is flagged in the tables shown too
    assert any("(partial)" in cell.text for cell in chrome.find_elements(By.CSS_SELECTOR, "table.mean td"))


def test_two_participants_through_the_study_server(chrome, tmp_path):
    """`study serve` on 127.0.0.1: one participant answers everything; a Prolific participant closes the tab
    half-way, comes back by the same link and resumes; `study analyze` on the database equals the CSVs'."""
    import threading

    from selenium.webdriver.common.by import By

    from emobench.study.server import ServeOptions, serve

    out = three_method_study(tmp_path)
    design = load_design(out)
    server = serve(out, ServeOptions(port=0, token="t"), on_start=lambda line: None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    base = f"http://{host}:{port}/"
    given: dict[str, dict[str, str]] = {"P1": {}, "P2": {}}

    def answer(pid: str, count: int) -> None:
        for _ in range(count):
            item = wait_for(lambda: (not chrome.find_element(By.ID, "trial").get_attribute("hidden"))
                            and chrome.find_element(By.ID, "trial").get_attribute("data-item"), what="an item")
            choice = design.choices[len(given[pid]) % 2]
            given[pid][item] = choice
            _loaded_images(chrome)
            chrome.find_element(By.CSS_SELECTOR, f"button[data-choice='{choice}']").click()
            wait_for(lambda: chrome.find_element(By.ID, "trial").get_attribute("data-item") != item
                     or chrome.find_element(By.ID, "trial").get_attribute("hidden") is not None, what="next item")

    try:
        chrome.get(base + "?participant=P1")
        assert chrome.find_element(By.ID, "participant").get_attribute("value") == "P1"
        chrome.find_element(By.ID, "begin").click()
        answer("P1", len(design.items))
        wait_for(lambda: "completion code" in chrome.find_element(By.ID, "completion").text, what="P1's code")
        link = base + "?PROLIFIC_PID=P2&STUDY_ID=s1&SESSION_ID=x1"  # Prolific's link starts by itself
        chrome.get(link)
        half = len(design.items) // 2
        answer("P2", half)
        wait_for(lambda: len(server_answers(out)) == len(design.items) + half, what="answers on the server")
        chrome.get(link)  # the tab was closed; the same link resumes after the answered items
        wait_for(lambda: chrome.find_element(By.ID, "progress").text == f"Question {half + 1} of {len(design.items)}",
                 what="resume position")
        answer("P2", len(design.items) - half)
        wait_for(lambda: "completion code" in chrome.find_element(By.ID, "completion").text, what="P2's code")
    finally:
        server.shutdown()
        server.server_close()
    assert server_answers(out) == {(p, i): c for p, answers in given.items() for i, c in answers.items()}
    files = []
    for pid, answers in given.items():
        path = tmp_path / f"{pid}.csv"
        path.write_text("study_id,participant,item_id,choice\n" +
                        "".join(f"{design.study_id},{pid},{i},{c}\n" for i, c in answers.items()))
        files.append(str(path))
    assert main(["study", "analyze", str(out), str(out / "answers.sqlite"), "--out", str(tmp_path / "db")]) == 0
    assert main(["study", "analyze", str(out), *files, "--out", str(tmp_path / "csv")]) == 0
    assert (tmp_path / "db" / "realism.csv").read_text() == (tmp_path / "csv" / "realism.csv").read_text()


def server_answers(study: Path) -> dict[tuple[str, str], str]:
    """The latest answer per (participant, item) in the server's database."""
    from emobench.study.db import answers_csv

    rows = list(csv.DictReader(answers_csv(study / "answers.sqlite").splitlines()))
    return {(r["participant"], r["item_id"]): r["choice"] for r in rows}
