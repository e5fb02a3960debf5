"""`kannot check --diff-base REV`: only what a change introduces, across files, on real git repos."""
from __future__ import annotations



from conftest import cli
from patchrepo import (add_unprotected_call, comment_only, commit, drop_noinstr, edit, git, line_of,
                       make_repo, tree_state)


def diff_check(repo, *args, rev="HEAD~1", fmt="json"):
    return cli("check", "--root", repo, "-j", "1", "--no-cache", "--format", fmt, "--diff-base", rev, *args)


def keys(findings):
    return sorted((f["code"], f["file"], f["caller"], f["callee"]) for f in findings)


def test_new_unprotected_call_is_reported_and_old_findings_are_not(tmp_path):
    repo = make_repo(tmp_path)
    add_unprotected_call(repo)
    commit(repo, "entry: call rcu_irq_work early")
    run = diff_check(repo)
    assert run.rc == 1, run.err
    assert keys(run.findings) == [("KN001", "kernel/entry/common.c", "enter_from_user_mode", "rcu_irq_work")]
    f = run.findings[0]
    assert f["line"] == line_of(repo, "kernel/entry/common.c", "rcu_irq_work();")
    assert f["baseline_state"] == "new"
    assert "causes" not in f  # the changed line is the call itself
    # the whole-tree run still has the old finding the diff run keeps quiet about
    whole = cli("check", "--root", repo, "-j", "1", "--no-cache", "--format", "json")
    assert ("KN001", "kernel/entry/common.c", "legacy_entry", "old_unsafe_hook") in keys(whole.findings)
    # and the new finding has the same fingerprint in both runs
    assert f["fingerprint"] in {w["fingerprint"] for w in whole.findings}


def test_noinstr_removed_from_callee_reports_unchanged_callers_with_a_note(tmp_path):
    repo = make_repo(tmp_path)
    drop_noinstr(repo)
    commit(repo, "context: ct_user_exit is ordinary code now")
    run = diff_check(repo)
    assert run.rc == 1, run.err
    assert keys(run.findings) == [
        ("KN001", "arch/x86/kernel/nmi.c", "exc_nmi", "ct_user_exit"),
        ("KN001", "kernel/entry/common.c", "enter_from_user_mode", "ct_user_exit"),
        ("KN101", "kernel/entry/common.c", "kprobe_entry_helper", "ct_user_exit"),  # advisory: on in diff mode
    ]
    changed = git(repo, "diff", "--name-only", "HEAD~1").split()
    assert changed == ["kernel/context.c"]
    where = line_of(repo, "kernel/context.c", "void ct_user_exit(void)")
    for f in run.findings:
        assert f["file"] != "kernel/context.c"
        assert f["causes"] == [{"file": "kernel/context.c", "line": where,
                                "message": "the change to 'ct_user_exit' here makes this call new"}]
    text = diff_check(repo, fmt="text")
    assert f"kernel/context.c:{where}: note: the change to 'ct_user_exit' here makes this call new" in text.out


def test_comment_only_change_reports_nothing(tmp_path):
    repo = make_repo(tmp_path)
    comment_only(repo)
    commit(repo, "entry: comment")
    run = diff_check(repo)
    assert run.rc == 0, run.err
    assert run.findings == []


def test_uncommitted_untracked_and_deleted_files_count(tmp_path):
    repo = make_repo(tmp_path)
    # untracked new file with a noinstr function making an unprotected call
    (repo / "kernel" / "fresh.c").write_text(
        '#include <linux/kernel.h>\n\nnoinstr void fresh_entry(void)\n{\n\tprobe_helper();\n}\n')
    run = diff_check(repo, rev="HEAD")
    assert keys(run.findings) == [("KN001", "kernel/fresh.c", "fresh_entry", "probe_helper")]
    # a deleted file: its callee definitions disappear, so the calls become unresolved (KN004)
    (repo / "kernel" / "fresh.c").unlink()
    git(repo, "rm", "-q", "kernel/context.c")
    run = diff_check(repo, rev="HEAD")
    assert run.rc == 1
    assert ("KN004", "kernel/entry/common.c", "enter_from_user_mode", "ct_user_exit") in keys(run.findings)
    assert all(f["file"] != "kernel/context.c" for f in run.findings)


def test_advisory_families_are_on_by_default_and_can_be_ignored(tmp_path):
    repo = make_repo(tmp_path)
    edit(repo, "kernel/entry/common.c", '\tprintk("stats\\n");', '\tprintk("stats\\n");\n\tprobe_helper();')
    commit(repo, "entry: stats call a helper")
    run = diff_check(repo)
    assert keys(run.findings) == [("KN201", "kernel/entry/common.c", "entry_stats", "probe_helper")]
    assert diff_check(repo, "--ignore", "notrace").findings == []
    # the whole-tree default run does not report advisory families
    whole = cli("check", "--root", repo, "-j", "1", "--no-cache", "--format", "json")
    assert not [f for f in whole.findings if f["code"] == "KN201"]


