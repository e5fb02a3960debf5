"""What a check reports: findings and the links of their call chains.

Plain data, apart from the analysis that makes them, so that stored results (kannot.store.memo) and
the report formats can be loaded without the parser."""
from __future__ import annotations

from dataclasses import dataclass, field

from kannot.rules import rule_of


@dataclass(frozen=True, slots=True)
class Link:
    function: str
    file: str
    line: int
    kind: str = "function"  # function | always_inline | macro | callee
    condition: str = ""  # for a macro: the CONFIG_ condition its #define is under

    def to_json(self) -> dict:
        d = {"function": self.function, "file": self.file, "line": self.line, "kind": self.kind}
        if self.condition:
            d["condition"] = self.condition
        return d


@dataclass(frozen=True, slots=True)
class Note:
    """A note on a finding. ``file``/``line``: the place it names (written where ``{at}`` stands
    in ``text``), so that a stored note follows its place when lines move; "" and 0 if none."""

    kind: str  # "defined": where the callee is defined; "inlined": what gcc may inline
    text: str
    file: str = ""
    line: int = 0

    def render(self) -> str:
        return self.text.replace("{at}", f"{self.file}:{self.line}") if self.file else self.text


@dataclass
class Finding:
    code: str
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    caller: str
    callee: str | None
    message: str
    chain: list[Link]
    candidates: list[dict] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    fingerprint: str = ""
    detail: str = ""  # what is called when callee is None (pointer expression, region call)
    conditions: list[str] = field(default_factory=list)  # CONFIG_ conditions of macros on the chain
    baseline_state: str = ""  # "new" in --diff-base/--patch runs
    causes: list[dict] = field(default_factory=list)  # {file, line, message}: the changed line that made it new
    witness: list[str] = field(default_factory=list)  # CONFIG_X=y lines of a configuration where it is real
    group: str = ""  # the root cause it shares with other findings (callee definition and condition)
    arches: list[str] = field(default_factory=list)  # with --arch all: the arches it is real on

    @property
    def rule(self) -> str:
        return rule_of(self.code).family

    @property
    def severity(self) -> str:
        return rule_of(self.code).severity

    def fingerprint_material(self) -> str:
        funcs = "/".join(l.function for l in self.chain)
        return "|".join([self.code, self.file, self.caller, self.callee or self.detail, funcs])

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "caller": self.caller,
            "callee": self.callee,
            "message": self.message,
            "chain": [l.to_json() for l in self.chain],
            "candidates": self.candidates,
            "notes": [n.render() for n in self.notes],
            "conditions": self.conditions,
            "witness": self.witness,
            "group": self.group,
            "fingerprint": self.fingerprint,
            **({"baseline_state": self.baseline_state} if self.baseline_state else {}),
            **({"causes": self.causes} if self.causes else {}),
            **({"arches": self.arches} if self.arches else {}),
        }


@dataclass
class CallerResult:
    """What checking one protected function gave, before the tree-wide steps (dedupe,
    suppressions, KN007, order, fingerprints): kept per function so that a stored result can
    have a few functions checked again (kannot.store.memo)."""

    order: tuple[str, int]  # (name, place among the definitions of that name): the check's order
    path: str
    findings: list[Finding]
    errors: list[str]  # "skipped function ..." lines about this function
    names: frozenset[str]  # every name its check looked up (the helpers' included)
