"""The stored form of what a check found, and its encode/decode: one place for the shapes a
stored result holds (kannot.store.memo marshals them; marshal takes plain tuples only).

Each ``Stored*`` is a NamedTuple view of one packed tuple: code reads stored data by field name
(``StoredFinding._make(t).file``), never by position. The fields of :class:`StoredFinding` are
those of :class:`~kannot.analysis.findings.Finding`, in order (tests/test_memo.py checks)."""
from __future__ import annotations

from dataclasses import fields
from typing import NamedTuple

from kannot.analysis.findings import CallerResult, Finding, Link, Note


class StoredLink(NamedTuple):
    function: str
    file: str
    line: int
    kind: str
    condition: str


class StoredNote(NamedTuple):
    kind: str
    text: str
    file: str
    line: int


class StoredFinding(NamedTuple):
    code: str
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    caller: str
    callee: str | None
    message: str
    chain: list  # of StoredLink tuples
    candidates: list[dict]
    notes: list  # of StoredNote tuples
    fingerprint: str
    detail: str
    conditions: list[str]
    baseline_state: str
    causes: list[dict]
    witness: list[str]
    group: str
    arches: list[str]


class StoredEntry(NamedTuple):
    """One protected function's stored result (kannot.analysis.findings.CallerResult)."""

    name: str
    place: int  # among the definitions of that name: the check's order
    key: int  # index of its (file, name) key in the stored result's key list
    findings: list  # of StoredFinding tuples
    errors: list[str]


FINDING_FIELDS = tuple(f.name for f in fields(Finding))
_LINK_FIELDS = tuple(f.name for f in fields(Link))
_NOTE_FIELDS = tuple(f.name for f in fields(Note))


def pack_finding(f: Finding) -> tuple:
    values = [getattr(f, name) for name in FINDING_FIELDS]
    values[FINDING_FIELDS.index("chain")] = [tuple(getattr(l, n) for n in _LINK_FIELDS) for l in f.chain]
    values[FINDING_FIELDS.index("notes")] = [tuple(getattr(n, k) for k in _NOTE_FIELDS) for n in f.notes]
    return tuple(values)


def unpack_finding(t: tuple) -> Finding:
    s = StoredFinding._make(t)
    return Finding(**{**s._asdict(), "chain": [Link(*l) for l in s.chain], "notes": [Note(*n) for n in s.notes]})


def pack_entry(result: CallerResult, key: int) -> tuple:
    return tuple(StoredEntry(result.order[0], result.order[1], key, [pack_finding(f) for f in result.findings],
                             list(result.errors)))


def unpack_entry(e: StoredEntry, path: str) -> CallerResult:
    """The result of a stored entry (``path``: its key's file); the names it asked are not kept
    per entry (the stored result's name index has them)."""
    return CallerResult((e.name, e.place), path, [unpack_finding(f) for f in e.findings], e.errors, frozenset())
