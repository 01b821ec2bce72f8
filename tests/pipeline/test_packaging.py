"""The built wheel carries the built-in cards, and emobench finds them there."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools")
    src = tmp_path_factory.mktemp("src")
    # build from a copy so build/ and *.egg-info never land in the checkout
    for name in ("emobench", "methods", "protocols", "reports"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (whl,) = out.glob("emobench-*.whl")
    return whl


def test_wheel_contains_cards(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for card in [*(REPO / "methods").glob("*.toml"), *(REPO / "protocols").glob("*.toml"),
                 *(REPO / "reports").glob("*.toml")]:
        assert f"emobench/_cards/{card.parent.name}/{card.name}" in names
    assert "emobench/cli.py" in names and "emobench/editors/identity.py" in names
    assert not any(n.startswith(("methods/", "protocols/", "reports/", "tests/")) for n in names)


def test_wheel_contains_the_builtin_baseline_and_the_synthetic_identity_net(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "emobench/report/data/paper_table1.csv" in names  # emobench report --baseline paper-table1
    assert "emobench/synthetic/weights/synthetic_identity.safetensors" in names  # identity backend synthetic-id


def test_installed_wheel_finds_cards(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import emobench.cards as c; print(c.builtin_dir('methods')); print(c.load_method('identity').title); "
            "print(c.load_protocol('synthetic').dataset); "
            "from emobench.report.definition import load_definition; print(load_definition('paper').name)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": ""},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    folder, title, dataset, report = proc.stdout.split("\n")[:4]
    assert Path(folder) == site / "emobench" / "_cards" / "methods"
    assert title == "Identity (no edit)" and dataset == "synthetic" and report == "paper"


@pytest.mark.slow
def test_core_install_without_extras_runs_the_identity_method(wheel, tmp_path):
    """`pip install emobench` (no extras) in a fresh venv: the default path imports only core dependencies."""
    import os

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True,
                          timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shared = Path(os.environ.get("EMOBENCH_SHARED", REPO.parent / "shared"))
    env = {"PATH": str(venv / "bin") + ":/usr/bin:/bin", "HOME": str(tmp_path), "EMOBENCH_OFFLINE": "1",
           "EMOBENCH_WEIGHTS": str(shared / "weights"), "EMOBENCH_HOME": str(tmp_path / "home")}
    proc = subprocess.run([str(venv / "bin" / "emobench"), "run", "--method", "identity", "--protocol", "synthetic",
                           "--set", "per_class=1", "--set", "dataset.identities=2", "--limit", "4", "--quiet",
                           "--out", str(tmp_path / "runs")], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "4 new records (0 errors)" in proc.stdout
