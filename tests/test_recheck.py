"""A stored result whose parsed files changed only inside functions is not thrown away: the
protected functions of the edited files, and those whose check looked up a name the edit
changed or moved, are checked again; the others' stored results stand (kannot.engine.recheck).
Every case compares with a fresh check without a cache."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kannot import engine
from kannot.engine import Options, analyze

FILES = {
    "include/linux/compiler_types.h": "#define noinstr __attribute__((__section__(\".noinstr.text\")))\n"
                                      "#define __always_inline inline __attribute__((__always_inline__))\n",
    "include/linux/helpers.h": "#include <linux/compiler_types.h>\n"
                               "void plain(void);\nvoid other(void);\nnoinstr void safe(void);\n\n"
                               "#define CALL_PLAIN() plain()\n\n"
                               "static __always_inline void helper(void)\n{\n\tplain();\n}\n",
    "kernel/a.c": "#include <linux/helpers.h>\n\nnoinstr void a_entry(void)\n{\n\thelper();\n}\n",
    "kernel/b.c": "#include <linux/helpers.h>\n\nnoinstr void b_entry(void)\n{\n\tother();\n}\n",
    "kernel/c.c": "#include <linux/helpers.h>\n\nnoinstr void c_entry(void)\n{\n\tCALL_PLAIN();\n}\n",
    "kernel/two.c": "#include <linux/helpers.h>\n\nnoinstr void first(void)\n{\n\tplain();\n}\n\n"
                    "noinstr void second(void)\n{\n\thelper();\n}\n\n"
                    "#define LATER_MACRO() other()\n\nnoinstr void third(void)\n{\n\tLATER_MACRO();\n}\n",
    "kernel/plain.c": "#include <linux/helpers.h>\n\nvoid plain(void)\n{\n}\n\nvoid other(void)\n{\n}\n\n"
                      "noinstr void safe(void)\n{\n}\n",
}


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "tree"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    cache = tmp_path / "cache"
    first = analyze(Options(root=root, jobs=1, cache_dir=cache))
    assert first.rechecked is None and not first.reused
    return root, cache


def _json(result) -> str:
    return json.dumps(result.to_json(), sort_keys=True)


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a coarse clock still sees it


def _warm_and_fresh(root: Path, cache: Path):
    warm = analyze(Options(root=root, jobs=1, cache_dir=cache))
    fresh = analyze(Options(root=root, jobs=1))
    assert _json(warm) == _json(fresh)
    return warm


def _callees(result) -> set[tuple[str, str]]:
    return {(f.caller, f.callee) for f in result.findings}


def _stored(warm, root: Path, cache: Path) -> None:
    """The merged result was stored: the next run reuses it as it is."""
    again = analyze(Options(root=root, jobs=1, cache_dir=cache))
    assert again.reused and _json(again) == _json(warm)


@pytest.mark.parametrize("rel, old, new, caller, callee", [
    ("kernel/b.c", "\tother();\n", "\tother();\n\tplain();\n", "b_entry", "plain"),
    # two.c's later functions move down a line: only the edited one is checked again
    ("kernel/two.c", "\tplain();\n", "\tplain();\n\tother();\n", "first", "other"),
])
def test_a_new_call_in_a_body_rechecks_only_that_function(tree, rel, old, new, caller, callee):
    root, cache = tree
    _edit(root, rel, old, new)
    warm = _warm_and_fresh(root, cache)
    assert warm.rechecked == [rel]
    assert (caller, callee) in _callees(warm)
    if rel == "kernel/two.c":  # the later ones' findings carried one line down
        lines = {(f.caller, f.callee): f.line for f in warm.findings if f.file == rel}
        assert lines[("second", "plain")] == 11 and lines[("third", "other")] == 18
    _stored(warm, root, cache)


def test_an_edited_always_inline_helper_rechecks_its_callers_elsewhere(tree):
    root, cache = tree
    _edit(root, "include/linux/helpers.h", "{\n\tplain();\n}", "{\n\tsafe();\n}")
    warm = _warm_and_fresh(root, cache)
    assert "kernel/a.c" in warm.rechecked and "kernel/b.c" not in warm.rechecked
    assert ("a_entry", "plain") not in _callees(warm)


def test_a_helper_that_moves_gives_new_chain_lines(tree):
    """Nothing is checked again: the stored chains through the helper are carried to its new lines."""
    root, cache = tree
    _edit(root, "include/linux/helpers.h", "static __always_inline", "\n\nstatic __always_inline")
    warm = _warm_and_fresh(root, cache)
    assert warm.rechecked == []
    via = [l for f in warm.findings if f.caller == "a_entry" for l in f.chain if l.file == "include/linux/helpers.h"]
    assert via and all(l.line == 12 for l in via)


def _warm_without_an_index(root: Path, cache: Path, monkeypatch):
    """A warm run that must build no index (nothing checked again), compared with a fresh run."""
    with monkeypatch.context() as m:
        m.setattr(engine, "build_index", lambda *a, **k: pytest.fail("an index was built"))
        warm = analyze(Options(root=root, jobs=1, cache_dir=cache))
    assert warm.rechecked == [] and warm.index is None
    assert _json(warm) == _json(analyze(Options(root=root, jobs=1)))
    return warm


def test_a_comment_appended_to_a_file_checks_nothing_again_and_builds_no_index(tree, monkeypatch):
    root, cache = tree
    _edit(root, "kernel/two.c", "\tLATER_MACRO();\n}\n", "\tLATER_MACRO();\n}\n/* the end */\n")
    _stored(_warm_without_an_index(root, cache, monkeypatch), root, cache)


def test_a_blank_line_above_a_noinstr_function_carries_its_findings_without_an_index(tree, monkeypatch):
    root, cache = tree
    _edit(root, "kernel/two.c", "noinstr void second", "\n\nnoinstr void second")
    _warm_without_an_index(root, cache, monkeypatch)


def test_a_callee_moved_down_its_file_carries_the_notes_that_name_its_line(tree):
    root, cache = tree
    _edit(root, "kernel/plain.c", "void plain(void)", "/* plain\n * moved\n */\nvoid plain(void)")
    warm = _warm_and_fresh(root, cache)
    assert warm.rechecked == []
    assert any("kernel/plain.c:6 " in n.render() for f in warm.findings for n in f.notes)


def test_a_function_no_longer_noinstr_takes_its_findings_with_it(tree):
    root, cache = tree
    _edit(root, "kernel/two.c", "noinstr void first(void)", "void first(void)")
    warm = _warm_and_fresh(root, cache)
    assert warm.rechecked == ["kernel/two.c"] and not any(f.caller == "first" for f in warm.findings)


def test_functions_that_swap_places_are_checked_again(tree):
    root, cache = tree
    path = root / "kernel/two.c"
    text = path.read_text()
    first = "noinstr void first(void)\n{\n\tplain();\n}\n\n"
    second = "noinstr void second(void)\n{\n\thelper();\n}\n\n"
    _edit(root, "kernel/two.c", first + second, second + first)
    warm = _warm_and_fresh(root, cache)
    assert warm.rechecked == ["kernel/two.c"] and text != path.read_text()


def test_a_callee_that_becomes_noinstr_clears_its_callers(tree):
    root, cache = tree
    _edit(root, "kernel/plain.c", "void plain(void)", "noinstr void plain(void)")
    warm = _warm_and_fresh(root, cache)
    assert not {("a_entry", "plain"), ("c_entry", "plain")} & _callees(warm)


def test_a_changed_macro_runs_the_whole_check(tree):
    root, cache = tree
    _edit(root, "include/linux/helpers.h", "#define CALL_PLAIN() plain()", "#define CALL_PLAIN() safe()")
    warm = _warm_and_fresh(root, cache)
    assert warm.rechecked is None and not warm.reused
    assert ("c_entry", "plain") not in _callees(warm)


def test_a_check_of_some_paths_reports_only_their_callers_after_an_edit_elsewhere(tree):
    root, cache = tree
    analyze(Options(root=root, jobs=1, cache_dir=cache, paths=["kernel/a.c"]))
    _edit(root, "kernel/b.c", "\tother();\n", "\tother();\n\tplain();\n")
    _edit(root, "include/linux/helpers.h", "{\n\tplain();\n}", "{\n\tplain();\n\tother();\n}")
    warm = analyze(Options(root=root, jobs=1, cache_dir=cache, paths=["kernel/a.c"]))
    fresh = analyze(Options(root=root, jobs=1, paths=["kernel/a.c"]))
    assert _json(warm) == _json(fresh)
    assert warm.rechecked == ["kernel/a.c"]
    assert {f.file for f in warm.findings} == {"kernel/a.c"}


def test_an_allow_comment_added_inside_a_function_is_honoured(tree):
    """A file that already has a ``kannot:`` marker keeps its catalog marks when another is
    added inside a function: the recheck takes the markers from the new facts (the new call is
    suppressed, the old marker that suppresses nothing is still reported)."""
    root, cache = tree
    _edit(root, "kernel/b.c", "noinstr void b_entry", "/* kannot: allow KN001 */\nnoinstr void b_entry")
    analyze(Options(root=root, jobs=1, cache_dir=cache))
    _edit(root, "kernel/b.c", "\tother();\n", "\tother();\n\t/* kannot: allow KN001 -- a test */\n\tplain();\n")
    warm = _warm_and_fresh(root, cache)
    assert warm.rechecked == ["kernel/b.c"]
    assert ("b_entry", "plain") not in _callees(warm)
    assert any(f.code == "KN007" and f.file == "kernel/b.c" for f in warm.findings)


AFFECTING_EDITS = {
    "new call": ("kernel/b.c", "\tother();\n", "\tother();\n\tplain();\n"),
    "helper edited": ("include/linux/helpers.h", "{\n\tplain();\n}", "{\n\tplain();\n\tother();\n}"),
    "lines added": ("kernel/two.c", "\tplain();\n", "\tplain();\n\tother();\n\n\n"),
    "marker added": ("kernel/two.c", "\tplain();\n", "\t/* kannot: allow KN001 */\n\tplain();\n"),
    "callee made safe": ("kernel/plain.c", "void plain(void)\n", "noinstr void plain(void)\n"),
}


@pytest.mark.parametrize("name", list(AFFECTING_EDITS))
def test_the_affected_functions_tell_what_a_change_adds_and_removes(tree, name):
    """analyze_affected (a patch's quick way): the findings of the functions an override can
    affect, on both sides, differ exactly as the two whole results do."""
    from kannot.engine import analyze_affected
    from kannot.patch.flow import LineChanges, new_findings

    root, cache = tree
    rel, old, new = AFFECTING_EDITS[name]
    if name == "marker added":  # (a file's first marker changes its catalog entry: a whole check)
        _edit(root, rel, "noinstr void third", "/* kannot: allow KN003 */\nnoinstr void third")
        analyze(Options(root=root, jobs=1, cache_dir=cache))
    text = (root / rel).read_text()
    overrides = {rel: text.replace(old, new).encode()}
    quick = analyze_affected(Options(root=root, jobs=1, cache_dir=cache, overrides=overrides))
    assert quick is not None and quick.disk_findings is not None
    work = analyze(Options(root=root, jobs=1, overrides=overrides)).findings
    disk = analyze(Options(root=root, jobs=1)).findings

    def told(after, before):
        return sorted((f.code, f.file, f.line, f.caller, f.callee, f.fingerprint)
                      for f in new_findings(after, before, LineChanges()))

    assert told(quick.findings, quick.disk_findings) == told(work, disk)
    assert told(quick.disk_findings, quick.findings) == told(disk, work)
    assert told(work, disk) or told(disk, work)  # each edit adds or removes something


def test_an_edit_another_run_parsed_first_is_still_rechecked(tree):
    """A check of one file (an editor, a pre-commit of staged files) parses the edited file
    first: its facts row is replaced, and the facts the stored result saw are kept apart."""
    root, cache = tree
    _edit(root, "kernel/b.c", "\tother();\n", "\tother();\n\tplain();\n")
    analyze(Options(root=root, jobs=1, cache_dir=cache, paths=["kernel/b.c"]))
    warm = _warm_and_fresh(root, cache)
    assert warm.rechecked == ["kernel/b.c"]


def test_a_recheck_loads_only_the_files_a_whole_check_found_defining_a_name(tree):
    """drivers/noise.c has ``plain(`` on a column-0 line, so the catalog names it as a file that
    may define plain(); the whole check parses it and finds it does not. A recheck that asks for
    plain() again loads only plain.c and the headers that declare it (the stored answers), and
    a new definition of plain() in noise.c voids them (the whole check runs: two candidates)."""
    root, cache = tree
    noise = root / "drivers/noise.c"
    noise.parent.mkdir(parents=True)
    noise.write_text("int noise_level;\nDECLARE_NOISE(plain(0));\n")
    whole = analyze(Options(root=root, jobs=1, cache_dir=cache))
    assert whole.rechecked is None and "drivers/noise.c" in whole.index.files
    _edit(root, "kernel/b.c", "\tother();\n", "\tother();\n\tplain();\n")
    warm = _warm_and_fresh(root, cache)
    assert warm.rechecked == ["kernel/b.c"] and ("b_entry", "plain") in _callees(warm)
    assert "drivers/noise.c" not in warm.index.files and "kernel/plain.c" in warm.index.files
    _stored(warm, root, cache)
    # the stored answers are those of the recheck's record too: the next recheck uses them
    _edit(root, "kernel/a.c", "\thelper();\n", "\thelper();\n\tplain();\n")
    again = _warm_and_fresh(root, cache)
    assert again.rechecked == ["kernel/a.c"] and "drivers/noise.c" not in again.index.files
    noise.write_text("int noise_level;\nvoid plain(void)\n{\n}\n")
    whole = _warm_and_fresh(root, cache)
    assert whole.rechecked is None and "drivers/noise.c" in whole.index.files
    assert any("drivers/noise.c" in (f.candidates or ()) or any("noise.c" in n.render() for n in f.notes)
               for f in whole.findings if f.callee == "plain"), [f.message for f in whole.findings]
