"""The lazy index (parse only what the check needs) answers exactly as the eager one (parse all).

Every fixture tree, every rule family, whole tree and single files: the findings JSON, the
``why`` answers and the ``callees`` lists must be identical, while the lazy run parses fewer files.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES
from kannot.facts.text import scan_text
from kannot.callees import callees_of
from kannot.engine import Options, analyze, build_index, close_index
from kannot.why import FAMILIES as WHY_FAMILIES, why

TREES = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and (p / "include").is_dir())
EXAMPLE = Path(__file__).parent.parent / "examples" / "kernel-mini"


def _run(root: Path, lazy: bool, **kw) -> tuple[str, int]:
    result = analyze(Options(root=root, jobs=1, lazy=lazy, **kw))
    doc = {"findings": [f.to_json() for f in result.findings]}
    return json.dumps(doc, sort_keys=True, indent=1), result.files_analyzed


@pytest.mark.parametrize("root", TREES + [EXAMPLE], ids=lambda p: p.name)
@pytest.mark.parametrize("select", [None, ["ALL"]], ids=["default", "all-rules"])
def test_lazy_findings_equal_eager(root, select):
    eager, n_eager = _run(root, False, select=select)
    lazy, n_lazy = _run(root, True, select=select)
    assert lazy == eager
    assert n_lazy <= n_eager


@pytest.mark.parametrize("root", TREES + [EXAMPLE], ids=lambda p: p.name)
def test_lazy_equal_eager_per_file(root):
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.c"))
    for rel in files:
        eager, _ = _run(root, False, paths=[rel], select=["ALL"])
        lazy, _ = _run(root, True, paths=[rel], select=["ALL"])
        assert lazy == eager, rel


def _names(root: Path) -> list[str]:
    index = build_index(Options(root=root, jobs=1, lazy=False), [])
    return sorted(n for n, defs in index.funcs.items() if any(d.asm_section is None for d in defs))


@pytest.mark.parametrize("root", [FIXTURES / "mini", EXAMPLE], ids=lambda p: p.name)
def test_lazy_why_and_callees_equal_eager(root):
    for name in _names(root)[:60]:
        answers = []
        for lazy in (False, True):
            index = build_index(Options(root=root, jobs=1, lazy=lazy), [], families=set(WHY_FAMILIES))
            try:
                answers.append((json.dumps(why(index, name), sort_keys=True), json.dumps(callees_of(index, name), sort_keys=True)))
            finally:
                close_index(index)
        assert answers[0] == answers[1], name


def test_lazy_parses_only_what_the_check_needs():
    # mini has plain files with nothing protected in them and nothing a protected function calls
    _, n_eager = _run(FIXTURES / "mini", False)
    _, n_lazy = _run(FIXTURES / "mini", True, paths=["kernel/regions.c"])
    assert n_lazy < n_eager


def test_catalog_heads_keep_definitions_not_parameters():
    src = (b"static noinstr void exc_thing(struct pt_regs *regs, int trapnr)\n{\n\tcall_it(regs);\n}\n"
           b"DEFINE_IDTENTRY_RAW(exc_int3)\n{\n}\nNOKPROBE_SYMBOL(do_int3);\n"
           b"static void (*handler)(int irq);\nstatic fn_t table_fn;\n"
           b"#define arch_feature 1\n#define LOUD_CONST 0x10\n#define CALLER(x) callee(x)\n")
    tf = scan_text(src)
    for name in ("exc_thing", "noinstr", "DEFINE_IDTENTRY_RAW", "exc_int3", "do_int3", "handler", "table_fn"):
        assert name in tf.heads, name
    for name in ("regs", "trapnr", "call_it", "irq"):
        assert name not in tf.heads, name
    assert "arch_feature" in tf.defines and "CALLER" in tf.defines and "LOUD_CONST" not in tf.defines


def test_cached_catalog_sees_edits_added_and_removed_files(tmp_path):
    """Warm runs reuse the stored catalog: an edit elsewhere, a new file and a deleted one must
    change the findings exactly as a fresh run's."""
    from conftest import copy_tree

    root = copy_tree(FIXTURES / "mini", tmp_path / "tree")
    cache = tmp_path / "cache"

    def both() -> tuple[str, str]:
        warm = analyze(Options(root=root, jobs=1, cache_dir=cache))
        fresh = analyze(Options(root=root, jobs=1, lazy=False))
        return (json.dumps([f.to_json() for f in warm.findings], sort_keys=True),
                json.dumps([f.to_json() for f in fresh.findings], sort_keys=True))

    first, fresh = both()
    assert first == fresh
    # a callee loses its annotation in another file
    ct = root / "kernel/context_tracking.c"
    text = ct.read_text()
    assert "noinstr bool context_tracking_enabled" in text
    ct.write_text(text.replace("noinstr bool context_tracking_enabled", "bool context_tracking_enabled"))
    edited, fresh = both()
    assert edited == fresh and edited != first
    # a new file defining a protected function, then its removal
    (root / "kernel/added.c").write_text("#include <linux/kernel.h>\n\nnoinstr void added_fn(void)\n{\n\tplain_after();\n}\n")
    added, fresh = both()
    assert added == fresh and "added_fn" in added
    (root / "kernel/added.c").unlink()
    removed, fresh = both()
    assert removed == fresh == edited


