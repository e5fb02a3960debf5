"""The real `pre-commit try-repo` against this repository, on a kernel-like git tree."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from patchrepo import ENV, add_unprotected_call, comment_only, drop_noinstr, git, make_repo

REPO = Path(__file__).resolve().parents[1]


def test_hook_definitions():
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"kannot", "kannot-files"}
    for h in hooks.values():
        assert h["types_or"] == ["c"] and h["require_serial"] is True and h["language"] == "python"
        assert "--diff-base HEAD" in h["entry"]
    assert hooks["kannot"]["pass_filenames"] is False
    assert hooks["kannot-files"]["pass_filenames"] is True


def _pre_commit() -> list[str]:
    exe = shutil.which("pre-commit")
    if exe:
        return [exe]
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        pytest.skip("pre-commit is not installed (it is in the test extras)")
    import sys
    return [sys.executable, "-m", "pre_commit"]


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("pre-commit-home")


def try_repo(tree: Path, hook: str, home: Path) -> subprocess.CompletedProcess:
    """``pre-commit try-repo REPO HOOK --ref <this repo's HEAD>`` in TREE (its staged files).

    An explicit ``--ref`` makes pre-commit install the hook environment once per session (without
    it, a checkout with uncommitted changes gets a fresh temporary repo, and a fresh install, on
    every call); it tests the committed state of the repository, which is what CI checks out.
    """
    env = {**ENV, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    env.pop("PYTHONPATH", None)
    head = git(REPO, "rev-parse", "HEAD").strip()
    return subprocess.run([*_pre_commit(), "try-repo", str(REPO), hook, "--ref", head], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=900)


def test_try_repo_fails_on_the_bad_commit_and_passes_on_the_good(tmp_path, pre_commit_home):
    """The whole-tree hook: the bad change drops noinstr from a callee in one file, and the new
    findings are in other, unchanged files; the good change only edits a comment (the tree keeps
    an old finding, legacy_entry, that the hook does not report)."""
    tree = make_repo(tmp_path)
    drop_noinstr(tree)
    git(tree, "add", "kernel/context.c")
    bad = try_repo(tree, "kannot", pre_commit_home)
    out = bad.stdout + bad.stderr
    assert bad.returncode == 1, out
    assert "Failed" in out and "arch/x86/kernel/nmi.c" in out and "ct_user_exit" in out
    assert "legacy_entry" not in out
    git(tree, "checkout", "-q", "HEAD", "--", ".")
    comment_only(tree)
    git(tree, "add", "kernel/entry/common.c")
    good = try_repo(tree, "kannot", pre_commit_home)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout


def test_try_repo_files_hook_reports_the_staged_file(tmp_path, pre_commit_home):
    tree = make_repo(tmp_path)
    add_unprotected_call(tree)
    git(tree, "add", "kernel/entry/common.c")
    bad = try_repo(tree, "kannot-files", pre_commit_home)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "kernel/entry/common.c" in bad.stdout and "rcu_irq_work" in bad.stdout
    assert "legacy_entry" not in bad.stdout


def test_files_hook_entry_reports_only_the_files_it_is_given(tmp_path):
    """What pre-commit runs for kannot-files: the entry plus the staged file names (cheap check of
    the cross-file case without another hook install)."""
    from conftest import cli
    tree = make_repo(tmp_path)
    drop_noinstr(tree)
    git(tree, "add", "kernel/context.c")
    cwd = os.getcwd()
    os.chdir(tree)
    try:
        only_changed = cli("check", "--no-cache", "-j", "1", "--diff-base", "HEAD", "--quiet", "kernel/context.c")
        with_caller = cli("check", "--no-cache", "-j", "1", "--diff-base", "HEAD", "--quiet", "kernel/entry/common.c")
    finally:
        os.chdir(cwd)
    assert only_changed.rc == 0, only_changed.out + only_changed.err
    assert with_caller.rc == 1 and "enter_from_user_mode" in with_caller.out


def test_the_readme_precommit_config_runs_as_written(tmp_path, pre_commit_home):
    """README.md's `.pre-commit-config.yaml` block, verbatim, in a kernel-like repository: the
    bad change fails the hook (kannot installed, as the README says, from this repository: the
    test's own environment), the good one passes."""
    import re
    import sys

    block = re.search(r"### pre-commit.*?```yaml\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    tree = make_repo(tmp_path)
    (tree / ".pre-commit-config.yaml").write_text(block)
    git(tree, "add", ".pre-commit-config.yaml")
    git(tree, "commit", "-q", "-m", "pre-commit config")
    env = {**ENV, "PRE_COMMIT_HOME": str(pre_commit_home), "PRE_COMMIT_COLOR": "never",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{ENV.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    # this interpreter's pre-commit: a pre-commit of another Python (a pyenv shim) puts its own
    # bin/ first on PATH, and another kannot with it
    _pre_commit()  # (skips when pre-commit is not installed)
    run = [sys.executable, "-m", "pre_commit", "run", "kannot"]
    drop_noinstr(tree)
    git(tree, "add", "kernel/context.c")
    bad = subprocess.run(run, cwd=tree, env=env, capture_output=True, text=True, timeout=900)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "arch/x86/kernel/nmi.c" in bad.stdout and "ct_user_exit" in bad.stdout
    git(tree, "checkout", "-q", "HEAD", "--", ".")
    comment_only(tree)
    git(tree, "add", "kernel/entry/common.c")
    good = subprocess.run(run, cwd=tree, env=env, capture_output=True, text=True, timeout=900)
    assert good.returncode == 0, good.stdout + good.stderr
