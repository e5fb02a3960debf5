"""`kannot check --patch FILE|-`: unified diffs and mboxes applied in memory to the tree at --root."""
from __future__ import annotations

import io
import sys
from email.message import EmailMessage

import pytest

from conftest import cli
from patchrepo import SCENARIOS, commit, git, line_of, make_repo, repo_linking_outside, tree_state


def patch_check(repo, patch, *args, fmt="json"):
    return cli("check", "--root", repo, "-j", "1", "--no-cache", "--format", fmt, "--patch", patch, *args)


def keys(findings):
    return sorted((f["code"], f["file"], f["caller"], f["callee"]) for f in findings)


EXPECTED = {
    "add_unprotected_call": [("KN001", "kernel/entry/common.c", "enter_from_user_mode", "rcu_irq_work")],
    "drop_noinstr": [
        ("KN001", "arch/x86/kernel/nmi.c", "exc_nmi", "ct_user_exit"),
        ("KN001", "kernel/entry/common.c", "enter_from_user_mode", "ct_user_exit"),
        ("KN101", "kernel/entry/common.c", "kprobe_entry_helper", "ct_user_exit"),
    ],
    "comment_only": [],
}


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """A base tree (its own clean checkout) and the three changes as format-patch files and one mbox."""
    tmp = tmp_path_factory.mktemp("series")
    repo = make_repo(tmp)
    git(repo, "checkout", "-q", "-b", "work")
    for name, change in SCENARIOS.items():
        change(repo)
        commit(repo, f"scenario: {name}")
    out = tmp / "patches"
    git(repo, "format-patch", "-q", "-o", str(out), "master")
    files = sorted(out.iterdir())
    assert len(files) == 3
    mbox = tmp / "series.mbox"
    mbox.write_bytes(b"".join(f.read_bytes() for f in files))
    git(repo, "checkout", "-q", "master")
    return repo, dict(zip(SCENARIOS, files)), mbox


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_scenario_as_a_patch_file(series, name):
    repo, files, _ = series
    before = tree_state(repo)
    run = patch_check(repo, files[name])
    assert run.rc == (1 if EXPECTED[name] else 0), run.err
    assert keys(run.findings) == EXPECTED[name]
    assert tree_state(repo) == before  # applied in memory only


def test_cross_file_cause_note_points_into_the_patched_file(series):
    repo, files, _ = series
    run = patch_check(repo, files["drop_noinstr"])
    where = line_of(repo, "kernel/context.c", "void ct_user_exit(void)")
    assert {(c["file"], c["line"]) for f in run.findings for c in f["causes"]} == {("kernel/context.c", where)}


def test_the_series_as_one_mbox(series):
    repo, _, mbox = series
    run = patch_check(repo, mbox)
    assert run.rc == 1, run.err
    # what the whole series introduces: patch 1's new call and patch 2's callers (patch 3 adds nothing)
    assert keys(run.findings) == sorted(EXPECTED["add_unprotected_call"] + EXPECTED["drop_noinstr"])


def test_patch_from_stdin(series, monkeypatch):
    repo, files, _ = series
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(files["add_unprotected_call"].read_bytes())))
    run = patch_check(repo, "-")
    assert keys(run.findings) == EXPECTED["add_unprotected_call"]


def test_plain_git_diff_output(tmp_path):
    repo = make_repo(tmp_path)
    SCENARIOS["drop_noinstr"](repo)
    diff = tmp_path / "change.diff"
    diff.write_text(git(repo, "diff"))
    git(repo, "checkout", "-q", "--", ".")
    assert keys(patch_check(repo, diff).findings) == EXPECTED["drop_noinstr"]


def test_already_applied_series_is_compared_with_the_tree_before_it(series, tmp_path):
    """b4 prep --check pipes each patch of the branch that already holds them."""
    _, files, _ = series
    repo = make_repo(tmp_path)
    SCENARIOS["add_unprotected_call"](repo)
    commit(repo, "applied")
    run = patch_check(repo, files["add_unprotected_call"])
    assert run.rc == 1, run.err
    assert keys(run.findings) == EXPECTED["add_unprotected_call"]


def test_a_hunk_that_does_not_apply_names_file_and_hunk(series, tmp_path):
    _, files, _ = series
    repo = make_repo(tmp_path)
    (repo / "kernel" / "context.c").write_text((repo / "kernel" / "context.c").read_text().replace(
        "noinstr void ct_user_exit(void)", "noinstr void ct_user_exit_renamed(void)"))
    before = tree_state(repo)
    run = patch_check(repo, files["drop_noinstr"])
    assert run.rc == 2
    assert "kernel/context.c" in run.err and "hunk #1" in run.err and "@@ -" in run.err
    assert run.out == ""
    assert tree_state(repo) == before


def _diff(path_a: str, path_b: str) -> str:
    return (f"--- {path_a}\n+++ {path_b}\n@@ -1,1 +1,2 @@\n // SPDX-License-Identifier: GPL-2.0\n"
            "+noinstr void evil(void) { }\n")


