"""The shape every rule module shares: one :class:`Rule` per module, docs beside the code."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    code: str  # stable, never reused: bots key on it
    name: str  # kebab-case slug, also stable
    family: str  # noinstr | notrace | nokprobe | marker
    severity: str  # "error" (objtool enforces it) or "warning" (advisory)
    default_enabled: bool  # advisory families are opt-in in whole-tree runs
    summary: str  # one line, used as SARIF shortDescription
    rationale: str  # why it matters
    fix: str  # how to fix it

    def explain(self) -> str:
        state = "on by default" if self.default_enabled else "off by default (enable with --select)"
        return (
            f"{self.code} {self.name}  [{self.family}, {self.severity}, {state}]\n\n"
            f"{self.summary}\n\nWhy it matters:\n{_indent(self.rationale)}\n\n"
            f"How to fix it:\n{_indent(self.fix)}\n\n"
            f"Suppress one occurrence with a comment on the call's line or the line above:\n"
            f"    /* kannot: allow {self.code} <reason> */\n"
            f"or, without touching the source, with an [[allow]] entry in .kannot.toml.\n"
        )


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else "" for line in text.strip().splitlines())
