from __future__ import annotations

from kannot.rules.base import RETURN_IN_REGION, Rule, Site


def message(s: Site) -> str:
    return f"return with instrumentation enabled in {s.label} function '{s.caller}'"


RULE = Rule(
    code="KN006",
    name="return-in-region",
    family="noinstr",
    severity="error",
    default_enabled=True,
    summary="A noinstr function returns while an instrumentation region is open.",
    rationale="""
objtool reports "return with instrumentation enabled": the caller is noinstr code that expects the
region to be closed. (An __always_inline helper may deliberately leave a region open for its
caller, as ct_cpuidle_exit() does; those are not reported.)""",
    fix="Call instrumentation_end() before the return.",
    kind=RETURN_IN_REGION,
    message=message,
)
