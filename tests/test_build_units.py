"""kannot.build's parts on small inputs: Kconfig's semantics, Kbuild's reading, #if conditions."""
from __future__ import annotations

from pathlib import Path

import pytest

from kannot.build import cppcond, kbuild, kconfig
from kannot.build import logic as L
from kannot.build.model import BuildModel


def model(tmp_path: Path, text: str, arch: str = "x86", fixed: dict | None = None) -> BuildModel:
    (tmp_path / "Kconfig").write_text(text)
    tree = kconfig.read_tree(tmp_path, arch)
    return BuildModel(tmp_path, arch, tree, kbuild.KbuildModel(arch), fixed)


def possible(m: BuildModel, text: str) -> bool:
    return m.satisfiable(m.cond(text))


# Kconfig -------------------------------------------------------------------------------------------

def test_select_forces_a_symbol_past_its_dependencies(tmp_path):
    m = model(tmp_path, """
config A
	bool "a"
	select B
config B
	bool "b"
	depends on C
config C
	bool "c"
""")
    assert possible(m, "defined(CONFIG_A) && defined(CONFIG_B) && !defined(CONFIG_C)")  # kconfig warns, allows
    assert not possible(m, "defined(CONFIG_A) && !defined(CONFIG_B)")
    assert not possible(m, "defined(CONFIG_B) && !defined(CONFIG_C) && !defined(CONFIG_A)")


def test_a_symbol_without_prompt_is_decided_by_the_others(tmp_path):
    m = model(tmp_path, """
config X
	def_bool y
	depends on D
config D
	bool "d"
config HIDDEN
	bool
	default y if D
config NEVER
	bool
""")
    assert m.decide(m.cond("defined(CONFIG_X)")) is None
    assert not possible(m, "defined(CONFIG_D) && !defined(CONFIG_X)")
    assert not possible(m, "!defined(CONFIG_D) && defined(CONFIG_HIDDEN)")
    assert m.decide(m.cond("defined(CONFIG_NEVER)")) is False
    assert m.decide(m.cond("defined(CONFIG_UNDEFINED_ELSEWHERE)")) is False  # another arch's symbol


def test_choice_picks_exactly_one_member(tmp_path):
    m = model(tmp_path, """
choice
	prompt "pick"
config ONE
	bool "one"
config TWO
	bool "two"
endchoice
""")
    assert not possible(m, "defined(CONFIG_ONE) && defined(CONFIG_TWO)")
    assert not possible(m, "!defined(CONFIG_ONE) && !defined(CONFIG_TWO)")
    assert possible(m, "defined(CONFIG_TWO)")


def test_tristate_m_needs_modules_and_bool_under_m_is_y(tmp_path):
    m = model(tmp_path, """
config MODULES
	bool "modules"
	modules
config T
	tristate "t"
config B
	bool "b"
	depends on T
""")
    assert possible(m, "IS_MODULE(CONFIG_T) && defined(CONFIG_B)")  # a bool under an m dependency is y
    assert not possible(m, "IS_MODULE(CONFIG_T) && !defined(CONFIG_MODULES)")
    assert not possible(m, "defined(CONFIG_T) && defined(CONFIG_T_MODULE)")


def test_menu_and_if_dependencies_reach_every_entry(tmp_path):
    m = model(tmp_path, """
config GATE
	bool "gate"
menu "m"
	depends on GATE
config IN_MENU
	bool "in menu"
endmenu
if GATE
config IN_IF
	bool "in if"
endif
""")
    for sym in ("IN_MENU", "IN_IF"):
        assert not possible(m, f"defined(CONFIG_{sym}) && !defined(CONFIG_GATE)")


