"""Issue 17: see every call the compiler emits. Each shape kannot missed or mis-resolved on 6.12
has a case in tests/fixtures/calltree (a tree with its own Kconfig and Kbuild), copied from
the kernel's own code: a stub hiding the real function, calls written in inline asm,
definitions made by token pasting, a parse error swallowing a header, constant arguments, and
static helpers gcc inlines."""
from __future__ import annotations

import pytest

from conftest import FIXTURES, by_caller, callees, check

TREE = FIXTURES / "calltree"


@pytest.fixture(scope="module")
def run():
    return check(TREE, "--no-cache", "--arch", "x86")


def calls(run, caller):
    return sorted((f["code"], f["callee"]) for f in by_caller(run.findings, caller))


def test_a_header_stub_never_vouches_for_the_real_function(run):
    """pr_info() in noinstr code: printk.h's `static inline _printk` stub (!CONFIG_PRINTK) is
    one candidate, kernel/printk/printk.c's real one the other; the real one decides."""
    (f,) = by_caller(run.findings, "exc_log")
    assert (f["code"], f["callee"]) == ("KN001", "_printk")
    assert {(c["file"], c["class"]) for c in f["candidates"]} == {
        ("include/linux/printk.h", "inline"), ("kernel/printk/printk.c", "none")}
    assert f["conditions"] == ["CONFIG_PRINTK"]


def test_get_user_calls_its_helper_from_inline_asm(run):
    """`"call __" #fn "_%c[size]"`: one call whose candidates are __get_user_{1,2,4,8} of
    getuser.S (.text); the __get_user() inside instrumentation_begin/end is fine."""
    (f,) = by_caller(run.findings, "exc_user_read")
    assert (f["code"], f["callee"]) == ("KN001", "__get_user_{1,2,4,8}")
    assert "from inline asm" in f["message"]
    assert [c["function"] for c in f["candidates"]] == ["__get_user_1", "__get_user_2", "__get_user_4", "__get_user_8"]
    got = callees(TREE, "exc_user_read", "--arch", "x86", "--no-cache").doc["callees"]
    inside = [c for c in got if c["in_region"]]
    assert [c["callee"] for c in inside] == ["__get_user_nocheck_4"]
    assert inside[0]["verdict"] == "inline asm call: instrumentable (in instrumentation region)"


def test_alternative_call_names_both_targets(run):
    assert calls(run, "exc_alt") == [("KN001", "new_fn"), ("KN001", "old_fn")]


def test_a_literal_call_in_an_alternative(run):
    """hweight32(): ALTERNATIVE("call __sw_hweight32", "popcntl ...") in an always-inline helper."""
    assert calls(run, "exc_weight") == [("KN001", "__sw_hweight32")]


def test_static_call_in_asm_and_asm_thunk(run):
    """__preempt_schedule_notrace(): `"call " STATIC_CALL_TRAMP_STR(...)` is a static call
    (objtool accepts it); the !PREEMPT_DYNAMIC thunk is judged by its .S section."""
    assert by_caller(run.findings, "exc_preempt") == []
    got = callees(TREE, "exc_preempt", "--arch", "x86", "--no-cache").doc["callees"]
    verdicts = sorted((c["kind"], c["verdict"]) for c in got)
    assert verdicts == [("call", "inline asm call: safe: noinstr"),
                        ("static_call", "inline asm call: safe: static_call/ubsan (accepted by objtool)")]
    assert any("preempt_schedule_notrace" in c["text"] for c in got if c["kind"] == "static_call")


def test_definitions_made_by_pasting_one_letter(run):
    """BUILDIO(b, b, u8) defines __inb: a plain inline (KN002), not "no definition" (KN004)."""
    assert calls(run, "exc_io") == [("KN002", "__inb")]


def test_invocations_without_a_semicolon(run):
    """DEFINE_GHCB_ACCESSORS(sw_exit_code) on lines of their own: the accessor is found and
    expanded (always inline), so the call inside it is seen."""
    assert calls(run, "exc_ghcb") == [("KN001", "ghcb_mark_valid")]


def test_definitions_after_a_damaged_region_are_recovered(run):
    """ESTACKS_MEMBERS(...) without ';' turns the rest of cpu_entry_area.h into one ERROR node:
    cpu_entry_stack() after it is still read, and get_cpu_entry_area() seen through it."""
    (f,) = by_caller(run.findings, "in_entry_stack")
    assert (f["callee"], [l["function"] for l in f["chain"]]) == (
        "get_cpu_entry_area", ["in_entry_stack", "cpu_entry_stack", "get_cpu_entry_area"])
    assert any(e["file"] == "arch/x86/include/asm/cpu_entry_area.h" for e in run.errors)


def test_static_helper_lists_what_the_build_calls(run):
    """exc_int3 -> static do_int3(): the finding is on do_int3 and its note names the calls
    objtool would report once gcc inlines it; `kannot callees` lists them too."""
    (f,) = by_caller(run.findings, "exc_int3")
    assert (f["code"], f["callee"]) == ("KN001", "do_int3")
    assert any("kprobe_int3_handler(), notify_die()" in n and "gcc may inline 'do_int3'" in n for n in f["notes"])
    text = check(TREE, "--no-cache", "--arch", "x86", "arch/x86/kernel/traps.c", fmt="text").out
    assert "note: gcc may inline 'do_int3' into 'exc_int3'" in text
    got = callees(TREE, "exc_int3", "--arch", "x86", "--no-cache").doc["callees"]
    inner = {c["callee"]: c["inlined_from"] for c in got if "inlined_from" in c}
    assert inner == {"kprobe_int3_handler": ["do_int3"], "notify_die": ["do_int3"]}


def test_constant_arguments_bind_into_always_inline_helpers(run):
    """__pvclock_clocksource_read(src, false): `if (dowd && ...)` is dead there, as gcc makes
    it once inlined, so neither its condition's call nor its body's is made; with `true` both are."""
    assert by_caller(run.findings, "pvclock_clocksource_read_nowd") == []
    assert calls(run, "pvclock_clocksource_read_wd") == [("KN001", "pvclock_touch_watchdogs"), ("KN001", "unlikely_flag")]


def test_a_callback_bound_to_a_known_function_is_a_direct_call(run):
    """__inline_bsearch(..., patch_cmp): `cmp(key, pivot)` calls the always-inline patch_cmp,
    not an unknown pointer (it was a KN003 on poke_int3_handler)."""
    assert by_caller(run.findings, "poke_lookup") == []
    got = callees(TREE, "poke_lookup", "--arch", "x86", "--no-cache").doc["callees"]
    assert [c["kind"] for c in got] == []


def test_a_helper_returning_a_constant_decides_the_branch(run):
    """`if (microcode_nmi_handler_enabled()) microcode_offline_nmi_handler();` where the helper
    is `{ return false; }` without MICROCODE_LATE_LOADING: the call is made only with it (was a
    KN004 "none of its definitions is built" under a .config without it)."""
    (f,) = by_caller(run.findings, "exc_nmi_offline")
    assert (f["code"], f["callee"], f["conditions"]) == ("KN001", "microcode_offline_nmi_handler",
                                                         ["CONFIG_MICROCODE_LATE_LOADING"])
    off = check(TREE, "--no-cache", "--config", TREE / "late-off.config", "arch/x86/kernel/nmi.c")
    assert off.findings == []
