"""Issue 16: a finding is reported only when a configuration the arch's Kconfig accepts builds
the caller and makes the call; each cause of the false findings seen on 6.12 has a case in
tests/fixtures/buildtree, a tree with a Kconfig and Kbuild of its own."""
from __future__ import annotations

import pytest

from conftest import FIXTURES, by_caller, check

TREE = FIXTURES / "buildtree"


@pytest.fixture(scope="module")
def x86():
    return check(TREE, "--no-cache", "--arch", "x86")


@pytest.fixture(scope="module")
def arm64():
    return check(TREE, "--no-cache", "--arch", "arm64")


def calls(run, caller):
    return sorted((f["code"], f["callee"]) for f in by_caller(run.findings, caller))


def test_files_the_arch_never_builds(x86, arm64):
    """Cause 1: drivers/cpuidle/cpuidle-psci.c `depends on ARM || ARM64`; its callee lives in
    arch/arm64, which an x86 check does not read (it was a KN004)."""
    assert by_caller(x86.findings, "psci_enter") == []
    (f,) = by_caller(arm64.findings, "psci_enter")
    assert (f["code"], f["callee"], f["witness"]) == ("KN001", "psci_cpu_suspend_enter", ["CONFIG_ARM_PSCI_CPUIDLE=y"])


def test_compile_flags_and_defines_before_the_includes(x86, arm64):
    """Cause 2: `#define DISABLE_BRANCH_PROFILING` at the top of lockdep.c, arm64's
    subdir-ccflags -DDISABLE_BRANCH_PROFILING, the nVHE Makefile's -D__KVM_NVHE_HYPERVISOR__."""
    for run in (x86, arm64):
        assert by_caller(run.findings, "lockdep_check") == []
        (f,) = by_caller(run.findings, "branchy")  # the same code without the define
        assert f["callee"] == "ftrace_likely_update" and f["witness"] == ["CONFIG_PROFILE_ANNOTATED_BRANCHES=y"]
    assert by_caller(arm64.findings, "arm64_entry") == []
    assert by_caller(arm64.findings, "hyp_switch") == []


def test_macros_from_the_other_if_branch(x86, arm64):
    """Cause 3: the SMP raw_spin_lock_irqsave() does not expand into spinlock_api_up.h's
    two-argument _raw_spin_lock_irqsave() (a header only the #else includes); the UP one is
    real where SMP and DEBUG_SPINLOCK are off, which x86 allows and arm64 does not."""
    (f,) = by_caller(x86.findings, "spin_user")
    assert (f["callee"], f["conditions"]) == ("up_lock_work", ["!CONFIG_DEBUG_SPINLOCK && !CONFIG_SMP"])
    assert f["witness"] == ["CONFIG_SMP=n"]
    assert [l["function"] for l in f["chain"]] == ["spin_user", "raw_spin_lock_irqsave", "_raw_spin_lock_irqsave",
                                                   "__LOCK_IRQSAVE", "up_lock_work"]
    assert by_caller(arm64.findings, "spin_user") == []


def test_macros_that_are_not_config_symbols(x86, arm64):
    """Cause 4: x86's asm/bug.h defines __WARN_FLAGS (no __warn_printk() there); __CHECKER__ is
    never defined (no __context__); x86 overrides arch_exit_to_user_mode_prepare(), so the
    generic stub under #ifndef is dead there (and arm64, without an override, has it)."""
    assert calls(x86, "warn_user") == [("KN001", "ftrace_likely_update")]
    assert calls(arm64, "warn_user") == [("KN001", "__warn_printk"), ("KN001", "ftrace_likely_update")]
    for run in (x86, arm64):
        assert by_caller(run.findings, "checker_user") == []
    assert by_caller(x86.findings, "exit_user") == []
    assert calls(arm64, "exit_user") == [("KN002", "arch_exit_to_user_mode_prepare")]


def test_another_arch_s_headers(x86, arm64):
    """Cause 5: arch/x86/um (ARCH=um) is no x86 header; asm-generic/atomic.h is the fallback
    of arches without their own <asm/atomic.h>, never a candidate next to arm64's."""
    assert by_caller(x86.findings, "idle_poll") == []
    for run in (x86, arm64):
        assert by_caller(run.findings, "atomic_user") == []