def test_shell_macros_are_unknown_never_run(tmp_path):
    m = model(tmp_path, """
config CC_HAS_X
	def_bool $(shell,touch {marker} && echo y)
config USES_X
	bool "uses"
	depends on CC_HAS_X
""".format(marker=tmp_path / "ran"))
    assert possible(m, "defined(CONFIG_USES_X)") and possible(m, "!defined(CONFIG_CC_HAS_X)")
    assert not (tmp_path / "ran").exists()


def test_source_follows_srcarch(tmp_path):
    (tmp_path / "arch" / "arm64").mkdir(parents=True)
    (tmp_path / "arch" / "arm64" / "Kconfig").write_text("config ARM64\n\tdef_bool y\n")
    m = model(tmp_path, 'source "arch/$(SRCARCH)/Kconfig"\n', arch="arm64")
    assert m.decide(m.cond("defined(CONFIG_ARM64)")) is True


def test_witness_names_what_selects_a_prompt_less_symbol(tmp_path):
    m = model(tmp_path, """
config TRACE_BRANCH_PROFILING
	bool
choice
	prompt "Branch Profiling"
config BRANCH_PROFILE_NONE
	bool "none"
config PROFILE_ANNOTATED_BRANCHES
	bool "annotated"
	select TRACE_BRANCH_PROFILING
endchoice
""")
    w = m.witness(m.cond("defined(CONFIG_TRACE_BRANCH_PROFILING)"))
    assert w is not None and w.lines() == ["CONFIG_PROFILE_ANNOTATED_BRANCHES=y"]
    assert m.witness(m.cond("defined(CONFIG_TRACE_BRANCH_PROFILING) && defined(CONFIG_BRANCH_PROFILE_NONE)")) is None


def test_assumptions_are_facts(tmp_path):
    m = model(tmp_path, "config A\n\tbool \"a\"\nconfig B\n\tbool \"b\"\n", fixed={"A": "n"})
    assert not possible(m, "defined(CONFIG_A)") and possible(m, "defined(CONFIG_B)")


# Kbuild --------------------------------------------------------------------------------------------

def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_kbuild_conditions_composites_flags_and_apart(tmp_path):
    write(tmp_path, {
        "Kbuild": "obj-y += kernel/ drivers/\n",
        "arch/x86/Makefile": "ifeq ($(CONFIG_X86_32),y)\nBITS := 32\nelse\nBITS := 64\nendif\n",
        "kernel/Makefile": ("obj-y += always.o head_$(BITS).o\nobj-$(CONFIG_FOO) += foo.o\n"
                            "ifdef CONFIG_BAR\nobj-y += bar.o\nendif\ncomp-y := part1.o\ncomp-$(CONFIG_P2) += part2.o\n"
                            "obj-$(CONFIG_COMP) += comp.o\nccflags-y += -DKERNEL_FLAG\nCFLAGS_foo.o += -DFOO_ONLY -UOTHER\n"
                            "subdir-ccflags-$(CONFIG_TRACE) += -DNO_TRACE\nobj-y += sub/\n"),
        "kernel/sub/Makefile": "obj-y += deep.o\n",
        "drivers/Makefile": "obj-$(CONFIG_DRV) += boot/\n",
        "drivers/boot/Makefile": "KBUILD_CFLAGS := -m16\nobj-y += apart.o\n",
        **{f"kernel/{n}.c": "" for n in ("always", "head_32", "head_64", "foo", "bar", "part1", "part2", "unnamed")},
        "kernel/sub/deep.c": "", "drivers/boot/apart.c": "",
    })
    (tmp_path / "Kconfig").write_text("config MODULES\n\tbool \"m\"\n\tmodules\n" + "".join(
        f"config {n}\n\t{t} \"{n}\"\n" for n, t in (("X86_32", "bool"), ("FOO", "tristate"), ("BAR", "tristate"),
                                                   ("P2", "bool"), ("COMP", "tristate"), ("DRV", "bool"), ("TRACE", "bool"))))
    m = kbuild.read_model(tmp_path, "x86")
    bm = BuildModel(tmp_path, "x86", kconfig.read_tree(tmp_path, "x86"), m)

    def text(rel: str) -> str:
        return L.to_text(L.simplify(L.substitute(bm.presence(rel), lambda a: None)))

    assert text("kernel/always.c") == "1"
    assert text("kernel/head_32.c") == "CONFIG_X86_32" and text("kernel/head_64.c") == "!CONFIG_X86_32"
    assert text("kernel/foo.c") == "CONFIG_FOO || CONFIG_FOO=m"
    assert text("kernel/bar.c") == "CONFIG_BAR || CONFIG_BAR=m"
    assert text("kernel/part2.c") == "CONFIG_P2 && (CONFIG_COMP || CONFIG_COMP=m)"
    assert text("kernel/unnamed.c") == "0" and not bm.named("kernel/unnamed.c")
    assert text("drivers/boot/apart.c") == "0" and m.apart == ["drivers/boot"]
    flags = {(f.kind, f.name) for f in m.flags_of("kernel/foo.c")}
    assert {("D", "KERNEL_FLAG"), ("D", "FOO_ONLY"), ("U", "OTHER"), ("D", "NO_TRACE")} <= flags
    assert ("D", "FOO_ONLY") not in {(f.kind, f.name) for f in m.flags_of("kernel/always.c")}
    assert ("D", "NO_TRACE") in {(f.kind, f.name) for f in m.flags_of("kernel/sub/deep.c")}
    assert L.to_text(bm.flag("kernel/sub/deep.c", "NO_TRACE")) == "CONFIG_TRACE"


