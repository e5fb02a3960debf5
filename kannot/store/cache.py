"""Persistent per-file facts cache in SQLite (default ``<root>/.kannot-cache/facts.sqlite``).

Facts are a pure function of a file's bytes, so they are keyed by content hash (and kannot's
version); a file whose size and mtime did not change is not even read. Cross-file resolution is
never cached: findings depend on other files. Blobs are ``marshal``-ed plain tuples (marshal builds
data, never runs code: a planted cache file cannot execute anything). Any database problem
(corrupt, locked too long, read-only, full disk, another version) falls back to a fresh database
or to no cache, with a one-line notice: never to wrong results.
"""
from __future__ import annotations

import hashlib
import marshal
import mmap
import os
import sqlite3
import threading
import time
import zlib
from pathlib import Path

from typing import TYPE_CHECKING, Callable

from kannot.store.stamp import CODE_STAMP
from kannot.facts import cpp

if TYPE_CHECKING:
    from kannot.facts.extract import FileFacts

BUSY_TIMEOUT = 60.0  # seconds a run waits for another run's write transaction (WAL: readers never wait)
_DIGEST = 16  # bytes of blake2b checksum in front of each blob
_FACTS_COLUMNS = "path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, hash TEXT, blob BLOB"
_TEXTS_COLUMNS = "path TEXT PRIMARY KEY, blob BLOB, gen INTEGER"  # gen: the catalog generation that wrote it
# a file's facts before its row was last replaced: a stored result (kannot.store.memo) compares an
# edited file with the facts it saw, though an editor or a one-file check parsed the edit since
_PREVIOUS_COLUMNS = "path TEXT PRIMARY KEY, hash TEXT, blob BLOB"
CACHE_DIR_NAME = ".kannot-cache"


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _row(x) -> tuple:
    return tuple(getattr(x, name) for name in x.__slots__)


def encode(f: FileFacts, notes: list[str]) -> bytes:
    """A checksum, then the marshal-ed rows (the checksum catches a damaged or truncated blob
    that marshal would still read, as other facts)."""
    body = marshal.dumps((
        f.path,
        [_row(x) for x in f.functions],
        [_row(x) for x in f.prototypes],
        list(f.pointer_vars),
        [_row(x) for x in f.macros],
        list(f.macro_names),
        [tuple(x) for x in f.includes],
        list(f.nokprobe),
        [_row(x) for x in f.allows],
        [tuple(x) for x in f.asm_symbols],
        [tuple(x) for x in f.invocations],
        f.parse_errors,
        f.first_error_line,
        list(notes),
    ))
    return _digest(body) + body


def _digest(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=_DIGEST).digest()


def decode(blob: bytes) -> tuple[FileFacts, list[str]]:
    """(facts, the notes reading the file gave); raises ValueError on a damaged blob."""
    if not isinstance(blob, bytes) or len(blob) < _DIGEST or _digest(blob[_DIGEST:]) != blob[:_DIGEST]:
        raise ValueError("damaged cache entry: checksum mismatch")
    from kannot.facts.cpp import MacroDef
    from kannot.facts.extract import AllowComment, FileFacts, FunctionFact, PrototypeFact

    try:
        (path, functions, prototypes, pointer_vars, macros, macro_names, includes, nokprobe, allows,
         asm_symbols, invocations, parse_errors, first_error_line, notes) = marshal.loads(blob[_DIGEST:])
        facts = FileFacts(
            path=path,
            functions=[FunctionFact(*x) for x in functions],
            prototypes=[PrototypeFact(*x) for x in prototypes],
            pointer_vars=pointer_vars,
            macros=[MacroDef(*x) for x in macros],
            macro_names=macro_names,
            includes=[tuple(x) for x in includes],
            nokprobe=nokprobe,
            allows=[AllowComment(*x) for x in allows],
            asm_symbols=[tuple(x) for x in asm_symbols],
            invocations=[tuple(x) for x in invocations],
            parse_errors=parse_errors,
            first_error_line=first_error_line,
        )
    except (EOFError, TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"damaged cache entry: {exc}") from exc
    if not isinstance(path, str) or not isinstance(parse_errors, int) or not isinstance(notes, list):
        raise ValueError("damaged cache entry: unexpected shape")
    return facts, notes


