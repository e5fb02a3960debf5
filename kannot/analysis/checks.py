"""Rules: judge the leaves of each protected function and turn them into findings.

Which functions are checked, and by which family:
- noinstr: classes include noinstr (noinstr, __cpuidle, noinstr sections, bodies of definer macros
  such as DEFINE_IDTENTRY_RAW). Regions count; transitive through always-inline helpers and macros.
- nokprobe: NOKPROBE_SYMBOL() or __kprobes, not noinstr. Direct callees (after inlining).
- notrace: explicitly notrace, not inline, not noinstr. Direct callees (after inlining).
"""
from __future__ import annotations

import hashlib

from kannot.facts import classes as C
from kannot.analysis.analyzer import Analyzer, Leaf, Link
from kannot.build import logic as L
from kannot.build.logic import Formula
from kannot.analysis.findings import Finding, Note  # noqa: F401  (Finding re-exported)
from kannot.index.core import FuncDef, Index
from kannot.analysis.inlining import may_inline
from kannot.rules import ALL_RULES


NOINSTR_SAFE = frozenset({C.NOINSTR})
NOKPROBE_SAFE = frozenset({C.NOINSTR, C.KPROBES, C.NOKPROBE})
NOTRACE_SAFE = frozenset({C.NOTRACE, C.NOINSTR, C.KPROBES, C.INLINE})


def families_of(d: FuncDef) -> list[str]:
    if d.asm_section is not None or C.ALWAYS_INLINE in d.classes:
        return []
    if C.NOINSTR in d.classes:
        return ["noinstr"]
    fams = []
    if C.NOKPROBE in d.classes or C.KPROBES in d.classes:
        fams.append("nokprobe")
    if C.NOTRACE in d.classes and C.INLINE not in d.classes:
        fams.append("notrace")
    return fams


MAX_SHOWN_CONDITION = 160  # longer conditions are left to the witness in the message


