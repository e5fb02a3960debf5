"""Instrumentation-region counting over the IR, the way objtool counts it (docs/semantics.md 2.3).

The state is the set of region counts a point can be reached with, one per path: begin is +1, end
is -1, instrumentation is allowed where every count is > 0. Branches fork the set, joins unite it,
``return``/``goto``/``break`` carry it to where they go, and a call that cannot return empties it.
"""
from __future__ import annotations

from typing import Callable

from kannot.build import logic as L
from kannot.build.logic import Formula

States = frozenset[int]
LOW, HIGH = -3, 4  # counts are clamped so loops reach a fixed point


def clamp(v: int) -> int:
    return LOW if v < LOW else HIGH if v > HIGH else v


def shift(states: States, delta: int) -> States:
    return frozenset(clamp(s + delta) for s in states)


class Flow:
    """Runs events; ``on_call(event, states) -> states`` handles every call (and may recurse)."""

    def __init__(self, on_call: Callable[[tuple, States], States], evaluate: Callable[[str], bool | None] | None = None,
                 cond_of: Callable[[str], Formula] | None = None, path: Formula = L.TRUE,
                 branch_conds: Callable[[tuple], tuple[Formula, Formula] | None] | None = None):
        self.on_call = on_call
        # an ``if`` whose condition is made of calls: when it can be true, when false (the
        # analysis reads what always-inline helpers return)
        self.branch_conds = branch_conds
        self.evaluate = evaluate  # #if conditions: True, False or None (both possible)
        # the #if branches being run, as a formula (``path``): what a call made here needs
        self.cond_of = cond_of
        self.path = path
        self.returns: list[tuple[States, tuple]] = []  # (states at the return, its position)
        self._labels: dict[str, set[int]] = {}
        self._breaks: list[set[int]] = []
        self._continues: list[set[int]] = []

    def run(self, events: list, states: States) -> States:
        for ev in events:
            if not states and ev[0] != "label":
                # unreachable code: only a label can make it live again
                continue
            k = ev[0]
            if k in ("call", "icall"):
                states = self.on_call(ev, states)
            elif k == "if":
                states = self.run(ev[1], states)
                decided = self.branch_conds(ev[4]) if len(ev) > 4 and self.branch_conds is not None else None
                if decided is None:
                    states = self.run(ev[2], states) | self.run(ev[3], states)
                else:
                    before = self.path
                    out_if: States = frozenset()
                    for branch, when in ((ev[2], decided[0]), (ev[3], decided[1])):
                        self.path = before & when
                        if self.path is not L.FALSE:
                            out_if |= self.run(branch, states)
                    self.path = before
                    states = out_if
            elif k == "pp":
                out: set[int] = set()
                taken = False  # a branch known to be true: the rest are dead
                before = self.path
                earlier: list[Formula] = []  # the conditions of the branches before this one
                for cond, branch in ev[1]:
                    value = None if self.evaluate is None or cond == "else" else self.evaluate(cond)
                    if value is False:
                        continue
                    own = self.cond_of(cond) if value is None and cond != "else" and self.cond_of is not None else L.TRUE
                    if self.cond_of is not None:
                        self.path = L.conj((before, own, L.neg(L.disj(earlier))))
                    if self.path is not L.FALSE:
                        out |= self.run(branch, states)
                    earlier.append(own)
                    if value is True:
                        taken = True
                        break
                self.path = before
                if not taken and not ev[2]:
                    out |= states  # no #else: falling through every branch is possible
                states = frozenset(out)
            elif k == "loop":
                states = self.run(ev[1], states)
                states = self._loop(ev[2], states)
            elif k == "switch":
                states = self.run(ev[1], states)
                self._breaks.append(set())
                fall: States = frozenset()
                for case in ev[2]:
                    fall = self.run(case, states | fall)
                after = set(fall) | self._breaks.pop()
                if not ev[3]:
                    after |= states
                states = frozenset(after)
            elif k == "return":
                states = self.run(ev[1], states)
                self.returns.append((states, ev[2]))
                states = frozenset()
            elif k == "goto":
                self._labels.setdefault(ev[1], set()).update(states)
                states = frozenset()
            elif k == "label":
                states = states | frozenset(self._labels.get(ev[1], ()))
            elif k == "break":
                if self._breaks:
                    self._breaks[-1].update(states)
                states = frozenset()
            elif k == "continue":
                if self._continues:
                    self._continues[-1].update(states)
                states = frozenset()
        return states

    def _loop(self, body: list, entry: States) -> States:
        self._breaks.append(set())
        seen = set(entry)
        cur = entry
        for _ in range(4):
            self._continues.append(set())
            out = self.run(body, cur)
            cont = self._continues.pop()
            nxt = frozenset(out) | frozenset(cont)
            if nxt <= seen:
                break
            seen |= nxt
            cur = frozenset(seen)
        breaks = self._breaks.pop()
        return frozenset(seen) | frozenset(breaks)
