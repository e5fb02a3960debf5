"""Shared helpers for kannot's tests.

Every test runs the real CLI (``kannot.cli.main.main``) in-process on a small kernel-like tree under
``tests/fixtures/`` (or on a copy of one in ``tmp_path`` when the test changes files). Results of
the read-only runs over the big ``mini`` tree are computed once per session.
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from kannot.cli.main import main

FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini"
CLEAN = FIXTURES / "clean"
SUPPRESS = FIXTURES / "suppress"
BROKEN = FIXTURES / "broken"
XARCH = FIXTURES / "xarch"


@dataclass
class Run:
    rc: int
    out: str
    err: str

    @property
    def doc(self) -> dict:
        return json.loads(self.out)

    @property
    def findings(self) -> list[dict]:
        return self.doc["findings"]

    @property
    def errors(self) -> list[dict]:
        return self.doc["errors"]


def cli(*args: str | Path) -> Run:
    """Run ``kannot ARGS`` in-process and capture exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return Run(rc, out.getvalue(), err.getvalue())


def check(root: Path, *args: str | Path, fmt: str = "json") -> Run:
    """``kannot check --root ROOT -j 1 --format FMT ARGS``."""
    return cli("check", "--root", root, "-j", "1", "--format", fmt, *args)


def callees(root: Path, function: str, *args: str | Path) -> Run:
    return cli("callees", function, "--root", root, "-j", "1", "--format", "json", *args)


def copy_tree(src: Path, tmp_path: Path, name: str = "tree") -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst, symlinks=True)
    return dst


def by_caller(findings: list[dict], caller: str, code: str | None = None) -> list[dict]:
    return [f for f in findings if f["caller"] == caller and (code is None or f["code"] == code)]


def summary(findings: list[dict]) -> set[tuple]:
    """(code, file, caller, callee) of each finding: what a test usually compares."""
    return {(f["code"], f["file"], f["caller"], f["callee"]) for f in findings}


def line_of(root: Path, rel: str, text: str, nth: int = 1) -> int:
    """1-based line of the nth line of ROOT/REL containing TEXT (so tests need no line numbers)."""
    seen = 0
    for no, line in enumerate((root / rel).read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if text in line:
            seen += 1
            if seen == nth:
                return no
    raise AssertionError(f"{text!r} not found {nth} time(s) in {rel}")


def line_after(root: Path, rel: str, anchor: str, text: str) -> int:
    """1-based line of the first line containing TEXT after the line containing ANCHOR."""
    start = line_of(root, rel, anchor)
    lines = (root / rel).read_text(encoding="utf-8", errors="replace").splitlines()
    for no in range(start, len(lines) + 1):
        if text in lines[no - 1]:
            return no
    raise AssertionError(f"{text!r} not found after {anchor!r} in {rel}")


def col_of(root: Path, rel: str, line: int, text: str) -> int:
    """1-based byte column of TEXT on LINE of ROOT/REL."""
    raw = (root / rel).read_bytes().split(b"\n")[line - 1]
    idx = raw.find(text.encode())
    assert idx >= 0, f"{text!r} not on line {line} of {rel}"
    return idx + 1


@pytest.fixture(scope="session")
def mini_default() -> Run:
    """The mini tree with the default rule set."""
    run = check(MINI)
    assert run.rc == 1, run.err
    return run


@pytest.fixture(scope="session")
def mini_all() -> Run:
    """The mini tree with every rule, advisory families included."""
    run = check(MINI, "--select", "ALL")
    assert run.rc == 1, run.err
    return run
