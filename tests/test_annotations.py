"""Which functions are protected: annotations in every position the kernel writes them
(docs/semantics.md 1 and 5.1), and which callees they make safe or unsafe."""
from __future__ import annotations

import pytest

from conftest import MINI, by_caller, callees, check, col_of, copy_tree, line_after

ANNOTATED = {
    # caller: the header as written in kernel/annotations.c
    "annot_leading": "noinstr void annot_leading(void)",
    "annot_static_u64": "static noinstr u64 annot_static_u64(void)",
    "annot_visible": "__visible noinstr void annot_visible(",
    "annot_asmlinkage": "asmlinkage __visible noinstr void annot_asmlinkage(",
    "annot_after_type": "void noinstr annot_after_type(",
    "annot_split_line": "unsigned int annot_split_line(",  # `noinstr static` on the line above
    "annot_cpuidle": "void __cpuidle annot_cpuidle(void)",
    "annot_section": '__attribute__((__section__(".noinstr.text"))) annot_section',
}


@pytest.mark.parametrize("caller", sorted(ANNOTATED))
def test_every_annotation_position_is_checked(mini_default, caller):
    found = by_caller(mini_default.findings, caller)
    assert [(f["code"], f["callee"]) for f in found] == [("KN001", "instrumentable_work")]
    f = found[0]
    assert f["file"] == "kernel/annotations.c"
    # the call is the first statement after the header
    assert f["line"] == line_after(MINI, "kernel/annotations.c", ANNOTATED[caller], "instrumentable_work();")
    assert f["column"] == 2


def test_cpuidle_function_is_named_as_such(mini_default):
    (f,) = by_caller(mini_default.findings, "annot_cpuidle")
    assert "__cpuidle" in f["message"]


def test_unannotated_function_is_not_checked(mini_default):
    assert by_caller(mini_default.findings, "annot_plain") == []
    assert by_caller(mini_default.findings, "annot_use_static") == []


def test_function_with_noinstr_only_on_its_prototype(tmp_path):
    """gcc merges attributes across declarations: noinstr on a header prototype counts."""
    root = copy_tree(MINI, tmp_path)
    (root / "include/linux/proto_only.h").write_text("noinstr void proto_only_fn(void);\n")
    (root / "kernel/proto_only.c").write_text(
        "#include <linux/kernel.h>\n#include <linux/proto_only.h>\n\n"
        "void proto_only_fn(void)\n{\n\tplain_after();\n}\n"
    )
    run = check(root, "kernel/proto_only.c")
    assert [(f["code"], f["caller"], f["callee"]) for f in run.findings] == [("KN001", "proto_only_fn", "plain_after")]


def test_learned_annotation_alias_from_a_header(tmp_path):
    """An object-like macro whose body is only annotations (riscv's __trap_section) protects."""
    root = copy_tree(MINI, tmp_path)
    (root / "include/linux/entry_section.h").write_text(
        "#ifndef _ENTRY_SECTION_H\n#define _ENTRY_SECTION_H\n#define __entry_section noinstr\n#endif\n"
    )
    (root / "kernel/alias.c").write_text(
        "#include <linux/kernel.h>\n#include <linux/entry_section.h>\n\n"
        "__entry_section void alias_entry(void)\n{\n\tplain_before();\n}\n\n"
        "static __entry_section unsigned long alias_entry2(void)\n{\n\tplain_after();\n\treturn 0;\n}\n"
    )
    run = check(root, "kernel/alias.c")
    assert sorted((f["code"], f["caller"], f["callee"]) for f in run.findings) == [
        ("KN001", "alias_entry", "plain_before"),
        ("KN001", "alias_entry2", "plain_after"),
    ]


def test_learned_annotation_alias_defined_in_the_same_file(tmp_path):
    root = copy_tree(MINI, tmp_path)
    (root / "kernel/alias.c").write_text(
        "#include <linux/kernel.h>\n\n#define __entry_section noinstr\n\n"
        "__entry_section void alias_entry(void)\n{\n\tplain_before();\n}\n"
    )
    run = check(root, "kernel/alias.c")
    assert [(f["code"], f["caller"], f["callee"]) for f in run.findings] == [("KN001", "alias_entry", "plain_before")]


def test_callee_classes_as_seen_by_callees(tmp_path):
    """`kannot callees` shows how each callee's own annotation was read."""
    root = copy_tree(MINI, tmp_path)
    (root / "kernel/classes.c").write_text(
        """#include <linux/kernel.h>
#include <linux/kprobes.h>

noinstr void cls_noinstr(void) { }
void __cpuidle cls_cpuidle(void) { }
void notrace cls_notrace(void) { }
void __kprobes cls_kprobes(void) { }
void cls_nokprobe(void) { }
NOKPROBE_SYMBOL(cls_nokprobe);
static inline void cls_inline(void) { plain_before(); }
void cls_none(void) { }
void __attribute__((__section__(".noinstr.text"))) cls_section(void) { }

noinstr void cls_probe(void)
{
	cls_noinstr();
	cls_cpuidle();
	cls_notrace();
	cls_kprobes();
	cls_nokprobe();
	cls_inline();
	cls_none();
	cls_section();
}
"""
    )
    run = callees(root, "cls_probe")
    assert run.rc == 0, run.err
    got = {c["callee"]: c["candidates"][0]["class"] for c in run.doc["callees"] if "inlined_from" not in c}
    # what a static helper gcc may inline calls is listed too, marked as such
    assert [c["callee"] for c in run.doc["callees"] if c.get("inlined_from") == ["cls_inline"]] == ["plain_before"]
    assert got == {
        "cls_noinstr": "noinstr",
        "cls_cpuidle": "cpuidle",
        "cls_notrace": "notrace",
        "cls_kprobes": "nokprobe",
        "cls_nokprobe": "nokprobe",
        "cls_inline": "inline",
        "cls_none": "none",
        "cls_section": "noinstr",
    }
    verdicts = {c["callee"]: c["verdict"] for c in run.doc["callees"]}
    assert verdicts["cls_noinstr"].startswith("safe")
    assert verdicts["cls_cpuidle"].startswith("safe")
    assert verdicts["cls_section"].startswith("safe")
    for unsafe in ("cls_notrace", "cls_kprobes", "cls_nokprobe", "cls_none", "cls_inline"):
        assert not verdicts[unsafe].startswith("safe"), unsafe
    # and the check agrees: the plain inline is KN002, the others KN001
    chk = check(root, "kernel/classes.c")
    assert sorted((f["code"], f["callee"]) for f in chk.findings) == [
        ("KN001", "cls_kprobes"),
        ("KN001", "cls_nokprobe"),
        ("KN001", "cls_none"),
        ("KN001", "cls_notrace"),
        ("KN002", "cls_inline"),
    ]


def test_column_points_at_the_call(mini_default):
    (f,) = by_caller(mini_default.findings, "annot_leading")
    line = f["line"]
    assert f["column"] == col_of(MINI, "kernel/annotations.c", line, "instrumentable_work()")
