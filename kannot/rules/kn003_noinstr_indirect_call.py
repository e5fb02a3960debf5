from __future__ import annotations

from kannot.rules.base import INDIRECT_CALL, Rule, Site


def message(s: Site) -> str:
    return (f"{s.label} function '{s.caller}' makes an indirect call through '{s.text}'{s.via} outside "
            "instrumentation_begin()/instrumentation_end()")


RULE = Rule(
    code="KN003",
    name="noinstr-indirect-call",
    family="noinstr",
    severity="error",
    default_enabled=True,
    summary="A noinstr function makes an indirect call outside an instrumentation region.",
    rationale="""
The target of a call through a function pointer is not known from the source, so nothing shows it
is noinstr. objtool reports these as "call to {dynamic}() leaves .noinstr.text section".
static_call() and __ubsan_handle_* are accepted, as objtool accepts them.""",
    fix="""
Call the known target directly, use static_call(), or wrap the call in
instrumentation_begin()/instrumentation_end(). If every possible target is noinstr, say so with
/* kannot: allow KN003 <which targets> */.""",
    kind=INDIRECT_CALL,
    region=True,
    message=message,
)
