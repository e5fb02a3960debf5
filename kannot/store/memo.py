"""Stored check results: a warm run whose inputs did not change answers from the last run.

A lazy check parses few files, but its findings depend on more than those: on every file it
parsed, and, for every name it looked up, on which files the catalog says may define it. So the
result is stored with what it was computed from (a :class:`Record`):

- the listed files with their (size, mtime_ns), and the listing's own error lines: a file added
  or removed voids the record;
- the content hash of every parsed file;
- every name asked of the catalog, per index (file-scope heads; ``#define``s, feature macros
  included; invocation arguments), the macros found unable to define a function, and the
  catalog's generation (bumped each time the stored catalog is rewritten; each stored catalog
  entry carries the generation that wrote it).

On the next run every file whose signature moved is examined: a parsed one must have the same
content; any other must keep the names of its catalog entry out of the names asked of the same
index (its invocations of a macro that cannot define a function do not count), and its family
marks, ``#include`` lines and reading notes as they were. When every changed file passes,
the stored findings are the answer (and the record's signatures are updated); otherwise the check
runs and a new record replaces the old one. Any doubt (another kannot, other options, a changed
file whose catalog entry another run has rewritten since, more than :data:`MAX_CHANGED` changed
files, a damaged record) means a run.

Only whole runs with a cache are stored (:func:`kannot.engine.analyze`, and an editor session's
whole checks of files as they are on disk, :class:`kannot.session.Session`): not an editor's
unsaved buffers, not a patch's in-memory tree.
"""
from __future__ import annotations

import hashlib
import marshal
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kannot.source import limits
from kannot.store.cache import FactsCache, content_hash
from kannot.store.catalog_blobs import unpack_catalog_entry
from kannot.store.stamp import CODE_STAMP, FORMAT
from kannot.analysis.findings import Finding
from kannot.store.records import (
    StoredEntry,
    pack_entry,
    pack_finding,
    sited_in,
    unpack_entry,
    unpack_finding,
)
from kannot.source.files import FileError, Listing, moved_positions, read_source

if TYPE_CHECKING:
    from mmap import mmap

    from kannot.facts.text import TextFacts
    from kannot.index.catalog import Postings

MAX_CHANGED = 64  # more changed files than this: just run the check


def result_key(opts, families: set[str], paths: bool = True) -> str:
    """What, besides the files, decides the findings: kannot's code, the tree, the options
    (``paths`` False: a tree-wide answer, whatever paths were given)."""
    cfg = opts.config
    kconfig = sorted(opts.kconfig.values.items()) if opts.kconfig is not None else None
    material = repr((
        CODE_STAMP, str(opts.root), opts.arch, sorted(opts.enabled_codes()), sorted(families),
        sorted(opts.paths) if opts.paths and paths else None, sorted((a.caller, a.callee, a.code) for a in cfg.allow),
        kconfig, opts.only_built, repr(limits.current()), sorted(opts.assume.items()), opts.build_digest,
        *((cfg.rules.key(),) if cfg.rules.user else ()),  # a tree's own families (kannot's are in the stamp)
    ))
    return "check:" + hashlib.blake2b(material.encode(), digest_size=16).hexdigest()


