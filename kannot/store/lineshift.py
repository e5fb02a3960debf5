"""What an edit inside functions changed, and where the rest of the file's lines went.

A stored result (kannot.store.memo) holds each protected function's findings. When a file is edited
inside its functions (kannot.engine.recheck), most of its definitions are the same text on
other lines: a line added to one function moves every later one. Their callers' results still
stand with their line numbers moved, so only the names whose definitions *changed* are checked
again; every stored position in the file is carried to its new line by a :class:`LineMap`.
A position the map cannot carry (it lies in a changed definition, or outside every definition)
makes its function be checked again instead.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, replace

from kannot.facts.extract import FileFacts
from kannot.store.records import mentions, pack_finding, unpack_finding


@dataclass
class LineMap:
    """Old line -> new line of one edited file, for the lines of its unchanged definitions:
    (first old line, last old line, how far it moved) spans, sorted and disjoint."""

    spans: list[tuple[int, int, int]]

    def __post_init__(self) -> None:
        self._starts = [s[0] for s in self.spans]

    def new_line(self, line: int) -> int | None:
        at = bisect.bisect_right(self._starts, line) - 1
        if at < 0:
            return None
        first, last, delta = self.spans[at]
        return line + delta if line <= last else None


def compare(old: FileFacts, new: FileFacts, entry_names: frozenset[str]) -> tuple[set[str], LineMap | None]:
    """For two facts of one file with the same shape (kannot.index.core.file_shape): the names whose
    definitions changed (a function's body, header or length; a name defined more or fewer
    times), and where the unchanged definitions' lines went. A function that only moved is not
    changed. When the moves cannot be told apart (definitions swapped places, a file-scope
    invocation on another column), every name of the file and of its catalog entry is changed
    and there is no map."""
    changed: set[str] = set()
    spans: list[tuple[int, int, int]] = []
    before, after = _functions(old), _functions(new)
    for name in before.keys() | after.keys():
        olds, news = before.get(name, []), after.get(name, [])
        if len(olds) != len(news) or any(o[2:] != n[2:] for o, n in zip(olds, news)):
            changed.add(name)
            continue
        spans += [(o[0], o[1], n[0] - o[0]) for o, n in zip(olds, news)]
    # the shapes are equal: the same macros, assembly symbols and invocations, in order
    points = [(m.line, n.line) for m, n in zip(old.macros, new.macros)]
    points += [(o[1], n[1]) for o, n in zip(old.asm_symbols, new.asm_symbols)]
    if any(o[3] != n[3] for o, n in zip(old.invocations, new.invocations)):
        return _everything(old, new, entry_names), None
    points += [(o[2], n[2]) for o, n in zip(old.invocations, new.invocations)]
    merged = _merged(spans, points)
    if merged is None:
        return _everything(old, new, entry_names), None
    return changed, LineMap(merged)


def def_changed(d, new: FileFacts, changed: set[str]) -> bool:
    """Is the definition ``d`` (kannot.index.core.FuncDef) of an edited file one of the ``changed``
    ones? A function made by its head macro (``DEFINE_IDTENTRY(exc_int3) { ... }``) has no
    fact of its own: it changed with the function fact on its lines; one made by a file-scope
    invocation, or an assembly symbol, is as the file's shape (which did not change) says."""
    if d.fact is not None:
        return d.fact.name in changed
    if d.asm_section is not None or any(inv[2] == d.line for inv in new.invocations):
        return False
    covering = [f for f in new.functions if f.line <= d.line <= f.end_line]
    return not covering or any(f.name in changed for f in covering)


def _functions(facts: FileFacts) -> dict[str, list[tuple]]:
    """name -> [(line, end line, what must be equal for an unchanged definition)] in file order"""
    out: dict[str, list[tuple]] = {}
    for f in facts.functions:
        out.setdefault(f.name, []).append((f.line, f.end_line, f.end_line - f.line, f.column, f.digest,
                                           f.words, f.params, f.head_macro, f.head_args, f.condition))
    return out


def _everything(old: FileFacts, new: FileFacts, entry_names: frozenset[str]) -> set[str]:
    names = set(entry_names)
    for facts in (old, new):
        names.update(f.name for f in facts.functions)
        names.update(m.name for m in facts.macros)
        names.update(n for n, _l, _s in facts.asm_symbols)
    return names


def _merged(spans: list[tuple[int, int, int]], points: list[tuple[int, int]]) -> list[tuple[int, int, int]] | None:
    """The function spans and the one-line points (macros, assembly symbols, invocations) as
    disjoint sorted spans; None when two that overlap moved differently (a macro inside a
    function that did not move with it) or the definitions' order changed (a line would be
    carried into another definition's)."""
    out: list[tuple[int, int, int]] = []
    for first, last, delta in sorted(spans + [(old, old, new - old) for old, new in points]):
        if out and first <= out[-1][1]:
            if delta != out[-1][2]:
                return None
            out[-1] = (out[-1][0], max(last, out[-1][1]), delta)
        elif out and first + delta <= out[-1][1] + out[-1][2]:
            return None
        else:
            out.append((first, last, delta))
    return out


def remap_finding(t: tuple, maps: dict[str, LineMap | None]) -> tuple | None:
    """A stored finding (kannot.store.records.pack_finding's tuple) with its positions in the
    edited files carried to their new lines; the same tuple when it has none there; None when
    one cannot be carried."""
    if not mentions(t, maps):
        return t
    f = unpack_finding(t)
    unmapped = False

    def moved(rel: str, at: int) -> int:
        nonlocal unmapped
        if rel not in maps or not at:
            return at
        lmap = maps[rel]
        got = lmap.new_line(at) if lmap is not None else None
        if got is None:
            unmapped = True
            return at
        return got

    carried = replace(
        f, line=moved(f.file, f.line), end_line=moved(f.file, f.end_line),
        chain=[replace(link, line=moved(link.file, link.line)) for link in f.chain],
        candidates=[{**c, "line": moved(c.get("file", ""), c.get("line", 0))} if c.get("file") in maps else c
                    for c in f.candidates],
        notes=[replace(n, line=moved(n.file, n.line)) if n.file else n for n in f.notes])
    return None if unmapped else pack_finding(carried)
