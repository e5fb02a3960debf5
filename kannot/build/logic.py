"""Presence conditions: propositional formulas over configuration atoms.

A formula says in which configurations something exists: a definition, a call, a file, a
finding. Atoms are strings:

- ``y:SYM``: the Kconfig symbol ``CONFIG_SYM`` is ``y``;
- ``m:SYM``: it is ``m`` (a module);
- ``d:NAME``: the (non-``CONFIG_``) macro ``NAME`` is defined; such an atom is relative to a
  translation unit and is replaced (:func:`substitute`) once the unit is known;
- ``c:TEXT``: anything else kannot cannot decide (an integer comparison, a compiler probe): free,
  both values are possible.

Formulas are interned: two equal formulas are the same object, so ``is`` and ``==`` agree, a
formula can key a dict cheaply, and building the same conjunction twice costs a lookup. The
smart constructors simplify as they build (constants, flattening, duplicates, ``x && !x``).
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable, Iterable, Mapping


class Formula:
    """An interned formula node. ``op``: ``"1"``/``"0"`` (constants), ``"a"`` (atom),
    ``"!"``, ``"&"``, ``"|"``; ``args``: the atom's name, the negated formula, or a frozenset."""

    __slots__ = ("op", "args", "_atoms", "_key", "__weakref__")
    # which of str, Formula, frozenset[Formula] or None ``args`` holds follows from ``op``, a
    # link the checker cannot follow: Any, rather than a union every reader would narrow again
    args: Any

    def __init__(self, op: str, args: Any) -> None:
        self.op = op
        self.args = args
        self._atoms: frozenset[str] | None = None
        self._key: str | None = None

    def key(self) -> str:
        """A name for the formula that is the same in every run (its children are a set, whose
        order follows the process's string hashing): what orders them where order matters."""
        got = self._key
        if got is None:
            if self.op == "a":
                got = "a" + self.args
            elif self.op in "01":
                got = self.op
            elif self.op == "!":
                got = "!" + self.args.key()
            else:
                inner = ",".join(sorted(c.key() for c in self.args))
                got = self.op + hashlib.blake2b(inner.encode(), digest_size=8).hexdigest()
            self._key = got
        return got

    def ordered_children(self) -> list["Formula"]:
        return sorted(self.children(), key=Formula.key)

    def __repr__(self) -> str:
        return f"Formula({to_text(self)!r})"

    # (identity equality and hashing: the table below makes equal formulas one object)

    def __and__(self, other: "Formula") -> "Formula":
        return conj((self, other))

    def __or__(self, other: "Formula") -> "Formula":
        return disj((self, other))

    def __invert__(self) -> "Formula":
        return neg(self)

    def atoms(self) -> frozenset[str]:
        got = self._atoms
        if got is None:
            if self.op == "a":
                got = frozenset((self.args,))
            elif self.op == "!":
                got = self.args.atoms()
            elif self.op in "&|":
                got = frozenset().union(*(c.atoms() for c in self.args))
            else:
                got = frozenset()
            self._atoms = got
        return got

    def children(self) -> tuple["Formula", ...]:
        if self.op in "&|":
            return tuple(self.args)
        if self.op == "!":
            return (self.args,)
        return ()

    def size(self, limit: int = 1 << 30) -> int:
        """Nodes in the formula (a shared node counts each time), counting stops past ``limit``."""
        n = 0
        stack = [self]
        while stack and n <= limit:
            f = stack.pop()
            n += 1
            stack.extend(f.children())
        return n


_TABLE: dict[tuple, Formula] = {}
TRUE = Formula("1", None)
FALSE = Formula("0", None)


def _intern(op: str, args: object) -> Formula:
    key = (op, args)
    got = _TABLE.get(key)
    if got is None:
        got = _TABLE[key] = Formula(op, args)
    return got


def atom(name: str) -> Formula:
    return _intern("a", name)


def const(value: bool) -> Formula:
    return TRUE if value else FALSE