@dataclass
class Record:
    """A stored result. Kept in packed parts, each unpacked only when needed: "nothing changed"
    reads the digest and the findings; a changed file also needs the listing and the
    dependencies; updating the signatures rewrites only the listing part."""

    listing_errors: list[tuple[str, str]]
    catalog_generation: int
    errors: list[tuple[str, str]]
    counts: tuple[int, int, int]  # files analysed, listed, readable
    packed: dict[str, bytes]  # "head", "listing", "loaded", "asked", "callers", "allows": marshal-ed parts
    unchanged: bool = False  # the listing's digest matched: no file was added, removed or touched
    # parsed files whose content changed inside functions only: rel -> (the facts the record
    # saw, the names of its catalog entry); kannot.engine checks again what they can reach
    edited: dict[str, tuple] = field(default_factory=dict)
    _asked: tuple | None = field(default=None, repr=False)  # asked(), once unpacked
    _callers: tuple | None = field(default=None, repr=False)  # the "callers" part, once unmarshalled
    disk_changed: bool = False  # some file's signature moved since (edited or not, overridden or not)

    @classmethod
    def make(cls, listing: bytes, listing_errors: list[tuple[str, str]],
             generation: int, loaded: dict[str, str | None], asked: tuple | bytes, findings: list[tuple],
             errors: list[tuple[str, str]], counts: tuple[int, int, int], callers: bytes, allows: bytes,
             tried: bytes = b"", known: bytes = b"") -> "Record":
        head = (listing_errors, generation, errors, counts)
        packed = {
            "head": marshal.dumps(head),
            # apart: a recheck makes its findings from the per-function results (a patch's
            # record holds 19,000 advisory ones, 0.08 s to unpack)
            "findings": marshal.dumps(findings),
            "listing": listing,
            "loaded": marshal.dumps(loaded),
            # one string per index: a set of 100,000 names costs a second to marshal, a string nothing
            "asked": asked if isinstance(asked, bytes) else marshal.dumps(tuple("\0".join(sorted(a)) for a in asked)),
            "callers": callers,
            "allows": allows,
            "tried": tried,
            "known": known,
        }
        return cls(*head, packed)

    def to_blob(self, digest: str) -> bytes:
        return marshal.dumps((FORMAT, digest, self.packed))

    @classmethod
    def from_blob(cls, blob: "bytes | mmap", digest: str) -> "Record | None":
        try:
            fmt, stored_digest, packed = marshal.loads(blob)
            if fmt != FORMAT or not isinstance(packed, dict):
                return None
            # (listing_errors, catalog_generation, errors, counts), as make() stores it
            head: tuple[list, int, list, tuple] = marshal.loads(packed["head"])
            rec = cls(*head, packed)
        except (ValueError, EOFError, TypeError, KeyError):
            return None
        rec.unchanged = digest == stored_digest
        return rec

    def listing(self) -> tuple[str, array]:
        """(the listed files joined by NULs, their signatures as one flat array)"""
        rels_s, sigs_b = marshal.loads(self.packed["listing"])
        flat = array("q")
        flat.frombytes(sigs_b)
        if not isinstance(rels_s, str) or len(flat) != 2 * (rels_s.count("\0") + 1 if rels_s else 0):
            raise ValueError("a damaged listing")
        return rels_s, flat

    def loaded(self) -> dict[str, str | None]:
        return marshal.loads(self.packed["loaded"])

    def asked(self) -> tuple[frozenset[str], ...]:
        """heads, defines, invocation arguments asked; macros found unable to define a function"""
        if self._asked is None:
            self._asked = tuple(frozenset(s.split("\0")) if s else frozenset()
                                for s in marshal.loads(self.packed["asked"]))
        return self._asked

    def result_parts(self) -> tuple[list[Finding], list[FileError]]:
        return [unpack_finding(t) for t in marshal.loads(self.packed["findings"])], [FileError(f, m) for f, m in self.errors]

    def callers(self) -> "StoredCallers":
        """Each protected function's result (raises ValueError when the record has none); a
        new object each call (a recheck carries its lines), unmarshalled once (a patch record's
        are 5.6 MB, and a recheck that needs the index follows one that needed none)."""
        if self._callers is None:
            if not self.packed.get("callers"):
                raise ValueError("no per-function results stored")
            self._callers = marshal.loads(self.packed["callers"])
        return StoredCallers.unpack(self._callers)

    def tried(self) -> frozenset[str]:
        """Names no file-scope invocation of the tree generates a function for (searched in vain)."""
        packed = self.packed.get("tried")
        text = marshal.loads(packed) if packed else ""
        return frozenset(text.split("\0")) if text else frozenset()

    def allows(self) -> dict[str, list[tuple]]:
        """``kannot: allow`` comments of every file the check loaded that has some."""
        return marshal.loads(self.packed["allows"])

    def known(self) -> "tuple[Postings, Postings] | None":
        """(heads, defines): per name, ``[-1, ranks...]``: the ranks (in the listing) of the files
        found to define or declare it, behind a -1 (a name no file defines keeps a list), for
        kannot.index.lazy.KnownAnswers; None when the record has none. Kept frozen: the record
        of a patch check knows 400,000 names (0.24 s to unmarshal as a dict), a recheck asks
        a few hundred."""
        from kannot.index.catalog import Postings

        packed = self.packed.get("known")
        if not packed:
            return None
        heads, defines = marshal.loads(packed)
        return Postings(heads), Postings(defines)


