"""Rules: judge the leaves of each protected function and turn them into findings.

Which functions are checked, and by which family, is data (kannot/rules/families.toml, and the
``[[family]]`` entries of .kannot.toml): a family's member classes, the classes that keep a function
out, and the families it supersedes (a noinstr function is checked by noinstr only). Shipped:
- noinstr: classes include noinstr (noinstr, __cpuidle, noinstr sections, bodies of definer macros
  such as DEFINE_IDTENTRY_RAW). Regions count; transitive through always-inline helpers and macros.
- nokprobe: NOKPROBE_SYMBOL() or __kprobes, not noinstr. Direct callees (after inlining).
- notrace: explicitly notrace, not inline, not noinstr. Direct callees (after inlining).

What each finding says, and which unsafe definitions of a call each rule is about, is the rule's
(kannot/rules/knNNN_*.py): the checker finds the leaves, asks the family's rule of each kind.
"""
from __future__ import annotations

import hashlib

from kannot.rules import classes as C
from kannot.analysis.analyzer import Analyzer, Leaf, Link, Summary
from kannot.build import logic as L
from kannot.build.logic import Formula
from kannot.analysis.findings import Finding, Note  # noqa: F401  (Finding re-exported)
from kannot.index.core import FuncDef, Index
from kannot.analysis.inlining import may_inline
from kannot.rules import CALL, INDIRECT_CALL, INLINE_CALL, RETURN_IN_REGION, UNBALANCED_REGION, UNRESOLVED
from kannot.rules import DEFAULT_RULES, Family, Rule, RuleSet, Site


def families_of(d: FuncDef, rules: RuleSet = DEFAULT_RULES) -> list[str]:
    """The families that check ``d`` (none for an always-inline helper or an assembly symbol:
    they are checked as part of their callers)."""
    if d.asm_section is not None or C.ALWAYS_INLINE in d.classes:
        return []
    return rules.families_of(d.classes)


MAX_SHOWN_CONDITION = 160  # longer conditions are left to the witness in the message


