"""`emobench study serve` over HTTP on 127.0.0.1: participants' answers land in SQLite as they are
given, orders are counterbalanced, a closed tab resumes, finished means finished, every input is
validated, the researcher page needs its token, and `study analyze` on the database gives the tables
of the equivalent CSV files."""

from __future__ import annotations

import csv
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from emobench.cli import main
from emobench.study.design import load_design
from emobench.study.server import ServeOptions, serve
from tests.reports.fakes import three_method_study


@pytest.fixture
def study(tmp_path):
    return three_method_study(tmp_path)


@pytest.fixture
def server(study):
    lines: list[str] = []
    srv = serve(study, ServeOptions(port=0, token="secret", prolific_code="CODE42"), on_start=lines.append)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    host, port = srv.server_address[:2]
    yield f"http://{host}:{port}", lines
    srv.shutdown()
    srv.server_close()


def call(base: str, path: str, body: dict | None = None, raw: bytes | None = None) -> tuple[int, dict | bytes]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            payload = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        payload, status = exc.read(), exc.code
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload


def test_binds_to_localhost_and_prints_where(server):
    base, lines = server
    assert base.startswith("http://127.0.0.1:")
    assert any("researcher page:" in line and "token=secret" in line for line in lines)


def test_two_participants_one_resumes_and_analysis_equals_the_csvs(server, study, tmp_path):
    base, _ = server
    design = load_design(study)
    given: dict[str, dict[str, str]] = {"A": {}, "B": {}}
    for pid in ("A", "B"):
        status, state = call(base, "/api/start", {"participant": pid})
        assert status == 200 and not state["finished"] and sorted(state["order"]) == sorted(design.by_id)
        order = state["order"]
        stop = len(order) if pid == "A" else len(order) // 2  # B closes the tab half-way
        for k, item in enumerate(order[:stop]):
            choice = design.choices[k % 2]
            assert call(base, "/api/answer", {"participant": pid, "item_id": item, "choice": choice})[0] == 200
            given[pid][item] = choice
        if pid == "A":
            status, done = call(base, "/api/finish", {"participant": "A"})
            assert status == 200 and done["code"] == "CODE42"
    # B comes back: same order, earlier answers kept, goes on where they stopped
    status, again = call(base, "/api/start", {"participant": "B"})
    assert again["order"] == order  # the order of their first visit
    assert again["answers"] == given["B"]
    for item in again["order"]:
        if item not in given["B"]:
            call(base, "/api/answer", {"participant": "B", "item_id": item, "choice": design.choices[1]})
            given["B"][item] = design.choices[1]
    assert call(base, "/api/finish", {"participant": "B"})[0] == 200
    # A finished: cannot take it again or change answers
    status, state = call(base, "/api/start", {"participant": "A"})
    assert state["finished"] and "already completed" in state["message"]
    assert call(base, "/api/answer", {"participant": "A", "item_id": design.items[0].item_id,
                                      "choice": design.choices[0]})[0] == 409
    # the database analyses as the equivalent CSV downloads
    csv_files = []
    for pid, answers in given.items():
        path = tmp_path / f"answers-{pid}.csv"
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["study_id", "participant", "item_id", "choice"])
            writer.writerows([design.study_id, pid, item, choice] for item, choice in answers.items())
        csv_files.append(str(path))
    db = study / "answers.sqlite"
    assert main(["study", "analyze", str(study), str(db), "--out", str(tmp_path / "from_db")]) == 0
    assert main(["study", "analyze", str(study), *csv_files, "--out", str(tmp_path / "from_csv")]) == 0
    for name in ("realism.csv", "realism.md", "realism.tex"):
        assert (tmp_path / "from_db" / name).read_text() == (tmp_path / "from_csv" / name).read_text()
    assert main(["study", "ingest", str(study), str(db), "--out", str(tmp_path / "merged.csv")]) == 0
    assert main(["study", "status", str(study)]) == 0


def test_orders_are_a_latin_square_and_kept_per_participant(server, study):
    base, _ = server
    n = len(load_design(study).items)
    orders = [call(base, "/api/start", {"participant": f"P{i}"})[1]["order"] for i in range(n)]
    assert len({tuple(o) for o in orders}) == n  # not one order for all
    for position in range(n):
        assert len({o[position] for o in orders}) == n  # every item once at every position
    assert call(base, "/api/start", {"participant": "P0"})[1]["order"] == orders[0]


