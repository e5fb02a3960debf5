"""The formats review bots read: concise, github annotations, checkpatch."""
from __future__ import annotations

import re
import subprocess
import sys

from conftest import BROKEN, MINI, check, cli
from kannot.analysis.checks import Finding
from kannot.report.context import ReportContext
from kannot.report.github import MAX_PER_KIND, escape_data, escape_property, format_github
from patchrepo import SCENARIOS, commit, git, make_repo


def test_concise_is_one_line_per_finding(mini_default):
    run = check(MINI, "--no-cache", fmt="concise")
    assert run.rc == 1
    lines = run.out.splitlines()
    assert len(lines) == len(mini_default.findings)
    for line, f in zip(lines, mini_default.findings):
        assert line.startswith(f"{f['file']}:{f['line']}:{f['column']}: {f['code']} ")


def test_github_escaping_follows_the_runner():
    assert escape_data("a%b\r\nc") == "a%25b%0D%0Ac"
    assert escape_property("dir/a,b:c.c") == "dir/a%2Cb%3Ac.c"
    f = Finding("KN001", "kernel/a,b:c.c", 3, 2, 3, 9, "f", "g", "100% bad\nsecond line", [])
    out = format_github([f], [], ReportContext())
    assert out == ("::error file=kernel/a%2Cb%3Ac.c,line=3,endLine=3,col=2,endColumn=9,title=KN001 noinstr-call::"
                   "100%25 bad%0Asecond line%0A`kannot explain KN001` says why and how to fix it\n")


def test_github_annotations_past_ten_per_kind_are_counted_in_a_notice():
    def mk(i, code):
        return Finding(code, f"kernel/f{i}.c", i + 1, 1, i + 1, 5, f"caller{i}", "callee", f"message {i}", [])
    findings = [mk(i, "KN001") for i in range(13)] + [mk(i, "KN201") for i in range(11)]
    out = format_github(findings, [], ReportContext()).splitlines()
    assert sum(l.startswith("::error ") for l in out) == MAX_PER_KIND
    assert sum(l.startswith("::warning ") for l in out) == MAX_PER_KIND
    notice = [l for l in out if l.startswith("::notice ")]
    assert len(notice) == 1 and "4 more finding(s)" in notice[0] and "3 errors" in notice[0] and "1 warning" in notice[0]
    # the ones left out are still in the log, gcc-style
    assert any(l.startswith("kernel/f12.c:13:1: error:") for l in out)


def test_github_on_a_tree(mini_default, monkeypatch, tmp_path):
    run = check(MINI, "--no-cache", fmt="github")
    assert run.rc == 1
    ann = [l for l in run.out.splitlines() if l.startswith("::")]
    assert ann and all(re.match(r"^::(error|warning|notice) [^:]*::", l) for l in ann)
    # a kernel tree in a folder of the repository: paths are made relative to the workspace
    monkeypatch.setenv("GITHUB_WORKSPACE", str(MINI.parent))
    run = check(MINI, "--no-cache", fmt="github")
    assert f"file=mini/{mini_default.findings[0]['file']}," in run.out


def test_checkpatch_style_and_never_stderr():
    run = check(MINI, "--no-cache", fmt="checkpatch")
    assert run.rc == 1 and run.err == ""  # the mini tree has parse notes: they stay off stderr
    blocks = run.out.split("\n\n")
    first = blocks[0].splitlines()
    assert re.match(r"^(ERROR|WARNING):[A-Z_]+: .+ \[KN\d{3}\]$", first[0])
    assert re.match(r"^#\d+: FILE: [^:]+:\d+:$", first[1])
    assert first[2].startswith("+")
    assert re.search(r"^total: \d+ errors, \d+ warnings, 0 checks, \d+ lines checked$", run.out, re.M)
    terse = check(MINI, "--no-cache", "--terse", fmt="checkpatch")
    assert terse.err == ""
    assert all(re.match(r"^[^:]+:\d+: (ERROR|WARNING):[A-Z_]+: ", l) for l in terse.out.splitlines())
    broken = check(BROKEN, "--no-cache", fmt="checkpatch")
    assert broken.err == ""


def test_checkpatch_for_b4_per_patch(tmp_path):
    """b4 pipes each patch to the check command; --mailback prints nothing for a clean patch."""
    repo = make_repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "work")
    for name, change in SCENARIOS.items():
        change(repo)
        commit(repo, f"scenario: {name}")
    patches = git(repo, "format-patch", "-o", str(tmp_path / "p"), "master").split()
    git(repo, "checkout", "-q", "master")
    cmd = [sys.executable, "-m", "kannot", "check", "--root", str(repo), "--no-cache", "-j", "1",
           "--patch", "-", "--format", "checkpatch", "--terse", "--mailback"]
    outs = []
    for p in patches:
        proc = subprocess.run(cmd, stdin=open(p, "rb"), capture_output=True, text=True)
        assert proc.stderr == ""
        outs.append((proc.returncode, proc.stdout))
    assert outs[0][0] == 1 and "kernel/entry/common.c:" in outs[0][1] and "ERROR:NOINSTR_CALL:" in outs[0][1]
    assert outs[1][0] == 1 and "arch/x86/kernel/nmi.c:" in outs[1][1]
    assert outs[2] == (0, "")
    # the long form points into the patch: "#N:" is the added line's number in the patch file
    full = cli("check", "--root", repo, "--no-cache", "-j", "1", "--patch", patches[0], "--format", "checkpatch")
    n = int(re.search(r"^#(\d+): FILE: kernel/entry/common.c:", full.out, re.M).group(1))
    assert open(patches[0]).read().splitlines()[n - 1] == "+\trcu_irq_work();"


def test_fatal_errors_still_go_to_stderr(tmp_path):
    repo = make_repo(tmp_path)
    bad = tmp_path / "bad.patch"
    bad.write_text("--- a/../x.c\n+++ b/../x.c\n@@ -1 +1 @@\n-a\n+b\n")
    run = cli("check", "--root", repo, "--patch", bad, "--format", "checkpatch", "--mailback")
    assert run.rc == 2 and run.out == "" and "refusing path" in run.err
