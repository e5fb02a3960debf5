"""Calls hidden in macros, and __always_inline / inline helpers (docs/semantics.md 1.1, 1.5, 1.6, 5.4)."""
from __future__ import annotations

from conftest import MINI, by_caller, callees, check, copy_tree, line_after


def chain(f):
    return [l["function"] for l in f["chain"]]


# macros --------------------------------------------------------------------------------------


def test_warn_on_condition_is_outside_the_macros_region(mini_default):
    """WARN_ON(cond): cond is evaluated before the macro's own begin, __warn_printk inside it."""
    (f,) = by_caller(mini_default.findings, "macro_warn_on")
    assert (f["code"], f["callee"]) == ("KN001", "plain_check")
    assert chain(f) == ["macro_warn_on", "WARN_ON", "plain_check"]
    assert f["chain"][1]["file"] == "include/asm-generic/bug.h"
    assert f["line"] == line_after(MINI, "kernel/macros.c", "noinstr void macro_warn_on(void)", "WARN_ON(")


def test_warn_on_itself_is_region_safe(mini_default):
    assert by_caller(mini_default.findings, "macro_warn_on_clean") == []
    # ... and __warn_printk really is seen, in the macro's region
    run = callees(MINI, "macro_warn_on_clean")
    (c,) = [c for c in run.doc["callees"] if c["callee"] == "__warn_printk"]
    assert c["in_region"] is True
    assert [l["function"] for l in c["chain"]][:2] == ["macro_warn_on_clean", "WARN_ON"]


def test_raw_spin_lock_macro_to_out_of_line_function(mini_default):
    (f,) = by_caller(mini_default.findings, "macro_spin_lock")
    assert (f["code"], f["callee"]) == ("KN001", "_raw_spin_lock")
    assert chain(f) == ["macro_spin_lock", "raw_spin_lock", "_raw_spin_lock"]
    assert f["chain"][-1]["file"] == "kernel/locking/spinlock.c"


def test_token_pasting(mini_default):
    (f,) = by_caller(mini_default.findings, "macro_token_paste")
    assert (f["code"], f["callee"]) == ("KN001", "inb")
    assert chain(f) == ["macro_token_paste", "BUILDIO", "inb"]


def test_macro_to_macro_to_function(mini_default):
    (f,) = by_caller(mini_default.findings, "macro_transitive")
    assert (f["code"], f["callee"]) == ("KN001", "port_read_slow")
    assert chain(f) == ["macro_transitive", "read_port_outer", "read_port_inner", "port_read_slow"]
    assert f["line"] == line_after(MINI, "kernel/macros.c", "macro_transitive(void)", "read_port_outer(")


def test_object_like_alias_and_noreturn_macro(tmp_path):
    root = copy_tree(MINI, tmp_path)
    (root / "include/linux/aliases.h").write_text(
        "#ifndef _ALIASES_H\n#define _ALIASES_H\n"
        "#define check_alias plain_check\n"
        "#define BUG() do { instrumentation_begin(); __builtin_unreachable(); } while (0)\n"
        "#endif\n"
    )
    (root / "kernel/aliases.c").write_text(
        "#include <linux/kernel.h>\n#include <linux/aliases.h>\n\n"
        "noinstr void alias_call(void)\n{\n\tcheck_alias();\n}\n\n"
        "noinstr void bug_path(int x)\n{\n\tif (x)\n\t\tBUG();\n\tplain_after();\n}\n"
    )
    run = check(root, "kernel/aliases.c")
    got = sorted((f["caller"], f["code"], f["callee"], tuple(chain(f))) for f in run.findings)
    assert got == [
        ("alias_call", "KN001", "plain_check", ("alias_call", "check_alias", "plain_check")),
        # BUG() never returns: its begin without end is no KN005, plain_after only on the other path
        ("bug_path", "KN001", "plain_after", ("bug_path", "plain_after")),
    ]


def test_scoped_guard_block_belongs_to_enclosing_function(tmp_path):
    """scoped_guard(...) { } parses as a nested function_definition (docs/semantics.md 5.2)."""
    root = copy_tree(MINI, tmp_path)
    (root / "include/linux/cleanup.h").write_text(
        "#define scoped_guard(_name, args...) for (int __g = 1; __g; __g = 0)\n"
        "#define for_each_possible_cpu(cpu) for ((cpu) = 0; (cpu) < 4; (cpu)++)\n"
    )
    (root / "kernel/guard.c").write_text(
        "#include <linux/kernel.h>\n#include <linux/cleanup.h>\n\n"
        "noinstr void guarded(void)\n{\n\tint cpu;\n\n"
        "\tscoped_guard (rcu) {\n\t\tplain_before();\n\t}\n"
        "\tfor_each_possible_cpu(cpu) {\n\t\tplain_after();\n\t}\n}\n"
    )
    run = check(root, "kernel/guard.c")
    assert sorted((f["caller"], f["code"], f["callee"]) for f in run.findings) == [
        ("guarded", "KN001", "plain_after"),
        ("guarded", "KN001", "plain_before"),
    ]


