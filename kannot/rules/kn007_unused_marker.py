from __future__ import annotations

from kannot.rules.base import UNUSED_MARKER, Rule, Site


def message(s: Site) -> str:
    if s.variant == "unknown":
        return f"'kannot: allow {s.text}' names no kannot rule"
    if s.variant == "entry":
        return f"[[allow]] entry ({s.text}) suppresses nothing"
    return f"'kannot: allow {s.text}' comment suppresses nothing on this line or the next"


RULE = Rule(
    code="KN007",
    name="unused-marker",
    family="marker",
    severity="warning",
    default_enabled=True,
    summary="A kannot allow comment suppresses nothing.",
    rationale="""
An allow comment that no longer matches a finding hides nothing today but would silently hide a
future, different problem on that line. It usually means the code was fixed or moved.""",
    fix="Remove the comment, or move it to the line of the call it is about (or the line above).",
    kind=UNUSED_MARKER,
    message=message,
)