@pytest.mark.parametrize("path,body,status,message", [
    ("/api/start", {"participant": "../../etc"}, 400, "participant"),
    ("/api/start", {"participant": "x" * 65}, 400, "participant"),
    ("/api/start", {"participant": "A", "platform": "facebook"}, 400, "platform"),
    ("/api/start", {"participant": "A", "platform": "mturk", "ids": {"turkSubmitTo": "https://evil.example"}}, 400,
     "turkSubmitTo"),
    ("/api/answer", {"participant": "nobody", "item_id": "q1", "choice": "left"}, 409, "start first"),
    ("/api/answer", {"participant": "A", "item_id": "<script>", "choice": "left"}, 400, "item_id"),
    ("/api/nothing", {"participant": "A"}, 404, "not found"),
])
def test_bad_requests_get_one_clear_error(server, path, body, status, message):
    base, _ = server
    got, data = call(base, path, body)
    assert got == status and message in data["error"]


def test_malformed_bodies_paths_and_the_token(server, study):
    base, _ = server
    assert call(base, "/api/start", raw=b"not json")[0] == 400
    assert call(base, "/api/start", raw=b"x" * 20000)[0] == 400
    assert call(base, "/images/../design.json")[0] == 404
    assert call(base, "/images/%2e%2e/design.json")[0] == 404
    assert call(base, "/design.json")[0] == 404
    name = load_design(study).items[0].images[0]
    status, payload = call(base, "/" + name)
    assert status == 200 and payload[:4] == b"\x89PNG"
    assert call(base, "/researcher")[0] == 403 and call(base, "/api/status?token=wrong")[0] == 403
    status, page = call(base, "/researcher?token=secret")
    assert status == 200 and b"participants started" in page
    status, page = call(base, "/")
    assert status == 200 and b'"server": true' in page and b"design.json" not in page


def test_prolific_participants_are_sent_back_with_the_code_and_mturk_submits(server, study):
    base, _ = server
    ids = {"STUDY_ID": "s1", "SESSION_ID": "x1"}
    assert call(base, "/api/start", {"participant": "PRO1", "platform": "prolific", "ids": ids})[0] == 200
    done = call(base, "/api/finish", {"participant": "PRO1"})[1]
    assert done["redirect"] == "https://app.prolific.com/submissions/complete?cc=CODE42"
    mturk = {"assignmentId": "AS1", "hitId": "H1", "turkSubmitTo": "https://workersandbox.mturk.com"}
    assert call(base, "/api/start", {"participant": "W1", "platform": "mturk", "ids": mturk})[0] == 200
    done = call(base, "/api/finish", {"participant": "W1"})[1]
    assert done["mturk"]["action"] == "https://workersandbox.mturk.com/mturk/externalSubmit"
    assert done["mturk"]["fields"]["assignmentId"] == "AS1"


def test_fifty_concurrent_participants_lose_no_answer(server, study, capsys):
    base, _ = server
    design = load_design(study)
    requests = Counter()

    def participant(i: int) -> int:
        pid = f"L{i:02d}"
        order = call(base, "/api/start", {"participant": pid})[1]["order"]
        for k, item in enumerate(order):
            assert call(base, "/api/answer", {"participant": pid, "item_id": item,
                                              "choice": design.choices[(i + k) % 2]})[0] == 200
        assert call(base, "/api/finish", {"participant": pid})[0] == 200
        return len(order) + 2

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=50) as pool:
        requests["all"] = sum(pool.map(participant, range(50)))
    elapsed = time.perf_counter() - start
    status = call(base, "/api/status?token=secret")[1]
    assert status["participants_started"] == status["participants_finished"] == 50
    assert status["answer_rows"] == 50 * len(design.items)
    assert all(count == 50 for count in status["answers_per_item"].values())
    with capsys.disabled():
        print(f"\n50 concurrent participants: {requests['all']} requests in {elapsed:.2f} s "
              f"({requests['all'] / elapsed:.0f} requests/s)")
