from __future__ import annotations

from typing import Any, Sequence

from kannot.rules import classes as C
from kannot.rules.base import INLINE_CALL, Rule, Site


def message(s: Site) -> str:
    # plain inline, whatever its body: gcc may emit even an empty stub out of line
    why = " (its body makes no call, but may be emitted out of line)" if s.empty else " and may be emitted out of line"
    return f"{s.label} function '{s.caller}' calls '{s.callee}()'{s.via}, which is plain 'inline'{why}; make it __always_inline{s.note}"


def pick(unsafe: Sequence[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """The unsafe definitions that are plain inline."""
    return [(c, cc) for c, cc in unsafe if C.INLINE in c.classes]


RULE = Rule(
    code="KN002",
    name="noinstr-inline-call",
    family="noinstr",
    severity="error",
    default_enabled=True,
    summary="A noinstr function calls a plain 'inline' function that the compiler may emit out of line.",
    rationale="""
The kernel's 'inline' is only a hint (it also implies notrace). gcc and clang may emit an
out-of-line copy in plain .text, which KASAN/KCSAN/KCOV instrument and which objtool then reports
as leaving .noinstr.text - but only for the configs and compilers where that happened to occur.
This is kept apart from KN001 because the fix is different and the body itself may be clean.
An empty stub ('static inline void f(void) { }', or one asm statement) is no exception: gcc
usually inlines it, but nothing makes it, and objtool has found such stubs out of line
(-Os, GCOV/KCOV builds, other compilers); the message says when the body makes no call.""",
    fix="""
Make the callee __always_inline (the kernel's usual fix), or noinstr if it must stay out of line.
Its body is then checked as part of every noinstr caller.""",
    kind=INLINE_CALL,
    region=True,
    message=message,
    pick=pick,
)
