"""A file's text facts: what the catalog (kannot.index.catalog) keeps of each file of the tree,
found by plain byte searches, without a parser (a pure function of the file's bytes).

- ``heads``: the identifiers on lines that start in column 0 (kernel style puts every file-scope
  declaration there: function heads, prototypes, variables, ``NOKPROBE_SYMBOL(f);``,
  ``DEFINE_IDTENTRY_RAW(exc_int3)``, ``SYM_FUNC_START(f)``). A file can define or declare NAME only
  if NAME is among its heads (or its ``#define`` names).
- ``defines``: names after ``#define`` (constant-valued upper-case ones left out: nothing calls them).
- ``includes``: the ``#include`` lines (the same lines :mod:`kannot.facts.extract` reads), for include closures.
- ``invocations``: (argument, macro) of the column-0 ``MACRO(arg, arg...`` lines.
- ``marks``: which protection families' words occur in the file at all (``noinstr``, ``kprobe``,
  ``notrace``...): the files that may hold protected functions or the macros that make them.
"""
from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass
from typing import Callable

from kannot.facts.cpp import scan_includes
from kannot.rules import DEFAULT_RULES

# The words whose presence makes a file a candidate for a protection family (substrings: a
# section name ".noinstr.text" contains "noinstr", "__cpuidle" contains "cpuidle"): the shipped
# families' ``scan`` (kannot/rules/families.toml). A family of .kannot.toml has none: the files
# with its words on a column-0 line are found by ``heads`` (kannot.index.lazy).
FAMILY_MARKS: dict[str, tuple[bytes, ...]] = {f.name: f.scan for f in DEFAULT_RULES.families if f.scan}
ALLOW_MARK = b"kannot:"
ALL_FAMILIES = 0xFF  # the cached catalog has every family's marks: `why` and --select reuse it  # allow comments: KN007 must see every one

# A line starting in column 0 (after a newline): where file-scope declarations begin; up to its
# first '=', as what follows is an initializer (``static bool x = IS_ENABLED(...);``): uses,
# never what the line defines (with them, every file with such a line was parsed to look for
# a function IS_ENABLED)
_COL0_RE = re.compile(rb"\n[A-Za-z_*][^\n=]*")
# On such lines, what can be defined or declared there (parameter names are left out: they are
# most of a head's words and never what a lookup asks for):
# (a name starts after a non-word character, and ``\w*+`` never gives back: without both, the
# engine retried every suffix of every word, most of the scan's time)
# (the column-0 lines are joined, each after its newline: a pattern that begins with that
# literal newline is searched at C speed, where ``(?m)^`` is tried at every byte)
_NAME_BEFORE_PAREN_RE = re.compile(rb"\b([A-Za-z_]\w*+)\s*\(")  # a function, a macro invocation
_LINE_INVOCATION_RE = re.compile(rb"\n[A-Za-z_]\w*\s*\(([^()\n]*)")  # MACRO(arg, arg...: its args
_INVOCATION_ARGS_RE = re.compile(rb"\n([A-Za-z_]\w*)\s*\(\s*([A-Za-z_]\w*)?\s*(?:,\s*([A-Za-z_]\w*))?")
_POINTER_DECL_RE = re.compile(rb"\(\s*\*\s*([A-Za-z_]\w*)\s*\)")  # void (*handler)(void)
# ``#define NAME``: lower-case names, function-like macros, and upper-case object-like ones whose
# body starts with a name (aliases, attribute macros). Constants and include guards are left out
# inside the regex engine: a tree has millions of register constants, nothing calls them.
_DEFINE_TAIL = rb"define[ \t]+([a-z]\w*|[A-Z_]\w*+(?=\(|[ \t]+[A-Za-z_]))"
_DEFINE_RE = re.compile(rb"#[ \t]*" + _DEFINE_TAIL)
_WORD_TABLE = bytes(c if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 95) else 32 for c in range(256))
# Frequent column-0 words that never name what a call looks up: left out to keep the index small.
_STOP = frozenset(
    """static void int struct const unsigned signed return if else long char short bool inline
    extern enum union typedef u8 u16 u32 u64 s8 s16 s32 s64 size_t __init __exit __user __iomem
    EXPORT_SYMBOL EXPORT_SYMBOL_GPL MODULE_LICENSE MODULE_AUTHOR MODULE_DESCRIPTION module_param
    MODULE_PARM_DESC pr_fmt out err err_out fail done""".split()
)


