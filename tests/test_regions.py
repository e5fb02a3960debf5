"""instrumentation_begin()/instrumentation_end() regions, counted along paths the way objtool
counts them (docs/semantics.md 2.3 and the shapes of 4.2)."""
from __future__ import annotations

from conftest import MINI, by_caller, callees, check, copy_tree, line_after, line_of

REGIONS = "kernel/regions.c"
CT = "kernel/context_tracking.c"


def calls(findings, caller):
    return sorted((f["code"], f["callee"], f["line"]) for f in by_caller(findings, caller))


def test_simple_pair(mini_default):
    anchor = "noinstr void region_simple(void)"
    assert calls(mini_default.findings, "region_simple") == sorted([
        ("KN001", "plain_before", line_after(MINI, REGIONS, anchor, "plain_before();")),
        ("KN001", "plain_after", line_after(MINI, REGIONS, anchor, "plain_after();")),
    ])


def test_nested_regions(mini_default):
    # plain_check() runs after the inner end, still inside the outer region
    anchor = "noinstr void region_nested(int cond)"
    assert calls(mini_default.findings, "region_nested") == [
        ("KN001", "plain_after", line_after(MINI, REGIONS, anchor, "plain_after();")),
    ]


def test_begin_in_each_branch_then_one_end(mini_default):
    """ct_nmi_enter: a begin in each of three branches, one end after the if/else."""
    anchor = "void noinstr ct_nmi_enter(void)"
    assert calls(mini_default.findings, "ct_nmi_enter") == [
        ("KN001", "plain_before", line_after(MINI, CT, anchor, "plain_before();")),
    ]


def test_early_end_and_return(mini_default):
    """ct_nmi_exit: `instrumentation_end(); return;` in a branch, another end later."""
    anchor = "void noinstr ct_nmi_exit(void)"
    assert calls(mini_default.findings, "ct_nmi_exit") == [
        ("KN001", "plain_after", line_after(MINI, CT, anchor, "plain_after();")),
    ]


def test_ct_shapes_are_really_analysed():
    """The calls that are *not* reported in ct_nmi_enter are seen, inside a region."""
    run = callees(MINI, "ct_nmi_enter")
    assert run.rc == 0
    seen = {c["callee"]: c["in_region"] for c in run.doc["callees"]}
    assert seen["plain_in_region"] is True
    assert seen["rcu_irq_enter_check_tick"] is True
    assert seen["trace_rcu_watching"] is True
    assert seen["plain_before"] is False


def test_goto_to_label_before_end(mini_default):
    """check_preemption_disabled: `goto out_enable` jumps to a label just before the end."""
    anchor = "unsigned int region_goto("
    assert calls(mini_default.findings, "region_goto") == [
        ("KN001", "plain_after", line_after(MINI, REGIONS, anchor, "plain_after();")),
    ]


def test_begin_then_noreturn_panic(mini_default):
    """__tdx_hypercall_failed: begin, then panic() (declared __noreturn): no KN005, no KN001."""
    assert by_caller(mini_default.findings, "region_panic") == []


def test_noreturn_really_ends_the_path(tmp_path):
    """Without __noreturn on panic()'s prototype the same function leaves its region open."""
    root = copy_tree(MINI, tmp_path)
    kh = root / "include/linux/kernel.h"
    kh.write_text(kh.read_text().replace("void panic(const char *fmt, ...) __noreturn __cold;",
                                         "void panic(const char *fmt, ...);"))
    run = check(root, REGIONS)
    assert [f["code"] for f in by_caller(run.findings, "region_panic")] == ["KN005"]


def test_end_without_begin(mini_default):
    (f,) = by_caller(mini_default.findings, "region_end_without_begin")
    assert f["code"] == "KN005"
    assert f["callee"] is None
    assert f["line"] == line_after(MINI, REGIONS, "noinstr void region_end_without_begin(void)", "instrumentation_end();")


def test_region_left_open_at_function_end(mini_default):
    (f,) = by_caller(mini_default.findings, "region_left_open")
    assert f["code"] == "KN005"
    assert f["callee"] is None
    # reported at the closing brace of the function
    assert f["line"] == line_after(MINI, REGIONS, "noinstr void region_left_open(void)", "}")