@dataclass
class StoredCallers:
    """Each protected function's own result (kannot.engine.CallerResult), in check order, and
    which functions asked which name. A function is known by its key, (file, name): the
    definitions of one name in one file (#ifdef branches) are checked again together."""

    keys: list[tuple[str, str]]
    entries: list[tuple]  # kannot.store.records.StoredEntry tuples, in check order
    asking: "Postings"  # name -> indexes of the keys whose check asked it
    frozen_asking: tuple | None = None  # ``asking`` as it was stored
    uncarried: list[tuple] | None = None  # ``entries`` before carry() moved their lines

    @classmethod
    def pack(cls, checked: list) -> bytes:
        from kannot.index.catalog import Postings

        return cls([], [], Postings()).merged(checked, set())[1]()

    @classmethod
    def unpack(cls, stored: tuple) -> "StoredCallers":
        """(``stored``: the unmarshalled part, which is not changed)"""
        from kannot.index.catalog import Postings

        keys, entries, frozen = stored
        return cls([tuple(k) for k in keys], list(entries), Postings(frozen), frozen)

    def askers(self, names) -> set[tuple[str, str]]:
        """The functions whose check looked up one of ``names``."""
        out: set[int] = set()
        for name in names:
            out.update(self.asking.get(name, ()))
        return {self.keys[i] for i in out}

    def carry(self, maps: dict) -> set[tuple[str, str]]:
        """Carry the stored positions in edited files to their new lines (``maps``: file ->
        kannot.store.lineshift.LineMap, None when nothing there can be carried); returns the functions
        with a position that could not be carried (they must be checked again)."""
        from kannot.store.lineshift import remap_finding

        stuck: set[tuple[str, str]] = set()
        if not maps:
            return stuck
        self.uncarried, self.entries = self.entries, list(self.entries)  # (a patch compares both)
        for n, e in enumerate(map(StoredEntry._make, self.entries)):
            moved = [remap_finding(t, maps) for t in e.findings]
            if None in moved:
                stuck.add(self.keys[e.key])
            elif any(m is not t for m, t in zip(moved, e.findings)):
                self.entries[n] = tuple(e._replace(findings=moved))
        return stuck

    def touching(self, files: set[str], entries: list[tuple]) -> set[tuple[str, str]]:
        """The functions of ``entries`` with a result in one of ``files``, or with a finding there
        (its line, or an always-inline helper's call on its chain: where a marker can suppress it)."""
        out: set[tuple[str, str]] = set()
        for e in map(StoredEntry._make, entries):
            key = self.keys[e.key]
            if key in out:
                continue
            if key[0] in files or any(sited_in(t, files) for t in e.findings):
                out.add(key)
        return out

    def results(self, entries: list[tuple], only: set[tuple[str, str]]) -> list:
        """The CallerResults of ``entries`` (stored ones) of the functions ``only``, in order."""

        return [unpack_entry(e, self.keys[e.key][0]) for e in map(StoredEntry._make, entries)
                if self.keys[e.key] in only]

    def merged(self, checked: list, replaced: set[tuple[str, str]],
               only: set[tuple[str, str]] | None = None) -> tuple[list, Callable[[], bytes]]:
        """The stored results with those of the ``replaced`` functions swapped for ``checked``:
        (the results in check order, a function making their packed form; only a run that
        stores its result needs it, and rebuilding the name index costs). ``only``: the
        results of those functions only (the packed form is then of no use)."""
        from kannot.index.catalog import Postings

        index = {k: i for i, k in enumerate(self.keys)}
        gone = {index[k] for k in replaced if k in index}
        keys = list(self.keys)
        entries = [e for e in self.entries if StoredEntry._make(e).key not in gone]
        new_names: list[tuple[int, frozenset[str]]] = []
        for c in checked:
            key = (c.path, c.order[0])
            i = index.get(key)
            if i is None:
                i = index[key] = len(keys)
                keys.append(key)
            entries.append(pack_entry(c, i))
            new_names.append((i, c.names))
        entries.sort(key=lambda e: StoredEntry._make(e)[:2])  # (name, place): the check's order
        results = [unpack_entry(e, keys[e.key][0]) for e in map(StoredEntry._make, entries)
                   if only is None or keys[e.key] in only]

        def packed() -> bytes:
            if not checked and not gone and self.frozen_asking is not None:
                return marshal.dumps((keys, entries, self.frozen_asking))  # the name index as it was
            asking = Postings()
            for name, lst in self.asking.as_dict().items():
                for i in lst:
                    if i not in gone:
                        asking.add(name, i, once=True)
            for i, names in new_names:
                for name in names:
                    asking.add(name, i, once=True)
            return marshal.dumps((keys, entries, asking.freeze()))

        return results, packed


def _packed(listed: dict[str, tuple[int, int]]) -> tuple[str, array]:
    if isinstance(listed, Listing):
        return listed.packed()
    return Listing(listed).packed()