def test_second_identical_call_is_the_new_one(tmp_path):
    repo = make_repo(tmp_path)
    # a second call to old_unsafe_hook() above the existing one: the finding on the added line is new
    edit(repo, "kernel/entry/common.c", "\told_unsafe_hook();\n}", "\told_unsafe_hook();\n\told_unsafe_hook();\n}")
    commit(repo, "legacy: call twice")
    run = diff_check(repo)
    assert [f["line"] for f in run.findings] == [line_of(repo, "kernel/entry/common.c", "old_unsafe_hook();") + 1]


def test_paths_limit_the_report(tmp_path):
    repo = make_repo(tmp_path)
    drop_noinstr(repo)
    commit(repo, "context: drop noinstr")
    run = diff_check(repo, "arch/x86")
    assert keys(run.findings) == [("KN001", "arch/x86/kernel/nmi.c", "exc_nmi", "ct_user_exit")]


def test_root_below_the_git_top(tmp_path):
    top = tmp_path / "top"
    top.mkdir()
    repo = make_repo(top, "linux")
    git(repo, "init", "-q")  # keep the fixture repo, but make the outer folder the repo instead
    import shutil
    shutil.rmtree(repo / ".git")
    git(top, "init", "-q", "-b", "master")
    git(top, "add", ".")
    git(top, "commit", "-q", "-m", "base")
    drop_noinstr(repo)
    run = cli("check", "--root", repo, "-j", "1", "--no-cache", "--format", "json", "--diff-base", "HEAD")
    assert run.rc == 1, run.err
    assert {f["file"] for f in run.findings} == {"arch/x86/kernel/nmi.c", "kernel/entry/common.c"}


def test_errors_are_clear(tmp_path):
    repo = make_repo(tmp_path)
    run = diff_check(repo, rev="no-such-rev")
    assert run.rc == 2 and "no-such-rev" in run.err and "Traceback" not in run.err
    plain = tmp_path / "plain"
    import shutil
    shutil.copytree(repo, plain, ignore=shutil.ignore_patterns(".git"))
    run = diff_check(plain, rev="HEAD")
    assert run.rc == 2 and "git" in run.err
    run = cli("check", "--root", repo, "--diff-base", "HEAD", "--patch", "-")
    assert run.rc == 2 and "cannot be used together" in run.err


def test_first_commit_against_head_of_an_empty_repo(tmp_path):
    repo = tmp_path / "linux"
    import shutil
    from patchrepo import FIXTURE
    shutil.copytree(FIXTURE, repo)
    git(repo, "init", "-q", "-b", "master")
    git(repo, "add", ".")
    run = diff_check(repo, rev="HEAD")  # no commit yet: everything is new
    assert run.rc == 1, run.err
    assert ("KN001", "kernel/entry/common.c", "legacy_entry", "old_unsafe_hook") in keys(run.findings)


def test_diff_base_touches_nothing(tmp_path):
    repo = make_repo(tmp_path)
    drop_noinstr(repo)
    before = tree_state(repo)
    status = git(repo, "status", "--porcelain")
    diff_check(repo, rev="HEAD")
    assert tree_state(repo) == before
    assert git(repo, "status", "--porcelain") == status


def test_no_source_change_analyses_nothing(tmp_path, monkeypatch):
    repo = make_repo(tmp_path)
    (repo / "Kbuild").write_text((repo / "Kbuild").read_text() + "# a build comment\n")
    import kannot.patch.flow as pf

    def boom(*a, **k):
        raise AssertionError("analysed although no source file changed")
    monkeypatch.setattr(pf, "build_index", boom)
    run = diff_check(repo, rev="HEAD")
    assert run.rc == 0 and run.findings == [], run.err


def test_a_diff_base_checked_from_stored_results_reports_as_without_a_cache(tmp_path):
    """--diff-base with a cache: the work tree is the disk (its stored result), the base's
    files are edits of it. Each commit of the scenarios, twice, as without a cache."""
    repo = make_repo(tmp_path)
    cache = tmp_path / "cache"
    for change, message in ((add_unprotected_call, "entry: call rcu_irq_work early"),
                            (drop_noinstr, "context: plain ct_user_exit"), (comment_only, "comments")):
        change(repo)
        commit(repo, message)
        fresh = diff_check(repo)
        for _ in range(2):
            run = cli("check", "--root", repo, "-j", "1", "--cache-dir", cache, "--format", "json",
                      "--diff-base", "HEAD~1")
            assert (run.rc, run.out) == (fresh.rc, fresh.out), (message, run.err)
