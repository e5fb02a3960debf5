"""Which called functions gcc may inline into their caller, though not ``__always_inline``.

At -O2 gcc inlines a function of the caller's own translation unit when it sees fit (always
when it is static and called once): a static or global function of the same file, or a
``static inline`` one of a header. objtool, which reads the object code, then sees the helper's
calls as the caller's own. kannot keeps the call of the helper (its own finding: the helper may
also be emitted out of line) and lists the helper's calls in the caller's callee map, and in a
finding's notes, so both name what the build may call.
"""
from __future__ import annotations

from kannot.rules import classes as C
from kannot.index.core import FuncDef

MAX_INLINE_DEPTH = 5  # helpers inside helpers followed


def may_inline(caller_path: str, c: FuncDef) -> bool:
    """Can gcc (without LTO) inline definition ``c`` into a function of ``caller_path``?"""
    if c.asm_section is not None or C.NOINLINE in c.classes or C.NOINSTR in c.classes:
        return False
    if C.ALWAYS_INLINE in c.classes:
        return False  # already expanded in place by the analysis
    if c.path == caller_path:
        return True
    return c.is_header and (C.STATIC in c.classes or C.INLINE in c.classes)
