"""The tree's catalog: every file's text facts (:mod:`kannot.facts.text`), indexed by name, so that
only the files a check needs are parsed.

Parsing every file of a kernel tree with tree-sitter costs minutes; a check needs only the files
with protected functions and the files that can define what those call (through always-inline
helpers and macros, transitively). The catalog finds both without a parser: which files have a
name among their heads, which ``#define`` it, which invoke a macro on it, which have a family's
marks, what each includes.

The index (:class:`kannot.index.core.Index` in lazy mode) asks the catalog which files to parse when it
looks a name up, so its answers equal those of an index built from every file's facts; the
benchmark and ``tests/test_lazy.py`` compare the two.
"""
from __future__ import annotations

import bisect
import gc
import itertools
import os
import stat
import struct
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, cast

from kannot.source import limits
from kannot.facts.text import ALL_FAMILIES, TextFacts, same_entry, scan_text
from kannot.source.files import FileError, fs_path, is_sorted, moved_positions, read_source
from kannot.store.catalog_blobs import (INDEX_KEY, SIGS_KEY, CatalogState, MappedText, pack_catalog_entry,
                                        pack_invocations, pack_sigs, pack_state, unpack_catalog_entry,
                                        unpack_invocations, unpack_sigs, unpack_state)

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor


def _split_condition(text: str) -> tuple[str, str]:
    """A packed include line's path and condition (tab-separated: a path has no tab)."""
    path, _, cond = text.partition("\t")
    return path, cond