class Checker:
    """Judges a protected function's leaves. A finding is made only when some configuration the
    arch's Kconfig accepts builds the caller and makes the call (kannot.build.model): its
    condition is the caller's presence, the #if branches and helpers on the chain, and the
    candidate definition's presence, with every ``defined(NAME)`` read for the caller's
    translation unit; the finding carries a witness configuration."""

    def __init__(self, index: Index, analyzer: Analyzer, enabled: set[str], rules: RuleSet | None = None):
        self.index = index
        self.rules = rules if rules is not None else index.rules
        self.analyzer = analyzer
        self.enabled = enabled
        self.model = index.model
        self._trivial: dict[int, bool] = {}
        self._witness: dict[Formula, list[str] | None] = {}
        self._inner: dict[tuple[int, str], tuple[list[str], frozenset[str]]] = {}  # (id(helper), family) -> its calls, names asked

    def check_function(self, d: FuncDef) -> list[Finding]:
        fams = [f for f in families_of(d, self.rules) if any(c in self.enabled for c in self.rules.named(f).codes)]
        if not fams:
            return []
        if not self._possible(d, L.TRUE):
            return []  # no configuration builds it
        summ = self.analyzer.analyze_function(d)
        out: list[Finding] = []
        for fam in fams:
            out += self._judge(d, summ, self.rules.named(fam))
        return [f for f in out if f.code in self.enabled]

    # configurations ---------------------------------------------------------------------------
    def _condition(self, d: FuncDef, extra: Formula) -> Formula:
        """When caller ``d`` exists and ``extra`` holds, read for its translation unit."""
        return self.index.resolve_in_tu(d.path, self.index.def_cond(d) & extra)

    def _possible(self, d: FuncDef, extra: Formula) -> bool:
        f = self._condition(d, extra)
        return f is not L.FALSE and (self.model is None or self.model.satisfiable(f))

    def when(self, d: FuncDef, leaf: Leaf) -> tuple[str, list[str]] | None:
        """When caller ``d`` makes the call of ``leaf`` (``kannot callees``): None never (no
        configuration the arch's Kconfig accepts), else the simplified condition ("" always) and,
        for a condition, a witness configuration."""
        total = self._condition(d, leaf.cond)
        if total is L.FALSE or (self.model is not None and not self.model.satisfiable(total)):
            return None
        shown = self.model.simplify(total) if self.model is not None else L.simplify(total)
        if shown is L.TRUE:
            return "", []
        return L.to_text(shown), self._witness_of(total) or []

    def _witness_of(self, f: Formula) -> list[str] | None:
        if f not in self._witness:
            if self.model is None:
                self._witness[f] = [] if f is not L.FALSE else None
            else:
                w = self.model.witness(f)
                self._witness[f] = w.lines() if w is not None else None
        return self._witness[f]

    # the rules of a family ------------------------------------------------------------------------
    def _judge(self, d: FuncDef, summ: Summary, fam: Family) -> list[Finding]:
        """The findings of ``fam``'s rules on the leaves of ``d``: each leaf's kind says which
        rule judges it; a family without a rule of that kind has nothing to say about it."""
        out: list[Finding | None] = []
        label = fam.label_of(d.classes)
        calls = [r for r in (self.rules.rule_for(fam.name, CALL), self.rules.rule_for(fam.name, INLINE_CALL)) if r]
        indirect = self.rules.rule_for(fam.name, INDIRECT_CALL)
        unresolved = self.rules.rule_for(fam.name, UNRESOLVED)
        unbalanced = self.rules.rule_for(fam.name, UNBALANCED_REGION) if fam.regions else None
        returning = self.rules.rule_for(fam.name, RETURN_IN_REGION) if fam.regions else None

        def site(leaf: Leaf, **more) -> Site:
            return Site(label, d.name, leaf.callee, _via(leaf), leaf.text, family=fam.name, **more)

        for leaf in sorted(summ.leaves, key=_leaf_order):
            if not fam.transitive and any(l.kind == "always_inline" for l in leaf.chain[1:]):
                continue  # made by a helper: not one of the function's own calls
            if leaf.kind == "end":
                # an always-inline helper that closes its caller's region (ct_cpuidle_enter) is
                # the kernel's idiom for idle paths, not an imbalance of this function's own
                if unbalanced is not None and leaf.rel <= 0 and not any(l.kind == "always_inline" for l in leaf.chain[1:]):
                    out.append(self._finding(unbalanced, d, leaf, None, site(leaf, variant="end")))
                continue
            if (fam.regions and leaf.rel > 0) or leaf.kind == "static_call":
                continue
            if leaf.kind == "icall":
                if indirect is not None:
                    out.append(self._finding(indirect, d, leaf, None, site(leaf)))
            elif leaf.kind == "unresolved":
                if unresolved is not None:
                    out.append(self._finding(unresolved, d, leaf, leaf.callee, site(leaf)))
            elif leaf.kind == "call":
                if unresolved is None and all(fam.is_safe(c.classes) for c in leaf.candidates):
                    continue  # (nothing to judge: the configurations need not be asked)
                pairs = self._possible_candidates(d, leaf)
                if not pairs and not leaf.covered:
                    # the call is made, but none of its definitions is built where it is: a
                    # definition kannot did not find (said, never taken as safe)
                    if unresolved is not None:
                        out.append(self._finding(unresolved, d, leaf, leaf.callee, site(leaf, variant="unbuilt")))
                    continue
                unsafe = [(c, cc) for c, cc in pairs if not fam.is_safe(c.classes)]
                if not unsafe:
                    continue
                note = f" ({len(unsafe)} of {len(pairs)} candidate definitions are not {fam.name})" if len(pairs) > 1 else ""
                for rule in calls:
                    chosen = rule.picked(unsafe)
                    if chosen:
                        empty = rule.kind == INLINE_CALL and all(self.is_empty(c) for c, _cc in chosen)
                        out.append(self._finding(rule, d, leaf, leaf.callee, site(leaf, note=note, empty=empty), chosen, fam))
                        break
        if returning is not None:
            for states, pos in summ.returns:
                if states and max(states) > 0:
                    leaf = Leaf("return", None, "return", pos, (Link(d.name, d.path, pos[0]),), max(states))
                    out.append(self._finding(returning, d, leaf, None, site(leaf)))
        if unbalanced is not None and summ.fallthrough and max(summ.fallthrough) > 0:
            end = d.fact.end_line if d.fact is not None else d.line
            leaf = Leaf("end", None, "}", (end, 1, end, 2), (Link(d.name, d.path, end),), max(summ.fallthrough))
            out.append(self._finding(unbalanced, d, leaf, None, site(leaf, variant="open")))
        return [f for f in out if f is not None]

    def _possible_candidates(self, d: FuncDef, leaf: Leaf) -> list[tuple[FuncDef, Formula]]:
        """The candidates the call reaches in some configuration that builds the caller and
        makes the call."""
        conds = leaf.cand_conds or (L.TRUE,) * len(leaf.candidates)
        return [(c, cc) for c, cc in zip(leaf.candidates, conds) if self._possible(d, leaf.cond & cc)]

    def is_empty(self, c: FuncDef) -> bool:
        """A body that makes no call (``static inline void f(void) { }``, one ``asm``): still not
        safe when plain inline (gcc may emit it out of line, where it can be traced or probed),
        but the message says so."""
        got = self._trivial.get(id(c))
        if got is None:
            got = not _has_calls(self.index.events_of(c))
            self._trivial[id(c)] = got
        return got

    def _inlined_notes(self, d: FuncDef, helpers: list[FuncDef], fam: Family) -> list[Note]:
        """What the build calls from ``d`` when gcc inlines the helper (objtool names those).
        The shipped families say what objtool would: the calls that are not noinstr."""
        if fam.builtin:
            fam = self.rules.family("noinstr") or fam
        notes = []
        for c in helpers:
            if not may_inline(d.path, c):
                continue
            got = self._inner.get((id(c), fam.name))
            if got is None:
                summ = self.analyzer.analyze_function(c)
                got = self._inner[(id(c), fam.name)] = (
                    sorted({l.callee for l in summ.leaves if l.kind == "call" and l.rel <= 0 and l.callee
                            and any(not fam.is_safe(x.classes) for x in l.candidates)}),
                    self.analyzer.names_by_def.get(id(c), frozenset()))
            inner, asked = got
            mine = self.analyzer.names_by_def.get(id(d))
            if mine is not None:  # the note depends on the helper's callees too
                self.analyzer.names_by_def[id(d)] = mine | asked
            if inner:
                shown = ", ".join(f"{n}()" for n in inner[:6]) + (f" and {len(inner) - 6} more" if len(inner) > 6 else "")
                notes.append(Note("inlined", f"gcc may inline '{c.name}' into '{d.name}' "
                                  f"({'same file' if c.path == d.path else 'header inline'}); "
                                  f"the build then calls from '{d.name}': {shown} (not {fam.name})"))
        return notes

    # building findings --------------------------------------------------------------------------
    def _finding(self, rule: Rule, d: FuncDef, leaf: Leaf, callee: str | None, site: Site,
                 chosen: list[tuple[FuncDef, Formula]] | None = None, fam: Family | None = None) -> Finding | None:
        """``rule``'s finding, with the configurations where it is real; None when there is none.
        ``chosen``: the candidate definitions it is about, with when the call reaches each."""
        code = rule.code
        message = rule.message_of(site)
        extra = leaf.cond
        if chosen is not None:
            extra = extra & L.disj(cc for _c, cc in chosen)
        total = self._condition(d, extra)
        witness = self._witness_of(total)
        if witness is None:
            return None
        line, col, eline, ecol = leaf.pos
        chain = list(leaf.chain)
        cands = [
            {"function": c.name, "file": c.path, "line": c.line, "class": C.describe(c.classes)}
            for c in leaf.candidates
        ]
        notes: list[Note] = []
        if callee is not None and leaf.candidates and rule.kind in (CALL, INLINE_CALL) and fam is not None:
            bad = [c for c, _cc in chosen or ()]
            if bad:
                what = C.class_words(C.describe(bad[0].classes)) if fam.builtin else f"not {fam.name}"
                notes.append(Note("defined", f"'{callee}' is defined at {{at}} ({what})", bad[0].path, bad[0].line))
            notes += self._inlined_notes(d, bad, fam)
        shown = self.model.simplify(total) if self.model is not None else L.simplify(total)
        conditions = [] if shown is L.TRUE else [L.to_text(shown)]
        if conditions and len(conditions[0]) <= MAX_SHOWN_CONDITION:
            message += f" (only when {conditions[0]})"
        elif conditions:
            message += " (only in some configurations)"
        f = Finding(code, d.path, line, col, eline, ecol, d.name, callee, message, chain, cands, notes, detail=leaf.text)
        f.conditions = conditions
        f.witness = witness
        f.group = _group(code, callee or leaf.text, chosen, leaf)
        return f


