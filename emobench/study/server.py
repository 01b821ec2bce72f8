"""``emobench study serve``: host a questionnaire, store every answer as it is given.

The standard library's threading HTTP server (a study of a few dozen participants needs no more)
in front of :class:`~emobench.study.db.AnswerDB`. Routes:

* ``GET /`` — the questionnaire in server mode (answers sent as given; Prolific and MTurk links);
* ``GET /images/NAME`` — an image the design names, read from the study's ``questionnaire/images``
  (no other path reaches the file system);
* ``POST /api/start|answer|finish`` — JSON in and out, every field validated against the design;
* ``GET /researcher?token=T`` and ``GET /api/status?token=T`` — progress, behind the token.

Each new participant gets their own item order (:func:`item_order`): a per-study shuffle rotated
by the participant's arrival index, so over n participants every item is shown at every position
once (a Latin square), stored so that a resumed tab sees the same order. A participant who
finished cannot start again. Binds to 127.0.0.1 unless ``--host`` says otherwise.

Example:
    >>> item_order(["q1", "q2", "q3"], "emotion-0", 0), item_order(["q1", "q2", "q3"], "emotion-0", 1)
    (['q1', 'q3', 'q2'], ['q3', 'q2', 'q1'])
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import re
import secrets
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import parse_qs, urlsplit

from emobench.errors import UserError
from emobench.study.db import AnswerDB
from emobench.study.design import QUESTIONNAIRE, StudyDesign, load_design
from emobench.study.page import PARTICIPANT_PATTERN, render_page

PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete?cc="
MTURK_HOSTS = ("https://www.mturk.com", "https://workersandbox.mturk.com")
PLATFORMS = ("direct", "prolific", "mturk")
MAX_BODY = 16 * 1024
_ID = re.compile(PARTICIPANT_PATTERN)
_PLATFORM_ID = re.compile(r"^[A-Za-z0-9_.-]{0,128}$")


def item_order(item_ids: Sequence[str], study_id: str, arrival: int) -> list[str]:
    """Latin-square order: the study's seeded shuffle of the items, rotated by ``arrival + 1``."""
    base = list(item_ids)
    random.Random(int(hashlib.sha256(study_id.encode()).hexdigest()[:16], 16)).shuffle(base)
    k = (arrival + 1) % len(base) if base else 0
    return base[k:] + base[:k]


@dataclass(frozen=True)
class ServeOptions:
    """host/port to bind; db: the SQLite file; token: of the researcher page (random when empty);
    prolific_code: the study's Prolific completion code (participants are sent back with it)."""

    host: str = "127.0.0.1"
    port: int = 8000
    db: str = ""
    token: str = ""
    prolific_code: str = ""


