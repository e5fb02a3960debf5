"""End to end with a real editor: headless neovim's built-in LSP client talks to `kannot lsp`.

`.ci/run` installs Debian's neovim; the test is skipped only when no `nvim` is on PATH.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MINI, line_of

LUA = Path(__file__).parent / "nvim" / "kannot_diagnostics.lua"
NVIM = shutil.which("nvim")


def _run_nvim(tmp_path: Path, lua: Path, **extra: str) -> tuple[str, list[str], str]:
    """Headless neovim running ``lua`` on kernel/inline.c of the mini tree: (status, rows, stderr)."""
    out = tmp_path / "diagnostics.txt"
    env = dict(os.environ)
    env.update({
        "KANNOT_ROOT": str(MINI), "KANNOT_FILE": "kernel/inline.c", "KANNOT_OUT": str(out),
        "KANNOT_TIMEOUT_MS": "150000",
        "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_STATE_HOME": str(tmp_path / "state"),
        **extra,
    })
    proc = subprocess.run([NVIM, "--headless", "--clean", "-u", "NONE", "-i", "NONE", "-c", f"luafile {lua}"],
                          env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=240)
    assert out.exists(), f"nvim wrote nothing (rc {proc.returncode}): {proc.stdout}{proc.stderr}"
    status, *rows = out.read_text().splitlines()
    return status, rows, proc.stderr


@pytest.mark.skipif(NVIM is None, reason="neovim (nvim) is not installed; .ci/run installs it with apt-get install -y neovim")
def test_neovim_shows_kannot_diagnostics(tmp_path):
    status, rows, stderr = _run_nvim(tmp_path, LUA, KANNOT_PYTHON=sys.executable)
    proc_stderr = stderr
    assert status == "ok", (status, proc_stderr)
    got = {(code, int(line)) for code, line, _source, _message in (r.split("\t", 3) for r in rows)}
    rel = "kernel/inline.c"
    assert got == {
        ("KN001", line_of(MINI, rel, "chain_outer(1);")),
        ("KN002", line_of(MINI, rel, "inline_with_call();")),
        ("KN002", line_of(MINI, rel, "inline_empty_stub();")),
        ("KN001", line_of(MINI, rel, "nokprobe_inline_helper();")),
    }
    assert all(r.split("\t")[2] == "kannot" for r in rows)


@pytest.mark.skipif(NVIM is None, reason="neovim (nvim) is not installed; .ci/run installs it with apt-get install -y neovim")
def test_the_readme_snippet_for_this_neovim_works(tmp_path):
    """The README's own neovim block (0.7 or 0.8+, whichever this nvim is), loaded as written: its
    FileType autocommand finds the tree's top and starts `kannot` (a wrapper on PATH running this
    checkout without a cache)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "kannot"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m kannot "$@" -j 1 --no-cache\n')
    wrapper.chmod(0o755)
    status, rows, stderr = _run_nvim(tmp_path, LUA,
                                     KANNOT_README=str(Path(__file__).resolve().parents[1] / "README.md"),
                                     PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    assert status == "ok", (status, stderr)
    got = {(code, int(line)) for code, line, _source, _message in (r.split("\t", 3) for r in rows)}
    assert ("KN002", line_of(MINI, "kernel/inline.c", "inline_with_call();")) in got
