"""Rule registry: one module per rule (code, message, the judgement's own part, rationale and fix
live together), and the protection families as data (kannot/rules/families.toml, and a tree's
own ``[[family]]`` entries of .kannot.toml, see :func:`RuleSet.with_families`)."""
from __future__ import annotations

import importlib
import pkgutil
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable

from kannot.rules import classes as C
from kannot.rules.base import (
    CALL,
    INDIRECT_CALL,
    INLINE_CALL,
    RETURN_IN_REGION,
    UNBALANCED_REGION,
    UNRESOLVED,
    UNUSED_MARKER,
    Family,
    FamilyError,
    Rule,
    Site,
    builtin_family,
    user_family,
)
FAMILIES_FILE = Path(__file__).with_name("families.toml")

def _rule_modules() -> list:
    """Every ``knNNN_*`` module of this package: a rule is added by adding its module."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if re.fullmatch(r"kn\d{3}_\w+", m.name))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


# kannot's own rules (a tree's own are in its RuleSet, and found by rule_of once registered)
ALL_RULES: dict[str, Rule] = {m.RULE.code: m.RULE for m in _rule_modules()}

FAMILIES = sorted({r.family for r in ALL_RULES.values()})


@dataclass(frozen=True)
class RuleSet:
    """The rules and families of one check: kannot's own, and a tree's own from .kannot.toml."""

    rules: dict[str, Rule]
    families: tuple[Family, ...]
    region_begin: str
    region_end: str
    user: tuple[Family, ...] = field(default=())  # the families .kannot.toml defined

    def family(self, name: str) -> Family | None:
        return next((f for f in self.families if f.name == name), None)

    def named(self, name: str) -> Family:
        """The family ``name`` (one of :attr:`family_names`: KeyError otherwise)."""
        got = self.family(name)
        if got is None:
            raise KeyError(name)
        return got

    @cached_property
    def family_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.families)

    @cached_property
    def word_classes(self) -> dict[str, frozenset[str]]:
        """Annotation word (``section:NAME`` for a section) -> the classes it gives."""
        table = dict(C.LANGUAGE_WORDS)
        for fam in self.families:
            table.update(fam.words)
        for fam in self.families:
            table.update({f"section:{s}": cl for s, cl in fam.sections.items()})
        return table

    @cached_property
    def section_prefixes(self) -> tuple[tuple[str, frozenset[str]], ...]:
        return tuple((p, cl) for fam in self.families for p, cl in fam.section_prefixes.items())

    def classes_of(self, words: Iterable[str], alias_classes: Callable[[str], frozenset[str] | None] | None) -> frozenset[str]:
        return C.classes_of(words, alias_classes, self.word_classes, self.section_prefixes)

    def asm_classes(self, section: str) -> frozenset[str]:
        """The classes of an assembly symbol in ``section``."""
        got: frozenset[str] = frozenset()
        for fam in self.families:
            if fam.asm_class is not None and (section in fam.sections or section.startswith(tuple(fam.section_prefixes))):
                got = frozenset({fam.asm_class})
        return got

    @cached_property
    def invocations(self) -> dict[str, frozenset[str]]:
        """``NOKPROBE_SYMBOL`` -> the classes it gives the function it names."""
        return {name: cl for fam in self.families for name, cl in fam.invocations.items()}

    @cached_property
    def invoked_classes(self) -> frozenset[str]:
        """The classes a function gets from an invocation naming it (the facts record the names
        an invocation of any of :attr:`invocations` marks)."""
        return frozenset().union(*self.invocations.values())

    def families_of(self, classes: frozenset[str]) -> list[str]:
        """The families that check a (non always-inline) function with ``classes``, in order."""
        fams = [f for f in self.families if f.has(classes)]
        dropped = {s for f in fams for s in f.supersedes}
        return [f.name for f in fams if f.name not in dropped]

    def rule_for(self, family: str, kind: str) -> Rule | None:
        return next((r for r in self.rules.values() if r.family == family and r.kind == kind), None)

    @cached_property
    def region_codes(self) -> frozenset[str]:
        """Codes of calls an instrumentation region can cover (the editor offers to wrap them)."""
        return frozenset(c for c, r in self.rules.items() if r.region)

    def select(self, select: list[str] | None, ignore: list[str] | None) -> set[str]:
        """Resolve --select/--ignore (codes, code prefixes like KN1, family names, rule names, ALL)."""
        enabled = {c for c, r in self.rules.items() if r.default_enabled}
        for token in select or []:
            enabled |= self.match(token)
        for token in ignore or []:
            enabled -= self.match(token)
        return enabled

    def match(self, token: str) -> set[str]:
        token = token.strip()
        if token.upper() == "ALL":
            return set(self.rules)
        matched = {c for c, r in self.rules.items() if c.startswith(token.upper()) or r.family == token or r.name == token}
        if not matched:
            raise ValueError(f"unknown rule code or family: {token!r}")
        return matched

    def lookup(self, token: str) -> Rule | None:
        """A rule by code or name (``kannot explain``)."""
        return self.rules.get(token.upper()) or next((r for r in self.rules.values() if r.name == token.lower()), None)

    def with_families(self, entries: list, where: str) -> "RuleSet":
        """This set with the ``[[family]]`` entries of a settings file added; raises FamilyError."""
        if not isinstance(entries, list):
            raise FamilyError(f"{where}: 'family' must be an array of tables ([[family]])")
        codes = set(self.rules)
        names = set(self.family_names) | {r.name for r in self.rules.values()} | {r.family for r in self.rules.values()}
        rules = dict(self.rules)
        added: list[Family] = []
        for i, entry in enumerate(entries):
            fam, own = user_family(entry, f"{where}: family {i + 1}", codes, names | C.KNOWN_CLASSES)
            known = C.KNOWN_CLASSES | set(self.family_names) | {f.name for f in added} | {fam.name}
            for what, classes in (("safe", fam.safe), *(("words", c) for c in fam.words.values()),
                                  *(("sections", c) for c in fam.sections.values())):
                odd = sorted(classes - known)
                if odd:
                    raise FamilyError(f"{where}: family {i + 1} ({fam.name}): {what}: {odd[0]!r} is no class kannot "
                                      f"knows (known: {', '.join(sorted(known))})")
            names |= {fam.name} | {r.name for r in own}
            for word in list(fam.words) + [f"section:{s}" for s in fam.sections]:
                if word in self.word_classes or any(word in f.words for f in added):
                    raise FamilyError(f"{where}: family {i + 1} ({fam.name}): {word.removeprefix('section:')!r} "
                                      "already means something to kannot or another family")
            added.append(fam)
            rules.update((r.code, r) for r in own)
        if not added:
            return self
        return RuleSet(rules, self.families + tuple(added), self.region_begin, self.region_end, self.user + tuple(added))

    def key(self) -> str:
        """What of this set a stored result depends on (the shipped data is in the code stamp)."""
        return repr([(f.name, sorted(f.words), sorted(f.sections), sorted(f.safe), f.regions, f.transitive, f.why,
                      f.label, [(c, self.rules[c].kind, self.rules[c].message_of(_PROBE), self.rules[c].severity)
                                for c in f.codes]) for f in self.user])


_PROBE = Site(label="{label}", caller="{caller}", callee="{callee}", via="{via}", text="{text}", family="{family}")


def _load_builtin() -> RuleSet:
    data = tomllib.loads(FAMILIES_FILE.read_text(encoding="utf-8"))
    fams = []
    for entry in data["family"]:
        fam = builtin_family(entry)
        own = tuple(c for c, r in ALL_RULES.items() if r.family == fam.name)
        if set(fam.codes) != set(own):  # the data and the rule modules say the same
            raise FamilyError(f"{FAMILIES_FILE}: family {fam.name}: rules {fam.codes} but the rule modules say {own}")
        fams.append(fam)
    known = {f.name for f in fams} | {"marker"}
    stray = sorted(c for c, r in ALL_RULES.items() if r.family not in known)
    if stray:
        raise FamilyError(f"{FAMILIES_FILE}: no family for rule {stray[0]}")
    return RuleSet(dict(ALL_RULES), tuple(fams), data["regions"]["begin"], data["regions"]["end"])


DEFAULT_RULES = _load_builtin()

# Rules of .kannot.toml families, by code, once a settings file defined them (a Finding knows only
# its code: its family and severity are looked up): see register().
_registered: dict[str, Rule] = {}


def register(rules: RuleSet) -> None:
    """The settings' families for this process (each settings file read replaces the last's):
    their rules known to :func:`rule_of` (the report formats and stored findings look a
    finding's code up; codes never clash with kannot's own). (kannot.settings also has their
    words blanked before parsing, like kannot's own annotation words.)"""
    _registered.clear()
    for fam in rules.user:
        for code in fam.codes:
            _registered[code] = rules.rules[code]


def rule_of(code: str) -> Rule:
    """The rule of a finding's code: kannot's own, or one of a registered .kannot.toml family."""
    got = ALL_RULES.get(code) or _registered.get(code)
    if got is None:
        raise KeyError(code)
    return got


def select_codes(select: list[str] | None, ignore: list[str] | None, rules: RuleSet | None = None) -> set[str]:
    """Resolve --select/--ignore (codes, code prefixes like KN1, or family names, or ALL)."""
    return (rules or DEFAULT_RULES).select(select, ignore)


__all__ = [
    "Rule", "Family", "FamilyError", "Site", "RuleSet", "ALL_RULES", "DEFAULT_RULES", "FAMILIES",
    "select_codes", "rule_of", "register",
    "CALL", "INLINE_CALL", "INDIRECT_CALL", "UNRESOLVED", "UNBALANCED_REGION", "RETURN_IN_REGION", "UNUSED_MARKER",
]