class Checker:
    """Judges a protected function's leaves. A finding is made only when some configuration the
    arch's Kconfig accepts builds the caller and makes the call (kannot.build.model): its
    condition is the caller's presence, the #if branches and helpers on the chain, and the
    candidate definition's presence, with every ``defined(NAME)`` read for the caller's
    translation unit; the finding carries a witness configuration."""

    def __init__(self, index: Index, analyzer: Analyzer, enabled: set[str]):
        self.index = index
        self.analyzer = analyzer
        self.enabled = enabled
        self.model = index.model
        self._trivial: dict[int, bool] = {}
        self._witness: dict[Formula, list[str] | None] = {}
        self._inner: dict[int, tuple[list[str], frozenset[str]]] = {}  # id(helper) -> its calls, names asked

    def check_function(self, d: FuncDef) -> list[Finding]:
        fams = [f for f in families_of(d) if any(ALL_RULES[c].family == f and c in self.enabled for c in ALL_RULES)]
        if not fams:
            return []
        if not self._possible(d, L.TRUE):
            return []  # no configuration builds it
        summ = self.analyzer.analyze_function(d)
        out: list[Finding] = []
        for fam in fams:
            if fam == "noinstr":
                out += self._noinstr(d, summ)
            else:
                out += self._advisory(d, summ, fam)
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

    # noinstr ------------------------------------------------------------------------------------
    def _noinstr(self, d: FuncDef, summ) -> list[Finding]:
        out: list[Finding] = []
        what = "__cpuidle" if C.CPUIDLE in d.classes else "noinstr"
        for leaf in sorted(summ.leaves, key=_leaf_order):
            protected = leaf.rel > 0
            if leaf.kind == "end":
                # an always-inline helper that closes its caller's region (ct_cpuidle_enter) is
                # the kernel's idiom for idle paths, not an imbalance of this function's own
                if leaf.rel <= 0 and not any(l.kind == "always_inline" for l in leaf.chain[1:]):
                    out.append(self._finding("KN005", d, leaf, None,
                        f"instrumentation_end() without a matching instrumentation_begin() on some path in {what} function '{d.name}'" + _via(leaf)))
                continue
            if protected or leaf.kind == "static_call":
                continue
            if leaf.kind == "icall":
                out.append(self._finding("KN003", d, leaf, None,
                    f"{what} function '{d.name}' makes an indirect call through '{leaf.text}'{_via(leaf)} outside instrumentation_begin()/instrumentation_end()"))
            elif leaf.kind == "unresolved":
                out.append(self._finding("KN004", d, leaf, leaf.callee,
                    f"{what} function '{d.name}' calls '{leaf.callee}()'{_via(leaf)}, which has no definition in the tree (cannot tell if it is noinstr)"))
            elif leaf.kind == "call":
                pairs = self._possible_candidates(d, leaf)
                if not pairs and not leaf.covered:
                    # the call is made, but none of its definitions is built where it is: a
                    # definition kannot did not find (said, never taken as safe)
                    out.append(self._finding("KN004", d, leaf, leaf.callee,
                        f"{what} function '{d.name}' calls '{leaf.callee}()'{_via(leaf)}, but none of its definitions is built in the configurations that make this call (cannot tell if it is noinstr)"))
                    continue
                unsafe = [(c, cc) for c, cc in pairs if not (c.classes & NOINSTR_SAFE)]
                if not unsafe:
                    continue
                plain = [(c, cc) for c, cc in unsafe if C.INLINE not in c.classes]
                # plain inline, whatever its body: gcc may emit even an empty stub out of line
                inline = [(c, cc) for c, cc in unsafe if C.INLINE in c.classes]
                many = len(pairs) > 1
                cand_note = f" ({len(unsafe)} of {len(pairs)} candidate definitions are not noinstr)" if many else ""
                if plain:
                    out.append(self._finding("KN001", d, leaf, leaf.callee,
                        f"{what} function '{d.name}' calls instrumentable '{leaf.callee}()'{_via(leaf)} outside instrumentation_begin()/instrumentation_end(){cand_note}",
                        plain))
                elif inline:
                    empty = " (its body makes no call, but" if all(self.is_empty(c) for c, _cc in inline) else ""
                    why = f"{empty} may be emitted out of line)" if empty else " and may be emitted out of line"
                    out.append(self._finding("KN002", d, leaf, leaf.callee,
                        f"{what} function '{d.name}' calls '{leaf.callee}()'{_via(leaf)}, which is plain 'inline'{why}; make it __always_inline{cand_note}",
                        inline))
        for states, pos in summ.returns:
            if states and max(states) > 0:
                leaf = Leaf("return", None, "return", pos, (Link(d.name, d.path, pos[0]),), max(states))
                out.append(self._finding("KN006", d, leaf, None, f"return with instrumentation enabled in {what} function '{d.name}'"))
        if summ.fallthrough and max(summ.fallthrough) > 0:
            end = d.fact.end_line if d.fact is not None else d.line
            leaf = Leaf("end", None, "}", (end, 1, end, 2), (Link(d.name, d.path, end),), max(summ.fallthrough))
            out.append(self._finding("KN005", d, leaf, None,
                f"{what} function '{d.name}' can reach its end with an instrumentation region still open (instrumentation_begin() without instrumentation_end())"))
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

    def _inlined_notes(self, d: FuncDef, helpers: list[FuncDef]) -> list[Note]:
        """What the build calls from ``d`` when gcc inlines the helper (objtool names those)."""
        notes = []
        for c in helpers:
            if not may_inline(d.path, c):
                continue
            got = self._inner.get(id(c))
            if got is None:
                summ = self.analyzer.analyze_function(c)
                got = self._inner[id(c)] = (
                    sorted({l.callee for l in summ.leaves if l.kind == "call" and l.rel <= 0 and l.callee
                            and any(not (x.classes & NOINSTR_SAFE) for x in l.candidates)}),
                    self.analyzer.names_by_def.get(id(c), frozenset()))
            inner, asked = got
            mine = self.analyzer.names_by_def.get(id(d))
            if mine is not None:  # the note depends on the helper's callees too
                self.analyzer.names_by_def[id(d)] = mine | asked
            if inner:
                shown = ", ".join(f"{n}()" for n in inner[:6]) + (f" and {len(inner) - 6} more" if len(inner) > 6 else "")
                notes.append(Note("inlined", f"gcc may inline '{c.name}' into '{d.name}' "
                                  f"({'same file' if c.path == d.path else 'header inline'}); "
                                  f"the build then calls from '{d.name}': {shown} (not noinstr)"))
        return notes

    # advisory -----------------------------------------------------------------------------------
    def _advisory(self, d: FuncDef, summ, fam: str) -> list[Finding]:
        out = []
        safe = NOKPROBE_SAFE if fam == "nokprobe" else NOTRACE_SAFE
        code = "KN101" if fam == "nokprobe" else "KN201"
        label = "NOKPROBE" if fam == "nokprobe" else "notrace"
        for leaf in sorted(summ.leaves, key=_leaf_order):
            if leaf.kind != "call":
                continue
            unsafe = [c for c in leaf.candidates if not (c.classes & safe)]
            if not unsafe:
                continue
            possible = [(c, cc) for c, cc in self._possible_candidates(d, leaf) if c in unsafe]
            if not possible:
                continue
            what = "can be kprobed" if fam == "nokprobe" else "ftrace can trace"
            out.append(self._finding(code, d, leaf, leaf.callee, f"{label} function '{d.name}' calls '{leaf.callee}()'{_via(leaf)}, which {what}",
                                     possible))
        return [f for f in out if f is not None]

    # building findings --------------------------------------------------------------------------
    def _finding(self, code: str, d: FuncDef, leaf: Leaf, callee: str | None, message: str,
                 chosen: list[tuple[FuncDef, Formula]] | None = None) -> Finding | None:
        """The finding, with the configurations where it is real; None when there is none.
        ``chosen``: the candidate definitions it is about, with when the call reaches each."""
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
        if callee is not None and leaf.candidates and code in ("KN001", "KN002", "KN101", "KN201"):
            bad = [c for c, _cc in chosen or ()]
            if bad:
                notes.append(Note("defined", f"'{callee}' is defined at {{at}} ({C.class_words(C.describe(bad[0].classes))})",
                                  bad[0].path, bad[0].line))
            notes += self._inlined_notes(d, bad)
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