def test_a_lookup_without_a_file_of_its_own_reads_no_file(tmp_path):
    """A macro defined in many files, looked up on behalf of no file (is an invocation able to
    define a function?), once made the lazy index try to read the path "" (the tree's root)."""
    root = tmp_path / "tree"
    (root / "include/linux").mkdir(parents=True)
    for i in range(6):
        (root / f"include/linux/def{i}.h").write_text("#define DEFINE_THING(n) int n##_thing;\n")
    (root / "kernel").mkdir()
    (root / "kernel/user.c").write_text("noinstr void entry(void)\n{\n\tfoo_thing();\n}\n")  # pasted: foo_##thing
    (root / "kernel/other.c").write_text("#include <linux/def0.h>\nDEFINE_THING(foo)\n")
    for lazy in (True, False):
        result = analyze(Options(root=root, jobs=1, lazy=lazy))
        assert not [e for e in result.errors if e.file in ("", ".")], result.errors


def test_catalog_heads_leave_out_initializers():
    """What follows a column-0 line's '=' is used there, not defined: a function of that name
    is never looked for in this file (every file with ``x = IS_ENABLED(...)`` was parsed)."""
    src = (b"static bool xen_safe = IS_ENABLED(CONFIG_XEN_SAFE);\n"
           b"static const struct ops my_ops = { .fn = helper_fn };\n"
           b"int (*hook)(int) = default_hook;\n"
           b"DEFINE_PER_CPU(int, counter) = INIT_COUNT(3);\n")
    tf = scan_text(src)
    for name in ("xen_safe", "my_ops", "hook", "DEFINE_PER_CPU", "counter"):
        assert name in tf.heads, name
    for name in ("IS_ENABLED", "helper_fn", "default_hook", "INIT_COUNT"):
        assert name not in tf.heads, name


def test_the_few_files_of_some_paths_are_found_by_bisection_as_by_the_filter():
    from types import SimpleNamespace

    from kannot.engine import FEW_FILES_MAX, _few_files, path_filter

    files = sorted(["kernel/a.c", "kernel/a.c.orig.c", "kernel/ab.c", "kernel/a/b.c", "kernel/sub/x.h",
                    "kernel/sub/y.c", "kernel/subway.c", "mm/a.c", "mm/gone.c"]
                   + [f"drivers/many/f{i:03}.c" for i in range(FEW_FILES_MAX + 1)])
    index = SimpleNamespace(catalog=SimpleNamespace(files=files, unreadable={"mm/gone.c"}))
    for paths in (["kernel/a.c"], ["kernel/sub"], ["kernel/sub/"], ["kernel/a.c", "mm"], ["nowhere.c"],
                  ["drivers/many"], ["drivers"], ["."], ["kernel/sub", "kernel/sub/y.c"]):
        wanted = path_filter(paths)
        brute = [r for r in files if wanted(r) and r not in index.catalog.unreadable]
        assert _few_files(index, paths) == (brute if len(brute) <= FEW_FILES_MAX else None), paths