def _pack_listing(listed: dict[str, tuple[int, int]]) -> bytes:
    joined, flat = _packed(listed)
    return marshal.dumps((joined, flat.tobytes()))


def listing_digest(listed: dict[str, tuple[int, int]]) -> str:
    joined, flat = _packed(listed)
    h = hashlib.blake2b(digest_size=16)
    h.update(joined.encode("utf-8", "surrogateescape"))
    h.update(flat.tobytes())
    return h.hexdigest()


def make_record(listed: dict[str, tuple[int, int]], listing_errors: list[FileError], generation: int,
                loaded: dict[str, str | None], asked: tuple | bytes, findings: list[Finding],
                errors: list[FileError], counts: tuple[int, int, int], callers: bytes,
                allows: dict[str, list[tuple]], tried: set[str] | frozenset[str] = frozenset(),
                known: bytes = b"") -> Record:
    return Record.make(_pack_listing(listed), [(e.file, e.message) for e in listing_errors],
                       generation, dict(loaded), asked, [pack_finding(f) for f in findings],
                       [(e.file, e.message) for e in errors], counts, callers, marshal.dumps(allows),
                       marshal.dumps("\0".join(sorted(tried))), known)


def store(cache: FactsCache, key: str, rec: Record, listed: dict[str, tuple[int, int]], notices: list[str],
          rows: list[tuple[str, bytes]] | None = None, digest: str | None = None) -> None:
    """(``digest``: of ``listed``, when known)"""
    digest = digest or listing_digest(listed)
    cache.put_result(key, rec.to_blob(digest), notices, rows=rows)


def reusable(cache: FactsCache, key: str, root: Path, listed: dict[str, tuple[int, int]],
             listing_errors: list[FileError], notices: list[str],
             overrides: dict[str, bytes] | None = None, digest: str | None = None) -> Record | None:
    """The stored record for ``key`` if nothing it depends on changed, else None.
    ``overrides``: files whose content is to be taken from these bytes, not the disk (a patch,
    a base revision); each differing one is examined as an edit of the disk's file."""
    blob = cache.get_result(key)
    if blob is None:
        return None
    digest = digest or listing_digest(listed)
    rec = Record.from_blob(blob, digest)
    if rec is None:
        return None
    if rec.listing_errors != [(e.file, e.message) for e in listing_errors]:
        return None
    if rec.unchanged and not overrides:
        return rec
    try:
        old_joined, old_flat = rec.listing()
        loaded = rec.loaded()
        joined, flat = _packed(listed)
        if old_joined != joined:
            return None
        rels = list(listed)
        moved = [rels[i] for i in moved_positions(old_flat, flat)]
    except (ValueError, EOFError, TypeError):
        return None
    overrides = overrides or {}
    rec.disk_changed = bool(moved)
    changed = [rel for rel in moved if rel not in overrides]
    changed += sorted(overrides)
    if len(changed) > MAX_CHANGED:
        return None
    old_texts = cache.get_texts_and_generations(changed)
    read_from_disk = False
    for rel in changed:
        text, gen = old_texts.get(rel, (None, 0))
        data = overrides.get(rel)
        if data is None:
            data, _note = read_source(root, rel)
            read_from_disk = True
        if rel in loaded:
            if data is not None and loaded[rel] is not None and content_hash(data) == loaded[rel]:
                continue
            if gen > rec.catalog_generation:
                return None
            edit = _edit(cache, loaded, root, rel, text, data if rel in overrides else None)
            if edit is None:
                return None
            rec.edited[rel] = edit
            continue
        if gen > rec.catalog_generation:
            return None  # rescanned since by another run: the entry this result saw is gone
        if not _unaffected(loaded, rec.asked, root, rel, text, data if rel in overrides else None):
            return None
    if rec.edited or overrides:
        return rec  # the functions the edits can reach are checked again (kannot.engine)
    if read_from_disk:
        # the changed files did not matter: the next run need not look at them again
        rec.packed["listing"] = _pack_listing(listed)
        cache.put_result(key, rec.to_blob(digest), notices)
    return rec


def _scanned(root: Path, rel: str, data: bytes | None) -> "tuple[TextFacts | None, str | None]":
    """(catalog entry, note) of ``rel``: of ``data`` when given, else of the disk's file."""
    from kannot.facts.text import scan_text
    from kannot.index.catalog import scan_job

    if data is None:
        return unpack_catalog_entry(scan_job((str(root), rel, 0xFF))[1])
    return scan_text(data.replace(b"\0", b" ")), None


