"""Indirect calls, unresolved and assembly callees, several candidate definitions, per-arch
definitions, static shadowing, and macro-defined functions (DEFINE_IDTENTRY*)."""
from __future__ import annotations

import pytest

from conftest import MINI, XARCH, by_caller, callees, check, copy_tree, line_after, summary


def codes(findings, caller):
    return sorted((f["code"], f["callee"]) for f in by_caller(findings, caller))


# indirect calls (KN003) ---------------------------------------------------------------------


@pytest.mark.parametrize("caller, through", [
    ("indirect_ops", "ops->fn"),
    ("indirect_global", "handler"),
    ("indirect_param", "cb"),
])
def test_indirect_calls_are_kn003(mini_default, caller, through):
    (f,) = by_caller(mini_default.findings, caller)
    assert f["code"] == "KN003"
    assert f["callee"] is None
    assert f"'{through}'" in f["message"]
    assert [l["function"] for l in f["chain"]] == [caller]


@pytest.mark.parametrize("caller", ["indirect_static_call", "indirect_ubsan", "indirect_in_region"])
def test_static_call_ubsan_and_protected_indirect_calls_are_fine(mini_default, caller):
    assert by_caller(mini_default.findings, caller) == []


def test_static_call_is_seen_as_safe():
    run = callees(MINI, "indirect_static_call")
    (c,) = run.doc["callees"]
    assert c["verdict"].startswith("safe")
    assert "static_call" in c["text"]


def test_local_function_pointer_is_indirect(tmp_path):
    root = copy_tree(MINI, tmp_path)
    (root / "kernel/local_fp.c").write_text(
        "#include <linux/kernel.h>\n\ntypedef void (*fn_t)(void);\nnoinstr fn_t pick_fn(void);\n\n"
        "noinstr void local_fp(void)\n{\n\tvoid (*f)(void) = pick_fn();\n\n\tf();\n\t(*f)();\n}\n"
        "noinstr fn_t pick_fn(void)\n{\n\treturn 0;\n}\n"
    )
    run = check(root, "kernel/local_fp.c")
    assert codes(run.findings, "local_fp") == [("KN003", None), ("KN003", None)]


# unresolved and assembly callees ------------------------------------------------------------


def test_unresolved_callee_is_kn004(mini_default):
    (f,) = by_caller(mini_default.findings, "unresolved_caller")
    assert (f["code"], f["callee"]) == ("KN004", "no_such_function_anywhere")
    assert f["severity"] == "warning"


def test_callee_in_asm_noinstr_section_is_safe(mini_default):
    assert by_caller(mini_default.findings, "asm_noinstr_caller") == []
    run = callees(MINI, "asm_noinstr_caller")
    (c,) = run.doc["callees"]
    assert c["callee"] == "entry_ibpb"
    assert c["candidates"] == [{"function": "entry_ibpb", "file": "arch/x86/entry/entry.S", "line": c["candidates"][0]["line"], "class": "noinstr"}]
    assert c["verdict"].startswith("safe")


def test_callee_in_asm_plain_text_is_kn001(mini_default):
    (f,) = by_caller(mini_default.findings, "asm_plain_caller")
    assert (f["code"], f["callee"]) == ("KN001", "asm_plain_helper")
    assert f["chain"][-1]["file"] == "arch/x86/entry/entry.S"
    assert f["chain"][-1]["line"] == line_after(MINI, "arch/x86/entry/entry.S", "SYM_FUNC_START(asm_plain_helper)", "asm_plain_helper")


# several candidates --------------------------------------------------------------------------


def test_ifdef_branches_give_two_candidates(mini_default):
    (f,) = by_caller(mini_default.findings, "cfg_caller")
    assert (f["code"], f["callee"]) == ("KN001", "cfg_enter_hook")
    cands = sorted((c["file"], c["line"], c["class"]) for c in f["candidates"])
    assert cands == [
        ("kernel/candidates.c", line_after(MINI, "kernel/candidates.c", "noinstr void cfg_enter_hook", "cfg_enter_hook"), "noinstr"),
        ("kernel/candidates.c", line_after(MINI, "kernel/candidates.c", "#else", "cfg_enter_hook"), "none"),
    ]
    assert "1 of 2" in f["message"]


