"""The lazy engine held in memory between an editor's edits (the language server's session)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

from kannot.analysis.findings import CallerResult
from kannot.engine import (
    Options,
    Result,
    build_index,
    check_index,
    close_index,
    cyclic_gc_paused,
    ensure_build_digest,
    families_for,
    listed_with_signatures,
    recheck,
    stored_allows,
)
from kannot.facts.extract import FileFacts, guarded_extract
from kannot.source.files import FileError, read_source
from kannot.store import memo
from kannot.store.cache import FactsCache

if TYPE_CHECKING:
    from kannot.index.core import Index

@dataclass
class SessionBase:
    """What an editor's edits are rechecked against: the per-function results of the last whole
    check of the open files (a :class:`kannot.store.memo.Record`, stored or made in memory), the
    texts that check saw for files whose buffer differed from the disk, and the facts it saw of
    the files edited since."""

    record: "memo.Record"
    paths: list[str]
    facts: dict[str, "FileFacts"] = field(default_factory=dict)


class Session:
    """The lazy engine held in memory between an editor's edits (the language server).

    A whole check of the open files (``paths``) runs as ``kannot check FILES`` does: the stored
    result when nothing changed since it was stored (kannot.store.memo), else a lazy index and
    a check, whose result is stored when the buffers are the disk's files. Its per-function
    results stay in memory, with the lazy index. An edit of an open buffer whose catalog entry
    and shape stay the same (an edit inside functions) replaces that file's facts in the index
    (:meth:`kannot.index.lazy.LazyIndex.replace_file`) and checks again only the functions it can
    reach, as a warm ``kannot check`` does (:func:`_recheck`); anything else is a whole check.
    Unsaved buffers are overrides of the files' bytes. Not thread-safe: one thread calls it."""

    def __init__(self, opts: Options) -> None:
        self.opts = replace(opts, overrides={}, lazy=True, write_catalog_later=True)
        self.base: SessionBase | None = None
        self.index: "Index | None" = None
        self.looked: "memo.Lookup | None" = None
        self.result: Result | None = None
        self.whole_checks = 0  # whole checks run (the first included)
        self.rechecks = 0  # edits answered by checking some functions again
        self.last: str = ""  # what the last check did: "stored", "whole", "recheck", "same"
        self.pending: Callable[[], None] | None = None  # the last whole check's writes to the cache

    # the public steps -----------------------------------------------------------------------------
    def check(self, buffers: dict[str, bytes], paths: list[str],
              early: Callable[[Result], None] | None = None) -> Result:
        """The findings of ``paths`` with ``buffers`` (file -> unsaved text) in place of the disk's
        files. ``early``: given a whole check's result before the cache is written."""
        paths = sorted(paths)
        with cyclic_gc_paused():
            if self.base is None or self.base.paths != paths:
                return self._whole(buffers, paths, early)
            got = self._edits(buffers)
            if got is None:
                return self._whole(buffers, paths, early)
            return got

    def prepare(self) -> None:
        """Make the index the next edit needs, if the last whole check was a stored result."""
        if self.base is None or self.index is not None:
            return
        with cyclic_gc_paused():
            self._index_for_base()

    def store(self) -> None:
        """Write what the last whole check left to write (the facts it parsed, a new catalog, its
        result): deferred by :meth:`check` so that the edits typed meanwhile need not wait (seconds
        on a cold cache); done before the next whole check, or when the editor is idle."""
        pending, self.pending = self.pending, None
        if pending is not None:
            with cyclic_gc_paused():
                pending()

    def close(self) -> None:
        self.store()
        if self.index is not None:
            close_index(self.index)
            self.index = None

    def invalidate(self) -> None:
        """The build files changed: the next check is a whole one."""
        self.close()
        self.base = None
        self.looked = None
        self.opts.build_digest = None

    # whole checks ---------------------------------------------------------------------------------
    def _whole(self, buffers: dict[str, bytes], paths: list[str], early: Callable[[Result], None] | None) -> Result:
        self.close()
        self.whole_checks += 1
        opts = replace(self.opts, paths=paths, overrides=self._differing(buffers), notices=self.opts.notices,
                       build_digest=None)
        self.opts = opts
        errors: list[FileError] = []
        looked = None
        index = None
        if opts.cache_dir is not None:
            ready = ensure_build_digest(opts, defer=not opts.only_built)
            listing_errors: list[FileError] = []
            listed = listed_with_signatures(opts, listing_errors)
            if not ready:  # the model is read beside the catalog's scan (see engine._analyze)
                index = build_index(opts, errors, listed=listed)
            looked = memo.lookup(opts, memo.result_key(opts, families_for(opts)), listed, listing_errors, partial=True)
            if index is not None:
                looked.record = None  # (the check runs: nothing stored is read)
            rec = looked.record
            if rec is not None and not rec.edited and not opts.overrides:
                try:
                    findings, errors = rec.result_parts()
                    rec.callers()  # (an older record without per-function results: a check runs)
                except (ValueError, EOFError, TypeError):
                    rec = None
                if rec is not None:
                    result = Result(findings, errors, None, *rec.counts, reused=True)
                    self.looked, self.base, self.result, self.last = looked, SessionBase(rec, paths), result, "stored"
                    if early is not None:
                        early(result)
                    return result
            errors.extend(looked.listing_errors)
        self.looked = looked
        if index is None:
            index = build_index(opts, errors, listed=looked.listed if looked is not None else None)
        callers: list[CallerResult] = []
        findings = check_index(index, opts, errors, callers)
        errors = sorted(set(errors), key=lambda e: (e.file, e.message))
        catalog = index.catalog
        assert catalog is not None  # (a session's index is lazy: Options.lazy)
        counts = (len(index.files), len(catalog.files), len(catalog.files) - len(catalog.unreadable))
        result = Result(findings, errors, index, *counts, functions_checked=len(callers))
        if early is not None:
            early(result)
        packed = memo.StoredCallers.pack(callers)
        allows = stored_allows(index.files, index.files)
        # a stored result is of the disk's files (decided now: the edits until the store fill
        # ``opts.overrides``, the dict the index's loader reads)
        disk = looked is not None and not opts.overrides

        def store() -> None:
            close_index(index)  # (commits what it parsed; its loader opens the cache again below)
            if disk:
                assert looked is not None  # (disk says so)
                memo.save(opts, looked, index, findings, errors, counts, callers=packed, allows=allows)
            self._reopen(index)

        rec = memo.make_record({}, [], 0, {}, (set(), set(), set(), set()), findings, errors, counts, packed, allows)
        self.pending = store
        self.index, self.base, self.result, self.last = index, SessionBase(rec, paths), result, "whole"
        return result

    def _differing(self, buffers: dict[str, bytes]) -> dict[str, bytes]:
        """The buffers whose text is not the disk's (those that are need no override, and a
        result of the disk's files can be stored and reused)."""
        out = {}
        for rel, text in buffers.items():
            data, _note = read_source(self.opts.root, rel)
            if data != text:
                out[rel] = text
        return out

    def _reopen(self, index: "Index") -> None:
        loader = index.facts_loader
        if loader is not None and self.opts.cache_dir is not None and loader.cache is None:
            loader.cache = FactsCache.open(self.opts.cache_dir, loader.notices, verify=False)
            loader.cache_writable = loader.cache is not None

    def _index_for_base(self) -> None:
        """The lazy index of the state the base record saw (a stored result: the disk's files),
        with the record's known answers, the open files loaded."""
        from kannot.index.lazy import KnownAnswers, LazyIndex

        assert self.base is not None
        errors: list[FileError] = []
        index = build_index(self.opts, errors, listed=self.looked.listed if self.looked is not None else None, verify=False)
        try:
            known = self.base.record.known()
        except (ValueError, EOFError, TypeError):
            known = None
        assert isinstance(index, LazyIndex)  # (a session's index is lazy: Options.lazy)
        if known is not None:
            heads, defines = known
            index.known = KnownAnswers(heads, defines, index.catalog.files)
        index.ensure_files(list(self.base.paths))
        self.index = index

    # edits ------------------------------------------------------------------------------------------
    def _edits(self, buffers: dict[str, bytes]) -> Result | None:
        """The result after the buffers' edits since the last check, by a recheck; None when a
        whole check is needed."""
        from kannot.facts.text import same_entry, scan_text
        assert self.base is not None
        overrides = self.opts.overrides  # (the index's loader and reader see this dict)
        wanted = {rel: text for rel, text in buffers.items()}
        changed: dict[str, bytes | None] = {}
        for rel in set(wanted) | set(overrides):
            now = overrides.get(rel)
            new = wanted.get(rel)
            if new is None:  # a buffer closed: the disk's file again
                new, _note = read_source(self.opts.root, rel)
            if now is None:
                now, _note = read_source(self.opts.root, rel)
            if new != now:
                changed[rel] = new
        if not changed:
            if self.result is not None:
                self.last = "same"
                return self.result
        if self.index is None:
            self._index_for_base()
        index = self.index
        from kannot.index.lazy import LazyIndex

        assert isinstance(index, LazyIndex)  # (the session's index is always lazy)
        assert index is not None
        for rel, new in changed.items():
            old_text = overrides.get(rel)
            if old_text is None:
                old_text, _note = read_source(self.opts.root, rel)
            if new is None or old_text is None:
                return None  # a file gone or unreadable
            if not same_entry(scan_text(old_text.replace(b"\0", b" ")), scan_text(new.replace(b"\0", b" "))):
                return None  # names, includes or marks changed: the catalog's answers may change
            old_facts = index.files.get(rel)
            if old_facts is not None:
                facts, _problem = guarded_extract(rel, new)
                if facts is None or not index.replace_file(rel, facts):
                    return None
                self.base.facts.setdefault(rel, old_facts)
            disk, _note = read_source(self.opts.root, rel)
            if new == disk:
                overrides.pop(rel, None)
            else:
                overrides[rel] = new
        rec = self.base.record
        rec.edited = {}
        for rel, old_facts in self.base.facts.items():
            if index.files.get(rel) is old_facts:
                continue
            text = overrides.get(rel)
            if text is None:
                text, _note = read_source(self.opts.root, rel)
            tf = scan_text((text or b"").replace(b"\0", b" "))
            rec.edited[rel] = (old_facts, frozenset(tf.heads) | frozenset(tf.defines) | frozenset(a for a, _m in tf.invocations))
        if not rec.edited:
            findings, stored_errors = rec.result_parts()
            result = Result(findings, stored_errors, index, *rec.counts)
        else:
            errors: list[FileError] = []
            got = recheck(self.opts, memo.Lookup({}, [], None, rec), index, errors)
            if got is None:
                return None
            result = got[0]
        self.rechecks += 1
        self.result, self.last = result, "recheck"
        return result