def _group(code: str, what: str, chosen: list[tuple[FuncDef, Formula]] | None, leaf: Leaf) -> str:
    """The root cause a finding shares with others: the callee's definition, and the condition
    of the helper or macro whose body makes the call (every likely() under branch profiling
    is one group, whichever function it is in)."""
    where = f" ({chosen[0][0].path})" if chosen else ""  # (no line: edits above it move it)
    writer = next((l for l in reversed(leaf.chain) if l.kind != "callee"), None)
    when = f" when {writer.condition}" if writer is not None and writer.condition else ""
    return f"{code} {what}{where}{when}"


def _via(leaf: Leaf) -> str:
    mids = [l.function for l in leaf.chain[1:] if l.kind in ("always_inline", "macro")]
    asm = " from inline asm" if leaf.text.startswith("asm(") else ""
    return (f" via {' -> '.join(mids)}" if mids else "") + asm


def _leaf_order(leaf: Leaf):
    return (leaf.pos, leaf.kind, leaf.callee or "", leaf.text, len(leaf.chain))


def _has_calls(events: list) -> bool:
    for ev in events:
        k = ev[0]
        if k in ("call", "icall"):
            return True
        if k == "if" and (_has_calls(ev[1]) or _has_calls(ev[2]) or _has_calls(ev[3])):
            return True
        if k == "pp" and any(_has_calls(e) for _, e in ev[1]):
            return True
        if k == "loop" and (_has_calls(ev[1]) or _has_calls(ev[2])):
            return True
        if k == "switch" and (_has_calls(ev[1]) or any(_has_calls(c) for c in ev[2])):
            return True
        if k == "return" and _has_calls(ev[1]):
            return True
    return False


def assign_fingerprints(findings: list[Finding]) -> None:
    """Stable ids without line numbers; identical material gets an occurrence number."""
    seen: dict[str, int] = {}
    for f in findings:
        material = f.fingerprint_material()
        n = seen.get(material, 0)
        seen[material] = n + 1
        f.fingerprint = hashlib.sha256(f"{material}|{n}".encode()).hexdigest()[:20]
