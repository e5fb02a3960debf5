"""Advisory families: NOKPROBE (KN101) and notrace (KN201) are off unless selected (docs/semantics.md 3)."""
from __future__ import annotations

import pytest

from conftest import MINI, by_caller, check, line_after


def advisory(findings):
    return sorted((f["code"], f["caller"], f["callee"]) for f in findings if f["code"] in ("KN101", "KN201"))


def test_advisory_rules_are_off_by_default(mini_default):
    assert advisory(mini_default.findings) == []


@pytest.mark.parametrize("select", ["KN101", "nokprobe", "KN1", "kn101"])
def test_select_nokprobe(select):
    run = check(MINI, "--select", select)
    assert run.rc == 1
    assert advisory(run.findings) == [
        ("KN101", "kprobe_handler_demo", "plain_before"),
        ("KN101", "notify_die", "notifier_call_chain"),
    ]


@pytest.mark.parametrize("select", ["KN201", "notrace", "KN2"])
def test_select_notrace(select):
    run = check(MINI, "--select", select)
    assert advisory(run.findings) == [
        ("KN201", "kprobe_handler_demo", "plain_before"),  # __kprobes implies notrace (6.12)
        ("KN201", "trace_clock_demo", "plain_after"),
    ]


def test_select_all_has_both_and_noinstr_unchanged(mini_default, mini_all):
    assert {f["code"] for f in mini_all.findings} >= {"KN101", "KN201"}
    noinstr = [f for f in mini_all.findings if f["code"] not in ("KN101", "KN201")]
    assert noinstr == mini_default.findings


def test_nokprobe_symbol_after_the_function(mini_all):
    (f,) = by_caller(mini_all.findings, "notify_die")
    assert f["code"] == "KN101"
    assert f["rule"] == "nokprobe"
    assert f["severity"] == "warning"
    assert f["line"] == line_after(MINI, "kernel/probes.c", "int notify_die(", "notifier_call_chain(")


def test_nokprobe_caller_of_nokprobe_callee_is_fine(mini_all):
    # do_int3 is NOKPROBE_SYMBOL and calls notify_die, which is NOKPROBE too
    assert by_caller(mini_all.findings, "do_int3") == []


def test_notrace_caller_of_notrace_callee_is_fine(mini_all):
    assert by_caller(mini_all.findings, "sched_clock_demo") == []
    assert by_caller(mini_all.findings, "native_sched_clock") == []


def test_notrace_rule_family_and_severity(mini_all):
    (f,) = by_caller(mini_all.findings, "trace_clock_demo")
    assert (f["code"], f["rule"], f["severity"]) == ("KN201", "notrace", "warning")


def test_ignore_removes_a_default_rule():
    run = check(MINI, "--ignore", "KN001,KN002")
    assert run.rc == 1
    assert {f["code"] for f in run.findings} == {"KN003", "KN004", "KN005", "KN006"}


def test_config_select(tmp_path):
    from conftest import copy_tree

    root = copy_tree(MINI, tmp_path)
    (root / ".kannot.toml").write_text('[check]\nselect = ["nokprobe"]\nignore = ["KN004"]\n')
    run = check(root)
    codes = {f["code"] for f in run.findings}
    assert "KN101" in codes and "KN201" not in codes and "KN004" not in codes
