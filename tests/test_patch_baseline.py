"""--write-baseline / --baseline: adopt kannot on a tree with old findings."""
from __future__ import annotations

import re

from conftest import check, copy_tree, MINI
from patchrepo import add_unprotected_call, make_repo


def test_write_then_use_a_baseline(tmp_path):
    repo = make_repo(tmp_path)
    base = tmp_path / "kannot.baseline"
    run = check(repo, "--no-cache", "--write-baseline", base, fmt="text")
    assert run.rc == 0 and "wrote 1 fingerprint(s)" in run.err
    lines = [l for l in base.read_text().splitlines() if not l.startswith("#")]
    assert lines == sorted(lines) and len(lines) == 1
    assert re.match(r"^[0-9a-f]{20}  # KN001 kernel/entry/common.c: legacy_entry -> old_unsafe_hook$", lines[0])
    assert not re.search(r":\d+", lines[0])  # no line numbers
    assert check(repo, "--no-cache", "--baseline", base).rc == 0
    add_unprotected_call(repo)
    run = check(repo, "--no-cache", "--baseline", base)
    assert run.rc == 1
    assert [(f["caller"], f["callee"], f.get("baseline_state")) for f in run.findings] == [
        ("enter_from_user_mode", "rcu_irq_work", None)]


def test_stale_entries_are_reported_and_dropped(tmp_path):
    tree = copy_tree(MINI, tmp_path)
    base = tmp_path / "b.txt"
    assert check(tree, "--no-cache", "--write-baseline", base).rc == 0
    n = len([l for l in base.read_text().splitlines() if not l.startswith("#")])
    with base.open("a") as fh:
        fh.write("0123456789abcdef0123  # KN001 gone.c: old -> thing\n")
    run = check(tree, "--no-cache", "--baseline", base, fmt="text")
    assert run.rc == 0 and "1 stale entry" in run.err and "0123456789abcdef0123" in run.err
    run = check(tree, "--no-cache", "--write-baseline", base, fmt="text")
    assert "dropped 1 stale" in run.err
    assert "0123456789abcdef0123" not in base.read_text()
    assert len([l for l in base.read_text().splitlines() if not l.startswith("#")]) == n


def test_baseline_survives_edits_above_findings(tmp_path):
    tree = copy_tree(MINI, tmp_path)
    base = tmp_path / "b.txt"
    check(tree, "--no-cache", "--write-baseline", base)
    for path in (tree / "kernel").glob("*.c"):
        path.write_text("/* moved down */\n\n" + path.read_text())
    assert check(tree, "--no-cache", "--baseline", base).findings == []


def test_missing_baseline_is_a_clear_error(tmp_path):
    run = check(MINI, "--baseline", tmp_path / "nope")
    assert run.rc == 2 and "not found" in run.err
