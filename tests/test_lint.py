"""The code stays pyflakes-clean (ruff's F rules, import placement, syntax; pyproject's [tool.ruff])
and type-clean (mypy, pyproject's [tool.mypy])."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = shutil.which("ruff")
    if exe:
        return [exe]
    try:
        import ruff  # noqa: F401
    except ImportError:
        pytest.fail("ruff is not installed: it is in the test extras (pip install -e '.[test]')")
    return [sys.executable, "-m", "ruff"]


def test_ruff_is_clean():
    got = subprocess.run([*_ruff(), "check", "--no-cache", "kannot", "bench", "tests", "fuzz"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert got.returncode == 0, got.stdout + got.stderr


def test_mypy_is_clean(tmp_path):
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.fail("mypy is not installed: it is in the test extras (pip install -e '.[test]')")
    got = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache")], cwd=REPO,
                         capture_output=True, text=True, timeout=900)
    assert got.returncode == 0, got.stdout + got.stderr