# always_inline chains ------------------------------------------------------------------------


def test_always_inline_chain_is_one_finding_with_the_whole_chain(mini_default):
    found = by_caller(mini_default.findings, "chain_entry")
    assert len(found) == 1
    f = found[0]
    assert (f["code"], f["callee"]) == ("KN001", "chain_leaf_plain")
    # reported at the outermost call, in the noinstr function's file
    assert f["file"] == "kernel/inline.c"
    assert f["line"] == line_after(MINI, "kernel/inline.c", "noinstr void chain_entry(void)", "chain_outer(1);")
    assert [(l["function"], l["file"]) for l in f["chain"]] == [
        ("chain_entry", "kernel/inline.c"),
        ("chain_outer", "include/linux/chain_outer.h"),
        ("chain_inner", "include/linux/chain_inner.h"),
        ("chain_leaf_plain", "kernel/inline.c"),
    ]
    lines = [l["line"] for l in f["chain"]]
    assert lines[1] == line_after(MINI, "include/linux/chain_outer.h", "chain_outer(int x)", "chain_inner(")
    assert lines[2] == line_after(MINI, "include/linux/chain_inner.h", "chain_inner(int x)", "chain_leaf_plain(")
    assert lines[3] == line_after(MINI, "kernel/inline.c", "void chain_leaf_plain(int x)", "chain_leaf_plain")
    # the helpers themselves are never reported
    assert not [g for g in mini_default.findings if g["caller"] in ("chain_outer", "chain_inner")]


def test_nokprobe_inline_is_expanded_like_always_inline(mini_default):
    (f,) = by_caller(mini_default.findings, "nokprobe_inline_caller")
    assert (f["code"], f["callee"]) == ("KN001", "instrumentable_work")
    assert chain(f) == ["nokprobe_inline_caller", "nokprobe_inline_helper", "instrumentable_work"]


def test_plain_inline_callee_with_calls_is_kn002(mini_default):
    (f,) = by_caller(mini_default.findings, "inline_caller")
    assert (f["code"], f["callee"]) == ("KN002", "inline_with_call")
    assert f["rule"] == "noinstr"
    assert [c["class"] for c in f["candidates"]] == ["inline"]


def test_empty_inline_stub_is_kn002_too(mini_default):
    """An empty plain-inline stub is no safer: gcc may emit it out of line (the kernel's history
    has a run of "make it __always_inline" fixes found by objtool); the message says it is empty."""
    (f,) = by_caller(mini_default.findings, "inline_stub_caller")
    assert (f["code"], f["callee"]) == ("KN002", "inline_empty_stub")
    assert "makes no call" in f["message"] and "__always_inline" in f["message"]
    run = callees(MINI, "inline_stub_caller")
    (c,) = run.doc["callees"]
    assert c["callee"] == "inline_empty_stub"
    assert c["verdict"] == "inline (may be out-of-lined, body makes no call)"


def test_always_inline_helper_with_own_region(mini_default):
    """irqentry_enter_from_user_mode -> enter_from_user_mode (own region) -> user_exit_irqoff."""
    assert by_caller(mini_default.findings, "irqentry_enter_from_user_mode") == []
    run = callees(MINI, "irqentry_enter_from_user_mode")
    got = {c["callee"]: (c["in_region"], tuple(l["function"] for l in c["chain"])) for c in run.doc["callees"]}
    assert got["kmsan_unpoison_entry_regs"] == (True, ("irqentry_enter_from_user_mode", "enter_from_user_mode", "kmsan_unpoison_entry_regs"))
    assert got["__ct_user_exit"] == (False, ("irqentry_enter_from_user_mode", "enter_from_user_mode", "user_exit_irqoff", "__ct_user_exit"))
    assert got["lockdep_hardirqs_off"][0] is False


def test_recursive_always_inline_helpers_terminate(tmp_path):
    root = copy_tree(MINI, tmp_path)
    (root / "kernel/recursive.c").write_text(
        "#include <linux/kernel.h>\n\n"
        "static __always_inline void rec_b(int n);\n"
        "static __always_inline void rec_a(int n)\n{\n\tif (n)\n\t\trec_b(n - 1);\n\tplain_before();\n}\n\n"
        "static __always_inline void rec_b(int n)\n{\n\trec_a(n);\n}\n\n"
        "noinstr void rec_entry(void)\n{\n\trec_a(3);\n}\n"
    )
    run = check(root, "kernel/recursive.c")
    assert run.rc == 1
    assert {(f["caller"], f["code"], f["callee"]) for f in run.findings} == {("rec_entry", "KN001", "plain_before")}