class BadRequest(Exception):
    """A request the server refuses: its message goes back as ``{"error": ...}``."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.status = status


class Study:
    """What the handler needs: the design, its page, its image files, the database, the settings."""

    def __init__(self, study_dir: Path, options: ServeOptions):
        self.dir = Path(study_dir)
        self.design: StudyDesign = load_design(self.dir)
        self.options = options
        self.token = options.token or secrets.token_urlsafe(16)
        images = self.dir / QUESTIONNAIRE
        self.images = {Path(name).name: images / name for item in self.design.items for name in item.images}
        missing = [str(p) for p in self.images.values() if not p.is_file()]
        if missing:
            raise UserError(f"{self.dir}: {len(missing)} image(s) of the design are not in {images} (e.g. "
                            f"{missing[0]}); make the study without --embed to serve it")
        self.page = render_page(self.design, {name: name for item in self.design.items for name in item.images},
                                server=True).encode()
        self.db = AnswerDB(Path(options.db) if options.db else self.dir / "answers.sqlite", self.design.study_id)

    # ---------------------------------------------------------------- API
    def participant(self, body: dict[str, Any]) -> str:
        pid = body.get("participant")
        if not isinstance(pid, str) or not _ID.match(pid):
            raise BadRequest("participant: expected 1-64 letters, digits, '.', '_' or '-'")
        return pid

    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        pid = self.participant(body)
        platform = body.get("platform", "direct")
        ids = body.get("ids", {})
        if platform not in PLATFORMS:
            raise BadRequest(f"platform: expected one of {', '.join(PLATFORMS)}")
        if not isinstance(ids, dict) or not all(isinstance(k, str) and isinstance(v, str) and _PLATFORM_ID.match(k)
                                                and (_PLATFORM_ID.match(v) or k == "turkSubmitTo")
                                                for k, v in ids.items()):
            raise BadRequest("ids: expected a small object of platform ids")
        if platform == "mturk" and ids.get("turkSubmitTo", "").rstrip("/") not in MTURK_HOSTS:
            raise BadRequest(f"turkSubmitTo: expected one of {', '.join(MTURK_HOSTS)}")
        items = [i.item_id for i in self.design.items]
        state = self.db.start(pid, platform, ids, lambda arrival: item_order(items, self.design.study_id, arrival))
        if state.finished:
            return {"finished": True, "code": state.completion,
                    "message": "You have already completed this study: thank you."}
        return {"finished": False, "order": state.order, "answers": state.answers}

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        pid = self.participant(body)
        item, choice = body.get("item_id"), body.get("choice")
        if not isinstance(item, str) or item not in self.design.by_id:
            raise BadRequest("item_id: not an item of this study")
        if not isinstance(choice, str) or choice not in self.design.choices:
            raise BadRequest(f"choice: expected one of {', '.join(self.design.choices)}")
        finished = self.db.finished(pid)  # not the participant's answers: this runs on every answer
        if finished is None:
            raise BadRequest("unknown participant: start first", HTTPStatus.CONFLICT)
        if finished:
            raise BadRequest("this participant has finished the study", HTTPStatus.CONFLICT)
        self.db.answer(pid, item, choice)
        return {"ok": True}

    def finish(self, body: dict[str, Any]) -> dict[str, Any]:
        pid = self.participant(body)
        state = self.db.participant(pid)
        if state is None:
            raise BadRequest("unknown participant: start first", HTTPStatus.CONFLICT)
        answered = sum(i in state.answers for i in state.order)
        code = self.db.finish(pid, self.options.prolific_code or None)
        out: dict[str, Any] = {"code": code, "message": f"{answered} of {len(state.order)} answered. Thank you!"}
        platform, ids = self.db.platform_of(pid)
        if platform == "prolific" and self.options.prolific_code:
            out["redirect"] = PROLIFIC_COMPLETE + self.options.prolific_code
        if platform == "mturk":
            out["mturk"] = {"action": ids["turkSubmitTo"].rstrip("/") + "/mturk/externalSubmit",
                            "fields": {"assignmentId": ids.get("assignmentId", ""), "completion": code}}
        return out

    def status_page(self) -> bytes:
        status = self.db.status()
        rows = "".join(f"<tr><td>{html.escape(i.item_id)}</td><td>{status['answers_per_item'].get(i.item_id, 0)}</td></tr>"
                       for i in self.design.items)
        return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Study status</title></head><body>"
                f"<h1>Study {html.escape(self.design.study_id)}</h1>"
                f"<p>{status['participants_started']} participants started, {status['participants_finished']} finished; "
                f"{status['answer_rows']} answer rows.</p>"
                f"<table><tr><th>item</th><th>participants answered</th></tr>{rows}</table></body></html>").encode()


def make_handler(study: Study) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "emobench-study"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass  # no per-request lines on the researcher's terminal

        def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self'; script-src 'unsafe-inline' "
                             "'self'; style-src 'unsafe-inline'; form-action 'self' https://www.mturk.com "
                             "https://workersandbox.mturk.com")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: HTTPStatus, data: dict[str, Any]) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def _authorised(self, query: dict[str, list[str]]) -> bool:
            return secrets.compare_digest(query.get("token", [""])[0], study.token)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path in ("/", "/index.html"):
                return self._send(HTTPStatus.OK, study.page, "text/html; charset=utf-8")
            if url.path.startswith("/images/"):
                file = study.images.get(url.path[len("/images/"):])
                if file is None:
                    return self._json(HTTPStatus.NOT_FOUND, {"error": "no such image"})
                kind = "image/png" if file.suffix == ".png" else "image/jpeg"
                return self._send(HTTPStatus.OK, file.read_bytes(), kind)
            if url.path in ("/researcher", "/api/status"):
                if not self._authorised(query):
                    return self._json(HTTPStatus.FORBIDDEN, {"error": "token required"})
                if url.path == "/api/status":
                    return self._json(HTTPStatus.OK, study.db.status())
                return self._send(HTTPStatus.OK, study.status_page(), "text/html; charset=utf-8")
            return self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            action = {"/api/start": study.start, "/api/answer": study.answer, "/api/finish": study.finish}.get(
                urlsplit(self.path).path)
            try:
                if action is None:
                    raise BadRequest("not found", HTTPStatus.NOT_FOUND)
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_BODY:
                    raise BadRequest(f"expected a JSON body of at most {MAX_BODY} bytes")
                try:
                    body = json.loads(self.rfile.read(length))
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise BadRequest("expected a JSON body") from None
                if not isinstance(body, dict):
                    raise BadRequest("expected a JSON object")
                self._json(HTTPStatus.OK, action(body))
            except BadRequest as exc:
                self._json(exc.status, {"error": str(exc)})

    return Handler


class StudyHTTPServer(ThreadingHTTPServer):
    """A thread per connection; a listen backlog for a crowd arriving at once (the default is 5)."""

    request_queue_size = 256
    daemon_threads = True


def serve(study_dir: Path, options: ServeOptions, on_start: Callable[[str], None] = print) -> ThreadingHTTPServer:
    """Build the server (bound, not yet serving) and report where it listens through ``on_start``."""
    study = Study(study_dir, options)
    try:
        server = StudyHTTPServer((options.host, options.port), make_handler(study))
    except OSError as exc:
        raise UserError(f"cannot listen on {options.host}:{options.port} ({exc.strerror}); choose another --port") \
            from None
    host, port = server.server_address[:2]
    on_start(f"study {study.design.study_id}: http://{host}:{port}/  (answers: {study.db.path})")
    on_start(f"researcher page: http://{host}:{port}/researcher?token={study.token}")
    return server