_VERIFIED: set[tuple] = set()  # databases (as files) that passed quick_check in this process


def _identity(path: Path) -> tuple:
    """The database as a file: one rebuilt since (removed, a new file) is checked again."""
    try:
        st = path.stat()
    except OSError:
        return ()
    return (st.st_dev, st.st_ino, str(path))


class FactsCache:
    """Open with :meth:`open`; ``None`` means run without a cache (the reason was reported)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, notices: list[str] | None = None):
        self.conn = conn
        self.path = path
        self.read_only = False  # set after a failed write (a full disk): nothing more is written
        self._pending: list[tuple] = []
        self.later: list[Callable[[], None]] = []  # writes put off until commit (see put_catalog)
        self._writer: threading.Thread | None = None  # put_catalog's, when in the background
        self.written_generation: int | None = None  # the catalog generation this run wrote
        self._notices = notices if notices is not None else []  # where lookup() reports trouble

    @classmethod
    def open(cls, cache_dir: Path, notices: list[str], verify: bool = True) -> "FactsCache | None":
        """The cache in ``cache_dir``, or None (run without one); each problem is one notice.

        A database that is damaged (not a database, malformed pages, a failed quick_check) or was
        written by another kannot (another stamp, or tables of another shape) is replaced by a
        fresh one. A directory or file that cannot be written (read-only, full disk, no space for
        the WAL) or a database locked for longer than the busy timeout means no cache for this run:
        deleting a database we cannot write would only lose someone else's good cache.
        """
        path = cache_dir / "facts.sqlite"
        for attempt in range(2):
            conn = None
            try:
                cache_dir.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                conn.execute(f"CREATE TABLE IF NOT EXISTS facts ({_FACTS_COLUMNS})")
                conn.execute("CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, blob BLOB)")
                conn.execute(f"CREATE TABLE IF NOT EXISTS texts ({_TEXTS_COLUMNS})")
                conn.execute(f"CREATE TABLE IF NOT EXISTS previous_facts ({_PREVIOUS_COLUMNS})")
                conn.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, used INTEGER, blob BLOB)")
                conn.execute("CREATE TABLE IF NOT EXISTS result_rows (key TEXT, name TEXT, blob BLOB, PRIMARY KEY (key, name))")
                stamp = CODE_STAMP + cpp.blank_flavour()  # (a settings family's words: other facts)
                row = conn.execute("SELECT value FROM meta WHERE key='stamp'").fetchone()
                if row is None or row[0] != stamp:
                    if row is not None:
                        notices.append(f"cache {path}: written by kannot {row[0]}, rebuilding it")
                    # start over in one transaction, so that a concurrent reader sees the old or
                    # the new state, never a mix; the table is re-created in case its shape changed
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("DROP TABLE IF EXISTS facts")
                    conn.execute(f"CREATE TABLE facts ({_FACTS_COLUMNS})")
                    conn.execute("DELETE FROM blobs")  # the catalog: its format may have changed too
                    conn.execute("DROP TABLE IF EXISTS texts")
                    conn.execute(f"CREATE TABLE texts ({_TEXTS_COLUMNS})")
                    conn.execute("DROP TABLE IF EXISTS previous_facts")
                    conn.execute(f"CREATE TABLE previous_facts ({_PREVIOUS_COLUMNS})")
                    conn.execute("DELETE FROM results")
                    conn.execute("DELETE FROM result_rows")
                    conn.execute("INSERT OR REPLACE INTO meta VALUES ('stamp', ?)", (stamp,))
                    conn.execute("COMMIT")
                # (``verify`` False: a reader of a few rows that treats any read error as a miss
                # skips the check, which reads the whole file; so does a run that checked this
                # very file already: a warm run opens it three or four times)
                identity = _identity(path)
                if verify and identity not in _VERIFIED:
                    check = conn.execute("PRAGMA quick_check").fetchall()
                    if check != [("ok",)]:
                        raise _Damaged(f"quick_check: {check[0][0] if check else 'no answer'}")
                    _VERIFIED.add(identity)
                return cls(conn, path, notices)
            except (sqlite3.DatabaseError, OSError, _Damaged) as exc:
                _close(conn)
                _VERIFIED.discard(_identity(path))
                if attempt == 0 and _is_damage(exc):
                    notices.append(f"cache {path}: unusable ({_describe(exc)}), rebuilding it")
                    _remove(path)
                    continue
                notices.append(f"cache {path}: cannot be used ({_describe(exc)}); running without a cache")
                return None
        return None

    def lookup(self, rels: list[str]) -> dict[str, tuple[int, int, str, bytes]]:
        """Stored (size, mtime_ns, hash, blob) for ``rels``."""
        try:
            return {row[0]: tuple(row[1:]) for row in self._rows("facts", "path, size, mtime_ns, hash, blob", rels)}
        except sqlite3.DatabaseError as exc:
            self._notices.append(f"cache {self.path}: cannot be read ({_describe(exc)}); reading every file")
            return {}

    def _rows(self, table: str, columns: str, rels: list[str]) -> list[tuple]:
        """Rows of ``table`` whose path is in ``rels``: by key in chunks, or one scan when
        ``rels`` is most of the table (many lookups would cost more)."""
        if len(rels) > 2000:
            wanted = set(rels)
            return [row for row in self.conn.execute(f"SELECT {columns} FROM {table}") if row[0] in wanted]
        out: list[tuple] = []
        for i in range(0, len(rels), 500):
            chunk = rels[i : i + 500]
            marks = ",".join("?" * len(chunk))
            out += self.conn.execute(f"SELECT {columns} FROM {table} WHERE path IN ({marks})", chunk).fetchall()
        return out

    def _value(self, sql: str, args: tuple):
        """The first column of the first row, or None (also when the database cannot be read)."""
        try:
            row = self.conn.execute(sql, args).fetchone()
        except sqlite3.DatabaseError:
            return None
        return row[0] if row is not None else None

    def _write(self, notices: list[str], write: Callable[[sqlite3.Connection], None],
               conn: sqlite3.Connection | None = None) -> None:
        """``write`` in one transaction: a run killed mid-write leaves the previous, consistent
        state; a failed write (a full disk) is said once and the cache is only read after it."""
        if self.read_only:
            return
        conn = conn if conn is not None else self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            write(conn)
            conn.execute("COMMIT")
        except (sqlite3.DatabaseError, OSError) as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.DatabaseError:
                pass
            self._write_failed(notices, exc)

    def get_blob(self, key: str) -> "bytes | mmap.mmap | None":
        """A whole-tree blob (the catalog), or None (also when its side file is gone or damaged);
        a big one kept in a side file comes mapped (a read-only bytes-like object)."""
        return self._kept(self._value("SELECT blob FROM blobs WHERE key=?", (key,)),
                          f"the stored '{key}' file is missing or damaged; making it again")

    def _kept(self, value: bytes | None, lost: str) -> "bytes | mmap.mmap | None":
        """A row's blob, or the side file it names, mapped; None when that file is gone or
        damaged (and ``lost`` is said)."""
        ref = _side_ref(value) if value is not None else None
        if ref is None:
            return value
        got = read_side_file(self.path.parent, ref)
        if got is None:
            self._notices.append(f"cache {self.path}: {lost}")
        return got

    def get_texts_and_generations(self, rels: list[str]) -> dict[str, tuple[bytes, int]]:
        """The catalog's stored entries with the generation that wrote each."""
        try:
            return {row[0]: (row[1], row[2]) for row in self._rows("texts", "path, blob, gen", rels)}
        except sqlite3.DatabaseError:
            return {}

    def get_texts(self, rels: list[str]) -> dict[str, bytes]:
        """The catalog's stored per-file entries."""
        try:
            return dict(self._rows("texts", "path, blob", rels))
        except sqlite3.DatabaseError:
            return {}

    def put_catalog(self, blobs: list[tuple[str, bytes | Callable[[], bytes]]], texts: list[tuple[str, bytes]],
                    notices: list[str], when: str = "now") -> None:
        """The index blobs (a callable: made by the writer) and the per-file entries they were
        built from, in one transaction: a killed run leaves both old or both new (a mix would
        take the wrong names out).
        ``when``: "now"; "later", at :meth:`commit` (an editor's first diagnostics need not wait);
        "background", on a thread with a connection of its own while the check goes on (its
        reads see the old or the new rows, both right for the files they load): :meth:`commit`
        waits for it."""

        made: list[tuple[str, bytes]] = []
        folder = self.path.parent

        def write(conn: sqlite3.Connection) -> None:
            # a new generation, written on the entries it changed: a stored result (kannot.store.memo)
            # compares a changed file only with an entry at most as new as itself
            row = conn.execute("SELECT value FROM meta WHERE key='catalog_generation'").fetchone()
            gen = (int(row[0]) if row is not None and str(row[0]).isdigit() else 0) + 1
            kept = [bytes(r[0]) for key, _b in made
                    for r in conn.execute("SELECT blob FROM blobs WHERE key=?", (key,)) if r[0] is not None]
            conn.executemany("INSERT OR REPLACE INTO blobs VALUES (?, ?)", made)
            conn.executemany("INSERT OR REPLACE INTO texts VALUES (?, ?, ?)", [(p, b, gen) for p, b in texts])
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('catalog_generation', ?)", (str(gen),))
            self.written_generation = gen
            # side files that no row names, before or after this write (a killed run's, an older
            # generation's): no reader can be about to open them. Every row counts, not only
            # those written now: a write of the signatures alone keeps the index's file
            remove_stale_side_files(folder, _side_rows(conn) + kept)

        def make() -> None:
            # the blobs are made before the transaction begins: it holds the write lock; a big
            # one goes to a file of its own beside the database, which the row names
            made[:] = [(key, side_file(folder, key, blob() if callable(blob) else blob)) for key, blob in blobs]

        if when == "background" and not self.read_only:
            def make_then_write(conn: sqlite3.Connection) -> None:
                make()
                self._write(notices, write, conn)

            self._writer = threading.Thread(target=self._write_apart, args=(notices, make_then_write),
                                            name="kannot-catalog-writer")
            self._writer.start()
            return
        if when == "later":
            def make_then_write_later() -> None:
                make()
                self._write(notices, write)

            self.later.append(make_then_write_later)
            return
        make()
        self._write(notices, write)

    def _write_apart(self, notices: list[str], job: Callable[[sqlite3.Connection], None]) -> None:
        """``job(conn)`` on a connection of this thread's own (``job`` makes its transaction)."""
        try:
            conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            self._write_failed(notices, exc)
            return
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            job(conn)
        except sqlite3.Error as exc:
            self._write_failed(notices, exc)
        finally:
            conn.close()

    def wait_for_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.join()

    def catalog_generation(self) -> int:
        """How many times the stored catalog was written (0: never, or unreadable)."""
        value = self._value("SELECT value FROM meta WHERE key='catalog_generation'", ())
        try:
            return int(value) if value is not None else 0
        except ValueError:
            return 0

    def get_result(self, key: str) -> "bytes | mmap.mmap | None":
        """A stored check result (:mod:`kannot.store.memo`), or None (also when its side file is gone
        or damaged: the check runs)."""
        return self._kept(self._value("SELECT blob FROM results WHERE key=?", (key,)),
                          "the stored result's file is missing or damaged; checking again")

    def get_result_row(self, key: str, name: str) -> bytes | None:
        """One named row stored with a result (a function's entry of the reverse map)."""
        return self._value("SELECT blob FROM result_rows WHERE key=? AND name=?", (key, name))

    def put_result(self, key: str, blob: bytes, notices: list[str], keep: int = 16,
                   rows: list[tuple[str, bytes]] | None = None) -> None:
        """Store a result (and, with ``rows``, its named rows, replacing the old ones) in one
        transaction; only the ``keep`` most recently stored results stay (one per set of options
        and paths: a developer checking file after file must not grow the cache forever). A big
        one (the record of a whole kernel tree, 6 MB) goes to a side file the row names: SQLite
        took 0.11 s to write it, a tenth of a recheck."""
        if self.read_only:
            return
        value = side_file(self.path.parent, "result", blob)

        def write(conn: sqlite3.Connection) -> None:
            old = conn.execute("SELECT blob FROM results WHERE key=?", (key,)).fetchone()
            replaced = _side_ref(bytes(old[0])) if old is not None and old[0] is not None else None
            used = conn.execute("SELECT COALESCE(MAX(used), 0) + 1 FROM results").fetchone()[0]
            conn.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", (key, used, value))
            if rows is not None:
                conn.execute("DELETE FROM result_rows WHERE key=?", (key,))
                conn.executemany("INSERT INTO result_rows VALUES (?, ?, ?)", [(key, n, b) for n, b in rows])
            conn.execute("DELETE FROM results WHERE key NOT IN (SELECT key FROM results ORDER BY used DESC LIMIT ?)", (keep,))
            conn.execute("DELETE FROM result_rows WHERE key NOT IN (SELECT key FROM results)")
            if replaced:  # (the new file has a name of its own; a reader that had this one open keeps its map)
                _unlink(self.path.parent / replaced[0])
            # result files no row names: of results dropped above, or of a killed run (the
            # catalog's writer sweeps its own, keeping the replaced ones a reader may hold)
            remove_stale_side_files(self.path.parent, _side_rows(conn), _SIDE_PREFIX + "result")

        self._write(notices, write)

    def _write_failed(self, notices: list[str], exc: BaseException) -> None:
        """Said once per run: after one failed write (a full disk) the cache is only read."""
        if not self.read_only:
            self.read_only = True
            notices.append(f"cache {self.path}: could not be written ({_describe(exc)}); results are unaffected")

    def put(self, rel: str, size: int, mtime_ns: int, h: str, blob: bytes) -> None:
        self._pending.append((rel, size, mtime_ns, h, blob))

    def commit(self, notices: list[str]) -> None:
        """One transaction: a run killed mid-write leaves the previous, consistent state."""
        self.wait_for_writer()
        later, self.later = self.later, []
        for queued in later:
            queued()
        pending, self._pending = self._pending, []
        if pending:
            def write(conn: sqlite3.Connection) -> None:
                conn.executemany("INSERT OR REPLACE INTO previous_facts SELECT path, hash, blob FROM facts"
                                 " WHERE path = ? AND hash IS NOT ?", [(p[0], p[3]) for p in pending])
                conn.executemany("INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?, ?)", pending)

            self._write(notices, write)

    def previous(self, rel: str, h: str) -> bytes | None:
        """The facts blob ``rel`` had with content hash ``h`` before its row was replaced."""
        return self._value("SELECT blob FROM previous_facts WHERE path=? AND hash=?", (rel, h))

    def close(self) -> None:
        self.wait_for_writer()
        try:
            self.conn.close()
        except sqlite3.DatabaseError:
            pass