def test_macro_under_a_config_condition_says_so(tmp_path):
    root = copy_tree(MINI, tmp_path)
    (root / "include/linux/lockdep_assert.h").write_text(
        "#ifndef _LOCKDEP_ASSERT_H\n#define _LOCKDEP_ASSERT_H\n"
        "void lockdep_check_irqs(void);\n"
        "#ifdef CONFIG_LOCKDEP\n#define lockdep_assert_irqs_disabled() lockdep_check_irqs()\n"
        "#else\n#define lockdep_assert_irqs_disabled() do { } while (0)\n#endif\n#endif\n"
    )
    (root / "kernel/lockdep_user.c").write_text(
        "#include <linux/kernel.h>\n#include <linux/lockdep_assert.h>\n\n"
        "noinstr void irqs_off_check(void)\n{\n\tlockdep_assert_irqs_disabled();\n}\n\n"
        "void lockdep_check_irqs(void)\n{\n\tprintk(\"irqs\\n\");\n}\n"
    )
    run = check(root, "kernel/lockdep_user.c")
    (f,) = run.findings
    assert (f["code"], f["callee"]) == ("KN001", "lockdep_check_irqs")
    assert [l["function"] for l in f["chain"]] == ["irqs_off_check", "lockdep_assert_irqs_disabled", "lockdep_check_irqs"]
    assert "CONFIG_LOCKDEP" in f["message"]
    assert any("CONFIG_LOCKDEP" in c for c in f.get("conditions", []))
    # the include guard is not a condition worth showing
    assert "_LOCKDEP_ASSERT_H" not in f["message"]


def test_a_macro_name_is_not_searched_among_generated_functions(tmp_path):
    """A call of a name that is a macro where it is called follows the macro only: functions
    that a pasting file-scope macro generates under the same name elsewhere are not candidates
    (the search for them reads every invocation whose argument is a part of the name). A name
    that is no macro is still found among the generated functions."""
    root = copy_tree(MINI, tmp_path)
    (root / "include/linux/gen.h").write_text(
        "#ifndef _GEN_H\n#define _GEN_H\n"
        "#define DEFINE_LOCAL(x) void local_##x(void) { plain_check(); }\n"
        "#define local_irq_off() arch_irq_off()\n"
        "void local_other(void);\n"
        "#endif\n"
    )
    (root / "kernel/gen.c").write_text(
        "#include <linux/kernel.h>\n#include <linux/gen.h>\n\n"
        "DEFINE_LOCAL(irq_off);\nDEFINE_LOCAL(other);\n\n"
        "noinstr void arch_irq_off(void)\n{\n}\n"
    )
    (root / "kernel/use.c").write_text(
        "#include <linux/kernel.h>\n#include <linux/gen.h>\n\n"
        "noinstr void use_macro(void)\n{\n\tlocal_irq_off();\n}\n\n"
        "noinstr void use_generated(void)\n{\n\tlocal_other();\n}\n"
    )
    for mode in ((), ("--eager",)):
        run = check(root, *mode, "kernel/use.c")
        got = sorted((f["caller"], f["code"], f["callee"], tuple(chain(f))) for f in run.findings)
        assert got == [("use_generated", "KN001", "local_other", ("use_generated", "local_other"))], mode


def test_a_function_whose_head_macro_pastes_its_name_is_found_by_a_check_of_one_file(tmp_path):
    """``DEFINE_FREDENTRY_RAW(exc_nmi) { ... }`` defines ``fred_exc_nmi`` (the head macro pastes
    the name). A check of only the caller's file must find it as the whole tree's check does
    (it reported the callee as defined nowhere, KN004, while the whole-tree check, which had
    loaded the definer for its own noinstr function, did not)."""
    root = copy_tree(MINI, tmp_path)
    (root / "include/linux/fred.h").write_text(
        "#ifndef _FRED_H\n#define _FRED_H\n"
        "#define DEFINE_FREDENTRY_RAW(func) noinstr void fred_##func(void)\n"
        "#define DEFINE_FREDENTRY_NMI DEFINE_FREDENTRY_RAW\n"
        "#endif\n"
    )
    (root / "kernel/fred_nmi.c").write_text(
        "#include <linux/fred.h>\n\nDEFINE_FREDENTRY_NMI(exc_nmi)\n{\n}\n"
    )
    (root / "kernel/fred_entry.c").write_text(
        "#include <linux/kernel.h>\n#include <linux/fred.h>\n\n"
        "noinstr void fred_entry(void)\n{\n\tfred_exc_nmi();\n}\n"
    )
    whole = [f for f in check(root).findings if f["file"] == "kernel/fred_entry.c"]
    for mode in ((), ("--eager",)):
        one = check(root, *mode, "kernel/fred_entry.c").findings
        assert one == whole, mode
    assert not any(f["callee"] == "fred_exc_nmi" for f in whole)
