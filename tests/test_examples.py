"""The examples in examples/ run as written, on a kernel-like git tree."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from patchrepo import ENV, SCENARIOS, commit, git, make_repo

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text())


def _env(**extra) -> dict:
    env = {**ENV, **extra}
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    if not shutil.which("kannot", path=env["PATH"]):
        pytest.skip("the kannot command is not installed (pip install -e .)")
    return env


@pytest.fixture
def series(tmp_path):
    repo = make_repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "work")
    for name, change in SCENARIOS.items():
        change(repo)
        commit(repo, f"scenario: {name}")
    return repo


def _workflow_step(step_id: str) -> str:
    wf = yaml.safe_load((EXAMPLES / "github-actions" / "kannot.yml").read_text())
    (job,) = wf["jobs"].values()
    return next(s for s in job["steps"] if s.get("id") == step_id)["run"]


@pytest.mark.parametrize("event", ["pull_request", "push"])
def test_github_actions_step(series, tmp_path, event):
    out_file = tmp_path / "github_output"
    base = git(series, "rev-parse", "master").strip() if event == "pull_request" else ""
    proc = subprocess.run(["bash", "-e", "-c", _workflow_step("kannot")], cwd=series, capture_output=True, text=True,
                          env=_env(BASE_SHA=base, GITHUB_OUTPUT=str(out_file), GITHUB_WORKSPACE=str(series)))
    assert proc.returncode == 0, proc.stderr  # findings are reported, the step does not break
    assert "exit=1" in out_file.read_text()
    annotations = [l for l in proc.stdout.splitlines() if l.startswith("::error ")]
    sarif = json.loads((series / "kannot.sarif").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(sarif)
    results = sarif["runs"][0]["results"]
    if event == "pull_request":
        assert len(annotations) == 3 and "legacy_entry" not in proc.stdout  # only what the PR adds
        assert {r["baselineState"] for r in results} == {"new"}
    else:
        assert any("legacy_entry" in l for l in annotations)
        assert all("baselineState" not in r for r in results)


def test_b4_prep_check_with_the_example_config(tmp_path):
    if shutil.which("b4") is None:
        pytest.skip("b4 is not installed")
    repo = make_repo(tmp_path)
    (repo / "scripts").mkdir()
    stub = repo / "scripts" / "checkpatch.pl"  # the example also runs checkpatch: a silent stand-in
    stub.write_text("#!/bin/sh\ncat > /dev/null\nexit 0\n")
    stub.chmod(0o755)
    shutil.copy(EXAMPLES / "b4" / "b4-config", repo / ".b4-config")
    git(repo, "config", "user.name", "Kernel Dev")  # b4 reads the identity from git config
    git(repo, "config", "user.email", "dev@example.org")
    git(repo, "add", ".")
    commit(repo, "tooling")
    env = _env()
    run = lambda *a: subprocess.run(["b4", *a], cwd=repo, env=env, capture_output=True, text=True)  # noqa: E731
    assert run("prep", "-n", "noinstr-fix").returncode == 0
    SCENARIOS["comment_only"](repo)
    commit(repo, "entry: clarify a comment")
    SCENARIOS["drop_noinstr"](repo)
    commit(repo, "context: ct_user_exit is ordinary code")
    proc = run("prep", "--check", "--no-cache")
    out = proc.stdout + proc.stderr
    assert "kannot check --patch -" in out
    assert "arch/x86/kernel/nmi.c:6: ERROR:NOINSTR_CALL:" in out
    assert "Traceback" not in out
    assert "Warning: 1, Error: 2" in out  # patch 1 clean; patch 2: two errors, one warning


def test_mailing_list_bot(series, tmp_path):
    patches = git(series, "format-patch", "--thread", "--cover-letter", "-o", str(tmp_path / "p"), "master").split()
    mbox = tmp_path / "series.mbox"
    mbox.write_bytes(b"".join(Path(p).read_bytes() for p in patches))
    tree = tmp_path / "tree"
    git(series, "worktree", "add", "-q", str(tree), "master")
    bot = EXAMPLES / "mailing-list-bot" / "kannot-bot.sh"
    proc = subprocess.run(["sh", str(bot), str(tree), str(mbox)], capture_output=True, text=True, env=_env())
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    reply = proc.stdout
    assert reply.startswith("To: Kernel Dev <dev@example.org>\nSubject: Re: [PATCH 0/3]")
    assert "In-Reply-To: <" in reply and "ERROR:NOINSTR_CALL:" in reply and "#" in reply
    clean = subprocess.run(["sh", str(bot), str(tree), patches[3]], capture_output=True, text=True, env=_env())
    assert (clean.returncode, clean.stdout) == (0, "")
    broken = subprocess.run(["sh", str(bot), str(tree), str(tmp_path / "missing.mbox")], capture_output=True,
                            text=True, env=_env())
    assert broken.returncode == 2 and broken.stdout == "" and "kannot-bot: kannot failed" in broken.stderr