def test_per_arch_definitions_with_arch_all():
    """Each arch has its own definition: the call is unsafe on arm64 only, and says so."""
    run = check(MINI, "--arch", "all")
    (f,) = by_caller(run.findings, "arch_hook_caller")
    assert (f["code"], f["callee"], f["arches"]) == ("KN001", "arch_idle_hook", ["arm64"])
    assert [(c["file"], c["class"]) for c in f["candidates"]] == [("arch/arm64/kernel/cpu_hooks.c", "none")]


def test_arch_x86_keeps_only_x86_definitions():
    run = check(MINI, "--arch", "x86")
    # the arm64 copy is gone: the x86 one is noinstr, so nothing to report
    assert by_caller(run.findings, "arch_hook_caller") == []


def test_arch_x86_still_checks_and_resolves_arch_x86(mini_default):
    run = check(MINI, "--arch", "x86")
    x86 = {k for k in summary(mini_default.findings) if k[1].startswith("arch/x86/")}
    assert x86 and x86 <= summary(run.findings)  # exc_int3, exc_nmi ... still reported
    assert [f for f in run.findings if f["code"] == "KN004"] == by_caller(mini_default.findings, "unresolved_caller")


def test_arch_from_config_file(tmp_path):
    root = copy_tree(MINI, tmp_path)
    (root / ".kannot.toml").write_text('[check]\narch = "x86"\n')
    run = check(root)
    assert by_caller(run.findings, "arch_hook_caller") == []
    assert by_caller(run.findings, "exc_nmi", "KN001") != []


def test_arch_code_only_sees_its_own_asm_headers():
    """arch/x86 code: <linux/irqflags.h> -> <asm/irqflags.h> can only be x86's, even without --arch."""
    run = check(XARCH)
    assert by_caller(run.findings, "x86_irq_off_direct") == []
    got = callees(XARCH, "x86_irq_off_direct").doc["callees"]
    assert got == []  # x86's arch_local_irq_disable is __always_inline and has no calls


@pytest.mark.parametrize("caller", ["x86_irq_off", "x86_irq_off_helper"])
def test_arch_code_sees_its_own_asm_headers_through_macros_and_helpers(caller):
    run = check(XARCH)
    assert by_caller(run.findings, caller) == []


def test_generic_code_with_arch_all_checks_every_arch():
    """Generic code with --arch all: each arch's <asm/irqflags.h> in turn; a finding says on which."""
    run = check(XARCH, "--arch", "all")
    (f,) = by_caller(run.findings, "generic_irq_off")
    assert (f["code"], f["callee"], f["arches"]) == ("KN002", "arch_local_irq_disable", ["arm64"])
    assert [l["function"] for l in f["chain"]] == ["generic_irq_off", "raw_local_irq_disable", "arch_local_irq_disable"]


def test_without_arch_the_hosts_arch_is_said(monkeypatch):
    """No --arch and no .config: the host's arch, as kbuild maps `uname -m`."""
    import platform

    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    run = check(XARCH)
    (f,) = by_caller(run.findings, "generic_irq_off")
    assert f["callee"] == "arch_local_irq_disable" and "arches" not in f


def test_an_unknown_arch_is_a_usage_error():
    run = check(XARCH, "--arch", "nosuch")
    assert run.rc == 2 and "unknown arch 'nosuch': this tree has arm64, x86" in run.err


def test_generic_code_with_arch_x86_uses_x86_headers():
    run = check(XARCH, "--arch", "x86")
    assert run.findings == []


# static shadowing -----------------------------------------------------------------------------


