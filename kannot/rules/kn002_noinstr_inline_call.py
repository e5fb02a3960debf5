from kannot.rules.base import Rule

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
)
