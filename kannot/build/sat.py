"""A SAT solver over :mod:`kannot.build.logic` formulas (python-sat's MiniSat 2.2).

Why python-sat: it is maintained, ships wheels for CPython on Linux and macOS (nothing to
compile), and its solvers are incremental: the arch's Kconfig constraints are loaded once and
each question ("can this finding exist?") is asked under an assumption, reusing what the solver
learned. pycosat would re-read every clause for each question.

Formulas become clauses by the Tseitin encoding (one variable per sub-formula, both directions,
so a formula can be assumed true or false); an or of literals and small ands of literals (most
Kconfig constraints) becomes clauses directly. The encoding lives in a :class:`Pool` that
several solvers share: the variables have the same numbers in each, and a solver made for one
question (a witness) replays the clauses the pool already made instead of encoding again.
"""
from __future__ import annotations

from pysat.solvers import Solver

from kannot.build.logic import FALSE, TRUE, Formula, neg

MODELS_KEPT = 8


class Pool:
    """Variables by name, formulas' literals and the clauses that define them."""

    def __init__(self) -> None:
        self.vars: dict[str, int] = {}
        self.names: list[str] = ["", ""]  # variable 1 is "true"
        self.lits: dict[Formula, int] = {TRUE: 1, FALSE: -1}
        self.defs: dict[int, list[list[int]]] = {}  # a sub-formula's variable -> its clauses
        self._needs: dict[Formula, tuple[int, ...]] = {}
        self._asserts: dict[Formula, tuple[tuple[int, ...], list[list[int]]]] = {}

    def _new(self, name: str = "") -> int:
        self.names.append(name)
        return len(self.names) - 1

    def var(self, name: str) -> int:
        v = self.vars.get(name)
        if v is None:
            v = self.vars[name] = self._new(name)
        return v

    def lit(self, f: Formula) -> int:
        got = self.lits.get(f)
        if got is not None:
            return got
        # iterative post-order: formulas from long #elif chains nest deeply
        stack: list[tuple[Formula, bool]] = [(f, False)]
        while stack:
            node, ready = stack.pop()
            if node in self.lits:
                continue
            op = node.op
            if op == "a":
                self.lits[node] = self.var(node.args)
            elif not ready:
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(node.ordered_children()) if c not in self.lits)
            elif op == "!":
                self.lits[node] = -self.lits[node.args]
            else:
                kids = [self.lits[c] for c in node.ordered_children()]
                v = self._new()
                if op == "&":
                    clauses = [[-v, k] for k in kids] + [[v] + [-k for k in kids]]
                else:
                    clauses = [[v, -k] for k in kids] + [[-v] + kids]
                self.defs[v] = clauses
                self.lits[node] = v
        return self.lits[f]

    def needs(self, f: Formula) -> tuple[int, ...]:
        """The sub-formula variables ``f``'s literal relies on, children first."""
        got = self._needs.get(f)
        if got is not None:
            return got
        self.lit(f)
        order: list[int] = []
        seen: set[int] = set()
        stack: list[tuple[Formula, bool]] = [(f, False)]
        while stack:
            node, ready = stack.pop()
            if node.op in "01a":
                continue
            if node.op == "!":
                stack.append((node.args, False))
                continue
            v = self.lits[node]
            if v in seen:
                continue
            if ready:
                seen.add(v)
                order.append(v)
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(node.ordered_children()))
        got = tuple(order)
        self._needs[f] = got
        return got

    def asserting(self, f: Formula) -> tuple[tuple[int, ...], list[list[int]]]:
        """What asserting ``f`` takes: the sub-formula variables to define, and its clauses."""
        got = self._asserts.get(f)
        if got is not None:
            return got
        needs: list[int] = []
        clauses: list[list[int]] = []
        todo = [f]
        while todo:
            g = todo.pop()
            if g is TRUE:
                continue
            if g.op == "&":
                todo.extend(reversed(g.ordered_children()))
                continue
            small = _small_cnf(g)
            if small is not None:  # (no variable of its own: a smaller, faster solver)
                clauses.extend([self.lit(c) for c in clause] for clause in small)
            else:
                needs.extend(self.needs(g))
                clauses.append([self.lit(g)])
        got = (tuple(needs), clauses)
        self._asserts[f] = got
        return got


