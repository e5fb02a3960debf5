"""What a function ends up calling once always-inline helpers and macros are expanded.

``Analyzer.summary(unit)`` walks a unit (a function body, or a macro expansion) with
:class:`~kannot.analysis.flow.Flow` and returns its *leaves*: every call that stays a call after inlining,
each with the chain that reaches it and the lowest region count it is reached with, relative to the
unit's entry. Summaries of helpers are memoised and composed into their callers, so a helper used
by 50 noinstr functions is expanded once. Rules (``kannot.analysis.checks``) judge leaves; nothing here
decides what is a finding.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Callable

from kannot.rules import classes as C
from kannot.facts import cpp
from kannot.facts.asmcalls import ASM_CALL, SIZE_WILDCARD, SIZES, resolve
from kannot.build import logic as L
from kannot.build.logic import Formula
from kannot.analysis.findings import Link  # noqa: F401  (re-exported: the chain's links)
from kannot.analysis.flow import Flow, States, clamp, shift
from kannot.index.core import FuncDef, Index, MacroRef
from kannot.facts.ir import IRBuilder
from kannot.facts.parsing import parse
from kannot.rules import DEFAULT_RULES

# the region markers (kannot/rules/families.toml's [regions]): instrumentation allowed between them
REGION_BEGIN = DEFAULT_RULES.region_begin
REGION_END = DEFAULT_RULES.region_end
STATIC_CALL_MACROS = frozenset({"static_call", "static_call_cond", "static_call_mod", "static_call_ro", "__static_call", "static_call_query"})
NORETURN_BUILTINS = frozenset({"__builtin_unreachable", "__builtin_trap", "unreachable", "__builtin_abort"})
# Names that are never a call in the compiled code (compile-time checks whose expansion kannot
# cannot see through); anything else unknown is reported as unresolved.
COMPILE_TIME = re.compile(
    r"__compiletime_assert\w*|__build_bug\w*|__bad_\w+|__compiletime_error\w*|__attribute__|__typeof\w*"
    r"|__diag\w*|__VA_OPT__|__has_builtin|defined|\w+_wrong_size|\w*wrong_branch_error|\w+_not_implemented"
    r"|__atomic_\w+|__sync_\w+|__get_user_bad|__put_user_bad|__bad_size_call_parameter|__invalid_\w+"
)
MAX_DEPTH = 24
# Leaves one protected function's expansion may make (its helpers' memoised summaries not
# counted again): a bound on memory whatever macros a tree has; past it the function is
# skipped and said by name.
MAX_LEAVES = 250_000


class ExpansionBudget(Exception):
    """A protected function whose expansion went past :data:`MAX_LEAVES`."""
MAX_CORRELATED = 4  # #if conditions enumerated together in one body (2**4 runs at most)
_CONSTANT_ARG = re.compile(r"true|false|NULL|\(?\s*-?\d+[uUlL]*\s*\)?")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_CONSTANT_BODY = re.compile(rb"\{\s*return\s+\(?\s*(true|false|0|1)\s*\)?\s*;\s*\}")
_STRING_MACRO_RE = re.compile(r"\b[A-Z][A-Z0-9_]*\s+(?=\"|pr_fmt\s*\(|[A-Z][A-Z0-9_]*\s+\")")


@dataclass(slots=True)
class Leaf:
    kind: str  # call | icall | end | unresolved | static_call
    callee: str | None  # None for indirect calls and region ends
    text: str  # what is called, as written (the callee name, or the pointer expression)
    pos: tuple[int, int, int, int]  # call site in the unit being summarised
    chain: tuple[Link, ...]  # from the unit's call site down to the callee
    rel: int  # lowest region count at the call, relative to the unit's entry
    candidates: tuple[FuncDef, ...] = ()
    # the configurations in which the call is made (the #if branches it is in, the conditions of
    # the helpers and macros on its chain), relative to the unit; and, per candidate, when the
    # call reaches that definition
    cond: Formula = L.TRUE
    cand_conds: tuple[Formula, ...] = ()
    # other definitions of the callee were expanded at this call (always-inline ones, a macro):
    # when none of ``candidates`` exists where the call is made, one of those is what it calls
    covered: bool = False

    def key(self) -> tuple:
        return (self.kind, self.callee, self.text, tuple((l.function, l.line) for l in self.chain),
                tuple(id(c) for c in self.candidates))


@dataclass(slots=True)
class Summary:
    leaves: list[Leaf]
    exits: States  # region counts at the unit's exits (relative); empty: never returns
    returns: list[tuple[States, tuple]] = field(default_factory=list)
    fallthrough: States = frozenset()  # counts when control falls off the end of the body


@dataclass(frozen=True, slots=True)
class Unit:
    name: str
    path: str  # resolution context and chain file
    kind: str  # function | always_inline | macro
    line: int
    condition: str = ""
    arches: tuple[str, ...] | None = None  # the top-level caller's arch: resolves <asm/...>


class Analyzer:
    def __init__(self, index: Index):
        self.index = index
        self._memo: dict[tuple, Summary] = {}
        self._active: set[tuple] = set()
        self._macro_ir: dict[tuple, list] = {}
        self._evaluate = index.evaluate
        self._cond_of = index.cond_of
        # the names each summary looked up, its helpers' included: what a protected function's
        # result depends on (kannot.store.memo re-checks it when a file defining one of them changes)
        self._names: list[set[str]] = []
        self._memo_names: dict[tuple, frozenset[str]] = {}
        self.names_by_def: dict[int, frozenset[str]] = {}  # id(FuncDef) -> names its summary asked
        self.made = 0  # leaves made for the function being analysed
        # per definition / call context, what bodies say (read from the source once)
        self._called: dict[tuple[int, str], bool] = {}
        self._constant: dict[int, bool | None] = {}
        self._call_truth: dict[tuple, tuple[Formula, Formula]] = {}

    # public -----------------------------------------------------------------------------------
    def analyze_function(self, d: FuncDef) -> Summary:
        """Top-level summary of a protected function (its returns are kept for the rules)."""
        arches = (d.path.split("/")[1],) if d.path.startswith("arch/") and d.path.count("/") >= 2 else None
        if arches is None and self.index.model is not None:
            arches = (self.index.model.arch,)
        unit = Unit(d.name, d.path, "function", d.line, arches=arches)
        if not self._names:
            self.made = 0
        self._names.append({d.name})
        try:
            events = self.index.events_of(d)
            # conditions the arch's configurations do not decide
            conds = [c for c in _pp_conditions(events) if self._evaluate(c) is None]
            if not conds or len(conds) > MAX_CORRELATED:
                return self._summarize(unit, events, depth=0, keep_returns=True)
            return self._summarize_per_assignment(unit, events, conds)
        finally:
            names = self._names.pop()
            self.names_by_def[id(d)] = frozenset(names)
            if self._names:
                self._names[-1] |= names

    def _summarize_per_assignment(self, unit: Unit, events: list, conds: list[str]) -> Summary:
        """The same #if condition decides every branch that tests it, on one build: run the body
        once per assignment of its (few) conditions, so that a begin and an end under the same
        #ifdef stay paired; a leaf says under which assignments it is reached (unprotected,
        when it is so in some)."""
        per_key: dict[tuple, list[tuple[Leaf, Formula]]] = {}
        returns: list = []
        fall: set[int] = set()
        exits: set[int] = set()
        formulas = [self._cond_of(c) for c in conds]
        for values in itertools.product((True, False), repeat=len(conds)):
            table = dict(zip(conds, values))
            base = self._evaluate

            def evaluate(cond: str, table=table, base=base):
                return table[cond] if cond in table else base(cond)

            where = L.conj(f if v else L.neg(f) for f, v in zip(formulas, values))
            if where is L.FALSE:
                continue
            summ = self._summarize(unit, events, depth=0, keep_returns=True, evaluate=evaluate)
            for leaf in summ.leaves:
                per_key.setdefault((leaf.pos, leaf.key()), []).append((leaf, where))
            returns += summ.returns
            fall |= summ.fallthrough
            exits |= summ.exits
        leaves = []
        for found in per_key.values():
            unprotected = [(lf, w) for lf, w in found if lf.rel <= 0]
            use = unprotected or found
            first = min((lf for lf, _w in use), key=lambda lf: lf.rel)
            cond = L.disj(lf.cond & w for lf, w in use)
            cands = first.cand_conds
            if first.candidates and all(lf.candidates == first.candidates for lf, _w in use):
                cands = tuple(L.disj(lf.cand_conds[i] for lf, _w in use) for i in range(len(first.candidates)))
            leaves.append(Leaf(first.kind, first.callee, first.text, first.pos, first.chain, first.rel,
                               first.candidates, L.simplify(cond), cands, first.covered))
        return Summary(leaves, frozenset(exits), returns, frozenset(fall))

    # summaries --------------------------------------------------------------------------------
    def _summarize(self, unit: Unit, events: list, depth: int, keep_returns: bool = False, evaluate=None) -> Summary:
        leaves: dict[tuple, Leaf] = {}

        def add(leaf: Leaf) -> None:
            if leaf.cond is L.FALSE:
                return
            self.made += 1
            if self.made > MAX_LEAVES:
                raise ExpansionBudget(f"its expansion makes more than {MAX_LEAVES} calls")
            k = (leaf.pos, leaf.key(), leaf.rel > 0)
            old = leaves.get(k)
            if old is None:
                leaves[k] = leaf
            else:  # the same call reached on other #if paths
                old.cond = old.cond | leaf.cond
                old.rel = min(old.rel, leaf.rel)
                old.covered = old.covered or leaf.covered
                if old.cand_conds and len(old.cand_conds) == len(leaf.cand_conds):
                    old.cand_conds = tuple(a | b for a, b in zip(old.cand_conds, leaf.cand_conds))

        flow = Flow(lambda ev, states: self._call(unit, ev, states, add, depth, flow.path),
                    evaluate or self._evaluate, self._cond_of, branch_conds=lambda shape: self._branch_conds(unit, shape))
        out = flow.run(events, frozenset({0}))
        exits = out | frozenset(s for st, _ in flow.returns for s in st)
        return Summary(list(leaves.values()), exits, flow.returns if keep_returns else [], out)

    def _helper_summary(self, key: tuple, unit: Unit, events_fn, depth: int) -> Summary:
        got = self._memo.get(key)
        if got is not None:
            if self._names:
                self._names[-1] |= self._memo_names[key]
            return got
        if key in self._active or depth > MAX_DEPTH:
            return Summary([], frozenset({0}))  # recursion: assume a neutral helper
        self._active.add(key)
        self._names.append(set())
        try:
            summ = self._summarize(unit, events_fn(), depth + 1)
        finally:
            self._active.discard(key)
            names = self._names.pop()
            if self._names:
                self._names[-1] |= names
        self._memo[key] = summ
        self._memo_names[key] = frozenset(names)
        return summ

    def _call(self, unit: Unit, ev: tuple, states: States, add, depth: int, pc: Formula) -> States:
        pos = ev[3] if ev[0] == "call" else ev[2]
        here = Link(unit.name, unit.path, pos[0] if unit.kind != "macro" else unit.line, unit.kind, unit.condition)
        low = min(states)
        if ev[0] == "icall":
            states = self._run_sub(unit, ev[3], states, add, depth, pc)
            if not states:
                return states
            text = ev[1]
            add(Leaf("icall", None, text, pos, (here,), min(states), cond=pc))
            return states
        _, name, args, _pos, arg_events, tail = ev
        if self._names:
            self._names[-1].add(name)
        if name == REGION_BEGIN:
            return shift(states, +1)
        if name == REGION_END:
            add(Leaf("end", None, name, pos, (here,), low, cond=pc))
            return shift(states, -1)
        if name in NORETURN_BUILTINS:
            return frozenset()
        if tail is not None and name in STATIC_CALL_MACROS:
            states = self._run_sub(unit, arg_events, states, add, depth, pc)
            add(Leaf("static_call", None, f"{name}({args})", pos, (here,), min(states) if states else low, cond=pc))
            return states
        if name == ASM_CALL:
            return self._asm_call(unit, args, pos, here, states, add, pc)
        if name.startswith("__builtin_") or COMPILE_TIME.fullmatch(name):
            return self._run_sub(unit, arg_events, states, add, depth, pc)

        macro_refs = self.index.macros_for(name, unit.path, unit.arches)
        if tail is None:
            macro_refs = [r for r in macro_refs if r.macro.function_like or not _is_self_alias(r)]
        # a function-like macro called with another number of arguments is not what this call
        # expands (spinlock_api_up.h's two-argument _raw_spin_lock_irqsave() for a one-argument call)
        arg_count = len(cpp.split_args(args)) if args.strip() else 0
        macro_refs = [r for r in macro_refs if _arity_fits(r.macro, arg_count)]
        # a macro of that name is what the call expands: functions generated under that name
        # elsewhere (by a pasting TRACE_EVENT()-like macro) are not searched for
        func_defs = self.index.funcs_for(name, unit.path, unit.arches, generated=not macro_refs)
        if any(r.path.startswith("arch/") for r in macro_refs) or any(d.path.startswith("arch/") for d in func_defs):
            # the arch's own definition (macro or function) overrides the asm-generic fallback
            macro_refs = [r for r in macro_refs if not r.path.startswith("include/asm-generic/")]
            func_defs = [d for d in func_defs if not d.path.startswith("include/asm-generic/")] or func_defs
        out: set[int] = set()
        applied = False
        macro_conds: list[Formula] = []
        for ref in macro_refs:
            mc = self.index.candidate_cond(unit.path, unit.arches, ref)
            if mc is L.FALSE or self.index.model is not None and not self.index.model.satisfiable(mc):
                continue  # this definition is never the one here
            applied = True
            macro_conds.append(mc)
            out |= self._apply_macro(unit, ref, args, tail, pos, here, states, add, depth, pc & mc)
        if func_defs or not macro_refs:
            applied = True
            # where a macro of that name is defined, the call is its expansion, not a call
            fc = pc & L.neg(L.disj(macro_conds)) if macro_conds else pc
            if fc is not L.FALSE:
                out |= self._apply_function_call(unit, name, arg_events, tail, pos, here, func_defs, states, add, depth, fc,
                                                 covered=bool(macro_conds), args=args)
        if not applied:  # no definition of NAME exists where this call is: it never runs
            return states
        return frozenset(out)

    def _asm_call(self, unit: Unit, target: str, pos, here: Link, states: States, add, pc: Formula) -> States:
        """A ``call`` an asm statement makes (kannot.facts.asmcalls): never inlined; judged by the
        definitions of its target (``.S`` symbols carry their section)."""
        low = min(states)
        text = f'asm("call {target}")'
        if target.startswith("__SCT__"):
            key = target.removeprefix("__SCT__")
            add(Leaf("static_call", None, f"static_call({key}) in {text}", pos, (here,), low, cond=pc))
            return states
        names = resolve(target)
        found: list[tuple[FuncDef, Formula]] = []
        for name in names:
            if self._names:
                self._names[-1].add(name)
            found += self._built(unit, self.index.funcs_for(name, unit.path, unit.arches))
        # one call, whichever size it is: __get_user_{1,2,4,8} are its candidates
        got_names = sorted({d.name for d, _c in found})
        if len(names) == 1 or len(got_names) == 1:
            shown = got_names[0] if got_names else names[0]
        else:
            head, _, tail = target.partition(SIZE_WILDCARD)
            sizes = sorted({n[len(head) : len(n) - len(tail)] for n in got_names} or SIZES, key=int)
            shown = f"{head}{{{','.join(sizes)}}}{tail}"
        if not found:
            add(Leaf("unresolved", shown, text, pos, (here, Link(shown, "", 0, "callee")), low, cond=pc))
            return states
        first = found[0][0]
        add(Leaf("call", shown, text, pos, (here, Link(shown, first.path, first.line, "callee")), low,
                 tuple(d for d, _c in found), pc, tuple(c for _d, c in found)))
        return states

    def _run_sub(self, unit: Unit, events: list, states: States, add, depth: int, pc: Formula) -> States:
        if not events:
            return states
        flow = Flow(lambda e, s: self._call(unit, e, s, add, depth, flow.path), self._evaluate, self._cond_of, pc,
                    branch_conds=lambda shape: self._branch_conds(unit, shape))
        return flow.run(events, states)

    def _apply_function_call(self, unit, name, arg_events, tail, pos, here, defs, states, add, depth, pc,
                             covered: bool = False, args: str = "") -> States:
        states = self._run_sub(unit, arg_events, states, add, depth, pc)
        if not states:
            return states
        low = min(states)
        if name.startswith("__ubsan_handle_"):
            add(Leaf("static_call", name, name, pos, (here,), low, cond=pc))  # objtool accepts these
            return states
        kept = self._built(unit, defs)
        if not kept:
            if self.index.is_pointer_var(name):
                add(Leaf("icall", None, name, pos, (here,), low, cond=pc))
            elif self.index.is_function_macro(name) or self.index.has_macro(name):
                pass  # a macro whose definition kannot keeps no body for: no call in it
            else:
                add(Leaf("unresolved", name, name, pos, (here, Link(name, "", 0, "callee")), low, cond=pc))
            return states
        inlined = [(d, c) for d, c in kept if C.ALWAYS_INLINE in d.classes and C.NOINSTR not in d.classes]
        called = [(d, c) for d, c in kept if (d, c) not in inlined]
        out: set[int] = set()
        for d, c in inlined:
            bound = self._bindings(d, args, unit)
            key = ("fn", id(d), unit.arches, bound)
            sub_unit = Unit(d.name, d.path, "always_inline", d.line, _shown(self.index.cond_of(d.condition)), unit.arches)
            events_fn: Callable[..., list]
            if bound:
                events_fn = lambda d=d, bound=bound: self.index.bound_events_of(d, bound)  # noqa: E731
            else:
                events_fn = lambda d=d: self.index.events_of(d)  # noqa: E731
            summ = self._helper_summary(key, sub_unit, events_fn, depth)
            out |= self._compose(summ, pos, here, states, add, pc & c)
        if called:
            first = called[0][0]
            callee_link = Link(name, first.path, first.line, "callee")
            add(Leaf("call", name, name, pos, (here, callee_link), low, tuple(d for d, _c in called), pc,
                     tuple(c for _d, c in called), covered or bool(inlined)))
            if not all(C.NORETURN in d.classes for d, _c in called):
                out |= states
            if tail is not None:
                add(Leaf("icall", None, f"{name}({'...'})({tail})", pos, (here,), low, cond=pc))
        return frozenset(out)

    def _built(self, unit: Unit, defs: list[FuncDef]) -> list[tuple[FuncDef, Formula]]:
        """The definitions some configuration builds next to a call from ``unit``, each with
        when the call reaches it (a definition no configuration builds there is no candidate)."""
        model = self.index.model
        out = []
        for d in defs:
            c = self.index.candidate_cond(unit.path, unit.arches, d)
            if c is not L.FALSE and (model is None or model.satisfiable(c)):
                out.append((d, c))
        return out

    def _branch_conds(self, unit: Unit, shape) -> tuple[Formula, Formula] | None:
        """When an ``if`` condition of this shape can be true, and when false, from what the
        always-inline helpers it calls return (None: both, always)."""
        got = self._shape_conds(unit, shape)
        return None if got == (L.TRUE, L.TRUE) else got

    def _shape_conds(self, unit: Unit, shape) -> tuple[Formula, Formula]:
        if shape is None:
            return (L.TRUE, L.TRUE)
        kind = shape[0]
        if kind == "not":
            t, f = self._shape_conds(unit, shape[1])
            return (f, t)
        if kind in ("and", "or"):
            ta, fa = self._shape_conds(unit, shape[1])
            tb, fb = self._shape_conds(unit, shape[2])
            return (ta & tb, fa | fb) if kind == "and" else (ta | tb, fa & fb)
        name = shape[1]
        if self._names:
            self._names[-1].add(name)
        key = (unit.path, unit.arches, name)
        got = self._call_truth.get(key)
        if got is None:
            got = self._call_truth[key] = self._call_conds(unit, name)
        return got

    def _call_conds(self, unit: Unit, name: str) -> tuple[Formula, Formula]:
        if self.index.macros_for(name, unit.path, unit.arches):
            return (L.TRUE, L.TRUE)  # a macro: its expansion is not read here
        defs = self.index.funcs_for(name, unit.path, unit.arches)
        if not defs:
            return (L.TRUE, L.TRUE)
        true_when: list[Formula] = []
        false_when: list[Formula] = []
        for d, c in self._built(unit, defs):
            v = self._constant_return(d)
            if v is not False:
                true_when.append(c)
            if v is not True:
                false_when.append(c)
        if not true_when and not false_when:
            return (L.TRUE, L.TRUE)
        return (L.disj(true_when), L.disj(false_when))

    def _constant_return(self, d: FuncDef) -> bool | None:
        """``{ return false; }`` of an always-inline helper: what every call of it yields
        (a plain function's call is made whatever it returns)."""
        if id(d) not in self._constant:
            self._constant[id(d)] = self._read_constant_return(d)
        return self._constant[id(d)]

    def _read_constant_return(self, d: FuncDef) -> bool | None:
        if C.ALWAYS_INLINE not in d.classes or d.fact is None:
            return None
        src = self.index.source(d.path)
        if src is None:
            return None
        m = _CONSTANT_BODY.fullmatch(src[d.fact.body_start : d.fact.body_end])
        if m is None:
            return None
        return m.group(1) not in (b"false", b"0")

    def _bindings(self, d: FuncDef, args: str, unit: Unit) -> tuple[tuple[str, str], ...]:
        """The parameters of always-inline ``d`` a call binds to something known: a constant
        (``__pvclock_clocksource_read(src, false)``) or a function called through the
        parameter (``__inline_bsearch(..., patch_cmp)``)."""
        params = d.fact.params if d.fact is not None else ()
        if not params or not args.strip():
            return ()
        values = cpp.split_args(args)
        if len(values) != len(params):
            return ()
        out = []
        for p, v in zip(params, values):
            v = v.strip()
            if _CONSTANT_ARG.fullmatch(v):
                out.append((p, v))
            elif _IDENT.fullmatch(v) and v != p and self._called_param(d, p) \
                    and self.index.funcs_for(v, unit.path, unit.arches):
                out.append((p, v))
        return tuple(out)

    def _called_param(self, d: FuncDef, param: str) -> bool:
        key = (id(d), param)
        got = self._called.get(key)
        if got is None:
            got = self._called[key] = self._reads_called_param(d, param)
        return got

    def _reads_called_param(self, d: FuncDef, param: str) -> bool:
        src = self.index.source(d.path)
        if src is None or d.fact is None:
            return False
        return re.search(rb"(?<![\w.>])" + re.escape(param.encode()) + rb"\s*\(", src[d.fact.body_start : d.fact.body_end]) is not None

    def _apply_macro(self, unit, ref: MacroRef, args, tail, pos, here, states, add, depth, pc) -> States:
        macro = ref.macro
        arg_list = cpp.split_args(args) if args else []
        key = ("macro", id(macro), args, tail, unit.path, unit.arches)
        link = here
        sub_unit = Unit(ref.name, ref.path, "macro", macro.line, _shown(self.index.cond_of(macro.condition)), unit.arches)

        def events():
            return self._macro_events(macro, arg_list, tail)

        summ = self._helper_summary(key, sub_unit, events, depth)
        return self._compose(summ, pos, link, states, add, pc)

    def _compose(self, summ: Summary, pos, here: Link, states: States, add, pc: Formula) -> States:
        low = min(states)
        for leaf in summ.leaves:
            cond = pc & leaf.cond
            if cond is L.FALSE:
                continue
            add(Leaf(leaf.kind, leaf.callee, leaf.text, pos, (here,) + leaf.chain, clamp(low + leaf.rel),
                     leaf.candidates, cond, leaf.cand_conds, leaf.covered))
        if not summ.exits:
            return frozenset()
        return frozenset(clamp(s + e) for s in states for e in summ.exits)

    def _macro_events(self, macro: cpp.MacroDef, args: list[str], tail: str | None) -> list:
        key = (id(macro), tuple(args), tail)
        got = self._macro_ir.get(key)
        if got is not None:
            return got
        body = cpp.expand(macro, args) if macro.function_like else macro.body
        if tail is not None:
            body = f"{body}({tail})"
        if not macro.function_like and tail is None:
            body = f"{body}({', '.join(args)})"  # object-like alias in call position
        # KERN_EMERG pr_fmt(fmt): string-literal macros glued to a string; the parser cannot know
        body = _STRING_MACRO_RE.sub("", body)
        src = ("void __kannot_expansion(void)\n{\n" + body + "\n;}\n").encode()
        # the IR of an expansion is a pure function of its text: kept on the index across runs
        # (the language server checks the same files again after every edit)
        shared = self.index.expansion_ir
        got = shared.get(src)
        if got is not None:
            self._macro_ir[key] = got
            return got
        blanked = cpp.blank_attributes(src).text
        tree = parse(blanked)
        events: list = []
        builder = IRBuilder(blanked)
        for node in tree.root_node.named_children:
            b = node.child_by_field_name("body") if node.type == "function_definition" else None
            if b is not None:
                builder.stmt(b, events)
                break
        else:
            builder.expr(tree.root_node, events)
        self._macro_ir[key] = events
        if len(shared) > 100_000:
            shared.clear()
        shared[src] = events
        return events


def _arity_fits(macro: cpp.MacroDef, count: int) -> bool:
    """Can a call with ``count`` arguments be an expansion of ``macro``?"""
    if macro.params is None:
        return True
    params = macro.params
    if params and params[-1].endswith("..."):
        return count >= len(params) - 1
    if not params:
        return count == 0
    return count == len(params) or (len(params) == 1 and count == 0)


def _shown(f: Formula) -> str:
    """A definition's condition as the chain shows it (simplified; "" when always)."""
    return "" if f is L.TRUE else L.to_text(L.simplify(f))


def _pp_conditions(events: list) -> list[str]:
    """Distinct #if conditions tested in a body's own events (not in its callees)."""
    out: list[str] = []

    def walk(evs: list) -> None:
        for ev in evs:
            k = ev[0]
            if k == "pp":
                for cond, branch in ev[1]:
                    if cond != "else" and cond not in out:
                        out.append(cond)
                    walk(branch)
            elif k == "if":
                walk(ev[1]); walk(ev[2]); walk(ev[3])
            elif k == "loop":
                walk(ev[1]); walk(ev[2])
            elif k == "switch":
                walk(ev[1])
                for c in ev[2]:
                    walk(c)
            elif k == "return":
                walk(ev[1])

    walk(events)
    return out


def _is_self_alias(ref: MacroRef) -> bool:
    """``#define arch_atomic_read arch_atomic_read``: a feature flag, not an expansion."""
    return ref.macro.body.strip() == ref.name
