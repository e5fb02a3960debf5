"""What every rule and family is made of: :class:`Rule` (one per module, docs beside the part of the
judgement that is its own), :class:`Family` (a protection family as data: kannot/rules/families.toml
for the shipped ones, ``[[family]]`` entries of .kannot.toml for a tree's own) and :class:`Site` (what
a rule's message is made from).

Nothing here imports the analysis: the checker (kannot.analysis.checks) asks the rules."""
from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

# What a rule judges (Rule.kind): which leaves of a protected function's summary it is about.
CALL = "call"  # a call whose callee is not safe for the family
INLINE_CALL = "inline-call"  # ... when every unsafe definition is plain inline
INDIRECT_CALL = "indirect-call"  # a call through a pointer
UNRESOLVED = "unresolved"  # a callee with no definition kannot found
UNBALANCED_REGION = "unbalanced-region"  # region markers that do not pair on some path
RETURN_IN_REGION = "return-in-region"  # a return with a region open
UNUSED_MARKER = "unused-marker"  # a suppression that suppresses nothing
KINDS = (CALL, INLINE_CALL, INDIRECT_CALL, UNRESOLVED, UNBALANCED_REGION, RETURN_IN_REGION, UNUSED_MARKER)
# the kinds a family of .kannot.toml may have rules for (the others need regions of its own)
USER_KINDS = (CALL, INDIRECT_CALL, UNRESOLVED)

SEVERITIES = ("error", "warning")
# A rule code: kannot's own are KN and three digits; a tree's own are 2-4 capitals and 2-4 digits
# other than that (KNX01, VND01).
CODE_RE = re.compile(r"[A-Z]{2,4}[0-9]{2,4}")
BUILTIN_CODE_RE = re.compile(r"KN[0-9]{3}")
NAME_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
FAMILY_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
MESSAGE_FIELDS = frozenset({"label", "family", "caller", "callee", "via", "text"})


class FamilyError(ValueError):
    """A family or rule definition that cannot be used (one line: where and what)."""


@dataclass(frozen=True)
class Site:
    """What a finding's message is made from."""

    label: str  # how the caller's family names it: noinstr, __cpuidle, NOKPROBE, notrace, ...
    caller: str
    callee: str | None = None
    via: str = ""  # " via helper -> macro", " from inline asm"
    text: str = ""  # what is called, as written (the pointer expression of an indirect call)
    note: str = ""  # the rule's own detail (how many candidate definitions are unsafe...)
    variant: str = ""  # which of a rule's messages ("unbuilt", "end", "open"...)
    empty: bool = False  # the callee's body makes no call
    family: str = ""


def template_message(template: str) -> Callable[[Site], str]:
    """A message from a ``str.format`` template over :data:`MESSAGE_FIELDS` (a family's own rule)."""

    def message(site: Site) -> str:
        return template.format(label=site.label, family=site.family, caller=site.caller,
                               callee=site.callee or "", via=site.via, text=site.text)

    return message


