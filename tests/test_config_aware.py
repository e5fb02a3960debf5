"""--config DOTCONFIG: dead #if branches disappear; without it, findings say which configs need them."""
import json
from pathlib import Path

from kannot.cli.main import main

TREE = Path(__file__).resolve().parent / "fixtures" / "configtree"


def run(capsys, *extra):
    rc = main(["check", "--root", str(TREE), "--no-cache", "-j", "1", "--format", "json", *extra])
    doc = json.loads(capsys.readouterr().out)
    return rc, {(f["caller"], f["callee"]): f["conditions"] for f in doc["findings"] if f["code"] == "KN001"}


def test_without_config_every_branch_with_its_condition(capsys):
    rc, got = run(capsys, "--arch", "x86")
    assert rc == 1
    assert got[("nested_elif", "plain_work")] == ["CONFIG_KMSAN"]
    # KMSAN depends on !KASAN: Kconfig says the first branch is out when KASAN is on
    assert got[("nested_elif", "debug_work")] == ["CONFIG_KASAN && CONFIG_NR_CPUS > 4"]
    assert got[("nested_elif", "other_work")] == ["!(CONFIG_KASAN && CONFIG_NR_CPUS > 4) && !CONFIG_KMSAN"]
    # a macro no file and no Makefile defines is not defined: the branch is dead
    assert ("unknown_condition", "plain_work") not in got
    # begin and end under the same #ifdef stay paired: no KN005, and the call is unprotected only without it
    assert got[("region_in_ifdef", "debug_work")] == ["!CONFIG_DEBUG_REGION"]
    assert got[("branchy", "ftrace_likely_update")] == ["CONFIG_TRACE_BRANCH_PROFILING"]
    assert got[("uses_lockdep", "lockdep_off_real")] == ["CONFIG_LOCKDEP"]
    # files their Makefiles build only with an option
    assert got[("feature_x_entry", "plain_work")] == ["CONFIG_FEATURE_X"]
    assert got[("foo_entry", "plain_work")] == ["CONFIG_FOO || CONFIG_FOO=m"]


def test_every_finding_has_a_witness_that_kconfig_accepts(capsys):
    main(["check", "--root", str(TREE), "--no-cache", "-j", "1", "--format", "json", "--arch", "x86"])
    doc = json.loads(capsys.readouterr().out)
    witness = {(f["caller"], f["callee"]): f["witness"] for f in doc["findings"]}
    # LOCKDEP has no prompt: the witness names what selects it
    assert witness[("uses_lockdep", "lockdep_off_real")] in (["CONFIG_DEBUG_LOCKDEP=y"], ["CONFIG_PROVE_LOCKING=y"])
    assert witness[("nested_elif", "debug_work")] == ["CONFIG_KASAN=y", "CONFIG_NR_CPUS=5"]
    assert witness[("feature_x_entry", "plain_work")] == ["CONFIG_FEATURE_X=y"]


def test_without_config_correlated_regions_are_balanced(capsys):
    main(["check", "--root", str(TREE), "--no-cache", "-j", "1", "--format", "json", "--arch", "x86"])
    doc = json.loads(capsys.readouterr().out)
    assert not [f for f in doc["findings"] if f["code"] in ("KN005", "KN006")]


def test_kasan_config_keeps_only_its_branches(capsys):
    _, got = run(capsys, "--config", str(TREE / "x86-kasan.config"))
    # KMSAN off, KASAN on with 64 CPUs: the #elif branch; DEBUG_REGION on: the call is in a region;
    # no branch profiling; LOCKDEP: lockdep_off() calls out; PROVE_LOCKING: the noinstr
    # lockdep_hardirqs_off; FOO and FEATURE_X off: their files are not built
    assert set(got) == {("nested_elif", "debug_work"), ("uses_lockdep", "lockdep_off_real")}


def test_plain_config(capsys):
    _, got = run(capsys, "--config", str(TREE / "plain.config"))
    assert set(got) == {("nested_elif", "other_work"), ("region_in_ifdef", "debug_work"),
                        ("branchy", "ftrace_likely_update"), ("uses_lockdep", "lockdep_off_real")}
    assert got[("branchy", "ftrace_likely_update")] == []  # true in this config: nothing to say


def test_assume_removes_what_needs_another_value(capsys):
    _, every = run(capsys, "--arch", "x86")
    _, assumed = run(capsys, "--arch", "x86", "--assume", "CONFIG_TRACE_BRANCH_PROFILING=n")
    assert ("branchy", "ftrace_likely_update") in every
    assert set(assumed) == set(every) - {("branchy", "ftrace_likely_update")}
    assert main(["check", "--root", str(TREE), "--no-cache", "--assume", "TRACE=n"]) == 2
    assert "CONFIG_NAME=y" in capsys.readouterr().err


def test_missing_config_is_a_usage_error(capsys):
    assert main(["check", "--root", str(TREE), "--no-cache", "--config", str(TREE / "nope.config")]) == 2
    assert "kernel .config" in capsys.readouterr().err


def test_kconfig_evaluator():
    from kannot.build.dotconfig import KernelConfig

    c = KernelConfig(None, {"CONFIG_A": "y", "CONFIG_M": "m", "CONFIG_N": "32"})
    assert c.evaluate("defined(CONFIG_A) && !defined(CONFIG_B)") is True
    assert c.evaluate("defined(CONFIG_M)") is False and c.evaluate("defined(CONFIG_M_MODULE)") is True
    assert c.evaluate("IS_ENABLED(CONFIG_M) && IS_MODULE(CONFIG_M) && !IS_BUILTIN(CONFIG_M)") is True
    assert c.evaluate("CONFIG_N >= 16 && CONFIG_N < 64") is True
    assert c.evaluate("defined(__ASSEMBLY__)") is None
    assert c.evaluate("defined(CONFIG_B) && defined(__ASSEMBLY__)") is False
    assert c.evaluate("defined(X) || CONFIG_A") is True
    assert c.evaluate("__import__('os')") is None  # never evaluated as Python


def test_only_built_skips_what_the_makefiles_exclude(capsys):
    _, built = run(capsys, "--config", str(TREE / "plain.config"), "--only-built")
    _, every = run(capsys, "--config", str(TREE / "plain.config"))
    # obj-$(CONFIG_FEATURE_X) and drivers/foo/ under obj-$(CONFIG_FOO): neither is set, and
    # without --only-built they are not checked either (their files do not exist in the config)
    assert built == every
    assert ("feature_x_entry", "plain_work") not in built and ("foo_entry", "plain_work") not in built
    assert ("nested_elif", "other_work") in built  # obj-y: always built
