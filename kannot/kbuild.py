"""``--only-built``: which .c/.S files a .config cannot build, read from Kbuild Makefiles (no make).

Lines like ``obj-$(CONFIG_FOO) += foo.o bar/`` and composite objects
(``foo-y := a.o b.o``, ``foo-$(CONFIG_BAR) += c.o``, ``foo-objs := ...``) are read. A file is
*not built* when every line that names its object (or its composite, or a directory above it) is
conditional on a CONFIG_ symbol the .config leaves unset. A file no Makefile line names is kept:
the filter only ever drops what the Makefiles plainly exclude, so it can err only towards checking
too much.
"""
from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from .kconfig import KernelConfig

_ASSIGN_RE = re.compile(r"^\s*([A-Za-z0-9_.\-]+)-(y|m|objs|\$\((CONFIG_[A-Za-z0-9_]+)\))\s*[+:]?=\s*(.*)$")


def _logical_lines(text: str):
    buf = ""
    for line in text.splitlines():
        line = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        yield buf + line
        buf = ""
    if buf:
        yield buf


def not_built(root: Path, kconfig: KernelConfig, rels: list[str]) -> set[str]:
    """The subset of ``rels`` (.c/.S files) the Makefiles exclude under ``kconfig``."""
    # (dir, name) -> list of "enabled?" for each line naming it; name is "x.o" or "sub/"
    mentions: dict[tuple[str, str], list[bool]] = defaultdict(list)
    owners_of: dict[tuple[str, str], set[str]] = defaultdict(set)  # (dir, "a.o") -> composites using it
    dirs = sorted({os.path.dirname(r) for r in rels})
    seen_dirs: set[str] = set()
    for d in dirs:
        cur = d
        while cur not in seen_dirs:
            seen_dirs.add(cur)
            for name in ("Kbuild", "Makefile"):
                mk = root / cur / name
                try:
                    text = mk.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                for line in _logical_lines(text):
                    m = _ASSIGN_RE.match(line)
                    if m is None:
                        continue
                    target, kind, sym, items = m.groups()
                    enabled = True if kind in ("y", "m", "objs") else kconfig.state(sym) in ("y", "m")
                    for item in items.split():
                        if "$" in item:
                            continue
                        if target in ("obj", "lib", "core", "drivers", "libs", "net", "virt", "obj-y"):
                            mentions[(cur, item)].append(enabled)
                        else:  # composite object target.o made of item
                            owners_of[(cur, item)].add(target + ".o")
                            mentions[(cur, "part:" + item)].append(enabled)
                break  # Kbuild wins over Makefile, as in kbuild
            if not cur:
                break
            cur = os.path.dirname(cur)

    def excluded(key: tuple[str, str]) -> bool:
        flags = mentions.get(key)
        return bool(flags) and not any(flags)

    out: set[str] = set()
    for rel in rels:
        if not rel.endswith((".c", ".S")):
            continue
        d, base = os.path.split(rel)
        obj = os.path.splitext(base)[0] + ".o"
        dropped = excluded((d, obj))
        if not dropped:
            owners = owners_of.get((d, obj), ())
            if owners and (excluded((d, "part:" + obj)) or all(excluded((d, o)) for o in owners)):
                dropped = True
        # a directory above it that its parent's Makefile only builds under an unset CONFIG_
        cur = d
        while not dropped and cur:
            parent, sub = os.path.split(cur)
            if excluded((parent, sub + "/")):
                dropped = True
            cur = parent
        if dropped:
            out.add(rel)
    return out
