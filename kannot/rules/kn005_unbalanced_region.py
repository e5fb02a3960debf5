from kannot.rules.base import Rule

RULE = Rule(
    code="KN005",
    name="unbalanced-region",
    family="noinstr",
    severity="error",
    default_enabled=True,
    summary="instrumentation_begin()/instrumentation_end() do not balance on some path.",
    rationale="""
objtool counts begin as +1 and end as -1 along each path; instrumentation is allowed while the sum
is positive. An end without a begin makes the count negative, so later regions are silently not
regions; a path that falls off the end of the function with a region still open lets the caller
(noinstr code) run instrumented.""",
    fix="""
Pair every instrumentation_begin() with an instrumentation_end() on every path, including early
returns and gotos. Paths that end in a noreturn call (panic, BUG) need no end.""",
)
