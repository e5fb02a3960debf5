from __future__ import annotations

from kannot.rules.base import CALL, Rule, Site


def message(s: Site) -> str:
    return f"{s.label} function '{s.caller}' calls '{s.callee}()'{s.via}, which can be kprobed"


RULE = Rule(
    code="KN101",
    name="nokprobe-call",
    family="nokprobe",
    severity="warning",
    default_enabled=False,
    summary="A NOKPROBE_SYMBOL or __kprobes function calls a function that can be kprobed.",
    rationale="""
NOKPROBE_SYMBOL() and __kprobes keep a probe off the function itself, not off its callees. A probe
placed in a callee on the kprobe handling path (exc_int3 -> do_int3 -> kprobe_int3_handler ...)
re-enters the handler; KPROBE_REENTER ends in BUG(). The kernel does not keep this transitive
(__die calls printk), so this rule is advisory: on in patch mode for new calls, opt-in otherwise.""",
    fix="""
If the callee runs on the probe-handling path, add NOKPROBE_SYMBOL(callee) after its definition (or
make it nokprobe_inline). If the call is fine, mark it intended: /* kannot: allow KN101 <reason> */.""",
    kind=CALL,
    message=message,
)
