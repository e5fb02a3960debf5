"""Git repositories made in tmp_path from tests/fixtures/patchtree, and the issue's three changes.

- ``add_unprotected_call``: the noinstr ``enter_from_user_mode`` gains a call to the traceable
  ``rcu_irq_work()`` outside its instrumentation region (a new KN001 in the changed file).
- ``drop_noinstr``: ``ct_user_exit`` in kernel/context.c loses ``noinstr``; its noinstr callers in
  kernel/entry/common.c and arch/x86/kernel/nmi.c (both unchanged) now make unprotected calls.
- ``comment_only``: a comment changes; nothing is new.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "patchtree"
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Kernel Dev", "GIT_AUTHOR_EMAIL": "dev@example.org",
    "GIT_COMMITTER_NAME": "Kernel Dev", "GIT_COMMITTER_EMAIL": "dev@example.org",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": os.environ.get("HOME", "/tmp"),
}


def git(repo: Path, *args: str, check: bool = True, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], env=ENV, input=input, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc.stdout.decode()


def make_repo(tmp_path: Path, name: str = "linux") -> Path:
    repo = tmp_path / name
    shutil.copytree(FIXTURE, repo)
    git(repo, "init", "-q", "-b", "master")
    git(repo, "config", "commit.gpgsign", "false")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    return repo



def repo_linking_outside(tmp_path: Path) -> Path:
    """A repository whose kernel/link is a symlink to a folder outside it (holding x.c)."""
    repo = make_repo(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.c").write_text("// SPDX-License-Identifier: GPL-2.0\n")
    os.symlink(outside, repo / "kernel" / "link")
    return repo

def commit(repo: Path, message: str) -> None:
    git(repo, "commit", "-q", "-a", "-m", message)


def edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text()
    assert text.count(old) >= 1, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def add_unprotected_call(repo: Path) -> None:
    edit(repo, "kernel/entry/common.c", "\tct_user_exit();\n\n\tinstrumentation_begin();",
         "\tct_user_exit();\n\trcu_irq_work();\n\n\tinstrumentation_begin();")


def drop_noinstr(repo: Path) -> None:
    edit(repo, "kernel/context.c", "noinstr void ct_user_exit(void)", "void ct_user_exit(void)")


def comment_only(repo: Path) -> None:
    edit(repo, "kernel/entry/common.c", "/* Entry from user space. */", "/* Entry from user space: RCU is not watching yet. */")


SCENARIOS = {
    "add_unprotected_call": add_unprotected_call,
    "drop_noinstr": drop_noinstr,
    "comment_only": comment_only,
}


def line_of(repo: Path, rel: str, text: str) -> int:
    for no, line in enumerate((repo / rel).read_text().splitlines(), 1):
        if text in line:
            return no
    raise AssertionError(f"{text!r} not in {rel}")


def tree_state(root: Path) -> dict[str, bytes]:
    """Every file under ROOT (outside .git) with its bytes: to show a run wrote nothing."""
    out = {}
    for p in sorted(root.rglob("*")):
        if ".git" in p.relative_to(root).parts or ".kannot-cache" in p.relative_to(root).parts:
            continue
        if p.is_file():
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out
