"""Stored results (kannot.store.memo): a warm run answers from the last run only when nothing its
findings depend on changed; every other case runs the check. Each answer is compared with a run
without any cache."""
import marshal
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from kannot.engine import Options, analyze

MINI = Path(__file__).resolve().parents[1] / "examples" / "kernel-mini"


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(MINI, root, ignore=shutil.ignore_patterns(".kannot-cache"))
    (root / "kernel/unrelated.c").write_text("// nothing protected calls this\nvoid unrelated_helper(void)\n{\n}\n")
    return root


def _run(root: Path, cache: Path | None, **kw):
    return analyze(Options(root=root, jobs=1, cache_dir=cache, **kw))


def _json(result) -> str:
    return json.dumps(result.to_json(), sort_keys=True)


def _same_as_without_cache(result, root: Path, **kw) -> None:
    assert _json(result) == _json(_run(root, None, **kw))


def test_nothing_changed_reuses_the_stored_findings(tree, tmp_path):
    cache = tmp_path / "cache"
    first = _run(tree, cache)
    assert not first.reused and first.findings
    second = _run(tree, cache)
    assert second.reused
    assert _json(second) == _json(first)
    assert (second.files_listed, second.files_readable) == (first.files_listed, first.files_readable)
    _same_as_without_cache(second, tree)


def test_an_edit_nothing_depends_on_keeps_the_stored_findings(tree, tmp_path):
    cache = tmp_path / "cache"
    _run(tree, cache)
    f = tree / "kernel/unrelated.c"
    f.write_text(f.read_text() + "\n/* a comment */\nvoid another_unrelated_helper(void)\n{\n}\n")
    again = _run(tree, cache)
    assert again.reused
    _same_as_without_cache(again, tree)
    assert _run(tree, cache).reused  # the record now carries the new signature


def test_an_edit_to_a_parsed_file_runs_the_check(tree, tmp_path):
    cache = tmp_path / "cache"
    before = _run(tree, cache)
    handle = tree / "kernel/irq/handle.c"
    handle.write_text(handle.read_text().replace("\tirq_enter();\n", "\tinstrumentation_begin();\n\tirq_enter();\n\tinstrumentation_end();\n"))
    after = _run(tree, cache)
    assert not after.reused
    assert _json(after) != _json(before)
    _same_as_without_cache(after, tree)


def test_a_touch_without_a_change_keeps_the_stored_findings(tree, tmp_path):
    cache = tmp_path / "cache"
    _run(tree, cache)
    handle = tree / "kernel/irq/handle.c"
    handle.write_bytes(handle.read_bytes())  # a new mtime, the same bytes
    again = _run(tree, cache)
    assert again.reused
    _same_as_without_cache(again, tree)


def test_a_new_definition_of_a_called_name_in_an_unparsed_file_runs_the_check(tree, tmp_path):
    cache = tmp_path / "cache"
    _run(tree, cache)
    f = tree / "kernel/unrelated.c"
    f.write_text(f.read_text() + "\nvoid irq_exit(void)\n{\n}\n")  # a second candidate for irq_exit
    again = _run(tree, cache)
    assert not again.reused
    _same_as_without_cache(again, tree)


def test_an_added_or_removed_file_runs_the_check(tree, tmp_path):
    cache = tmp_path / "cache"
    _run(tree, cache)
    (tree / "kernel/new_file.c").write_text("void new_helper(void)\n{\n}\n")
    added = _run(tree, cache)
    assert not added.reused
    _same_as_without_cache(added, tree)
    (tree / "kernel/new_file.c").unlink()
    removed = _run(tree, cache)
    assert not removed.reused
    _same_as_without_cache(removed, tree)


def test_a_record_is_void_once_another_run_rewrote_the_catalog(tree, tmp_path):
    """Run A is stored; an unparsed file gains a definition A depends on; a run with other
    options rescans it (the stored catalog entry is now the new one); A must not compare
    against that entry and call the change harmless."""
    cache = tmp_path / "cache"
    _run(tree, cache)
    f = tree / "kernel/unrelated.c"
    f.write_text(f.read_text() + "\nvoid irq_exit(void)\n{\n}\n")
    other = _run(tree, cache, paths=["kernel/irq/handle.c"])
    assert not other.reused
    again = _run(tree, cache)
    assert not again.reused
    _same_as_without_cache(again, tree)


