"""Index.replace_file (the language server's per-edit update) gives what a fresh build gives."""
from __future__ import annotations

import json

import pytest

from conftest import MINI
from kannot.engine import Options, build_index, check_index
from kannot.facts.extract import extract_facts


def _findings(index, opts) -> list[str]:
    return sorted(json.dumps(f.to_json(), sort_keys=True) for f in check_index(index, opts, []))


def _edit(rel: str, old: str, new: str, count: int = 1) -> bytes:
    text = (MINI / rel).read_text()
    assert old in text, (rel, old)
    return text.replace(old, new, count).encode()


EDITS = [
    ("body: a call moves into the region", "kernel/regions.c", "\tplain_before();\n\tinstrumentation_begin();", "\tinstrumentation_begin();\n\tplain_before();", True),
    ("header: the callee becomes noinstr", "kernel/plain.c", "void instrumentable_work(void)", "noinstr void instrumentable_work(void)", True),
    ("lines inserted above macros", "kernel/macros.c", "#include", "/*\n * two more lines\n */\n#include", True),
    ("a new function", "kernel/plain.c", "void plain_after(void)", "noinstr void brand_new(void)\n{\n\tplain_check();\n}\n\nvoid plain_after(void)", True),
    ("a function renamed", "kernel/regions.c", "region_simple(void)", "region_simpler(void)", True),
    ("definer-macro body (IDTENTRY)", "arch/x86/kernel/traps.c", "{", "{\n", True),
    ("header helper body", "include/linux/inline_helpers.h", "\tinstrumentable_work();\n}\n\n/* an empty", "\tplain_check();\n}\n\n/* an empty", True),
    ("a .c file's include added", "kernel/regions.c", "#include <linux/kernel.h>", "#include <linux/kernel.h>\n#include <linux/smp.h>", True),
    ("a .c file's prototype gains notrace", "kernel/regions.c", "void dump_stack(void);", "notrace void dump_stack(void);", True),
    ("a header's macro changed: not in place", "include/linux/kernel.h", "#define", "#define KANNOT_NEW_H(x) plain_check(x)\n#define", False),
    ("a #define added: not in place", "kernel/macros.c", "#include <linux/kernel.h>", "#include <linux/kernel.h>\n#define KANNOT_NEW(x) plain_check(x)", False),
]


@pytest.mark.parametrize("what, rel, old, new, in_place", EDITS, ids=[e[0] for e in EDITS])
def test_replace_file_equals_a_fresh_build(what, rel, old, new, in_place):
    text = _edit(rel, old, new)
    base = Options(root=MINI, jobs=1, lazy=False)
    index = build_index(base, [])
    check_index(index, base, [])  # warm the lazy caches (IR, closures, generated functions)
    index.read = lambda r: text if r == rel else (MINI / r).read_bytes()
    assert index.replace_file(rel, extract_facts(rel, text)) is in_place
    if not in_place:
        return
    fresh = build_index(Options(root=MINI, jobs=1, overrides={rel: text}, lazy=False), [])
    assert _findings(index, base) == _findings(fresh, base)
    assert {n: [(d.path, d.line, sorted(d.classes)) for d in ds] for n, ds in index.funcs.items() if any(d.path == rel for d in ds)} == \
        {n: [(d.path, d.line, sorted(d.classes)) for d in ds] for n, ds in fresh.funcs.items() if any(d.path == rel for d in ds)}


def test_replace_file_twice_and_back():
    rel = "kernel/plain.c"
    base = Options(root=MINI, jobs=1, lazy=False)
    index = build_index(base, [])
    before = _findings(index, base)
    original = (MINI / rel).read_bytes()
    edited = _edit(rel, "void instrumentable_work(void)", "noinstr void instrumentable_work(void)")
    texts = {rel: edited}
    index.read = lambda r: texts.get(r) or (MINI / r).read_bytes()
    assert index.replace_file(rel, extract_facts(rel, edited))
    assert _findings(index, base) != before
    texts[rel] = original
    assert index.replace_file(rel, extract_facts(rel, original))
    assert _findings(index, base) == before


@pytest.mark.parametrize("v2, in_place", [
    ("#define KANNOT_CALL() plain_in_region()", True),  # a .c file's macro body: in place
    ("#define KANNOT_CALL() plain_in_region()\n#define KANNOT_MORE(x) (x)", False),  # a new name: rebuild
])
def test_c_file_macro_edit(v2, in_place):
    rel = "kernel/regions.c"
    disk = (MINI / rel).read_text()
    use = "\nnoinstr void kannot_macro_user(void)\n{\n\tKANNOT_CALL();\n}\n"
    v1_text = (disk.replace("#include <linux/kernel.h>", "#include <linux/kernel.h>\n#define KANNOT_CALL() plain_before()", 1) + use).encode()
    v2_text = (disk.replace("#include <linux/kernel.h>", "#include <linux/kernel.h>\n" + v2, 1) + use).encode()
    base = Options(root=MINI, jobs=1, overrides={rel: v1_text}, lazy=False)
    index = build_index(base, [])
    first = _findings(index, base)
    assert any('"callee": "plain_before"' in f and "kannot_macro_user" in f for f in first)
    index.read = lambda r: v2_text if r == rel else (MINI / r).read_bytes()
    assert index.replace_file(rel, extract_facts(rel, v2_text)) is in_place
    if in_place:
        fresh = build_index(Options(root=MINI, jobs=1, overrides={rel: v2_text}, lazy=False), [])
        assert _findings(index, base) == _findings(fresh, base)
        assert any('"callee": "plain_in_region"' in f and "kannot_macro_user" in f for f in _findings(index, base))