# #if conditions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, arch, want", [
    ("defined(CONFIG_A) && !IS_ENABLED(CONFIG_B)", "x86", "!CONFIG_B && CONFIG_A && CONFIG_B!=m"),
    ("IS_MODULE(CONFIG_A)", "x86", "CONFIG_A=m"),
    ("defined(__x86_64__)", "x86", "CONFIG_64BIT"),
    ("defined(__x86_64__)", "arm64", "0"),
    ("defined(__aarch64__) && !defined(__AARCH64EB__)", "arm64", "!CONFIG_CPU_BIG_ENDIAN"),
    ("BITS_PER_LONG == 64", "x86", "CONFIG_64BIT"),
    ("defined(__KERNEL__) && !defined(__ASSEMBLY__) && !defined(__CHECKER__)", "x86", "1"),
    ("CONFIG_NR_CPUS > 4", "x86", "CONFIG_NR_CPUS > 4"),
    ("(1 << 3) == 8 && 2 * 3 > 5", "x86", "1"),
    ("defined(ARCH_HAS_FOO) || MODULE_FLAG", "x86", "MODULE_FLAG || defined(ARCH_HAS_FOO)"),
    ("__import__('os')", "x86", "__import__('os')"),  # unreadable: unknown, never evaluated
])
def test_if_conditions(text, arch, want):
    got = L.to_text(L.simplify(cppcond.parse(text, arch)))
    assert got == want


def test_logic_simplifies_and_decides():
    a, b = L.atom("y:A"), L.atom("y:B")
    assert (a & ~a) is L.FALSE and (a | ~a) is L.TRUE
    assert L.simplify((a & b) | (a & ~b)) is a
    assert L.evaluate(a & b, {"y:A": True}.get) is None and L.evaluate(a | b, {"y:A": True}.get) is True
    assert (a & b).key() == (b & a).key()


def test_witness_of_a_prompt_less_symbol_at_n_names_what_turns_it_off(tmp_path):
    """X86_64 is n where 64BIT is: the witness says 64BIT=n, not nothing."""
    m = model(tmp_path, """
config 64BIT
	bool "64-bit kernel"
	default y
config X86_64
	def_bool y
	depends on 64BIT
""")
    w = m.witness(m.cond("!defined(CONFIG_X86_64)"))
    assert w is not None and w.lines() == ["CONFIG_64BIT=n"]
