from __future__ import annotations

from kannot.rules.base import CALL, Rule, Site


def message(s: Site) -> str:
    return f"{s.label} function '{s.caller}' calls '{s.callee}()'{s.via}, which ftrace can trace"


RULE = Rule(
    code="KN201",
    name="notrace-call",
    family="notrace",
    severity="warning",
    default_enabled=False,
    summary="A notrace function calls a function that ftrace can trace.",
    rationale="""
notrace only removes the function's own __fentry__ hook. If it is notrace because the tracer itself
runs through it (sched_clock, trace_clock_*, the preempt paths the tracer uses), a traced callee can
recurse into the tracer. Many notrace functions call traced code on purpose (__schedule), so this
rule is advisory: on in patch mode for new calls, opt-in otherwise.""",
    fix="""
Make the callee notrace (or inline / __always_inline), use a *_notrace variant (preempt_disable_notrace),
or mark the call intended: /* kannot: allow KN201 <reason> */.""",
    kind=CALL,
    message=message,
)
