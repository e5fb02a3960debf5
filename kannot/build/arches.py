"""Which arch a check is for, by the kernel's own conventions."""
from __future__ import annotations

import os
import platform
import re
from pathlib import Path

from kannot.build.dotconfig import KernelConfig, config_arch

# `uname -m` -> the arch folder, as the top Makefile's SUBARCH mapping does
_UNAME = [
    (r"i.86|x86_64|amd64", "x86"),
    (r"aarch64.*|arm64", "arm64"),
    (r"arm.*|sa110", "arm"),
    (r"s390x?", "s390"),
    (r"parisc64|parisc", "parisc"),
    (r"ppc.*|powerpc.*", "powerpc"),
    (r"mips.*", "mips"),
    (r"sh[234].*|sh", "sh"),
    (r"riscv.*", "riscv"),
    (r"loongarch.*", "loongarch"),
    (r"sparc.*", "sparc"),
    (r"m68k", "m68k"),
]

# the symbol a .config of each arch sets (checked in order: UML also sets X86 on x86 hosts)


def uname_arch(machine: str | None = None) -> str:
    m = machine if machine is not None else platform.machine()
    for pattern, arch in _UNAME:
        if re.fullmatch(pattern, m):
            return arch
    return m


def tree_arches(root: Path) -> list[str]:
    """The arches the tree has (folders of arch/ with a Kconfig)."""
    try:
        names = os.listdir(root / "arch")
    except OSError:
        return []
    return sorted(n for n in names if (root / "arch" / n / "Kconfig").is_file())


def paths_arch(paths: list[str] | None) -> str | None:
    """NAME when every path is under arch/NAME."""
    names: set[str | None] = set()
    for p in paths or ():
        parts = p.strip("/").split("/")
        names.add(parts[1] if parts[0] == "arch" and len(parts) > 1 else None)
    return names.pop() if len(names) == 1 else None


def default_arch(root: Path, kconfig=None, paths: list[str] | None = None) -> str:
    """With no --arch: the arch every path is under; else the .config's (--config, or the
    tree's own .config); else the host's, as kbuild maps ``uname -m``."""
    named = paths_arch(paths)
    if named:
        return named
    if kconfig is not None:
        got = config_arch(kconfig.values)
        if got:
            return got
    dot = root / ".config"
    if dot.is_file():
        try:
            got = config_arch(KernelConfig.load(dot).values)
        except OSError:
            got = None
        if got:
            return got
    return uname_arch()


def arch_reason(root: Path, kconfig=None, paths: list[str] | None = None) -> str:
    """Why :func:`default_arch` chose what it chose (said once on stderr)."""
    named = paths_arch(paths)
    if named:
        return "every path is under arch/" + named
    if kconfig is not None and config_arch(kconfig.values):
        return "the --config file's arch"
    if (root / ".config").is_file():
        return "the tree's .config"
    return f"the host's arch ({platform.machine()})"