def _read(root: str, rel: str) -> tuple[bytes | None, str | None]:
    """Plain files the quick way (one open); anything odd through :func:`read_source`'s checks."""
    try:
        fd = os.open(fs_path(Path(root), rel), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return read_source(Path(root), rel)  # symlinks, vanished, unreadable: said precisely there
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limits.current().max_file_bytes:
            return read_source(Path(root), rel)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read()
    except OSError:
        return read_source(Path(root), rel)
    finally:
        os.close(fd)
    if b"\0" in data:
        return read_source(Path(root), rel)
    return data, None


def scan_job(args: tuple[str, str, int]) -> tuple[str, bytes]:
    """A file's catalog entry as it is stored (kannot.store.catalog_blobs.pack_catalog_entry): made in
    the worker, so the main process neither unpickles objects nor marshals them again."""
    root, rel, families = args
    data, note = _read(root, rel)
    if data is None:
        return rel, pack_catalog_entry(None, note)
    try:
        tf = scan_text(data, families)
    except Exception as exc:  # the per-file boundary
        return rel, pack_catalog_entry(None, f"internal error while scanning: {type(exc).__name__}: {exc}")
    return rel, pack_catalog_entry(tf, note)


def _ints(raw) -> "array | memoryview":
    """Native ints over ``raw``: a view when it is a stored part (a memoryview: no copy of the
    mapped file), else a copy."""
    if isinstance(raw, memoryview):
        return raw.cast("i")
    out = array("i")
    out.frombytes(raw)
    return out


class _Names:
    """The sorted names of a stored index, as a sequence :func:`bisect.bisect_left` can search
    without splitting the string first (a million names: 0.1 s a split, for a recheck that asks
    a few thousand). After many lookups (a whole check) it splits once and serves the list."""

    __slots__ = ("_text", "_starts", "_list", "_asked", "_sample")
    SPLIT_AFTER = 4096
    BLOCK = 64  # names per block of the sample a lookup bisects first

    def __init__(self, text: "str | MappedText", starts):
        self._text = text
        self._list: list[str] | None = None
        self._asked = 0
        self._sample: list[str] | None = None
        self._starts = _ints(starts)  # where each name starts, and one past the end

    def __len__(self) -> int:
        return len(self._starts) - 1

    def __iter__(self):
        if self._list is not None:
            return iter(self._list)
        return iter(self._text.split("\n"))

    def find(self, name: str) -> int | None:
        """The position of ``name``, or None. A few lookups bisect a sample of every
        :attr:`BLOCK`-th name, then split that one block (each bisect step of the whole cost a
        slice in Python: a recheck's 5,000 lookups took 0.1 s); many lookups (a whole check)
        split the whole string once and bisect the list."""
        if self._list is None:
            self._asked += 1
            if self._asked > self.SPLIT_AFTER:
                self._list = self._text.split("\n")
        if self._list is not None:
            i = bisect.bisect_left(self._list, name)
            return i if i < len(self._list) and self._list[i] == name else None
        starts, n = self._starts, len(self._starts) - 1
        text = self._text
        # str, or bytes when text is the mapped buffer (and so are the slices of text)
        key: str | bytes
        nl: Any
        if isinstance(text, MappedText):  # compared as bytes, undecoded (UTF-8 keeps the order)
            text, base, key, nl = text.buf, text.start, name.encode("utf-8", "surrogateescape"), b"\n"
        else:
            base, key, nl = 0, name, "\n"
        if self._sample is None:
            step = self.BLOCK
            self._sample = [text[base + starts[i] : base + starts[i + 1] - 1] for i in range(0, n, step)]
        b = bisect.bisect_right(self._sample, key) - 1
        if b < 0:
            return None
        lo, hi = b * self.BLOCK, min(n, (b + 1) * self.BLOCK)
        block = text[base + starts[lo] : base + starts[hi] - 1].split(nl)
        i = bisect.bisect_left(block, key)
        return lo + i if i < len(block) and block[i] == key else None


class Postings:
    """name -> ranks of the files that have it: the catalog's name indexes.

    Stored frozen: the names sorted in one string, and the ranks in arrays (insertion order,
    with a permutation from sorted position). A warm run splits one string and reads three
    arrays instead of unmarshalling a dict of a million lists (1.1 s for the heads of 6.12, a
    third of a one-file check). Lookups bisect; a name a changed file adds or drops is copied
    into ``_live``, which overrides the frozen part (an empty list: gone)."""

    __slots__ = ("_names", "_perm", "_offsets", "_ranks", "_live", "frozen")

    def __init__(self, frozen: tuple[str, bytes, bytes, bytes, bytes] | None = None):
        self.frozen = frozen  # as given (what a caller that changed nothing stores again)
        self._live: dict[str, list[int]] = {}
        self._perm: array[int] | memoryview
        self._offsets: array[int] | memoryview
        self._ranks: array[int] | memoryview
        self._perm, self._offsets, self._ranks = array("i"), array("i", [0]), array("i")
        self._names: _Names | list[str] = []
        if frozen is not None:
            names, starts, perm, offsets, ranks = frozen
            self._names = _Names(names, starts) if names else []
            self._perm, self._offsets, self._ranks = _ints(perm), _ints(offsets), _ints(ranks)
            if not (len(self._perm) == len(self._names) == len(self._offsets) - 1
                    and self._offsets[-1] == len(self._ranks)
                    and (not names or cast(_Names, self._names)._starts[-1] == len(names) + 1)):
                raise ValueError("inconsistent stored index")

    def _frozen(self, name: str) -> list[int] | None:
        i = cast(_Names, self._names).find(name) if self._names else None  # (no frozen part: an empty list)
        if i is None:
            return None
        k = self._perm[i]
        return self._ranks[self._offsets[k]:self._offsets[k + 1]].tolist()

    def get(self, name: str, default=None):
        got = self._live.get(name)
        if got is None:
            got = self._frozen(name)
        return got if got else default

    def __contains__(self, name: str) -> bool:
        return bool(self.get(name))

    def _mutable(self, name: str) -> list[int]:
        lst = self._live.get(name)
        if lst is None:
            lst = self._live[name] = self._frozen(name) or []
        return lst

    def add(self, name: str, rank: int, once: bool = False) -> None:
        """``rank`` has ``name`` (``once``: not again if it was the last one added)."""
        lst = self._mutable(name)
        if not (once and lst and lst[-1] == rank):
            lst.append(rank)

    def add_all(self, names: list[str], rank: int, once: bool = False) -> None:
        """:meth:`add` of each of ``names`` (a whole scan makes tens of millions of these: with no
        frozen part, a name's list is the live one, got in one step)."""
        if self._names:
            for name in names:
                self.add(name, rank, once)
            return
        live = self._live
        for name in names:
            lst = live.get(name)
            if lst is None:
                live[name] = [rank]
            elif not (once and lst and lst[-1] == rank):
                lst.append(rank)

    def put(self, name: str, ranks: list[int]) -> None:
        """``name``'s whole list (empty: gone)."""
        self._live[name] = list(ranks)

    def discard(self, name: str, rank: int) -> None:
        lst = self._mutable(name)
        lst[:] = [j for j in lst if j != rank]

    def as_dict(self) -> dict[str, list[int]]:
        """Every name with its ranks (the frozen part materialised: for rewriting it)."""
        out: dict[str, list[int]] = {}
        offsets, ranks = self._offsets, self._ranks
        for name, k in zip(self._names, self._perm):
            out[name] = ranks[offsets[k]:offsets[k + 1]].tolist()
        out.update(self._live)
        return out

    def freeze(self) -> tuple[str, bytes, bytes, bytes, bytes]:
        """The stored form. The arrays follow the dict's own order (walking a million lists in
        sorted order costs a cache miss each); only the names are sorted."""
        table = self.as_dict() if self._names else self._live
        names = [n for n, lst in table.items() if lst]
        lists = [table[n] for n in names] if len(names) != len(table) else list(table.values())
        ranks = array("i", itertools.chain.from_iterable(lists))
        offsets = array("i", itertools.accumulate(map(len, lists), initial=0))
        perm = array("i", sorted(range(len(names)), key=names.__getitem__))
        ordered = [names[k] for k in perm]
        starts = array("i", itertools.accumulate((len(n) + 1 for n in ordered), initial=0))
        return "\n".join(ordered), starts.tobytes(), perm.tobytes(), offsets.tobytes(), ranks.tobytes()


class _Ranks:
    """file -> its position in a sorted file list, by bisection (the dict of a kernel tree's
    50,000 paths cost a warm run 0.04 s to build, for the few hundred a recheck asks)."""

    __slots__ = ("_files",)

    def __init__(self, files: list[str]):
        self._files = files

    def get(self, rel: str, default=None):
        i = bisect.bisect_left(self._files, rel)
        return i if i < len(self._files) and self._files[i] == rel else default

    def __getitem__(self, rel: str) -> int:
        i = self.get(rel)
        if i is None:
            raise KeyError(rel)
        return i

    def __contains__(self, rel: str) -> bool:
        return self.get(rel) is not None

    def __len__(self) -> int:
        return len(self._files)


@dataclass
class Catalog:
    """Every listed file's text facts, indexed by name."""

    files: list[str]  # sorted: the order an eager index walks them in
    rank: dict[str, int] | _Ranks = field(default_factory=dict)
    includes: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    heads_index: Postings = field(default_factory=Postings)
    defines_index: Postings = field(default_factory=Postings)
    invocations_index: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # arg -> (rank, macro)
    marks: dict[int, int] = field(default_factory=dict)  # rank -> bits, only files with marks
    unreadable: set[str] = field(default_factory=set)
    entries: dict[int, TextFacts] = field(default_factory=dict)  # rank -> its facts (to replace a file)
    # rank -> its entry as stored, for the files a worker scanned: decoded again only for a file
    # that is replaced later, and written to the cache as it is
    entry_rows: dict[int, bytes] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # file -> what reading it said
    # every name looked up, per index: what a stored result depends on (kannot.store.memo); an
    # optimisation's loads ahead of the lookups pass ``record=False``
    asked_heads: set[str] = field(default_factory=set)
    asked_defines: set[str] = field(default_factory=set)
    asked_invocations: set[str] = field(default_factory=set)
    # the invocations index as stored, until first used: unmarshalling its million small tuples
    # is most of a stored catalog's load (0.1 s of 0.18 on 6.12), and a recheck rarely asks it
    invocations_packed: bytes | None = None
    # changes to it meanwhile, applied when it is unpacked: (rank, its invocations, added?)
    # (a patch's override of traps.c replaced its entry, which unpacked it: 0.15 s)
    invocation_changes: list[tuple[int, list, bool]] = field(default_factory=list)
    if TYPE_CHECKING:  # set on some catalogs only (read with getattr): not dataclass fields
        sigs: list[tuple[int, int]] | array = field(init=False)  # the files' (size, mtime_ns)
        _packed_includes: list[str | None] = field(init=False)  # a stored catalog's, per rank

    def _invocations(self) -> dict[str, list[tuple[int, str]]]:
        if self.invocations_packed is not None:
            self.invocations_index = unpack_invocations(self.invocations_packed)
            self.invocations_packed = None
            changes, self.invocation_changes = self.invocation_changes, []
            for i, invocations, added in changes:
                self._change_invocations(i, invocations, added)
        return self.invocations_index

    def _change_invocations(self, i: int, invocations: list, added: bool) -> None:
        if self.invocations_packed is not None:
            self.invocation_changes.append((i, invocations, added))
            return
        index = self.invocations_index
        for arg, macro in invocations:
            if added:
                index.setdefault(arg, []).append((i, macro))
                continue
            lst = index.get(arg)
            if lst is not None:
                lst[:] = [t for t in lst if t[0] != i]
                if not lst:
                    del index[arg]

    def add(self, rel: str, tf: TextFacts, keep: bool = True) -> None:
        """Index ``tf`` as ``rel``'s entry (replacing an earlier one). ``keep=False``: the caller
        keeps the stored form in :attr:`entry_rows` instead of the object."""
        i = self.rank[rel]
        if i in self.entries or i in self.entry_rows:
            self._remove(i)
        if keep:
            self.entries[i] = tf
        self.unreadable.discard(rel)
        self.includes[rel] = tf.includes
        self.heads_index.add_all(tf.heads, i)
        self.defines_index.add_all(tf.defines, i, once=True)
        if tf.invocations:
            self._change_invocations(i, tf.invocations, True)
        if tf.marks:
            self.marks[i] = tf.marks

    def _remove(self, i: int) -> None:
        old = self.entries.pop(i, None)
        row = self.entry_rows.pop(i, None)
        if old is None:
            old = unpack_catalog_entry(row)[0] if row is not None else None
            if old is None:
                return
        for index, names in ((self.heads_index, old.heads), (self.defines_index, old.defines)):
            for w in set(names):
                index.discard(w, i)
        if old.invocations:
            self._change_invocations(i, old.invocations, False)
        self.marks.pop(i, None)

    def heads_of(self, name: str, record: bool = True) -> list[str]:
        """Files that may define or declare ``name`` at file scope."""
        if record:
            self.asked_heads.add(name)
        return [self.files[i] for i in self.heads_index.get(name, ())]

    def definers_of(self, name: str, record: bool = True) -> list[str]:
        """Files that may ``#define name``."""
        if record:
            self.asked_defines.add(name)
        return [self.files[i] for i in self.defines_index.get(name, ())]

    def invokers_of(self, arg: str) -> list[tuple[str, str]]:
        """(file, macro) of the file-scope ``MACRO(arg, ...)`` / ``MACRO(x, arg, ...)`` lines."""
        self.asked_invocations.add(arg)
        return [(self.files[i], macro) for i, macro in self._invocations().get(arg, ())]

    def marked(self, bits: int) -> list[str]:
        return [self.files[i] for i, m in sorted(self.marks.items()) if m & bits]

    def defined_names(self) -> Postings:
        """What ``name in`` asks of: is it ``#define``d anywhere?"""
        return self.defines_index

    def includes_of(self, rel: str) -> list[tuple[str, str, str]]:
        got = self.includes.get(rel)
        if got is not None:
            return got
        packed = getattr(self, "_packed_includes", None)
        i = self.rank.get(rel)
        if packed is None or i is None or not packed[i]:
            return []
        got = [(line[0], *_split_condition(line[1:])) for line in packed[i].split("\n")]
        self.includes[rel] = got
        return got

    def to_blob(self, unreadable: list[str] | None = None) -> bytes:
        """The stored index (kannot.store.catalog_blobs). The signatures are stored apart (an
        edit that changes no file's names rewrites only them)."""
        return pack_state(self.to_state(unreadable))

    def to_state(self, unreadable: list[str] | None = None) -> CatalogState:
        """Its stored form. Includes are one string per file, split again only for the files
        a closure visits."""
        packed = []
        for i, rel in enumerate(self.files):
            incs = self.includes.get(rel)
            if incs is None:
                old = getattr(self, "_packed_includes", None)
                packed.append(old[i] if old is not None and i < len(old) else None)
            else:
                packed.append("\n".join(k + inc + ("\t" + c if c else "") for k, inc, c in incs) or None)
        invocations = (self.invocations_packed if self.invocations_packed is not None and not self.invocation_changes
                       else pack_invocations(self._invocations()))
        unreadable = sorted(self.unreadable) if unreadable is None else unreadable
        return CatalogState(self.files, None, packed, self.notes, unreadable, self.heads_index.freeze(),
                            self.defines_index.freeze(), invocations, self.marks)

    def entry(self, i: int) -> TextFacts | None:
        """File ``i``'s entry (None: unreadable, or not scanned)."""
        tf = self.entries.get(i)
        if tf is None and i in self.entry_rows:
            tf = unpack_catalog_entry(self.entry_rows[i])[0]
        return tf

    def entry_row(self, i: int) -> bytes:
        """File ``i``'s entry as it is stored (what :func:`load_or_build` reads back)."""
        row = self.entry_rows.get(i)
        return row if row is not None else pack_catalog_entry(self.entry(i), self.notes.get(self.files[i]))


def _stored_blobs(cat: "Catalog", now: bool, with_index: bool = True) -> list[tuple[str, "bytes | Callable[[], bytes]"]]:
    """The index and signature blobs of ``cat`` (not ``with_index``: the signatures only). Not
    ``now``: the index blob is made by the writer (freezing a million names costs seconds;
    on the background writer's thread it overlaps the check, which only reads the catalog)."""
    sigs = pack_sigs(getattr(cat, "sigs", [(-1, -1)] * len(cat.files)))
    if not with_index:
        return [(SIGS_KEY, sigs)]
    if now:
        return [(INDEX_KEY, cat.to_blob()), (SIGS_KEY, sigs)]
    # the files the scan could not read, as of now: the check marks a file it then fails to
    # parse unreadable too (that is a fact of this run, not of the file's stored entry)
    unreadable = sorted(cat.unreadable)
    return [(INDEX_KEY, lambda: cat.to_blob(unreadable)), (SIGS_KEY, sigs)]


def _signature(root: str, rel: str) -> tuple[int, int]:
    try:
        st = os.stat(fs_path(Path(root), rel))
        return st.st_size, st.st_mtime_ns
    except OSError:
        return -1, -1


def load_or_build(root: Path, rels: list[str], jobs: int, errors: list[FileError], cache, notices: list[str],
                  progress: Callable[[int, int], None] | None = None,
                  overrides: dict[str, bytes] | None = None, sigs: "list[tuple[int, int]] | array | None" = None,
                  write: str = "now", pool: "ProcessPoolExecutor | None" = None) -> Catalog:
    """The catalog of ``rels``, from the cache (``cache``: a FactsCache or None) for the files
    whose size and modification time are unchanged; the others are scanned again and stored.

    The cache holds the name indexes as one blob (what a warm run reads) and each file's entry
    apart (read only to take a changed file's old names out of the indexes). ``sigs``: the
    files' (size, mtime_ns), when the caller has them. ``write``: when a new stored catalog is
    written (``FactsCache.put_catalog``'s ``when``). With unsaved buffers the blob is made at
    once (they go into the catalog below, and the stored one is the disk's); else by the
    writer: on its thread ("background"), or after the check ("later": an editor's first
    diagnostics need not wait for it). ``pool``: see :func:`build_catalog` (a whole scan's)."""
    root_s = str(root)
    if sigs is None:  # the listing's walk usually brings them (kannot.source.files.scan_tree)
        sigs = [_signature(root_s, r) for r in rels]
    # one flat array of (size, mtime_ns) pairs, compared with the stored one at C speed
    flat = sigs if isinstance(sigs, array) else array("q", itertools.chain.from_iterable(sigs))
    now = bool(overrides) or write == "now"  # an unsaved buffer goes into the catalog below
    state = cat = None
    blob = cache.get_blob(INDEX_KEY) if cache is not None else None
    if blob is not None:
        try:
            state = unpack_state(blob)
            if state is not None:
                state = state._replace(sigs=unpack_sigs(cache.get_blob(SIGS_KEY), len(state.files)))
                if state.files == rels:
                    cat = _stored_catalog(rels, state)
        except (ValueError, EOFError, TypeError, IndexError, struct.error):
            notices.append("cache: the stored catalog is damaged; scanning the tree again")
            state = cat = None
    if cat is None:
        # first run, or files were added or removed (every rank moves): scan what changed, rebuild
        cat = _rebuild(root, rels, flat, jobs, errors, cache, state, progress, pool)
        if cache is not None:
            cache.put_catalog(_stored_blobs(cat, now), [(rel, cat.entry_row(i)) for i, rel in enumerate(cat.files)],
                              notices, write)
        return _with_overrides(cat, overrides)
    assert state is not None  # (cat came from it)
    assert state.sigs is not None  # (read with it)
    changed = [rels[i] for i in moved_positions(state.sigs, flat)]
    rewritten: list[str] = []  # changed files whose entry changed too
    if changed:
        old_entries = cache.get_texts(changed) if cache is not None else {}
        for rel in changed:
            e = old_entries.get(rel)
            if e is not None:
                try:
                    old_tf, _note = unpack_catalog_entry(e)
                    if old_tf is not None:
                        cat.entries[cat.rank[rel]] = old_tf
                except (ValueError, EOFError, TypeError):
                    return _with_overrides(_rescan_all(root, rels, flat, jobs, errors, cache, notices, progress), overrides)
        scanned = build_catalog(root, changed, jobs, [], ALL_FAMILIES)
        for rel in changed:
            i = cat.rank[rel]
            tf = scanned.entry(scanned.rank[rel])
            note = scanned.notes.get(rel) if tf is not None else scanned.notes.get(rel, "unreadable")
            if (rel in old_entries and rel not in cat.unreadable and same_entry(cat.entries.get(i), tf)
                    and cat.notes.get(rel) == note):
                continue  # an edit inside a function: the names it has stay where they are
            rewritten.append(rel)
            cat.notes.pop(rel, None)
            cat._packed_includes[i] = None
            if tf is None:
                if i in cat.entries:
                    cat._remove(i)
                cat.unreadable.add(rel)
                assert note is not None  # (the get above has a default when tf is None)
                cat.notes[rel] = note
            else:
                cat.add(rel, tf)
                if note:
                    cat.notes[rel] = note
    for rel, note in sorted(cat.notes.items()):
        errors.append(FileError(rel, note))
    cat.sigs = flat
    if cache is not None and changed:
        # (only the signatures when no entry changed: an edit inside functions, or a touch)
        cache.put_catalog(_stored_blobs(cat, now, with_index=bool(rewritten)),
                          [(rel, cat.entry_row(cat.rank[rel])) for rel in rewritten], notices, write)
    return _with_overrides(cat, overrides)


def _stored_catalog(rels: list[str], state: CatalogState) -> Catalog:
    _files, _sigs, includes, notes, unreadable, heads, defines, invocations, marks = state
    cat = Catalog(files=list(rels))
    cat.rank = _Ranks(cat.files) if is_sorted(cat.files) else {r: i for i, r in enumerate(cat.files)}
    cat.heads_index, cat.defines_index = Postings(heads), Postings(defines)
    if not isinstance(invocations, bytes):
        raise ValueError("stored invocations index of another shape")
    cat.invocations_packed = invocations
    cat.marks = dict(marks)
    cat._packed_includes = includes
    cat.notes = dict(notes)
    cat.unreadable = set(unreadable)
    return cat


def _rescan_all(root, rels, sigs, jobs, errors, cache, notices, progress) -> Catalog:
    notices.append("cache: the stored catalog is damaged; scanning the tree again")
    cat = build_catalog(root, rels, jobs, errors, ALL_FAMILIES, progress)
    cat.sigs = sigs
    if cache is not None:
        cache.put_catalog(_stored_blobs(cat, True), [(rel, cat.entry_row(i)) for i, rel in enumerate(cat.files)],
                          notices)
    return cat


def _rebuild(root: Path, rels: list[str], sigs: array, jobs: int, errors: list[FileError], cache,
             state: CatalogState | None, progress, pool: "ProcessPoolExecutor | None" = None) -> Catalog:
    """A new catalog of ``rels`` (``sigs``: their flat signatures): the stored entries of
    unchanged files, the others scanned."""
    reuse: dict[str, bytes] = {}
    if state is not None and cache is not None:
        def pairs(flat: array):
            return zip(flat[0::2], flat[1::2])

        assert state.sigs is not None  # (read with it)
        old = dict(zip(state.files, pairs(state.sigs)))
        same = [rel for rel, sig in zip(rels, pairs(sigs)) if old.get(rel) == sig and sig != (-1, -1)]
        reuse = cache.get_texts(same)
    if not reuse:
        cat = build_catalog(root, rels, jobs, errors, ALL_FAMILIES, progress, pool=pool)
        cat.sigs = sigs
        return cat
    todo = [rel for rel in rels if rel not in reuse]
    scanned = build_catalog(root, todo, jobs, errors, ALL_FAMILIES, progress, pool=pool)
    cat = Catalog(files=list(rels))
    cat.rank = {r: i for i, r in enumerate(cat.files)}
    for rel in rels:
        if rel in reuse:
            tf, note = unpack_catalog_entry(reuse[rel], many=True)
            if note:
                cat.notes[rel] = note
                errors.append(FileError(rel, note))
            if tf is None:
                cat.unreadable.add(rel)
            else:
                cat.add(rel, tf, keep=False)
            cat.entry_rows[cat.rank[rel]] = reuse[rel]
        else:
            tf = scanned.entry(scanned.rank[rel])
            if rel in scanned.notes:
                cat.notes[rel] = scanned.notes[rel]
            if tf is None:
                cat.unreadable.add(rel)
            else:
                cat.add(rel, tf)
    cat.sigs = sigs
    return cat


def _with_overrides(cat: Catalog, overrides: dict[str, bytes] | None) -> Catalog:
    overrides = overrides or {}
    for rel in sorted(overrides):  # an editor's unsaved buffer, not the disk
        if rel in cat.rank:
            cat.add(rel, scan_text(overrides[rel].replace(b"\0", b" ")))
    return cat


def build_catalog(root: Path, rels: list[str], jobs: int, errors: list[FileError], families: int = 0xFF,
                  progress: Callable[[int, int], None] | None = None, overrides: dict[str, bytes] | None = None,
                  pool: "ProcessPoolExecutor | None" = None) -> Catalog:
    """Scan every file of ``rels`` (sorted) in parallel; unreadable ones become ``errors``.
    ``families``: the :func:`family_bits` whose marks to look for (each costs a search per file).
    ``pool``: worker processes to scan in (the caller's, which may run a job of its own beside),
    else a pool of ``jobs`` is made when there are many files."""
    cat = Catalog(files=list(rels))
    cat.rank = {r: i for i, r in enumerate(cat.files)}
    overrides = overrides or {}
    work = [(str(root), r, families) for r in cat.files if r not in overrides]
    done = 0

    def take(item) -> None:
        nonlocal done
        rel, row = item
        done += 1
        if progress is not None and done % 256 == 0:
            progress(done, len(work))
        tf, note = unpack_catalog_entry(row)
        if note:
            errors.append(FileError(rel, note))
            cat.notes[rel] = note
        if tf is None:
            cat.unreadable.add(rel)
        else:
            cat.add(rel, tf, keep=False)
        cat.entry_rows[cat.rank[rel]] = row

    for rel in sorted(overrides):  # an editor's unsaved buffer, not the disk
        if rel in cat.rank:
            cat.add(rel, scan_text(overrides[rel].replace(b"\0", b" "), families))
    gc_was_on = gc.isenabled()
    gc.disable()  # millions of small lists and strings, no cycles: the collector only costs time
    try:
        if jobs <= 1 or len(work) < 256:
            for w in work:
                take(scan_job(w))
        elif pool is not None:
            for item in pool.map(scan_job, work, chunksize=128):
                take(item)
        else:
            from kannot.source.workers import process_pool  # (only a scan of many files needs it)

            with process_pool(jobs, limits.configure, limits.current()) as own:
                for item in own.map(scan_job, work, chunksize=128):
                    take(item)
    finally:
        if gc_was_on:
            gc.enable()
    if progress is not None:
        progress(len(work), len(work))
    return cat