def test_other_options_are_other_records(tree, tmp_path):
    cache = tmp_path / "cache"
    whole = _run(tree, cache)
    one = _run(tree, cache, paths=["arch/x86/kernel/traps.c"])
    assert not one.reused
    assert _run(tree, cache).reused and _run(tree, cache, paths=["arch/x86/kernel/traps.c"]).reused
    everything = _run(tree, cache, select=["ALL"])
    assert not everything.reused
    _same_as_without_cache(everything, tree, select=["ALL"])
    assert _json(_run(tree, cache)) == _json(whole)


def test_a_damaged_record_is_not_trusted(tree, tmp_path):
    cache = tmp_path / "cache"
    first = _run(tree, cache)
    with sqlite3.connect(cache / "facts.sqlite") as db:
        db.execute("UPDATE results SET blob = ?", (b"\x00garbage",))
    again = _run(tree, cache)
    assert not again.reused
    assert _json(again) == _json(first)


def test_the_stored_records_are_bounded(tree, tmp_path):
    cache = tmp_path / "cache"
    files = sorted(str(p.relative_to(tree)) for p in tree.rglob("*.[ch]"))
    for rel in files * 2:
        _run(tree, cache, paths=[rel])
    with sqlite3.connect(cache / "facts.sqlite") as db:
        n = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert n == min(len(files), 16)


# `kannot why`: the stored reverse map ----------------------------------------------------------

from kannot import why as why_module  # noqa: E402
from kannot.engine import build_index, close_index  # noqa: E402
from kannot.why import FAMILIES as WHY_FAMILIES, why  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


def _names(root: Path) -> list[str]:
    index = build_index(Options(root=root, jobs=1, lazy=False), [])
    names = {n for n, defs in index.funcs.items()}
    names |= {"no_such_function_anywhere"}
    return sorted(names)


def _walked(root: Path, name: str) -> str:
    index = build_index(Options(root=root, jobs=1, lazy=False), [], families=set(WHY_FAMILIES))
    try:
        return json.dumps(why(index, name), sort_keys=True)
    finally:
        close_index(index)


