from __future__ import annotations

from kannot.rules.base import UNBALANCED_REGION, Rule, Site


def message(s: Site) -> str:
    if s.variant == "open":
        return (f"{s.label} function '{s.caller}' can reach its end with an instrumentation region still open "
                "(instrumentation_begin() without instrumentation_end())")
    return f"instrumentation_end() without a matching instrumentation_begin() on some path in {s.label} function '{s.caller}'{s.via}"


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
    kind=UNBALANCED_REGION,
    message=message,
)
