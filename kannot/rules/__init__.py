"""Rule registry: one module per rule (code, message, rationale and fix live together)."""
from __future__ import annotations

from kannot.rules.base import Rule
from kannot.rules import (
    kn001_noinstr_call,
    kn002_noinstr_inline_call,
    kn003_noinstr_indirect_call,
    kn004_unresolved_callee,
    kn005_unbalanced_region,
    kn006_return_in_region,
    kn007_unused_marker,
    kn101_nokprobe_call,
    kn201_notrace_call,
)

ALL_RULES: dict[str, Rule] = {
    m.RULE.code: m.RULE
    for m in (
        kn001_noinstr_call,
        kn002_noinstr_inline_call,
        kn003_noinstr_indirect_call,
        kn004_unresolved_callee,
        kn005_unbalanced_region,
        kn006_return_in_region,
        kn007_unused_marker,
        kn101_nokprobe_call,
        kn201_notrace_call,
    )
}

FAMILIES = sorted({r.family for r in ALL_RULES.values()})


def select_codes(select: list[str] | None, ignore: list[str] | None) -> set[str]:
    """Resolve --select/--ignore (codes, code prefixes like KN1, or family names, or ALL)."""
    enabled = {c for c, r in ALL_RULES.items() if r.default_enabled}
    for token in select or []:
        enabled |= _match(token)
    for token in ignore or []:
        enabled -= _match(token)
    return enabled


def _match(token: str) -> set[str]:
    token = token.strip()
    if token.upper() == "ALL":
        return set(ALL_RULES)
    matched = {c for c, r in ALL_RULES.items() if c.startswith(token.upper()) or r.family == token or r.name == token}
    if not matched:
        raise ValueError(f"unknown rule code or family: {token!r}")
    return matched


__all__ = ["Rule", "ALL_RULES", "FAMILIES", "select_codes"]