@pytest.mark.parametrize("a,b,word", [
    ("a/../outside.c", "b/../outside.c", ".."),
    ("/etc/passwd.c", "/etc/passwd.c", "absolute"),
    ("a/kernel/../../x.c", "b/kernel/../../x.c", ".."),
])
def test_bad_paths_are_refused_and_nothing_is_written(tmp_path, a, b, word):
    repo = make_repo(tmp_path)
    patch = tmp_path / "bad.patch"
    patch.write_text(_diff(a, b))
    before = tree_state(tmp_path)
    run = patch_check(repo, patch)
    assert run.rc == 2
    assert "refusing path" in run.err and word in run.err
    assert tree_state(tmp_path) == before


def test_a_symlink_out_of_the_root_is_refused(tmp_path):
    repo = repo_linking_outside(tmp_path)
    patch = tmp_path / "link.patch"
    patch.write_text(_diff("a/kernel/link/x.c", "b/kernel/link/x.c"))
    run = patch_check(repo, patch)
    assert run.rc == 2 and "outside the root" in run.err
    assert (tmp_path / "outside" / "x.c").read_text() == "// SPDX-License-Identifier: GPL-2.0\n"


def test_new_and_deleted_files(tmp_path):
    repo = make_repo(tmp_path)
    (repo / "kernel" / "fresh.c").write_text(
        '#include <linux/kernel.h>\n\nnoinstr void fresh_entry(void)\n{\n\tprobe_helper();\n}\n')
    git(repo, "add", "-N", "kernel/fresh.c")
    git(repo, "rm", "-q", "--cached", "arch/x86/kernel/nmi.c")
    (repo / "arch" / "x86" / "kernel" / "nmi.c").unlink()
    patch = tmp_path / "files.patch"
    patch.write_text(git(repo, "diff"))
    git(repo, "reset", "-q")
    git(repo, "checkout", "-q", "--", ".")
    (repo / "kernel" / "fresh.c").unlink()
    assert (repo / "arch" / "x86" / "kernel" / "nmi.c").exists()
    run = patch_check(repo, patch)
    assert keys(run.findings) == [("KN001", "kernel/fresh.c", "fresh_entry", "probe_helper")]
    assert not (repo / "kernel" / "fresh.c").exists()


def test_base64_encoded_mail(series, tmp_path):
    repo, files, _ = series
    raw = files["add_unprotected_call"].read_bytes()
    head, body = raw.split(b"\n\n", 1)
    msg = EmailMessage()
    msg["From"] = "Kernel Dev <dev@example.org>"
    msg["Subject"] = "[PATCH] entry: call rcu_irq_work early"
    msg.set_content(body, maintype="text", subtype="plain", cte="base64")
    mail = tmp_path / "b64.eml"
    mail.write_bytes(b"From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n" + msg.as_bytes())
    assert b"\trcu_irq_work();" not in mail.read_bytes()  # the diff is only in the encoded body
    assert keys(patch_check(repo, mail).findings) == EXPECTED["add_unprotected_call"]


def test_not_a_patch(tmp_path):
    repo = make_repo(tmp_path)
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    run = patch_check(repo, junk)
    assert run.rc == 2 and "no diff found" in run.err
    run = patch_check(repo, tmp_path / "missing.patch")
    assert run.rc == 2 and "cannot read patch" in run.err


def test_b4_style_mail_with_a_blank_line_before_the_signature(series):
    """b4 pipes mails without the mbox "From " line and with a blank line after the last hunk."""
    repo, files, _ = series
    raw = files["add_unprotected_call"].read_text()
    mail = raw.split("\n", 1)[1].replace("\n-- \n", "\n\n-- \n")
    patch = repo.parent / "b4.eml"
    patch.write_text(mail)
    assert keys(patch_check(repo, patch).findings) == EXPECTED["add_unprotected_call"]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_patch_checked_from_stored_results_reports_as_without_a_cache(series, name, tmp_path, monkeypatch):
    """With a cache, both sides come from the stored result of the tree on disk: the base (the
    disk) is checked or reused, and the patched files are edits of it whose reachable functions
    are checked again (kannot.engine.recheck); once the disk's result is stored, only the
    functions the patch can affect are compared (engine.analyze_affected). The report is the
    one without any cache."""
    import kannot.patch.flow as pf

    repo, files, mbox = series
    fresh = patch_check(repo, files[name], fmt="json")
    cache = tmp_path / "cache"
    quick: list[bool] = []
    real = pf.analyze_affected
    monkeypatch.setattr(pf, "analyze_affected", lambda o: quick.append(bool(r := real(o))) or r)
    for _ in range(2):  # the first run stores the disk's result, the second starts from it
        run = cli("check", "--root", repo, "-j", "1", "--cache-dir", cache, "--format", "json", "--patch", files[name])
        assert (run.rc, run.out) == (fresh.rc, fresh.out), run.err
    # (kernel/context.c loses its only noinstr function: its catalog entry changes, which a
    # recheck does not cover, so both sides are checked as without the quick way)
    assert quick == [False, name != "drop_noinstr"]
    whole = cli("check", "--root", repo, "-j", "1", "--no-cache", "--format", "json", "--patch", mbox)
    run = cli("check", "--root", repo, "-j", "1", "--cache-dir", cache, "--format", "json", "--patch", mbox)
    assert (run.rc, run.out) == (whole.rc, whole.out), run.err
