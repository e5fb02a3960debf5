"""The language server's engine session (kannot.session.Session): after every edit its findings are
what a fresh check of the same buffers gives, whether the edit was rechecked in place or checked
whole, with or without a facts cache and a stored result."""
from __future__ import annotations

import json

import pytest

from conftest import MINI
from kannot.engine import Options, analyze
from kannot.session import Session

OPEN = "kernel/inline.c"  # open beside the edited file: its findings follow edits elsewhere


def _json(findings) -> list[str]:
    return sorted(json.dumps(f.to_json(), sort_keys=True) for f in findings)


def _edit(rel: str, old: str, new: str, count: int = 1) -> bytes:
    text = (MINI / rel).read_text()
    assert old in text, (rel, old)
    return text.replace(old, new, count).encode()


def _fresh(paths: list[str], buffers: dict[str, bytes]) -> list[str]:
    disk = {rel: text for rel, text in buffers.items() if (MINI / rel).read_bytes() != text}
    return _json(analyze(Options(root=MINI, jobs=1, paths=sorted(paths), overrides=disk)).findings)


# (what, file, old, new, how the session answers: "recheck" in place, "whole" a new check)
EDITS = [
    ("body: a call moves into the region", "kernel/regions.c", "\tplain_before();\n\tinstrumentation_begin();", "\tinstrumentation_begin();\n\tplain_before();", "recheck"),
    ("header: the callee becomes noinstr", "kernel/plain.c", "void instrumentable_work(void)", "noinstr void instrumentable_work(void)", "whole"),
    ("lines inserted above macros", "kernel/macros.c", "#include", "/*\n * two more lines\n */\n#include", "recheck"),
    ("a new function", "kernel/plain.c", "void plain_after(void)", "noinstr void brand_new(void)\n{\n\tplain_check();\n}\n\nvoid plain_after(void)", "whole"),
    ("a function renamed", "kernel/regions.c", "region_simple(void)", "region_simpler(void)", "whole"),
    ("definer-macro body (IDTENTRY)", "arch/x86/kernel/traps.c", "{", "{\n", "recheck"),
    ("header helper body", "include/linux/inline_helpers.h", "\tinstrumentable_work();\n}\n\n/* an empty", "\tplain_check();\n}\n\n/* an empty", "recheck"),
    ("a .c file's include added", "kernel/regions.c", "#include <linux/kernel.h>", "#include <linux/kernel.h>\n#include <linux/smp.h>", "whole"),
    ("a .c file's prototype gains notrace", "kernel/regions.c", "void dump_stack(void);", "notrace void dump_stack(void);", "whole"),
    ("a header's macro changed", "include/linux/kernel.h", "#define", "#define KANNOT_NEW_H(x) plain_check(x)\n#define", "whole"),
    ("a #define added", "kernel/macros.c", "#include <linux/kernel.h>", "#include <linux/kernel.h>\n#define KANNOT_NEW(x) plain_check(x)", "whole"),
]


@pytest.mark.parametrize("cached", [False, True], ids=["no-cache", "cache"])
@pytest.mark.parametrize("what, rel, old, new, how", EDITS, ids=[e[0] for e in EDITS])
def test_an_edit_gives_a_fresh_checks_findings(what, rel, old, new, how, cached, tmp_path):
    paths = sorted({rel, OPEN})
    session = Session(Options(root=MINI, jobs=1, cache_dir=tmp_path / "cache" if cached else None))
    buffers = {p: (MINI / p).read_bytes() for p in paths}
    assert _json(session.check(buffers, paths).findings) == _fresh(paths, buffers)
    buffers[rel] = _edit(rel, old, new)
    assert _json(session.check(buffers, paths).findings) == _fresh(paths, buffers)
    assert session.last == how, what
    buffers[rel] = (MINI / rel).read_bytes()  # and back (undo)
    assert _json(session.check(buffers, paths).findings) == _fresh(paths, buffers)


def test_edits_one_after_another_and_back():
    rel = "kernel/regions.c"
    paths = [OPEN, rel]
    session = Session(Options(root=MINI, jobs=1))
    original = (MINI / rel).read_bytes()
    buffers = {OPEN: (MINI / OPEN).read_bytes(), rel: original}
    before = _json(session.check(buffers, paths).findings)
    text = original.decode()
    for n in range(3):  # comments typed inside a function, then a call moved into the region
        text = text.replace("\tplain_before();\n", f"\t/* typing {n} */\n\tplain_before();\n", 1)
        buffers[rel] = text.encode()
        assert _json(session.check(buffers, paths).findings) == _fresh(paths, buffers)
        assert session.last == "recheck"
    buffers[rel] = text.replace("\tplain_before();\n\tinstrumentation_begin();", "\tinstrumentation_begin();\n\tplain_before();", 1).encode()
    moved = _json(session.check(buffers, paths).findings)
    assert moved == _fresh(paths, buffers) and moved != before
    buffers[rel] = original
    assert _json(session.check(buffers, paths).findings) == before
    assert session.whole_checks == 1


def test_a_stored_result_answers_a_new_session_then_edits_are_rechecked(tmp_path):
    rel = "kernel/regions.c"
    paths = [OPEN, rel]
    opts = Options(root=MINI, jobs=1, cache_dir=tmp_path / "cache")
    buffers = {p: (MINI / p).read_bytes() for p in paths}
    first = Session(opts)
    expected = _json(first.check(buffers, paths).findings)
    edited = dict(buffers, **{rel: buffers[rel] + b"\n/* typed before the result was stored */\n"})
    first.check(edited, paths)  # (the whole check's writes wait for a pause in the edits)
    assert first.last == "recheck" and first.pending is not None
    first.close()
    second = Session(opts)  # an editor started again: the stored result, no index yet
    assert _json(second.check(buffers, paths).findings) == expected
    assert second.last == "stored" and second.index is None
    second.prepare()
    assert second.index is not None
    buffers[rel] = _edit(rel, "\tplain_before();\n\tinstrumentation_begin();", "\tinstrumentation_begin();\n\tplain_before();")
    assert _json(second.check(buffers, paths).findings) == _fresh(paths, buffers)
    assert second.last == "recheck"


def test_an_unsaved_buffer_at_the_first_check(tmp_path):
    rel = "kernel/plain.c"
    text = (MINI / rel).read_text() + "\nnoinstr void typed_just_now(void)\n{\n\tplain_after();\n}\n"
    buffers = {rel: text.encode()}
    session = Session(Options(root=MINI, jobs=1, cache_dir=tmp_path / "cache"))
    assert _json(session.check(buffers, [rel]).findings) == _fresh([rel], buffers)
    assert any(f.caller == "typed_just_now" for f in session.result.findings)
    # (a buffer's result is not stored as the disk's: a new session on the disk's text checks it)
    disk = {rel: (MINI / rel).read_bytes()}
    again = Session(Options(root=MINI, jobs=1, cache_dir=tmp_path / "cache"))
    assert _json(again.check(disk, [rel]).findings) == _fresh([rel], disk)
    assert again.last == "whole"
