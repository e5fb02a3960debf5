"""Facts of the tree's files, batch by batch: from the facts cache when a file is unchanged,
else read and parsed (in worker processes for big batches), and stored back."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Protocol

from kannot.facts import cpp
from kannot.facts.extract import FileFacts, guarded_extract
from kannot.source import limits
from kannot.source.files import FileError, fs_path, read_source
from kannot.store.cache import FactsCache, content_hash, decode, encode


class LoaderSettings(Protocol):
    """What the loader reads of a run's options (kannot.engine.Options). Read-only members:
    options whose fields are narrower (``jobs`` always an int) still are settings."""

    @property
    def root(self) -> Path: ...
    @property
    def jobs(self) -> int | None: ...
    @property
    def cache_dir(self) -> Path | None: ...
    @property
    def overrides(self) -> dict[str, bytes]: ...
    @property
    def status(self) -> "StatusLike | None": ...
    @property
    def progress(self) -> Callable[[int, int], None] | None: ...
    @property
    def notices(self) -> list[str]: ...


class StatusLike(Protocol):
    def reading(self, done: int, total: int) -> None: ...


def _facts_job(args: tuple[str, str, bytes | None, str | None]) -> tuple:
    """Worker: (rel, facts, notes, size, mtime_ns, hash, blob). ``known_hash``: the cached one."""
    root, rel, override, known_hash = args
    size = mtime = 0
    data: bytes | None
    if override is not None:
        data, note = override, None
    else:
        try:
            st = os.stat(fs_path(Path(root), rel))  # bytes: the name is UTF-8 whatever the locale
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            pass
        data, note = read_source(Path(root), rel)
    if data is None:
        return rel, None, [note or "unreadable"], 0, 0, None, None
    h = content_hash(data)
    if known_hash is not None and h == known_hash:
        return rel, None, [], size, mtime, h, b""  # unchanged content: the cached blob stands
    notes = [note] if note else []
    facts, problem = guarded_extract(rel, data)  # the per-file boundary (time limit, crashes)
    if facts is None:
        return rel, None, notes + [problem], 0, 0, None, None
    blob = encode(facts, notes) if override is None else None
    return rel, facts, notes, size, mtime, h, blob


def _configure_worker(current: limits.Limits, blank: tuple[str, ...]) -> None:
    """A facts worker reads files as the main process does: same limits, same blanked words."""
    limits.configure(current)
    cpp.set_extra_blank_words(blank)


def _crashed_job(args: tuple, reason: str) -> tuple:
    """_facts_job's answer for a file whose worker died or hung on it."""
    return args[1], None, [f"skipped: {reason} while reading this file"], 0, 0, None, None


def _parse_notes(facts: FileFacts) -> list[str]:
    if not facts.parse_errors:
        return []
    return [f"could not fully parse ({facts.parse_errors} syntax error region(s), first at line {facts.first_error_line}); functions outside them are still checked"]


class FactsLoader:
    """Facts of files, batch by batch: from the cache when unchanged, else parsed (in parallel
    for big batches). One cache connection for the whole run; :meth:`close` commits."""

    def __init__(self, opts: LoaderSettings, errors: list[FileError], verify: bool = True):
        self.opts = opts
        self.errors = errors
        self.jobs = opts.jobs or os.cpu_count() or 1
        self.notices: list[str] = []
        self.cache = FactsCache.open(opts.cache_dir, self.notices, verify) if opts.cache_dir is not None else None
        self.cache_writable = self.cache is not None  # False after a failed write (a full disk)
        self.total = 0  # files asked for so far (the progress bar's denominator)
        self.done = 0
        self.parsed = 0  # of those, read and parsed (the others came from the cache)
        self.batches = 0
        self.hashes: dict[str, str | None] = {}  # content hash of every file asked for (None: unreadable)
        self.workers = None  # kannot.source.workers.Workers, once a batch is worth sending out
        self.written_generation: int | None = None  # of the catalog this run stored, once closed

    def load(self, rels: list[str]) -> dict[str, FileFacts]:
        opts = self.opts
        cache = self.cache
        stored = cache.lookup(rels) if cache is not None else {}
        facts: dict[str, FileFacts] = {}
        notes_by_file: dict[str, list[str]] = {}
        work = []
        self.total += len(rels)
        for rel in rels:
            override = opts.overrides.get(rel)
            row = stored.get(rel)
            if override is None and row is not None:
                try:
                    st = os.stat(fs_path(opts.root, rel))
                    if st.st_size == row[0] and st.st_mtime_ns == row[1]:
                        facts[rel], notes_by_file[rel] = decode(row[3])
                        self.hashes[rel] = row[2]
                        continue
                except (OSError, ValueError):
                    pass
            work.append((str(opts.root), rel, override, row[2] if row is not None and override is None else None))
        self.done += len(rels) - len(work)
        self.parsed += len(work)
        self.batches += 1
        if opts.status is not None and work:
            opts.status.reading(self.done, self.total)

        def take(item):
            rel, ff, notes, size, mtime, h, blob = item
            self.done += 1
            if opts.progress is not None:
                opts.progress(self.done, self.total)
            if opts.status is not None:
                opts.status.reading(self.done, self.total)
            if ff is None and blob == b"" and rel in stored:
                try:
                    ff, notes = decode(stored[rel][3])  # content unchanged, only the mtime moved
                    blob = stored[rel][3]
                except ValueError:  # a damaged row: never trusted, the file is read again
                    rel, ff, notes, size, mtime, h, blob = _facts_job((str(opts.root), rel, None, None))
            self.hashes[rel] = h if ff is not None else None
            if ff is not None:
                facts[rel] = ff
                notes_by_file[rel] = notes
                if cache is not None and blob:
                    cache.put(rel, size, mtime, h, blob)
            else:
                notes_by_file[rel] = notes

        if self.jobs <= 1 or len(work) < 2:
            for w in work:
                take(_facts_job(w))
        else:
            for item in self._workers().map(_facts_job, work):
                take(item)
        if opts.progress is not None:
            opts.progress(self.done, self.total)
        for rel in rels:
            for n in notes_by_file.get(rel, []):
                self.errors.append(FileError(rel, n))
            if rel in facts:
                for n in _parse_notes(facts[rel]):
                    self.errors.append(FileError(rel, n))
        return facts

    def _workers(self):
        """The run's worker processes, started at the first batch that needs them."""
        if self.workers is None:
            from kannot.source import workers  # a worker that dies or hangs costs its file, not the run

            self.workers = workers.Workers(self.jobs, _crashed_job, initializer=_configure_worker,
                                           initargs=(limits.current(), cpp.extra_blank_words()),
                                           watchdog=workers.watchdog_seconds(limits.current().file_time_limit))
        return self.workers

    def close(self) -> None:
        if self.workers is not None:
            self.workers.close()
            self.workers = None
        if self.cache is not None:
            self.cache.commit(self.notices)
            self.written_generation = self.cache.written_generation
            self.cache_writable = not self.cache.read_only
            self.cache.close()
            self.cache = None
        self.opts.notices.extend(self.notices)  # said on stderr: the JSON must not depend on the cache's state
        self.notices = []