@dataclass(frozen=True)
class Rule:
    code: str  # stable, never reused: bots key on it
    name: str  # kebab-case slug, also stable
    family: str  # noinstr | notrace | nokprobe | marker | a family of .kannot.toml
    severity: str  # "error" (objtool enforces it) or "warning" (advisory)
    default_enabled: bool  # advisory families are opt-in in whole-tree runs
    summary: str  # one line, used as SARIF shortDescription
    rationale: str  # why it matters
    fix: str  # how to fix it
    kind: str = CALL  # what it judges (KINDS)
    region: bool = False  # a call an instrumentation region can cover (the editor offers to wrap it)
    message: Callable[[Site], str] | None = None  # the finding's message
    # for CALL and INLINE_CALL rules: which of a call's unsafe candidate definitions the rule is
    # about ((definition, condition) pairs; a definition has ``classes``); the first rule of the
    # family that keeps some makes the finding
    pick: Callable[[Sequence[tuple[Any, Any]]], list[tuple[Any, Any]]] | None = None
    builtin: bool = True  # shipped with kannot (False: defined in .kannot.toml)

    def message_of(self, site: Site) -> str:
        if self.message is None:
            raise ValueError(f"rule {self.code} makes no findings of its own")
        return self.message(site)

    def picked(self, unsafe: Sequence[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
        return list(unsafe) if self.pick is None else self.pick(unsafe)

    def explain(self) -> str:
        state = "on by default" if self.default_enabled else "off by default (enable with --select)"
        origin = "" if self.builtin else "Defined in .kannot.toml ([[family]]).\n\n"
        return (
            f"{self.code} {self.name}  [{self.family}, {self.severity}, {state}]\n\n"
            f"{origin}{self.summary}\n\nWhy it matters:\n{indent(self.rationale)}\n\n"
            f"How to fix it:\n{indent(self.fix)}\n\n"
            f"Suppress one occurrence with a comment on the call's line or the line above:\n"
            f"    /* kannot: allow {self.code} <reason> */\n"
            f"or, without touching the source, with an [[allow]] entry in .kannot.toml.\n"
        )


def indent(text: str) -> str:
    return "\n".join("    " + line if line else "" for line in text.strip().splitlines())


@dataclass(frozen=True)
class Family:
    """A protection family: what marks its functions and what they may call."""

    name: str
    label: str  # how messages name a function of it
    class_labels: dict[str, str] = field(default_factory=dict)  # class -> label when the function has it
    words: dict[str, frozenset[str]] = field(default_factory=dict)  # annotation word -> classes
    sections: dict[str, frozenset[str]] = field(default_factory=dict)  # section name -> classes
    section_prefixes: dict[str, frozenset[str]] = field(default_factory=dict)
    asm_class: str | None = None  # the class of an assembly symbol in one of its sections
    invocations: dict[str, frozenset[str]] = field(default_factory=dict)  # NOKPROBE_SYMBOL(f) -> classes of f
    members: frozenset[str] = frozenset()  # classes that make a function the family's
    excluded: frozenset[str] = frozenset()  # classes that keep it out
    supersedes: tuple[str, ...] = ()  # families its functions are not checked by
    safe: frozenset[str] = frozenset()  # classes that make a callee safe
    regions: bool = False  # calls while an instrumentation region is open are accepted
    transitive: bool = True  # calls made inside __always_inline helpers count as its own
    scan: tuple[bytes, ...] = ()  # substrings that make a file a candidate (the catalog's marks)
    macro_words: frozenset[str] = frozenset()  # words that make a macro body one of its marks
    why: str = ""  # kannot why's verdict when a function of it reaches the name
    codes: tuple[str, ...] = ()  # its rules
    builtin: bool = True

    def label_of(self, classes: frozenset[str]) -> str:
        for cls, label in self.class_labels.items():
            if cls in classes:
                return label
        return self.label

    def has(self, classes: frozenset[str]) -> bool:
        """Is a function with ``classes`` checked by this family (before ``supersedes``)?"""
        return bool(classes & self.members) and not classes & self.excluded

    def is_safe(self, classes: frozenset[str]) -> bool:
        return bool(classes & self.safe)


# reading definitions -----------------------------------------------------------------------------

BUILTIN_FAMILY_KEYS = frozenset({
    "name", "label", "class_labels", "words", "sections", "section_prefixes", "asm_class", "invocations",
    "members", "excluded", "supersedes", "safe", "regions", "transitive", "scan", "macro_words", "why", "rules",
})
USER_FAMILY_KEYS = frozenset({
    "name", "label", "words", "sections", "safe", "regions", "transitive", "severity", "default_enabled",
    "why", "rule",
})
USER_RULE_KEYS = frozenset({"code", "kind", "name", "message", "summary", "rationale", "fix", "severity",
                            "default_enabled"})


def _strings(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise FamilyError(f"{what} must be a list of strings")
    return list(value)


def _classes_table(value: object, what: str, own: str | None) -> dict[str, frozenset[str]]:
    """``{word = [classes]}``, or (a family of .kannot.toml) ``[words]``: each gives ``own``."""
    if isinstance(value, list) and own is not None:
        return {w: frozenset({own}) for w in _strings(value, what)}
    if not isinstance(value, dict):
        raise FamilyError(f"{what} must be " + ("a list of strings" if own is not None else "a table of lists"))
    return {str(k): frozenset(_strings(v, f"{what}.{k}")) for k, v in value.items()}


def _bool(data: dict, key: str, default: bool, where: str) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise FamilyError(f"{where}: '{key}' must be true or false")
    return value


def _text(data: dict, key: str, default: str, where: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise FamilyError(f"{where}: '{key}' must be a string")
    return value


def builtin_family(data: dict) -> Family:
    """A family of kannot/rules/families.toml."""
    where = f"family {data.get('name')!r}"
    unknown = sorted(set(data) - BUILTIN_FAMILY_KEYS)
    if unknown:
        raise FamilyError(f"{where}: unknown key {unknown[0]!r}")
    return Family(
        name=data["name"],
        label=data["label"],
        class_labels=dict(data.get("class_labels", {})),
        words=_classes_table(data.get("words", {}), f"{where}: words", None),
        sections=_classes_table(data.get("sections", {}), f"{where}: sections", None),
        section_prefixes=_classes_table(data.get("section_prefixes", {}), f"{where}: section_prefixes", None),
        asm_class=data.get("asm_class"),
        invocations=_classes_table(data.get("invocations", {}), f"{where}: invocations", None),
        members=frozenset(_strings(data.get("members", []), f"{where}: members")),
        excluded=frozenset(_strings(data.get("excluded", []), f"{where}: excluded")) if data.get("excluded") else frozenset(),
        supersedes=tuple(data.get("supersedes", ())),
        safe=frozenset(_strings(data.get("safe", []), f"{where}: safe")),
        regions=_bool(data, "regions", False, where),
        transitive=_bool(data, "transitive", True, where),
        scan=tuple(s.encode() for s in data.get("scan", ())),
        macro_words=frozenset(data.get("macro_words", ())),
        why=data.get("why", ""),
        codes=tuple(_strings(data.get("rules", []), f"{where}: rules")),
    )


def _table(data: object, where: str, what: str, keys: frozenset[str] | set[str]) -> dict:
    """``data`` as a settings table with only ``keys``; :class:`FamilyError` otherwise."""
    if not isinstance(data, dict):
        raise FamilyError(f"{where}: must be a table ({what})")
    unknown = sorted(set(data) - keys)
    if unknown:
        raise FamilyError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(keys))})")
    return data


def user_family(data: object, where: str, taken_codes: set[str], taken_names: set[str]) -> tuple[Family, list[Rule]]:
    """A ``[[family]]`` of .kannot.toml and its rules; raises :class:`FamilyError` (one line).
    ``taken_codes``/``taken_names``: the codes and the family and rule names in use (updated)."""
    data = _table(data, where, "[[family]]", USER_FAMILY_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not FAMILY_NAME_RE.fullmatch(name):
        raise FamilyError(f"{where}: needs a 'name' of lower-case letters, digits and '_' (such as \"myvendor\")")
    where = f"{where} ({name})"
    if name in taken_names or name.upper() == "ALL":
        raise FamilyError(f"{where}: the name {name!r} is taken (a family or rule of that name exists)")
    words = _classes_table(data.get("words", []), f"{where}: words", name)
    sections = _classes_table(data.get("sections", []), f"{where}: sections", name)
    if not words:
        raise FamilyError(f"{where}: needs 'words': the annotation words that mark its functions (such as \"__myvendor_text\")")
    for word in words:
        if not re.fullmatch(r"[A-Za-z_]\w*", word):
            raise FamilyError(f"{where}: words: {word!r} is not an identifier")
    safe = frozenset(_strings(data.get("safe", [name]), f"{where}: safe"))
    severity = _text(data, "severity", "error", where)
    if severity not in SEVERITIES:
        raise FamilyError(f"{where}: 'severity' must be \"error\" or \"warning\"")
    enabled = _bool(data, "default_enabled", True, where)
    label = _text(data, "label", name, where) or name
    why = _text(data, "why", "", where) or (
        f"not a {name} function, but called from {name} '{{caller}}' ({{file}}:{{line}})")
    _check_template(why, frozenset({"caller", "via", "file", "line", "name"}), f"{where}: why")
    rules_data = data.get("rule")
    if not isinstance(rules_data, list) or not rules_data:
        raise FamilyError(f"{where}: needs at least one [[family.rule]] (code, kind, message)")
    taken_names = taken_names | {name}
    rules: list[Rule] = []
    kinds: set[str] = set()
    for i, rd in enumerate(rules_data):
        if isinstance(rd, dict) and rd.get("kind", CALL) in kinds:
            raise FamilyError(f"{where}: two rules of kind {rd.get('kind', CALL)!r} (one rule per kind)")
        rule = _user_rule(rd, f"{where}: rule {i + 1}", name, severity, enabled, taken_codes, taken_names)
        kinds.add(rule.kind)
        taken_codes.add(rule.code)
        taken_names.add(rule.name)
        rules.append(rule)
    family = Family(
        name=name, label=label, words=words, sections=sections, asm_class=name if sections else None,
        members=frozenset({name}), safe=safe, regions=_bool(data, "regions", False, where),
        transitive=_bool(data, "transitive", True, where), macro_words=frozenset(words), why=why,
        codes=tuple(r.code for r in rules), builtin=False,
    )
    return family, rules


def _user_rule(data: object, where: str, family: str, severity: str, enabled: bool,
               taken_codes: set[str], taken_names: set[str]) -> Rule:
    data = _table(data, where, "[[family.rule]]", USER_RULE_KEYS)
    code = data.get("code")
    if not isinstance(code, str) or not CODE_RE.fullmatch(code) or BUILTIN_CODE_RE.fullmatch(code):
        raise FamilyError(f"{where}: 'code' must be 2-4 capital letters and 2-4 digits, not KN and three "
                          f"digits (kannot's own), such as \"KNX01\"; got {code!r}")
    if code in taken_codes:
        raise FamilyError(f"{where}: code {code} is already used by another rule")
    where = f"{where} ({code})"
    kind = data.get("kind", CALL)
    if kind not in USER_KINDS:
        raise FamilyError(f"{where}: 'kind' must be one of {', '.join(USER_KINDS)}")
    name = _text(data, "name", f"{family}-{kind}", where)
    if not NAME_RE.fullmatch(name) or name in taken_names:
        raise FamilyError(f"{where}: 'name' must be a new kebab-case name (such as \"{family}-{kind}\")")
    message = _text(data, "message", "", where) or _DEFAULT_MESSAGES[kind]
    _check_template(message, MESSAGE_FIELDS, f"{where}: message")
    rule_severity = _text(data, "severity", severity, where)
    if rule_severity not in SEVERITIES:
        raise FamilyError(f"{where}: 'severity' must be \"error\" or \"warning\"")
    summary = _text(data, "summary", "", where) or _DEFAULT_SUMMARIES[kind].format(family=family)
    return Rule(
        code=code, name=name, family=family, severity=rule_severity,
        default_enabled=_bool(data, "default_enabled", enabled, where), summary=summary,
        rationale=_text(data, "rationale", "", where) or "Defined by this tree's .kannot.toml.",
        fix=_text(data, "fix", "", where) or f"Mark the callee as a {family} function, or allow the call with a reason.",
        kind=kind, message=template_message(message), builtin=False,
    )


_DEFAULT_MESSAGES = {
    CALL: "{label} function '{caller}' calls '{callee}()'{via}, which is not a {family} function",
    INDIRECT_CALL: "{label} function '{caller}' makes an indirect call through '{text}'{via}",
    UNRESOLVED: "{label} function '{caller}' calls '{callee}()'{via}, which has no definition in the tree",
}
_DEFAULT_SUMMARIES = {
    CALL: "A {family} function calls a function that is not a {family} function.",
    INDIRECT_CALL: "A {family} function makes an indirect call.",
    UNRESOLVED: "A {family} function calls a name with no definition in the tree.",
}


def _check_template(template: str, known: frozenset[str], where: str) -> None:
    try:
        fields = [f for _lit, f, _spec, _conv in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise FamilyError(f"{where}: {exc}") from None
    bad = [f for f in fields if f not in known]
    if bad:
        raise FamilyError(f"{where}: unknown field {{{bad[0]}}} (known: {', '.join('{' + k + '}' for k in sorted(known))})")