def test_impossible_combinations(x86, arm64):
    """Cause 6: a 32-bit file cannot have XEN_PV or user context tracking (X86_64 only); x86
    always selects ARCH_WANTS_NO_INSTR (the sched_clock stub never applies) and never
    GENERIC_IRQ_MULTI_HANDLER; arm64 is always SMP."""
    (f,) = by_caller(x86.findings, "doublefault_shim")
    assert (f["callee"], f["witness"]) == ("x86_32_work", ["CONFIG_64BIT=n"])
    assert by_caller(x86.findings, "clock_user") == []
    assert by_caller(x86.findings, "generic_handle_arch_irq") == []
    assert calls(arm64, "generic_handle_arch_irq") == [("KN001", "irq_enter")]
    assert calls(x86, "smp_user") == [("KN001", "up_only_work")]
    assert by_caller(arm64.findings, "smp_user") == []


def test_objects_outside_the_kernel_image(x86):
    """Cause 7: the decompressor's own __tdx_hypercall_failed() (arch/x86/boot/compressed, built
    apart: its Makefile replaces KBUILD_CFLAGS) is no candidate for kernel code."""
    assert by_caller(x86.findings, "__tdx_hypercall") == []
    assert by_caller(x86.findings, "__tdx_hypercall_failed") == []


def test_every_finding_names_a_configuration(x86, arm64):
    for run in (x86, arm64):
        for f in run.findings:
            assert isinstance(f["witness"], list) and isinstance(f["group"], str) and f["group"]


def test_assumptions_are_facts(x86):
    """--assume CONFIG_X=n: a finding that needs X goes away, nothing else changes."""
    assumed = check(TREE, "--no-cache", "--arch", "x86", "--assume", "CONFIG_PROFILE_ANNOTATED_BRANCHES=n")
    gone = {(f["caller"], f["callee"]) for f in x86.findings} - {(f["caller"], f["callee"]) for f in assumed.findings}
    assert gone == {("branchy", "ftrace_likely_update"), ("warn_user", "ftrace_likely_update")}
    assert len(assumed.findings) == len(x86.findings) - 2


def test_assumptions_from_the_settings(tmp_path):
    import shutil

    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    (tree / ".kannot.toml").write_text('[assume]\nCONFIG_SMP = "y"\n')
    run = check(tree, "--no-cache", "--arch", "x86")
    assert by_caller(run.findings, "spin_user") == [] and by_caller(run.findings, "smp_user") == []
    (tree / ".kannot.toml").write_text('[assume]\nSMP = "y"\n')
    bad = check(tree, "--no-cache", "--arch", "x86")
    assert bad.rc == 2 and "expected CONFIG_NAME=y" in bad.err


def test_text_output_says_the_witness_and_the_shared_causes(tmp_path):
    run = check(TREE, "--no-cache", "--arch", "x86", fmt="text")
    assert "note: for example with CONFIG_PROFILE_ANNOTATED_BRANCHES=y" in run.out
    assert "findings sharing a root cause" in run.out
    assert "2  KN001 ftrace_likely_update (kernel/callees.c) when" in run.out


def test_a_function_past_the_expansion_budget_is_skipped_and_named(monkeypatch):
    """No input makes a run grow without bound: a function whose expansion makes more calls than
    the budget is skipped, said by name, and the others are checked."""
    import kannot.analysis.analyzer

    monkeypatch.setattr(kannot.analysis.analyzer, "MAX_LEAVES", 2)
    run = check(TREE, "--no-cache", "--arch", "x86")
    messages = [e["message"] for e in run.doc["errors"]]
    assert "skipped function 'warn_user': its expansion makes more than 2 calls" in messages
    assert by_caller(run.findings, "smp_user")  # one call: checked


def test_an_edit_to_a_makefile_or_kconfig_changes_the_stored_answer(tmp_path):
    """A warm run answers from the stored result only while the Kconfig files and Makefiles it
    was computed from are as they were: an edit to either is seen (and gives a --no-cache run's
    answer), an edit elsewhere is not needed for that."""
    import shutil

    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    cache = tmp_path / "cache"

    def both():
        warm = check(tree, "--cache-dir", cache, "--arch", "x86")
        cold = check(tree, "--no-cache", "--arch", "x86")
        assert warm.out == cold.out
        return warm

    assert by_caller(both().findings, "psci_enter") == []
    # the driver no longer depends on ARM: x86 builds it (with CPU_IDLE, default y)
    kconfig = tree / "drivers" / "Kconfig"
    kconfig.write_text(kconfig.read_text().replace("\tdepends on ARM || ARM64\n", ""))
    (f,) = by_caller(both().findings, "psci_enter")
    assert f["witness"] == ["CONFIG_ARM_PSCI_CPUIDLE=y"]
    # and its Makefile stops building it
    mk = tree / "drivers" / "cpuidle" / "Makefile"
    mk.write_text("obj-$(CONFIG_NO_SUCH_OPTION) += cpuidle-psci.o\n")
    assert by_caller(both().findings, "psci_enter") == []