def test_return_inside_region(mini_default):
    (f,) = by_caller(mini_default.findings, "region_return_inside")
    assert f["code"] == "KN006"
    assert f["callee"] is None
    assert f["line"] == line_after(MINI, REGIONS, "noinstr int region_return_inside(int x)", "return 1;")
    assert f["column"] == 3


def test_helper_ends_and_reopens_callers_region(mini_default):
    """default_idle_call (__cpuidle): begin, ct_cpuidle_enter() ends the region, arch_cpu_idle(),
    ct_cpuidle_exit() reopens it, end. Only the call between the two helpers is outside."""
    found = by_caller(mini_default.findings, "default_idle_call")
    assert [(f["code"], f["callee"]) for f in found] == [("KN001", "idle_plain_between")]
    assert found[0]["line"] == line_of(MINI, "kernel/sched/idle.c", "\t\tidle_plain_between();")
    run = callees(MINI, "default_idle_call")
    seen = {c["callee"]: c["in_region"] for c in run.doc["callees"]}
    # before the helper's end: in the region; after the helper's begin: in the region again
    assert seen["trace_hardirqs_on_prepare"] is True
    assert seen["start_critical_timings"] is True
    assert seen["idle_plain_between"] is False


def test_helper_end_without_callers_begin_reports_the_calls_not_the_end(tmp_path):
    # ct_cpuidle_enter() closes a region its caller opened: called where no region is open, the
    # end itself is the kernel's idle idiom (cpuidle drivers' enter callbacks), not KN005; the
    # helper's calls before its end are outside any region and are what objtool would report.
    root = copy_tree(MINI, tmp_path)
    (root / "kernel/idle_bad.c").write_text(
        "#include <linux/kernel.h>\n#include <linux/cpuidle.h>\n\n"
        "noinstr void idle_no_begin(void)\n{\n\tct_cpuidle_enter();\n}\n"
    )
    run = check(root, "kernel/idle_bad.c")
    assert by_caller(run.findings, "idle_no_begin", "KN005") == []
    assert {f["callee"] for f in by_caller(run.findings, "idle_no_begin", "KN001")} == {
        "trace_hardirqs_on_prepare", "lockdep_hardirqs_on_prepare"}


def test_loops_switch_and_conditional_expressions(tmp_path):
    root = copy_tree(MINI, tmp_path)
    src = """#include <linux/kernel.h>

noinstr void loop_continue(int n)
{
	while (n--) {
		instrumentation_begin();
		if (n == 3) {
			instrumentation_end();
			continue;
		}
		plain_in_region();
		instrumentation_end();
	}
	plain_after();
}

noinstr void loop_do_while(int n)
{
	do {
		instrumentation_begin();
		plain_in_region();
		instrumentation_end();
	} while (n--);
}

noinstr void loop_unbalanced(int n)
{
	while (n--) {
		instrumentation_begin();
		plain_in_region();
	}
}

noinstr void switch_fallthrough(int n)
{
	switch (n) {
	case 0:
		instrumentation_begin();
		plain_in_region();
		/* fallthrough */
	case 1:
		plain_check();
		instrumentation_end();
		break;
	}
}

noinstr int cond_expr(int n)
{
	return n ? plain_check() : 0;
}
"""
    (root / "kernel/flow.c").write_text(src)
    run = check(root, "kernel/flow.c")
    got = sorted((f["caller"], f["code"], f["callee"]) for f in run.findings)
    assert got == [
        ("cond_expr", "KN001", "plain_check"),
        ("loop_continue", "KN001", "plain_after"),
        ("loop_unbalanced", "KN005", None),
        # case 1 is reached directly with no region: both its call and its end are wrong
        ("switch_fallthrough", "KN001", "plain_check"),
        ("switch_fallthrough", "KN005", None),
    ]


def test_no_spurious_region_findings_in_mini(mini_default):
    """KN005/KN006 appear only where the fixtures put them."""
    got = sorted((f["code"], f["caller"]) for f in mini_default.findings if f["code"] in ("KN005", "KN006"))
    assert got == [
        ("KN005", "region_end_without_begin"),
        ("KN005", "region_left_open"),
        ("KN006", "region_return_inside"),
    ]
