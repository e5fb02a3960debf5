"""The command line: exit codes, explain, text output, paths, root discovery, a real process."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import BROKEN, CLEAN, MINI, SUPPRESS, check, cli, copy_tree
from kannot.rules import ALL_RULES

ALL_CODES = ["KN001", "KN002", "KN003", "KN004", "KN005", "KN006", "KN007", "KN101", "KN201"]

# gcc style: file:line:col: error|warning: message [CODE]
HEAD_RE = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+): (?P<level>error|warning): (?P<msg>.+) \[(?P<code>KN\d{3})\]$")
NOTE_RE = re.compile(r"^[^\s:]+:\d+(?::\d+)?: note: .+$")
SUMMARY_RE = re.compile(r"^kannot: \d+ finding\(s\)|^kannot: findings sharing a root cause|^  +\d+  KN\d{3} ")


# exit codes ---------------------------------------------------------------------------------


def test_exit_0_on_a_clean_tree():
    run = check(CLEAN)
    assert run.rc == 0
    assert run.findings == []
    text = check(CLEAN, fmt="text")
    assert (text.rc, text.out) == (0, "")


def test_exit_0_on_a_clean_tree_with_every_rule():
    assert check(CLEAN, "--select", "ALL").rc == 0


def test_exit_1_on_findings(mini_default):
    assert mini_default.rc == 1
    assert mini_default.findings


def test_exit_1_for_warnings_only():
    run = check(MINI, "kernel/unresolved.c", "--ignore", "KN001")
    assert run.rc == 1
    assert {f["severity"] for f in run.findings} == {"warning"}


@pytest.mark.parametrize("args", [
    ["check", "--root", MINI, "--select", "KN999"],
    ["check", "--root", MINI, "--ignore", "nosuchfamily"],
    ["check", "--root", MINI, "kernel/does_not_exist.c"],
    ["check", "--root", MINI / "no_such_dir"],
    ["check", "--root", MINI, "--format", "xml"],
    ["check", "--root", MINI, "--settings", MINI / "no_such.toml"],
    ["check", "--root", MINI, "/"],  # outside the root
    ["callees", "no_such_function", "--root", MINI, "-j", "1"],
    ["explain", "KN999"],
    ["no-such-command"],
    [],
])
def test_exit_2_on_usage_errors(args):
    run = cli(*args)
    assert run.rc == 2
    assert run.out == ""
    assert run.err.strip()
    assert "Traceback" not in run.err


def test_usage_error_messages_name_the_problem():
    assert "KN999" in cli("check", "--root", MINI, "--select", "KN999").err
    assert "does_not_exist.c" in cli("check", "--root", MINI, "kernel/does_not_exist.c").err
    assert "no_such_function" in cli("callees", "no_such_function", "--root", MINI).err


def test_version():
    run = cli("--version")
    assert run.rc == 0
    assert re.search(r"kannot \d+\.\d+", run.out)


# explain ------------------------------------------------------------------------------------


def test_explain_lists_every_code():
    run = cli("explain")
    assert run.rc == 0
    lines = run.out.strip().splitlines()
    assert [l.split()[0] for l in lines] == ALL_CODES
    state = {l.split()[0]: l.split()[1] for l in lines}
    assert state["KN101"] == "off" and state["KN201"] == "off" and state["KN001"] == "on"


@pytest.mark.parametrize("code", ALL_CODES)
def test_explain_prints_rationale_and_fix(code):
    run = cli("explain", code)
    assert run.rc == 0
    rule = ALL_RULES[code]
    assert run.out.startswith(code)
    assert rule.summary in run.out
    # the rationale and the fix, both in full
    for part in (rule.rationale, rule.fix):
        for line in part.strip().splitlines():
            assert line.strip() in run.out
    assert "Why it matters" in run.out and "How to fix it" in run.out
    assert f"kannot: allow {code}" in run.out


def test_explain_kn001_content():
    out = cli("explain", "kn001").out  # case-insensitive
    assert "instrumentation_begin()" in out
    assert "objtool" in out
    assert "noinstr" in out and "__always_inline" in out


# text output ----------------------------------------------------------------------------------


def test_text_output_is_gcc_style(mini_default):
    run = check(MINI, fmt="text")
    assert run.rc == 1
    lines = run.out.rstrip("\n").splitlines()
    heads = [m for m in map(HEAD_RE.match, lines) if m]
    assert len(heads) == len(mini_default.findings)
    for line in lines:
        assert HEAD_RE.match(line) or NOTE_RE.match(line) or SUMMARY_RE.match(line), line
    assert SUMMARY_RE.match(lines[-1])
    # the headers say the same as the JSON, in the same order
    got = [(m["file"], int(m["line"]), int(m["col"]), m["code"]) for m in heads]
    assert got == [(f["file"], f["line"], f["column"], f["code"]) for f in mini_default.findings]
    for m, f in zip(heads, mini_default.findings):
        assert m["level"] == f["severity"]
        assert m["msg"] == f["message"]


def test_text_output_has_notes_for_the_chain():
    run = check(MINI, "kernel/inline.c", fmt="text")
    lines = run.out.splitlines()
    i = next(n for n, l in enumerate(lines) if "'chain_entry'" in l)
    assert HEAD_RE.match(lines[i])
    notes = []
    for l in lines[i + 1:]:
        if not NOTE_RE.match(l):
            break
        notes.append(l)
    assert any(n.startswith("include/linux/chain_outer.h:") and "chain_outer" in n for n in notes)
    assert any(n.startswith("include/linux/chain_inner.h:") and "chain_inner" in n for n in notes)
    assert any("chain_leaf_plain" in n for n in notes)


def test_text_output_error_and_warning_levels():
    run = check(MINI, "kernel/unresolved.c", "kernel/regions.c", fmt="text")
    levels = {m["code"]: m["level"] for m in map(HEAD_RE.match, run.out.splitlines()) if m}
    assert levels["KN004"] == "warning"
    assert levels["KN001"] == "error"
    assert levels["KN005"] == "error"


# paths ------------------------------------------------------------------------------------------


def test_paths_restrict_reported_callers_not_the_index(mini_default):
    run = check(MINI, "kernel/regions.c")
    assert {f["file"] for f in run.findings} == {"kernel/regions.c"}
    assert run.findings == [f for f in mini_default.findings if f["file"] == "kernel/regions.c"]


def test_paths_folder_and_several_paths(mini_default):
    run = check(MINI, "kernel/sched", "arch/x86")
    files = {f["file"] for f in run.findings}
    assert files == {"kernel/sched/idle.c", "arch/x86/kernel/nmi.c", "arch/x86/kernel/traps.c"}


def test_paths_absolute_and_relative_to_cwd(mini_default, monkeypatch):
    absolute = check(MINI, MINI / "kernel/regions.c")
    monkeypatch.chdir(MINI / "kernel")
    relative = check(MINI, "regions.c")
    expected = [f for f in mini_default.findings if f["file"] == "kernel/regions.c"]
    assert absolute.findings == expected
    assert relative.findings == expected


def test_root_discovered_from_cwd(mini_default, monkeypatch):
    monkeypatch.chdir(MINI / "kernel" / "sched")
    run = cli("check", "-j", "1", "--format", "json")
    assert run.rc == 1
    assert run.doc["findings"] == mini_default.findings


def test_parallel_parse_gives_the_same_result(tmp_path):
    """Over 64 files the facts are read by a process pool; the result must not change."""
    root = copy_tree(BROKEN, tmp_path)
    gen = root / "kernel" / "gen"
    gen.mkdir()
    for i in range(70):
        (gen / f"f{i:02}.c").write_text(f"#include <linux/kernel.h>\n\nnoinstr void gen_{i:02}(void)\n{{\n\tplain_work();\n}}\n")
    serial = check(root)
    parallel = cli("check", "--root", root, "-j", "2", "--format", "json")
    assert parallel.rc == serial.rc == 1
    assert parallel.doc == serial.doc
    assert len(serial.findings) == 72


# a real process -------------------------------------------------------------------------------


def run_module(*args, cwd=None):
    env = dict(os.environ)
    env.pop("PYTHONIOENCODING", None)
    return subprocess.run([sys.executable, "-m", "kannot", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_python_dash_m_kannot_json(mini_default):
    proc = run_module("check", "--root", MINI, "-j", "1", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout) == mini_default.doc


def test_python_dash_m_kannot_text_and_exit_codes(tmp_path):
    proc = run_module("check", "-j", "1", cwd=SUPPRESS / "kernel")
    assert proc.returncode == 1
    assert any(HEAD_RE.match(l) for l in proc.stdout.splitlines())
    # stderr is not a terminal: no progress bar
    assert "reading" not in proc.stderr
    clean = run_module("check", "--root", CLEAN, "-j", "1", "-q")
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "", "")
    bad = run_module("check", "--root", CLEAN, "--select", "KN999")
    assert bad.returncode == 2
    assert bad.stderr.startswith("kannot: error:")
    explain = run_module("explain", "KN001")
    assert explain.returncode == 0 and explain.stdout.startswith("KN001")


def test_console_script_entry_point_exists():
    import importlib.metadata as md

    eps = [e for e in md.entry_points(group="console_scripts") if e.name == "kannot"]
    assert eps and eps[0].value == "kannot.cli.main:main"


def test_user_space_copies_and_hidden_dirs_are_not_read(tmp_path):
    """tools/, scripts/, Documentation/ ... at the top and dot-directories hold no kernel code."""
    root = copy_tree(BROKEN, tmp_path)
    body = "#include <linux/kernel.h>\n\nnoinstr void {name}(void)\n{{\n\tplain_work();\n}}\n"
    for d, name in [("tools/objtool", "in_tools"), ("scripts", "in_scripts"), ("Documentation", "in_docs"),
                    ("kernel/.pc", "in_quilt"), (".git", "in_git")]:
        (root / d).mkdir(parents=True, exist_ok=True)
        (root / d / f"{name}.c").write_text(body.format(name=name))
    # a nested folder that is only *named* like a skipped top-level one is read
    (root / "kernel/tools").mkdir()
    (root / "kernel/tools/nested.c").write_text(body.format(name="in_nested_tools"))
    run = check(root)
    callers = {f["caller"] for f in run.findings}
    assert callers == {"good_caller", "broken_caller", "in_nested_tools"}


def test_path_filter_matches_files_and_folders():
    """``check PATH...``'s filter: a file, a folder (with or without '/'), '.' for everything;
    thousands of paths (a patch's base side) cost one set lookup and one prefix test per file."""
    from kannot.engine import path_filter

    def in_paths(rel, paths):
        return path_filter(paths)(rel)

    assert in_paths("kernel/a.c", None) and in_paths("kernel/a.c", [])
    assert in_paths("kernel/a.c", ["kernel"]) and in_paths("kernel/a.c", ["kernel/"])
    assert in_paths("kernel/a.c", ["kernel/a.c"]) and in_paths("x.c", ["."]) and in_paths("x.c", [""])
    assert not in_paths("kernel/ab.c", ["kernel/a"]) and not in_paths("kernelx/a.c", ["kernel"])
    many = [f"drivers/d{i}/x.c" for i in range(5000)]
    assert in_paths("drivers/d4999/x.c", many) and not in_paths("drivers/d5000/x.c", many)


def test_a_check_pauses_the_cyclic_collector_and_restores_it(mini_default, monkeypatch):
    """The engine turns Python's cyclic GC off while it checks (millions of acyclic objects:
    12% of a cold run) and leaves it as it found it, for callers that embed kannot."""
    import gc

    import kannot.engine as engine
    from kannot.cli.main import main

    seen = []
    real = engine.build_index
    monkeypatch.setattr(engine, "build_index", lambda *a, **k: seen.append(gc.isenabled()) or real(*a, **k))
    assert gc.isenabled()
    engine.analyze(engine.Options(root=MINI))
    assert main(["check", "--root", str(MINI), "--no-cache", "--format", "json"]) == 1
    assert seen == [False, False]
    assert gc.isenabled()
    gc.disable()
    try:
        with engine.cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # off before: still off
    finally:
        gc.enable()