def test_static_function_in_callers_file_shadows_global(mini_default):
    assert by_caller(mini_default.findings, "shadow_caller") == []
    run = callees(MINI, "shadow_caller")
    (c,) = run.doc["callees"]
    assert [(d["file"], d["class"]) for d in c["candidates"]] == [("kernel/shadow.c", "noinstr")]


def test_other_file_binds_to_the_global(mini_default):
    (f,) = by_caller(mini_default.findings, "shadow_other_caller")
    assert (f["code"], f["callee"]) == ("KN001", "shadow_helper")
    assert [c["file"] for c in f["candidates"]] == ["kernel/shadow_global.c"]


# macro-defined functions (x86 idtentry.h) ----------------------------------------------------


def test_define_idtentry_raw_body_is_noinstr(mini_default):
    """DEFINE_IDTENTRY_RAW(exc_int3) { ... }: the body is the noinstr function, regions count."""
    assert codes(mini_default.findings, "exc_int3") == [("KN001", "poke_int3_handler")]
    (f,) = by_caller(mini_default.findings, "exc_int3")
    assert f["file"] == "arch/x86/kernel/traps.c"
    assert f["line"] == line_after(MINI, "arch/x86/kernel/traps.c", "DEFINE_IDTENTRY_RAW(exc_int3)", "poke_int3_handler(regs)")
    run = callees(MINI, "exc_int3")
    seen = {c["callee"]: c["in_region"] for c in run.doc["callees"]}
    assert seen["do_int3_user"] is True and seen["die"] is True
    assert seen["irqentry_nmi_enter"] is False


def test_define_per_cpu_merged_parse_shape(mini_default):
    """`static DEFINE_PER_CPU(...);` + DEFINE_IDTENTRY_RAW(exc_nmi) parse as one definition."""
    assert codes(mini_default.findings, "exc_nmi") == [("KN001", "default_do_nmi")]
    (f,) = by_caller(mini_default.findings, "exc_nmi")
    assert f["line"] == line_after(MINI, "arch/x86/kernel/nmi.c", "DEFINE_IDTENTRY_RAW(exc_nmi)", "default_do_nmi(regs)")
    assert not [g for g in mini_default.findings if g["caller"] in ("DEFINE_IDTENTRY_RAW", "DEFINE_PER_CPU")]


def test_define_idtentry_body_runs_inside_the_wrappers_region(mini_default):
    """DEFINE_IDTENTRY(func): noinstr wrapper, body is an always-inline __func inside a region."""
    assert by_caller(mini_default.findings, "exc_divide_error") == []
    assert by_caller(mini_default.findings, "__exc_divide_error") == []
    run = callees(MINI, "exc_divide_error")
    got = {c["callee"]: (c["in_region"], c["verdict"]) for c in run.doc["callees"]}
    assert got["do_error_trap"][0] is True
    assert [l["function"] for l in next(c for c in run.doc["callees"] if c["callee"] == "do_error_trap")["chain"]][:2] == [
        "exc_divide_error", "__exc_divide_error"]
    assert got["irqentry_enter"] == (False, "safe: noinstr")
    assert got["irqentry_exit"] == (False, "safe: noinstr")


def test_define_idtentry_raw_with_return_in_region(tmp_path):
    root = copy_tree(MINI, tmp_path)
    (root / "arch/x86/kernel/more_traps.c").write_text(
        "#include <linux/kernel.h>\n#include <asm/idtentry.h>\n\n"
        "DEFINE_IDTENTRY_RAW(exc_raw_ret)\n{\n\tinstrumentation_begin();\n\tif (regs)\n\t\treturn;\n"
        "\tinstrumentation_end();\n}\n\n"
        "DEFINE_IDTENTRY(exc_early_return)\n{\n\tif (regs)\n\t\treturn;\n\tplain_after();\n}\n"
    )
    run = check(root, "arch/x86/kernel/more_traps.c")
    # a return in the user body of DEFINE_IDTENTRY only leaves the inlined __func: no finding
    assert sorted((f["caller"], f["code"]) for f in run.findings) == [("exc_raw_ret", "KN006")]