class _Damaged(Exception):
    """The database opened but is not sound (quick_check)."""


# SQLite result codes of a damaged or foreign database (rebuilt), as opposed to one we cannot
# write or lock (SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY...:
# no cache this run). SQLITE_ERROR is what a table of another shape gives ("no such column").
_DAMAGE_CODES = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_ERROR", "SQLITE_MISMATCH", "SQLITE_FORMAT"})


def _is_damage(exc: BaseException) -> bool:
    if isinstance(exc, _Damaged):
        return True
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", None)
    if name is not None:  # extended codes (SQLITE_CORRUPT_INDEX) count as their base code
        return "_".join(name.split("_")[:2]) in _DAMAGE_CODES
    return "locked" not in str(exc) and not isinstance(exc, sqlite3.OperationalError)


def _describe(exc: BaseException) -> str:
    name = getattr(exc, "sqlite_errorname", None)
    text = str(exc) or type(exc).__name__
    return f"{text} [{name}]" if name else text


def _close(conn: "sqlite3.Connection | None") -> None:
    if conn is not None:
        try:
            conn.close()
        except sqlite3.DatabaseError:
            pass


_SIDE_MAGIC = b"kannot-side-file\0"
# blobs from this size are kept in files beside the database (the variable lets the tests'
# real processes, whose catalogs are small, take that path too)
SIDE_FILE_MIN = int(os.environ.get("KANNOT_SIDE_FILE_MIN", 4 << 20))
_SIDE_PREFIX = "blob-"
_SIDE_GRACE_S = 60  # a side file this new may be another run's, not yet named by its row