@pytest.mark.parametrize("root", [FIXTURES / "mini", MINI], ids=lambda p: p.name)
def test_stored_why_answers_equal_the_walk_for_every_name(root, tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    shutil.copytree(root, tree, ignore=shutil.ignore_patterns(".kannot-cache"))
    cache = tmp_path / "cache"
    names = _names(tree)
    first = why_module.answer(Options(root=tree, jobs=1, cache_dir=cache), names[0])
    assert json.dumps(first, sort_keys=True) == _walked(tree, names[0])

    def no_map(index):
        raise AssertionError("the reverse map was built again: the stored one should answer")

    monkeypatch.setattr(why_module, "why_map", no_map)
    for name in names:
        stored = why_module.answer(Options(root=tree, jobs=1, cache_dir=cache), name)
        assert json.dumps(stored, sort_keys=True) == _walked(tree, name), name


def test_stored_why_map_follows_edits(tree, tmp_path):
    cache = tmp_path / "cache"
    opts = lambda: Options(root=tree, jobs=1, cache_dir=cache)  # noqa: E731
    assert "unsafe" in why_module.answer(opts(), "irq_enter")["verdict"]
    handle = tree / "kernel/irq/handle.c"
    handle.write_text(handle.read_text().replace("\tirq_enter();\n", "\tinstrumentation_begin();\n\tirq_enter();\n\tinstrumentation_end();\n"))
    after = why_module.answer(opts(), "irq_enter")
    assert json.dumps(after, sort_keys=True) == _walked(tree, "irq_enter")
    assert not any(r["caller"] == "generic_handle_arch_irq" for r in after["reached_from"])


def test_a_record_stands_when_the_files_are_back_as_it_saw_them(tree, tmp_path):
    """Another run rescanned a file (a newer catalog entry); the file is then restored with its
    old bytes and mtime: the first record saw exactly these files and still answers."""
    cache = tmp_path / "cache"
    _run(tree, cache)
    f = tree / "kernel/unrelated.c"
    before, st = f.read_bytes(), f.stat()
    f.write_bytes(before + b"\nvoid irq_exit(void)\n{\n}\n")
    assert not _run(tree, cache, paths=["kernel/irq/handle.c"]).reused
    f.write_bytes(before)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = _run(tree, cache)
    assert again.reused
    _same_as_without_cache(again, tree)


def test_the_stamp_of_stored_things_covers_every_module(monkeypatch):
    """Editing any module (a rule's message, a report, the facts extractor) voids everything
    stored: the one stamp hashes the whole package."""
    from kannot.store import stamp

    before = stamp._compute()
    real = Path.read_bytes
    for folder, prefix in (("rules", "kn001"), ("facts", "extract"), ("report", "text"), ("source", "limits")):
        def edited(self, folder=folder, prefix=prefix):
            data = real(self)
            return data + b"# edited" if self.parent.name == folder and self.name.startswith(prefix) else data

        monkeypatch.setattr(Path, "read_bytes", edited)
        assert stamp._compute() != before, folder
    monkeypatch.setattr(Path, "read_bytes", real)
    assert stamp._compute() == before == stamp.CODE_STAMP


def test_moved_positions_finds_each_changed_or_unstated_pair_across_blocks():
    from array import array

    from kannot.source.files import moved_positions

    n = 5000  # pairs: the flat arrays span three 4096-element blocks
    old = array("q", [v for i in range(n) for v in (i, 1000 + i)])
    new = array("q", old)
    assert moved_positions(old, new) == []
    for i in (0, 2047, 2048, 4999):
        new[2 * i + 1] += 1  # an mtime moved
    new[2 * 3000], new[2 * 3000 + 1] = -1, -1  # not stat'ed: always looked at
    assert moved_positions(old, new) == [0, 2047, 2048, 3000, 4999]
    old[2 * 3000], old[2 * 3000 + 1] = -1, -1
    assert moved_positions(old, new) == [0, 2047, 2048, 3000, 4999]
    with pytest.raises(ValueError):
        moved_positions(old, new[:-2])


@pytest.mark.parametrize("mapped", [False, True])
def test_a_frozen_name_index_finds_every_name_and_no_other_with_few_or_many_lookups(mapped):
    import random

    from kannot.index.catalog import Postings, _Names
    from kannot.store.catalog_blobs import MappedText

    rng = random.Random(7)
    names = sorted({"".join(rng.choice("abc_xyz") for _ in range(rng.randint(1, 9))) for _ in range(3000)})
    frozen = Postings()
    for k, name in enumerate(names):
        frozen.add(name, k)
    text, *arrays = frozen.freeze()
    if mapped:  # as a stored catalog gives it: the names still bytes, in a bigger buffer
        raw = text.encode()
        text = MappedText(b"head" + raw + b"tail", 4, len(raw))
        arrays = [memoryview(a) for a in arrays]
    stored = Postings((text, *arrays))
    absent = ["", "0", "~", "a" * 12, "zzzzzzzzzzzz", *(n + "!" for n in names[::97])]
    for probe in (*names[:: max(1, len(names) // 500)], *absent):  # few: the sampled blocks
        assert stored.get(probe) == ([names.index(probe)] if probe in names else None)
    assert isinstance(stored._names, _Names) and stored._names._list is None
    for probe in (*names, *absent) * 2:  # many: the whole string is split once
        assert stored.get(probe) == ([names.index(probe)] if probe in names else None)
    assert stored._names._list is not None


def test_stored_records_mirror_the_dataclasses_they_store():
    """A stored finding holds Finding's fields, in order, and a finding survives packing whole
    (links and structured notes included)."""
    from dataclasses import fields

    from kannot.analysis.findings import Finding, Link, Note
    from kannot.store import records

    assert records.FINDING_FIELDS == tuple(f.name for f in fields(Finding))
    f = Finding("KN001", "a.c", 3, 1, 3, 9, "f", "g", "m", [Link("f", "a.c", 3), Link("g", "b.h", 7, "callee")],
                [{"function": "g", "file": "b.h", "line": 7, "class": "plain"}],
                [Note("defined", "'g' is defined at {at} (plain)", "b.h", 7), Note("inlined", "gcc may inline")],
                witness=["CONFIG_X=y"])
    packed = records.pack_finding(f)
    assert marshal.loads(marshal.dumps(packed)) == packed
    assert records.unpack_finding(packed) == f
    assert f.to_json()["notes"] == ["'g' is defined at b.h:7 (plain)", "gcc may inline"]