def _edit(cache: FactsCache, loaded: dict[str, str | None], root: Path, rel: str,
          old_text: bytes | None, data: bytes | None = None) -> "tuple | None":
    """For a parsed file whose content changed: (its facts as the record saw them, the names
    its catalog entry has) when the edit left that entry as it was (the same names, includes,
    marks: an edit inside functions), else None."""
    from kannot.store.cache import decode
    from kannot.facts.text import same_entry

    if old_text is None:
        return None
    row = cache.lookup([rel]).get(rel)
    seen = loaded[rel]
    blob = row[3] if row is not None and row[2] == seen else None
    if blob is None and seen is not None:  # another run parsed a newer version since
        blob = cache.previous(rel, seen)
    if blob is None:
        return None  # the facts the record saw are gone
    try:
        old_facts, _notes = decode(blob)
        old, old_note = unpack_catalog_entry(old_text)
        new, new_note = _scanned(root, rel, data)
    except (ValueError, EOFError, TypeError):
        return None
    if old is None or new is None or old_note != new_note:
        return None
    if not same_entry(old, new):
        return None
    names = frozenset(old.heads) | frozenset(old.defines) | frozenset(arg for arg, _m in old.invocations)
    return old_facts, names


def _unaffected(loaded: dict[str, str | None], asked: Callable[[], tuple], root: Path, rel: str, old_text: bytes | None,
                data: bytes | None = None) -> bool:
    """Does the record stand whatever ``rel`` (a file the check did not parse) now holds
    (``data``: an override of its content)?"""
    if old_text is None:
        return False
    try:
        old, old_note = unpack_catalog_entry(old_text)
    except (ValueError, EOFError, TypeError):
        return False
    new, new_note = _scanned(root, rel, data)
    if old_note != new_note or (old is None) != (new is None):
        return False
    if old is None:
        return True
    assert new is not None  # (both are None or neither: above)
    heads, defines, includes, invocations, marks = old.heads, old.defines, old.includes, old.invocations, old.marks
    if marks != new.marks or [tuple(i) for i in includes] != [tuple(i) for i in new.includes]:
        return False
    asked_heads, asked_defines, asked_invocations, non_generating = asked()
    if not asked_heads.isdisjoint(heads) or not asked_heads.isdisjoint(new.heads):
        return False
    if not asked_defines.isdisjoint(defines) or not asked_defines.isdisjoint(new.defines):
        return False
    return not any(arg in asked_invocations and macro not in non_generating
                   for arg, macro in [*invocations, *new.invocations])


# what the engine and `kannot why` call ---------------------------------------------------------

@dataclass
class Lookup:
    """The tree's listing, and the stored result for ``key`` if it still stands."""

    listed: dict[str, tuple[int, int]]
    listing_errors: list[FileError]
    key: str | None  # None: no usable cache (nothing is stored either)
    record: Record | None = None
    row: bytes | None = None  # with ``row_name``: that named row of the record
    digest: str | None = None  # of ``listed``


def lookup(opts, key: str, listed: dict[str, tuple[int, int]], listing_errors: list[FileError],
           row_name: str | None = None, partial: bool = False) -> Lookup:
    """Look for a stored result of the tree ``listed`` (its files and their signatures) that
    still stands (``opts.cache_dir`` set). ``partial``: also one that stands but for functions an
    edit can reach (``record.edited``)."""
    said: list[str] = []
    cache = FactsCache.open(opts.cache_dir, said, verify=False)
    if cache is None:
        return Lookup(listed, listing_errors, None)  # the facts loader will say why, once
    try:
        digest = listing_digest(listed)
        rec = reusable(cache, key, opts.root, listed, listing_errors, opts.notices, opts.overrides, digest)
        if rec is not None and (rec.edited or opts.overrides) and not partial:
            rec = None
        row = cache.get_result_row(key, row_name) if rec is not None and row_name is not None else None
    finally:
        cache.close()
        opts.notices.extend(said)  # (the reads' too: a stored result's file lost)
    return Lookup(listed, listing_errors, key, rec, row, digest)