class Sat:
    def __init__(self, pool: Pool | None = None) -> None:
        self.pool = pool if pool is not None else Pool()
        self._solver = Solver(name="minisat22")
        self._solver.add_clause([1])
        self._defined: set[int] = set()
        self._answers: dict[tuple[Formula, tuple[int, ...]], bool] = {}
        # models found so far, newest first, with the generation of constraints they satisfy
        self.models: list[tuple[int, list[int]]] = []
        self.generation = 0  # bumped by the caller each time it adds constraints

    def close(self) -> None:
        self._solver.delete()

    def var(self, name: str) -> int:
        return self.pool.var(name)

    def _define(self, needs: tuple[int, ...]) -> None:
        defined = self._defined
        add = self._solver.add_clause
        defs = self.pool.defs
        for v in needs:
            if v not in defined:
                defined.add(v)
                for clause in defs[v]:
                    add(clause)

    def lit(self, f: Formula) -> int:
        """The literal equivalent to ``f`` in this solver (its defining clauses added)."""
        lit = self.pool.lit(f)
        if abs(lit) != 1 and abs(lit) in self.pool.defs and abs(lit) not in self._defined:
            self._define(self.pool.needs(f))
        return lit

    def add(self, f: Formula) -> None:
        """Assert ``f`` for every later question. (Answers stay: what is added is the
        constraints of symbols no earlier question named, which cannot change its answer; see
        kannot.build.model.)"""
        needs, clauses = self.pool.asserting(f)
        self._define(needs)
        add = self._solver.add_clause
        for clause in clauses:
            add(clause)

    def prefer(self, lits: list[int]) -> None:
        """The values the solver tries first for these variables (it still finds any model)."""
        self._solver.set_phases(literals=lits)

    def satisfiable(self, f: Formula, assume: tuple[int, ...] = ()) -> bool:
        if f is FALSE:
            return False
        key = (f, assume)
        got = self._answers.get(key)
        if got is None:
            got = bool(self._solver.solve(assumptions=[self.lit(f), *assume]))
            self._answers[key] = got
            if got and not assume:
                self._keep_model()
        return got

    def _keep_model(self) -> None:
        """Keep the model just found: the next questions try it first (a condition true in a
        known configuration needs no solver call)."""
        self.models.insert(0, (self.generation, self._solver.get_model() or []))
        del self.models[MODELS_KEPT:]

    def value_in(self, model: list[int], name: str) -> bool | None:
        """``name``'s value in a kept model (None: a variable made after it)."""
        v = self.pool.vars.get(name)
        if v is None or v > len(model):
            return None
        return model[v - 1] > 0

    def raw_model(self, f: Formula, assume: tuple[int, ...] = ()) -> list[int] | None:
        """A configuration where ``f`` holds (the solver's literals, read with
        :meth:`value_in`), or None."""
        if f is FALSE or not self._solver.solve(assumptions=[self.lit(f), *assume]):
            return None
        return self._solver.get_model() or []

    def model(self, f: Formula, assume: tuple[int, ...] = ()) -> dict[str, bool] | None:
        """Values of every named variable in a configuration where ``f`` holds, or None."""
        if f is FALSE or not self._solver.solve(assumptions=[self.lit(f), *assume]):
            return None
        values = self._solver.get_model() or []
        out: dict[str, bool] = {}
        names = self.pool.names
        for lit in values:
            v = abs(lit)
            if v < len(names) and names[v]:
                out[names[v]] = lit > 0
        return out

    def decide(self, f: Formula, assume: tuple[int, ...] = ()) -> bool | None:
        """True when ``f`` holds in every configuration, False in none, else None."""
        if not self.satisfiable(f, assume):
            return False
        if not self.satisfiable(neg(f), assume):
            return True
        return None


def _is_literal(f: Formula) -> bool:
    return f.op == "a" or (f.op == "!" and f.args.op == "a")


def _small_cnf(f: Formula, limit: int = 8) -> list[list[Formula]] | None:
    """``f`` as at most ``limit`` clauses of literals, when it is an or of literals and of ands
    of literals (the shape of most Kconfig constraints: ``!A || !B || C``, ``!A || (B && C)``);
    None otherwise."""
    if _is_literal(f):
        return [[f]]
    if f.op == "!" and f.args.op == "|":
        kids = f.args.ordered_children()
        if all(_is_literal(k) for k in kids):
            return [[neg(k)] for k in kids]
        return None
    if f.op != "|":
        return None
    clauses: list[list[Formula]] = [[]]
    for kid in f.ordered_children():
        if _is_literal(kid):
            for c in clauses:
                c.append(kid)
        elif kid.op == "&" and all(_is_literal(k) for k in kid.args):
            parts = kid.ordered_children()
            if len(clauses) * len(parts) > limit:
                return None
            clauses = [c + [p] for c in clauses for p in parts]
        else:
            return None
    return clauses