def neg(f: Formula) -> Formula:
    if f is TRUE:
        return FALSE
    if f is FALSE:
        return TRUE
    if f.op == "!":
        return f.args
    return _intern("!", f)


def _join(op: str, items: Iterable[Formula]) -> Formula:
    unit, zero = (TRUE, FALSE) if op == "&" else (FALSE, TRUE)
    kids: set[Formula] = set()
    for f in items:
        if f is unit:
            continue
        if f is zero:
            return zero
        if f.op == op:
            kids.update(f.args)
        else:
            kids.add(f)
    if not kids:
        return unit
    if len(kids) == 1:
        return next(iter(kids))
    for k in kids:
        if k.op == "!" and k.args in kids:
            return zero  # x && !x, x || !x
    return _intern(op, frozenset(kids))


def conj(items: Iterable[Formula]) -> Formula:
    return _join("&", items)


def disj(items: Iterable[Formula]) -> Formula:
    return _join("|", items)


def implies(a: Formula, b: Formula) -> Formula:
    return disj((neg(a), b))


def iff(a: Formula, b: Formula) -> Formula:
    return conj((implies(a, b), implies(b, a)))


def ite(c: Formula, a: Formula, b: Formula) -> Formula:
    return disj((conj((c, a)), conj((neg(c), b))))


def reset() -> None:
    """Forget every interned and simplified formula (between arches: an arch's Kconfig model
    makes hundreds of thousands, which no other arch needs; --arch all grew past 7 GB)."""
    _TABLE.clear()
    _SIMPLIFIED.clear()


# ---------------------------------------------------------------------------------------------
# evaluation and substitution


def evaluate(f: Formula, value: Callable[[str], bool | None], memo: dict | None = None) -> bool | None:
    """Three-valued: True, False, or None when it depends on atoms ``value`` leaves unknown."""
    if memo is None:
        memo = {}
    got = memo.get(f, memo)
    if got is not memo:
        return got
    op = f.op
    out: bool | None
    if op == "1":
        out = True
    elif op == "0":
        out = False
    elif op == "a":
        out = value(f.args)
    elif op == "!":
        v = evaluate(f.args, value, memo)
        out = None if v is None else not v
    else:
        stop = op == "|"  # the value that decides an or (True) or an and (False)
        out = not stop
        for c in f.args:
            v = evaluate(c, value, memo)
            if v is stop:
                out = stop
                break
            if v is None:
                out = None
    memo[f] = out
    return out


def substitute(f: Formula, mapping: Callable[[str], Formula | None], memo: dict | None = None) -> Formula:
    """``f`` with each atom for which ``mapping`` gives a formula replaced by it."""
    if memo is None:
        memo = {}
    got = memo.get(f)
    if got is not None:
        return got
    op = f.op
    if op == "a":
        out = mapping(f.args)
        if out is None:
            out = f
    elif op == "!":
        out = neg(substitute(f.args, mapping, memo))
    elif op in "&|":
        kids = [substitute(c, mapping, memo) for c in f.args]
        out = _join(op, kids)
    else:
        out = f
    memo[f] = out
    return out


def assign(f: Formula, values: Mapping[str, bool]) -> Formula:
    """``f`` with the atoms in ``values`` replaced by constants."""
    return substitute(f, lambda a: const(values[a]) if a in values else None)


# ---------------------------------------------------------------------------------------------
# simplification and text

MAX_EXACT_ATOMS = 8
_SIMPLIFIED: dict[Formula, Formula] = {}


def simplify(f: Formula) -> Formula:
    """An equivalent formula in a small sum of products, for formulas over at most
    :data:`MAX_EXACT_ATOMS` atoms (their truth table is enumerated); others as they are."""
    if f.op in "01a" or f.op == "!" and f.args.op == "a":
        return f
    got = _SIMPLIFIED.get(f)
    if got is None:
        got = _simplify(f)
        if len(_SIMPLIFIED) > 100_000:
            _SIMPLIFIED.clear()
        _SIMPLIFIED[f] = got
    return got