def save(opts, looked: Lookup, index, findings: list[Finding], errors: list[FileError],
         counts: tuple[int, int, int], rows: list[tuple[str, bytes]] | None = None,
         callers: bytes = b"", allows: dict[str, list[tuple]] | None = None, base: Record | None = None) -> None:
    """Store what ``index`` answered, with what it looked at (``base``: the record a recheck
    started from, whose dependencies stay). Not when some file could not be parsed this time
    (a crashed or stuck worker, a race: the next run may parse it with the same signature) or
    the cache could not be written."""
    loader = index.facts_loader
    if looked.key is None or loader is None or not loader.cache_writable or None in loader.hashes.values():
        return
    cat = index.catalog
    asked: tuple | bytes = (cat.asked_heads, cat.asked_defines, cat.asked_invocations, index.non_generating)
    loaded = dict(loader.hashes)
    # names searched in vain among generated functions: a recheck need not search again
    tried = {n for n in index.tried if not index.funcs.get(n)}
    if base is not None:
        loaded = {**base.loaded(), **loaded}
        before = base.asked()
        if all(new <= old for old, new in zip(before, asked)):
            asked = base.packed["asked"]  # (as stored: sorting 100,000 names again costs)
        else:
            asked = tuple(set(old) | set(new) for old, new in zip(before, asked))
        tried |= base.tried()
    _put(opts, looked, make_record(looked.listed, looked.listing_errors, index.catalog_generation, loaded, asked,
                                   findings, errors, counts, callers, allows or {}, tried,
                                   _known_part(index, base)), rows)


def _known_part(index, base: Record | None) -> bytes:
    """The record's :class:`kannot.index.lazy.KnownAnswers`: those ``index`` learned, over those
    of ``base`` (the record a recheck started from), whose lists the edited files' new facts
    update (an edit inside functions may add, rename or drop one)."""
    from kannot.index.lazy import LazyIndex, defines_names, heads_names, known_answers

    if not isinstance(index, LazyIndex):
        return b""
    from kannot.index.catalog import Postings

    rank = index.catalog.rank
    learned = known_answers(index)
    parts: list[tuple | None] = []
    try:
        stored = base.known() if base is not None else None
    except (ValueError, EOFError, TypeError):
        stored = None
    for k, names_of in enumerate((heads_names, defines_names)):
        old = stored[k] if stored is not None else Postings()
        changes: dict[str, list[int]] = {}
        if stored is not None:
            assert base is not None  # (stored came from it)
            for rel, (old_facts, _names) in base.edited.items():
                facts, i = index.files.get(rel), rank.get(rel)
                if facts is None or i is None:
                    return b""  # (a recheck loads every edited file)
                now = names_of(facts) | ({d.name for d in index.defs_in(rel)} if k == 0 else set())
                for n in names_of(old_facts) | now:
                    lst = old.get(n)
                    if lst is not None:
                        others = [j for j in lst if j != i]
                        changes[n] = sorted(others + [i]) if n in now else others
        for n, paths in learned[k].items():
            changes[n] = [-1, *sorted(rank[p] for p in paths if p in rank)]
        changes = {n: lst for n, lst in changes.items() if old.get(n) != lst}
        if not changes and stored is not None:
            parts.append(old.frozen)  # (as stored: rebuilding 400,000 names costs)
            continue
        for n, lst in changes.items():
            old.put(n, lst)
        parts.append(old.freeze())
    return marshal.dumps(tuple(parts))


def save_edited(opts, looked: Lookup, loader, findings: list[Finding], errors: list[FileError],
                callers: bytes, allows: dict[str, list[tuple]]) -> None:
    """Store the result of a recheck that needed no index (kannot.engine), through ``loader``'s
    open cache: the record's own dependencies, with the new content hashes of the files
    ``loader`` read."""
    base = looked.record
    if (looked.key is None or base is None or loader.cache is None or not loader.cache_writable
            or None in loader.hashes.values()):
        return
    # (the stored answers stand: the edited files' definitions are all as they were)
    rec = make_record(looked.listed, looked.listing_errors, base.catalog_generation,
                      {**base.loaded(), **loader.hashes}, base.packed["asked"], findings, errors, base.counts, callers,
                      allows, base.tried(), base.packed.get("known", b""))
    store(loader.cache, looked.key, rec, looked.listed, opts.notices, digest=looked.digest)


def _put(opts, looked: Lookup, rec: Record, rows: list[tuple[str, bytes]] | None = None) -> None:
    # (writes only: a damaged database fails the write, which is said, and a later reading run
    # finds the damage with its check)
    assert looked.key is not None  # (save returns before without one)
    cache = FactsCache.open(opts.cache_dir, opts.notices, verify=False)
    if cache is not None:
        try:
            store(cache, looked.key, rec, looked.listed, opts.notices, rows=rows, digest=looked.digest)
        finally:
            cache.close()
