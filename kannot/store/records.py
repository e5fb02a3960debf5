"""The stored form of what a check found, and its encode/decode: one place for the shapes a
stored result holds (kannot.store.memo marshals them; marshal takes plain tuples only).

A stored finding is the values of :class:`~kannot.analysis.findings.Finding`'s fields in order
(links and notes as the values of theirs), packed and unpacked here from the dataclasses' own
field lists: code reads a stored finding by unpacking it, never by position. A stored entry is
read through the :class:`StoredEntry` view."""
from __future__ import annotations

from dataclasses import fields
from typing import NamedTuple

from kannot.analysis.findings import CallerResult, Finding, Link, Note


class StoredEntry(NamedTuple):
    """One protected function's stored result (kannot.analysis.findings.CallerResult)."""

    name: str
    place: int  # among the definitions of that name: the check's order
    key: int  # index of its (file, name) key in the stored result's key list
    findings: list  # of pack_finding tuples
    errors: list[str]


FINDING_FIELDS = tuple(f.name for f in fields(Finding))
_LINK_FIELDS = tuple(f.name for f in fields(Link))
_NOTE_FIELDS = tuple(f.name for f in fields(Note))
# where a packed finding keeps what mentions() and sited_in() read: asked of every stored
# finding of a recheck, so they read the tuple by these names instead of unpacking it
_FILE, _CHAIN, _CANDIDATES, _NOTES = (FINDING_FIELDS.index(n) for n in ("file", "chain", "candidates", "notes"))
_LINK_FILE, _LINK_KIND = _LINK_FIELDS.index("file"), _LINK_FIELDS.index("kind")
_NOTE_FILE = _NOTE_FIELDS.index("file")


def mentions(t: tuple, files) -> bool:
    """Does the packed finding ``t`` name one of ``files`` (its own, a chain link's, a
    candidate's, a note's place)?"""
    return (t[_FILE] in files or any(link[_LINK_FILE] in files for link in t[_CHAIN])
            or any(c.get("file") in files for c in t[_CANDIDATES]) or any(n[_NOTE_FILE] in files for n in t[_NOTES]))


def sited_in(t: tuple, files) -> bool:
    """Is the packed finding ``t`` in one of ``files``, or an always-inline call on its chain
    (where a marker in that file can suppress it)?"""
    return t[_FILE] in files or any(link[_LINK_KIND] == "always_inline" and link[_LINK_FILE] in files
                                    for link in t[_CHAIN])


def pack_finding(f: Finding) -> tuple:
    values = [getattr(f, name) for name in FINDING_FIELDS]
    values[FINDING_FIELDS.index("chain")] = [tuple(getattr(l, n) for n in _LINK_FIELDS) for l in f.chain]
    values[FINDING_FIELDS.index("notes")] = [tuple(getattr(n, k) for k in _NOTE_FIELDS) for n in f.notes]
    return tuple(values)


def unpack_finding(t: tuple) -> Finding:
    values = dict(zip(FINDING_FIELDS, t, strict=True))
    values["chain"] = [Link(*link) for link in values["chain"]]
    values["notes"] = [Note(*note) for note in values["notes"]]
    return Finding(**values)


def pack_entry(result: CallerResult, key: int) -> tuple:
    return tuple(StoredEntry(result.order[0], result.order[1], key, [pack_finding(f) for f in result.findings],
                             list(result.errors)))


def unpack_entry(e: StoredEntry, path: str) -> CallerResult:
    """The result of a stored entry (``path``: its key's file); the names it asked are not kept
    per entry (the stored result's name index has them)."""
    return CallerResult((e.name, e.place), path, [unpack_finding(f) for f in e.findings], e.errors, frozenset())
