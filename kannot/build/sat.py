"""A SAT solver over :mod:`kannot.build.logic` formulas (python-sat's MiniSat 2.2).

Why python-sat: it is maintained, ships wheels for CPython on Linux and macOS (nothing to
compile), and its solvers are incremental: the arch's Kconfig constraints are loaded once and
each question ("can this finding exist?") is asked under an assumption, reusing what the solver
learned. pycosat would re-read every clause for each question.

Formulas become clauses by the Tseitin encoding (one variable per sub-formula, both directions,
so a formula can be assumed true or false). Encoded sub-formulas are kept: the same condition
asked twice costs one solver call and no new clauses.
"""
from __future__ import annotations

from pysat.solvers import Solver

from .logic import FALSE, TRUE, Formula, neg


MODELS_KEPT = 8


class Sat:
    def __init__(self) -> None:
        self._solver = Solver(name="minisat22")
        self._vars: dict[str, int] = {}
        self._names: list[str] = [""]
        self._lits: dict[Formula, int] = {}
        self._answers: dict[tuple[Formula, tuple[int, ...]], bool] = {}
        # models found so far, newest first, with the generation of constraints they satisfy
        self.models: list[tuple[int, list[int]]] = []
        self.generation = 0  # bumped by the caller each time it adds constraints
        self._true = self._new()
        self._solver.add_clause([self._true])

    def close(self) -> None:
        self._solver.delete()

    def _new(self, name: str = "") -> int:
        self._names.append(name)
        return len(self._names) - 1

    def var(self, name: str) -> int:
        v = self._vars.get(name)
        if v is None:
            v = self._vars[name] = self._new(name)
        return v

    def known(self, name: str) -> bool:
        return name in self._vars

    def lit(self, f: Formula) -> int:
        """The literal equivalent to ``f`` (clauses added as needed)."""
        got = self._lits.get(f)
        if got is not None:
            return got
        # iterative post-order: formulas from long #elif chains nest deeply
        stack: list[tuple[Formula, bool]] = [(f, False)]
        while stack:
            node, ready = stack.pop()
            if node in self._lits:
                continue
            op = node.op
            if op == "1":
                self._lits[node] = self._true
            elif op == "0":
                self._lits[node] = -self._true
            elif op == "a":
                self._lits[node] = self.var(node.args)  # type: ignore[arg-type]
            elif not ready:
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(node.ordered_children()) if c not in self._lits)
            elif op == "!":
                self._lits[node] = -self._lits[node.args]  # type: ignore[index]
            else:
                kids = [self._lits[c] for c in node.ordered_children()]
                v = self._new()
                add = self._solver.add_clause
                if op == "&":
                    for k in kids:
                        add([-v, k])
                    add([v] + [-k for k in kids])
                else:
                    for k in kids:
                        add([v, -k])
                    add([-v] + kids)
                self._lits[node] = v
        return self._lits[f]

    def add(self, f: Formula) -> None:
        """Assert ``f`` for every later question."""
        if f is TRUE:
            return
        todo = [f]
        while todo:
            g = todo.pop()
            if g.op == "&":
                todo.extend(reversed(g.ordered_children()))
            elif g.op == "|" and all(c.op == "a" or (c.op == "!" and c.args.op == "a") for c in g.args):  # type: ignore[union-attr]
                self._solver.add_clause([self.lit(c) for c in g.ordered_children()])
            else:
                self._solver.add_clause([self.lit(g)])
        # (answers stay: what is added is the constraints of symbols no earlier question named,
        # which cannot change its answer; see kannot.build.model)

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
        v = self._vars.get(name)
        if v is None or v > len(model):
            return None
        return model[v - 1] > 0

    def model(self, f: Formula, assume: tuple[int, ...] = ()) -> dict[str, bool] | None:
        """Values of every named variable in a configuration where ``f`` holds, or None."""
        if f is FALSE or not self._solver.solve(assumptions=[self.lit(f), *assume]):
            return None
        values = self._solver.get_model() or []
        out: dict[str, bool] = {}
        names = self._names
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