def side_file(folder: Path, key: str, blob: bytes) -> bytes:
    """What the row of a blob holds: the blob itself when small, else a reference to a new file
    beside the database holding it (SQLite reads a blob of 85 MB three times slower than a
    file: 0.2 s of every warm run that loads the catalog). The reference carries the file's
    size and CRC, which the reader checks (a file lost or cut short in a crash)."""
    if len(blob) < SIDE_FILE_MIN:
        return blob
    name = f"{_SIDE_PREFIX}{''.join(c if c.isalnum() else '_' for c in key)}-{os.urandom(8).hex()}.bin"
    tmp = folder / (name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
        os.replace(tmp, folder / name)
    except OSError:
        _unlink(tmp)
        return blob  # (a full disk: in the database, or not at all)
    return _SIDE_MAGIC + marshal.dumps((name, len(blob), zlib.crc32(blob)))


def _side_ref(row: bytes) -> tuple | None:
    """A blob row's side-file reference (file name, size, CRC); None for a blob kept in the
    row; () for a damaged reference."""
    if bytes(row[: len(_SIDE_MAGIC)]) != _SIDE_MAGIC:
        return None
    try:
        name, size, crc = marshal.loads(bytes(row[len(_SIDE_MAGIC):]))
    except (ValueError, EOFError, TypeError):
        return ()
    ok = isinstance(name, str) and name.startswith(_SIDE_PREFIX) and "/" not in name and "\\" not in name
    return (name, size, crc) if ok else ()


def read_side_file(folder: Path, ref: tuple) -> "bytes | mmap.mmap | None":
    """The blob a side-file reference (:func:`_side_ref`) names, mapped read-only (a bytes-like
    object), or None (gone, cut short, damaged)."""
    if not ref:
        return None
    name, size, crc = ref
    try:
        with open(folder / name, "rb") as f:
            if os.fstat(f.fileno()).st_size != size:
                return None
            # mapped, not read: the catalog keeps views of it, and a record unmarshals what it uses
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    except (OSError, ValueError):
        return None
    return data if zlib.crc32(data) == crc else None


def _side_rows(conn: sqlite3.Connection) -> list[bytes]:
    """The rows that name a side file: every table that keeps big blobs apart."""
    out = []
    for table in ("blobs", "results"):
        out += [bytes(r[0]) for r in conn.execute(f"SELECT blob FROM {table} WHERE substr(blob, 1, ?) = ?",
                                                  (len(_SIDE_MAGIC), _SIDE_MAGIC))]
    return out


def remove_stale_side_files(folder: Path, rows: list[bytes], prefix: str = _SIDE_PREFIX) -> None:
    """Remove the side files (those of ``prefix``) that none of ``rows`` (blob rows, references
    or not) names."""
    named = {ref[0] for ref in map(_side_ref, rows) if ref}
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    for e in entries:
        if e.name.startswith(prefix) and e.name not in named:
            try:
                if now - e.stat().st_mtime > _SIDE_GRACE_S:
                    os.unlink(e.path)
            except OSError:
                pass


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(str(path) + suffix)
        except OSError:
            pass
    for side in cache_side_files(path.parent):
        _unlink(side)


def cache_side_files(folder: Path) -> list[Path]:
    """The blob files beside the database in ``folder`` (what ``kannot clean`` removes too)."""
    try:
        return sorted(folder / e.name for e in os.scandir(folder) if e.name.startswith(_SIDE_PREFIX))
    except OSError:
        return []

