"""Helpers for the robustness tests: real kannot processes, a tree big enough to use the process
pool, and ways to take away write access even from root."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MINI = REPO / "tests" / "fixtures" / "mini"


@dataclass
class Proc:
    rc: int
    out: bytes
    err: str


def kannot(*args: str | Path, env: dict | None = None, preexec=None, prefix: list[str] = (), timeout: float = 300,
           cwd: Path | None = None) -> Proc:
    """``python -m kannot ARGS`` as a real process (stdout kept as bytes: outputs are compared byte for byte)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    if env:
        full_env.update(env)
    proc = subprocess.run([*prefix, sys.executable, "-m", "kannot", *map(str, args)], capture_output=True, env=full_env,
                          preexec_fn=preexec, timeout=timeout, cwd=cwd)
    return Proc(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))


def no_root_powers() -> list[str]:
    """A command prefix that makes permission bits apply to this process's children even as root
    (drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH), or [] when not root; skips when impossible."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permission bits cannot be made to apply")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


@contextmanager
def tmpfs(mnt: Path, size: str):
    """A tmpfs of ``size`` mounted on ``mnt`` for the block (needs root and mount rights: the
    test is skipped otherwise), unmounted after."""
    mnt.mkdir(exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def permissions_apply(path: Path) -> bool:
    """True when a process started with no_root_powers() cannot create a file in ``path``."""
    probe = subprocess.run([*no_root_powers(), sys.executable, "-c",
                            f"open({str(path / '.probe')!r}, 'w')"], capture_output=True)
    return probe.returncode != 0


def generated_tree(dst: Path, extra_files: int = 120, order_seed: int | None = None) -> Path:
    """The mini tree plus ``extra_files`` generated kernel-like .c files (so that a run has more than
    the 64 files that make ``-j N`` use worker processes). Every fourth file has a finding.
    With ``order_seed``, the files are created in a shuffled order (directory listing order
    follows creation order on most file systems)."""
    shutil.copytree(MINI, dst, symlinks=True)
    files: dict[str, str] = {}
    for i in range(extra_files):
        body = "\tplain_helper_%d(x);\n" % i if i % 4 == 0 else "\tinstrumentation_begin();\n\tprintk(\"%d\");\n\tinstrumentation_end();\n" % i
        files[f"drivers/gen{i % 7}/gen_{i:03d}.c"] = (
            "// SPDX-License-Identifier: GPL-2.0\n#include <linux/kernel.h>\n#include <linux/instrumentation.h>\n\n"
            f"void plain_helper_{i}(int x)\n{{\n\tprintk(\"%d\", x);\n}}\n\n"
            f"noinstr void gen_entry_{i}(int x)\n{{\n{body}}}\n\n"
            f"static __always_inline void gen_inline_{i}(void)\n{{\n\tplain_helper_{i}(1);\n}}\n"
        )
    names = sorted(files)
    if order_seed is not None:
        random.Random(order_seed).shuffle(names)
    for rel in names:
        p = dst / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(files[rel])
    return dst
