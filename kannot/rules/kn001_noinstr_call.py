from __future__ import annotations

from typing import Any, Sequence

from kannot.rules import classes as C
from kannot.rules.base import CALL, Rule, Site


def message(s: Site) -> str:
    return (f"{s.label} function '{s.caller}' calls instrumentable '{s.callee}()'{s.via} outside "
            f"instrumentation_begin()/instrumentation_end(){s.note}")


def pick(unsafe: Sequence[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """The unsafe definitions that are out of line (plain inline ones are KN002's)."""
    return [(c, cc) for c, cc in unsafe if C.INLINE not in c.classes]


RULE = Rule(
    code="KN001",
    name="noinstr-call",
    family="noinstr",
    severity="error",
    default_enabled=True,
    summary="A noinstr function calls an instrumentable function outside an instrumentation region.",
    rationale="""
Functions marked noinstr or __cpuidle (and the bodies of DEFINE_IDTENTRY_RAW and friends) run
where RCU may not be watching or where a breakpoint would recurse: entry, exit, NMI and idle code.
The annotation only covers the function itself. A call to a function in plain .text can be traced,
kprobed or sanitized, and the instrumentation then runs in exactly the context noinstr exists to
protect. objtool reports this as "call to X() leaves .noinstr.text section" on x86_64 builds with
CONFIG_DEBUG_ENTRY; kannot finds it in the source, for every arch and config, without a build.
Calls made by __always_inline helpers and macros count as calls of the noinstr function itself:
the chain shows how the call is reached.""",
    fix="""
- If the callee is safe to run in this context, mark it noinstr (or __always_inline if it is a
  small header helper).
- If the call is meant to be instrumentable, wrap it: instrumentation_begin(); call();
  instrumentation_end(); (only once RCU is watching).
- Use the raw_*/arch_* variant (raw_atomic_read, arch_test_bit, raw_local_irq_save) instead of the
  instrumented one.""",
    kind=CALL,
    region=True,
    message=message,
    pick=pick,
)
