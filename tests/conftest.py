"""Shared fixtures: where the shared data/weights live, and a quiet single-threaded torch.

Tests read shared files from ``$EMOBENCH_SHARED`` (default ``../shared`` beside the
checkout) and point ``EMOBENCH_WEIGHTS`` at its ``weights/`` unless already set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EMOBENCH_SHARED", REPO.parent / "shared")).resolve()

if (SHARED / "weights").is_dir():
    os.environ.setdefault("EMOBENCH_WEIGHTS", str(SHARED / "weights"))
# Tests never reach for the network on their own: a missing weight fails at once (tests of the
# download path serve files from a loopback server and switch this off themselves).
os.environ.setdefault("EMOBENCH_OFFLINE", "1")


def pytest_configure(config: pytest.Config) -> None:
    # Two cores shared with other processes: one torch thread is faster and steadier (DESIGN §10).
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared data/weights folder; skips (with the reason) if it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared folder not found at {SHARED} (set EMOBENCH_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def shared_data(shared_dir: Path) -> Path:
    return shared_dir / "data"


@pytest.fixture(scope="session")
def shared_weights(shared_dir: Path) -> Path:
    return shared_dir / "weights"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep caches out of the user's home: every test gets a throwaway EMOBENCH_HOME."""
    monkeypatch.setenv("EMOBENCH_HOME", str(tmp_path_factory.mktemp("emobench_home")))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA; none on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