def _memmem_contains() -> Callable[[bytes, bytes], bool] | None:
    """``word in src`` by the C library's memmem (glibc's is vectorised: on the catalog's dozen
    words over a kernel tree, twice as fast as bytes' own search, which was a quarter of the
    scan); None where there is none."""
    try:
        memmem = ctypes.CDLL(None).memmem
    except (OSError, AttributeError, TypeError):
        return None
    memmem.restype = ctypes.c_void_p
    memmem.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]

    def contains(src: bytes, word: bytes) -> bool:
        return memmem(src, len(src), word, len(word)) is not None

    return contains


_contains: Callable[[bytes, bytes], bool] = _memmem_contains() or (lambda src, word: word in src)


@dataclass(slots=True)
class TextFacts:
    heads: list[str]
    defines: list[str]
    includes: list[tuple[str, str, str]]
    invocations: list[tuple[str, str]]  # (argument, macro) of MACRO(arg, arg...) at column 0
    marks: int  # bit i: FAMILY_MARKS' i-th family; bit 7: an allow comment


_FAMILY_BITS = {name: 1 << i for i, name in enumerate(FAMILY_MARKS)}
ALLOW_BIT = 1 << 7


def family_bits(families: set[str] | list[str]) -> int:
    bits = 0
    for f in families:
        bits |= _FAMILY_BITS.get(f, 0)
    return bits


def scan_text(src: bytes, families: int = 0xFF) -> TextFacts:
    """The catalog entry of one file (pure: a function of its bytes)."""
    lines = _COL0_RE.findall(b"\n" + src)
    col0 = b"".join(lines)
    words = _NAME_BEFORE_PAREN_RE.findall(col0)
    invocations = []
    pos = 0
    search = _INVOCATION_ARGS_RE.search
    while (m := search(col0, pos)) is not None:
        for arg in (m.group(2), m.group(3)):
            if arg:
                invocations.append((arg.decode("latin-1"), m.group(1).decode("latin-1")))
        # (its blanks may end with the next line's newline: that line is searched too)
        pos = m.end() - 1 if col0[m.end() - 1 : m.end()] == b"\n" else m.end()
    words += b" ".join(_LINE_INVOCATION_RE.findall(col0)).translate(_WORD_TABLE).split()
    words += _POINTER_DECL_RE.findall(col0)
    # before a line's first '(': the head's words (types, annotations such as a learned
    # `__entry_section`, the name); a line without one: variables, types
    words += b" ".join(l.split(b"(", 1)[0] for l in lines).translate(_WORD_TABLE).split()
    heads = [w for w in {w.decode("latin-1") for w in set(words)} if not w[0].isdigit() and w not in _STOP]
    defines = [n.decode() for n in _DEFINE_RE.findall(src)]
    marks = 0
    for fam, fam_words in FAMILY_MARKS.items():
        if _FAMILY_BITS[fam] & families and any(_contains(src, w) for w in fam_words):
            marks |= _FAMILY_BITS[fam]
    if _contains(src, ALLOW_MARK):
        marks |= ALLOW_BIT
    return TextFacts(heads, defines, scan_includes(src) if b"include" in src else [], sorted(set(invocations)), marks)


def same_entry(a: TextFacts | None, b: TextFacts | None) -> bool:
    """Do two entries of a file name, include and mark the same (an edit inside functions)?"""
    if a is None or b is None:
        return a is b
    return (set(a.heads) == set(b.heads) and a.defines == b.defines and a.includes == b.includes
            and a.invocations == b.invocations and a.marks == b.marks)