def _simplify(f: Formula) -> Formula:
    atoms = sorted(f.atoms())
    if len(atoms) > MAX_EXACT_ATOMS:
        return f
    n = len(atoms)
    true_rows: set[int] = set()
    for row in range(1 << n):
        vals = {a: bool(row >> i & 1) for i, a in enumerate(atoms)}
        if evaluate(f, vals.__getitem__):
            true_rows.add(row)
    if not true_rows:
        return FALSE
    if len(true_rows) == 1 << n:
        return TRUE
    cubes = _prime_implicants(true_rows, n)
    chosen = _cover(cubes, true_rows)
    terms = []
    for mask, bits in chosen:
        lits = []
        for i, a in enumerate(atoms):
            if mask >> i & 1:
                lits.append(atom(a) if bits >> i & 1 else neg(atom(a)))
        terms.append(conj(lits))
    out = disj(terms)
    return out if _text_len(out) <= _text_len(f) else f


def _prime_implicants(rows: set[int], n: int) -> list[tuple[int, int]]:
    """Quine-McCluskey: cubes as (mask of fixed positions, their bits)."""
    full = (1 << n) - 1
    current = {(full, r) for r in rows}
    primes: set[tuple[int, int]] = set()
    while current:
        merged: set[tuple[int, int]] = set()
        used: set[tuple[int, int]] = set()
        items = sorted(current)
        by_mask: dict[int, list[int]] = {}
        for mask, bits in items:
            by_mask.setdefault(mask, []).append(bits)
        for mask, bitlist in by_mask.items():
            present = set(bitlist)
            for bits in bitlist:
                for i in range(n):
                    b = 1 << i
                    if mask & b and not bits & b and (bits | b) in present:
                        merged.add((mask & ~b, bits))
                        used.add((mask, bits))
                        used.add((mask, bits | b))
        primes |= current - used
        current = merged
    return sorted(primes, key=lambda c: (-bin(c[0]).count("0"), c))


def _cover(cubes: list[tuple[int, int]], rows: set[int]) -> list[tuple[int, int]]:
    """A small set of cubes covering ``rows`` (greedy: the cube covering most rows first)."""
    left = set(rows)
    chosen = []
    covers = {c: {r for r in rows if r & c[0] == c[1]} for c in cubes}
    while left:
        best = max(cubes, key=lambda c: (len(covers[c] & left), -bin(c[0]).count("1")))
        chosen.append(best)
        left -= covers[best]
    return chosen


def _text_len(f: Formula) -> int:
    return len(to_text(f))


def atom_text(name: str) -> str:
    kind, _, rest = name.partition(":")
    if kind == "y":
        return f"CONFIG_{rest}"
    if kind == "m":
        return f"CONFIG_{rest}=m"
    if kind == "d":
        return f"defined({rest})"
    if kind == "i":
        return f"includes({rest})"
    if kind == "e":  # defined by another definition than the one at FILE:LINE
        return f"defined({rest.partition('@')[0]})"
    return rest


def to_text(f: Formula, top: bool = True) -> str:
    """C-like text, deterministic (children sorted by their text)."""
    op = f.op
    if op == "1":
        return "1"
    if op == "0":
        return "0"
    if op == "a":
        return atom_text(f.args)
    if op == "!":
        inner = f.args
        if inner.op == "a" and inner.args.startswith("m:"):
            return f"CONFIG_{inner.args[2:]}!=m"
        return "!" + to_text(inner, top=False)
    sep = " && " if op == "&" else " || "
    parts = sorted(to_text(c, top=False) for c in f.args)
    # a conjunction's literals first, then its bigger parts
    parts.sort(key=lambda p: (p.startswith("("), p))
    text = sep.join(parts)
    return text if top else f"({text})"


def literals(f: Formula) -> list[tuple[str, bool]] | None:
    """A conjunction of literals as (atom, value) pairs; None for anything else."""
    items = f.args if f.op == "&" else (f,)
    out = []
    for c in items:
        if c.op == "a":
            out.append((c.args, True))
        elif c.op == "!" and c.args.op == "a":
            out.append((c.args.args, False))
        else:
            return None
    return sorted(out)
