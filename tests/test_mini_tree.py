"""The whole mini tree at once: exactly these findings, and none in the functions that are right.

Each shape has its own test elsewhere; this one catches a new false positive or a lost finding
anywhere in the tree.
"""
from __future__ import annotations

from conftest import summary

EXPECTED = {
    ("KN001", "arch/x86/kernel/nmi.c", "exc_nmi", "default_do_nmi"),
    ("KN001", "arch/x86/kernel/traps.c", "exc_int3", "poke_int3_handler"),
    ("KN001", "kernel/annotations.c", "annot_leading", "instrumentable_work"),
    ("KN001", "kernel/annotations.c", "annot_static_u64", "instrumentable_work"),
    ("KN001", "kernel/annotations.c", "annot_visible", "instrumentable_work"),
    ("KN001", "kernel/annotations.c", "annot_asmlinkage", "instrumentable_work"),
    ("KN001", "kernel/annotations.c", "annot_after_type", "instrumentable_work"),
    ("KN001", "kernel/annotations.c", "annot_split_line", "instrumentable_work"),
    ("KN001", "kernel/annotations.c", "annot_cpuidle", "instrumentable_work"),
    ("KN001", "kernel/annotations.c", "annot_section", "instrumentable_work"),
    ("KN001", "kernel/cfg_user.c", "cfg_caller", "cfg_enter_hook"),
    # (arch_hook_caller -> arch_idle_hook is plain only on arm64: the default arch here is x86)
    ("KN001", "kernel/context_tracking.c", "ct_nmi_exit", "plain_after"),
    ("KN001", "kernel/context_tracking.c", "ct_nmi_enter", "plain_before"),
    ("KN003", "kernel/indirect.c", "indirect_ops", None),
    ("KN003", "kernel/indirect.c", "indirect_global", None),
    ("KN003", "kernel/indirect.c", "indirect_param", None),
    ("KN001", "kernel/inline.c", "chain_entry", "chain_leaf_plain"),
    ("KN002", "kernel/inline.c", "inline_caller", "inline_with_call"),
    ("KN002", "kernel/inline.c", "inline_stub_caller", "inline_empty_stub"),  # gcc may emit it out of line
    ("KN001", "kernel/inline.c", "nokprobe_inline_caller", "instrumentable_work"),
    ("KN001", "kernel/macros.c", "macro_warn_on", "plain_check"),
    ("KN001", "kernel/macros.c", "macro_spin_lock", "_raw_spin_lock"),
    ("KN001", "kernel/macros.c", "macro_token_paste", "inb"),
    ("KN001", "kernel/macros.c", "macro_transitive", "port_read_slow"),
    ("KN101", "kernel/probes.c", "notify_die", "notifier_call_chain"),
    ("KN101", "kernel/probes.c", "kprobe_handler_demo", "plain_before"),
    ("KN201", "kernel/probes.c", "kprobe_handler_demo", "plain_before"),
    ("KN201", "kernel/probes.c", "trace_clock_demo", "plain_after"),
    ("KN001", "kernel/regions.c", "region_simple", "plain_before"),
    ("KN001", "kernel/regions.c", "region_simple", "plain_after"),
    ("KN001", "kernel/regions.c", "region_nested", "plain_after"),
    ("KN001", "kernel/regions.c", "region_goto", "plain_after"),
    ("KN005", "kernel/regions.c", "region_end_without_begin", None),
    ("KN005", "kernel/regions.c", "region_left_open", None),
    ("KN006", "kernel/regions.c", "region_return_inside", None),
    ("KN001", "kernel/sched/idle.c", "default_idle_call", "idle_plain_between"),
    ("KN001", "kernel/shadow_user.c", "shadow_other_caller", "shadow_helper"),
    ("KN004", "kernel/unresolved.c", "unresolved_caller", "no_such_function_anywhere"),
    ("KN001", "kernel/unresolved.c", "asm_plain_caller", "asm_plain_helper"),
}

ADVISORY = {"KN101", "KN201"}

# protected functions that must have no finding (each is a shape kannot must get right)
CLEAN_CALLERS = [
    "exc_divide_error",            # DEFINE_IDTENTRY: the body runs inside the wrapper's region
    "irqentry_enter_from_user_mode",  # always-inline helper with its own region
    "default_idle_call",           # (only idle_plain_between, checked in test_regions)
    "region_panic",                # begin + noreturn panic()
    "macro_warn_on_clean",         # WARN_ON's own region
    "indirect_static_call",        # static_call()
    "indirect_ubsan",              # __ubsan_handle_*
    "indirect_in_region",          # indirect calls inside a region
    "asm_noinstr_caller",          # callee in .noinstr.text assembly
    "shadow_caller",               # static noinstr shadows a global plain function
    "debug_smp_processor_id",      # callee is `noinstr static` on its own line
    "check_preemption_disabled",
    "do_int3",                     # NOKPROBE calling NOKPROBE
    "sched_clock_demo",            # notrace calling notrace
]


def test_default_run_has_exactly_the_expected_findings(mini_default):
    assert summary(mini_default.findings) == {k for k in EXPECTED if k[0] not in ADVISORY}
    assert len(mini_default.findings) == len([k for k in EXPECTED if k[0] not in ADVISORY])


def test_select_all_has_exactly_the_expected_findings(mini_all):
    assert summary(mini_all.findings) == EXPECTED
    assert len(mini_all.findings) == len(EXPECTED)


def test_right_functions_have_no_findings(mini_all):
    callers = {f["caller"] for f in mini_all.findings}
    wrong = [c for c in CLEAN_CALLERS if c in callers and c != "default_idle_call"]
    assert wrong == []
    assert [f["callee"] for f in mini_all.findings if f["caller"] == "default_idle_call"] == ["idle_plain_between"]


def test_findings_are_sorted_by_position(mini_all):
    keys = [(f["file"], f["line"], f["column"]) for f in mini_all.findings]
    assert keys == sorted(keys)

