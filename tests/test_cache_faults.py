"""Cache faults, with real SQLite databases and real kannot processes: a truncated or corrupted
database, one from another kannot version or with tables of another shape, a read-only cache
directory, a full disk (RLIMIT_FSIZE, and a tiny tmpfs when it can be mounted). Each is detected,
said in one notice on stderr, and the findings are those of a run without a cache."""
from __future__ import annotations

import marshal
import resource
import shutil
import sqlite3

import pytest

from kannot.store.cache import _digest
from robust_helpers import MINI, kannot, no_root_powers, permissions_apply, tmpfs


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("cachefaults") / "tree"
    shutil.copytree(MINI, root)
    return root


@pytest.fixture(scope="module")
def fresh(tree):
    """The findings of a run without any cache: every other run must print exactly this."""
    p = kannot("check", "--root", tree, "--format", "json", "-j", "1", "--no-cache")
    assert p.rc == 1, p.err
    return p.out


def check(tree, cache, *extra, **kw):
    return kannot("check", "--root", tree, "--format", "json", "-j", "1", "--cache-dir", cache, *extra, **kw)


def warm_cache(tree, cache, fresh):
    p = check(tree, cache)
    assert p.out == fresh and p.rc == 1, p.err
    assert (cache / "facts.sqlite").is_file() and not (cache / "facts.sqlite-wal").exists()
    return cache / "facts.sqlite"


def rows(db) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM facts").fetchone()[0]
    finally:
        con.close()


def integrity(db) -> str:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def test_truncated_database_is_rebuilt(tree, fresh, tmp_path):
    db = warm_cache(tree, tmp_path / "c", fresh)
    n = rows(db)
    size = db.stat().st_size
    with open(db, "r+b") as fh:
        fh.truncate(size // 2)
    p = check(tree, tmp_path / "c")
    assert p.out == fresh and p.rc == 1
    assert "rebuilding it" in p.err and str(db) in p.err
    assert len([l for l in p.err.splitlines() if "cache" in l]) == 1, p.err  # one notice
    assert integrity(db) == "ok" and rows(db) == n
    again = check(tree, tmp_path / "c")  # healthy again: silent
    assert again.out == fresh and again.err == ""


@pytest.mark.parametrize("where", ["header", "pages"])
def test_corrupted_database_gives_the_same_findings(tree, fresh, tmp_path, where):
    db = warm_cache(tree, tmp_path / "c", fresh)
    data = bytearray(db.read_bytes())
    if where == "header":
        data[0:16] = b"NOT SQLITE AT ALL"[:16]
    else:  # garbage over every page after the first two: b-tree pages and blobs alike
        for i in range(8192, len(data), 97):
            data[i] ^= 0x5A
    db.write_bytes(bytes(data))
    p = check(tree, tmp_path / "c")
    assert p.out == fresh and p.rc == 1
    assert "cache" in p.err and ("rebuilding it" in p.err or "cannot be read" in p.err), p.err
    assert integrity(db) == "ok"


def test_damaged_blob_behind_a_sound_database_is_re_read(tree, fresh, tmp_path):
    db = warm_cache(tree, tmp_path / "c", fresh)
    con = sqlite3.connect(db)
    blob = dict(con.execute("SELECT path, blob FROM facts").fetchall())
    # traps.c's row now holds plain.c's facts behind traps.c's checksum: marshal reads it fine,
    # and trusting it would lose traps.c's findings
    con.execute("UPDATE facts SET blob = ? WHERE path = 'arch/x86/kernel/traps.c'",
                (blob["arch/x86/kernel/traps.c"][:16] + blob["kernel/plain.c"][16:],))
    # a well-formed blob of the wrong shape, with a valid checksum (another encoder, a bug)
    body = marshal.dumps(("kernel/context_tracking.c", [("f", "not-a-line")], 3))
    con.execute("UPDATE facts SET blob = ? WHERE path = 'kernel/context_tracking.c'", (_digest(body) + body,))
    body = marshal.dumps(("kernel/regions.c", [], [], [], [], [], [], [], [], [], [], "x", None, None))
    con.execute("UPDATE facts SET blob = ? WHERE path = 'kernel/regions.c'", (_digest(body) + body,))
    con.commit()
    con.close()
    p = check(tree, tmp_path / "c")
    assert p.out == fresh and p.rc == 1, p.err
    assert b"arch/x86/kernel/traps.c" in fresh and b'"file": "kernel/regions.c"' in fresh


def test_database_of_another_kannot_version_is_rebuilt(tree, fresh, tmp_path):
    db = warm_cache(tree, tmp_path / "c", fresh)
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = '0.0.1/1/0123456789abcdef' WHERE key = 'stamp'")
    # and a row that version would have trusted: a lie about a file, which must not survive
    con.execute("UPDATE facts SET blob = x'00' WHERE path = 'arch/x86/kernel/traps.c'")
    con.commit()
    con.close()
    p = check(tree, tmp_path / "c")
    assert p.out == fresh and p.rc == 1
    assert "written by kannot 0.0.1/1/0123456789abcdef, rebuilding it" in p.err


@pytest.mark.parametrize("schema", [
    "CREATE TABLE meta (k TEXT, v TEXT); CREATE TABLE facts (path TEXT, data BLOB)",  # another meta shape
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('stamp', '9.9/9/x');"
    " CREATE TABLE facts (path TEXT PRIMARY KEY, blob BLOB)",  # another facts shape
])
def test_database_with_tables_of_another_shape_is_rebuilt(tree, fresh, tmp_path, schema):
    cache = tmp_path / "c"
    cache.mkdir()
    con = sqlite3.connect(cache / "facts.sqlite")
    con.executescript(schema)
    con.commit()
    con.close()
    p = check(tree, cache)
    assert p.out == fresh and p.rc == 1
    assert "rebuilding it" in p.err, p.err
    assert rows(cache / "facts.sqlite") > 0
    assert check(tree, cache).err == ""


def test_read_only_cache_directory_means_no_cache(tree, fresh, tmp_path):
    prefix = no_root_powers()
    empty = tmp_path / "ro-empty"
    empty.mkdir()
    with_db = tmp_path / "ro-db"
    warm_cache(tree, with_db, fresh)
    before = {p.name: p.read_bytes() for p in with_db.iterdir()}
    for d in (empty, with_db):
        d.chmod(0o555)
        (d / "facts.sqlite").exists() and (d / "facts.sqlite").chmod(0o444)
    try:
        if not permissions_apply(empty):
            pytest.skip("file permissions do not apply here")
        for d in (empty, with_db):
            p = check(tree, d, prefix=prefix)
            assert p.out == fresh and p.rc == 1, p.err
            notices = [l for l in p.err.splitlines() if "cache" in l]
            assert len(notices) == 1 and "running without a cache" in notices[0], p.err
        # a read-only cache is never "repaired" by deleting it
        assert {p.name: p.read_bytes() for p in with_db.iterdir()} == before
    finally:
        for d in (empty, with_db):
            d.chmod(0o755)


def _file_size_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("limit,notice", [
    (0, "running without a cache"),  # not even the empty database can be created
    (96 * 1024, "could not be written"),  # the facts and the catalog do not fit (the WAL index alone is 32 KiB)
])
def test_full_disk_never_changes_the_findings(tree, fresh, tmp_path, limit, notice):
    """RLIMIT_FSIZE makes every write past ``limit`` bytes fail with EFBIG, as a full disk would."""
    cache = tmp_path / "c"
    p = check(tree, cache, preexec=_file_size_limit(limit))
    assert p.out == fresh and p.rc == 1, p.err
    notices = [l for l in p.err.splitlines() if "cache" in l]
    assert len(notices) == 1 and notice in notices[0], p.err
    # the next run, with room again, is correct and leaves a sound, complete cache
    again = check(tree, cache)
    assert again.out == fresh
    assert integrity(cache / "facts.sqlite") == "ok" and rows(cache / "facts.sqlite") > 0
    assert check(tree, cache).err == ""


def test_tiny_file_system(tree, fresh, tmp_path):
    """A real full file system: a 64 KiB tmpfs (needs root and mount rights; skipped otherwise)."""
    with tmpfs(tmp_path / "tiny", "64k") as mnt:
        (mnt / "filler").write_bytes(b"\0" * (40 * 1024))  # leaves about 24 KiB
        p = check(tree, mnt / "c")
        assert p.out == fresh and p.rc == 1, p.err
        notices = [l for l in p.err.splitlines() if "cache" in l]
        assert len(notices) == 1 and ("could not be written" in notices[0] or "without a cache" in notices[0]), p.err
        (mnt / "filler").unlink()
        again = check(tree, mnt / "c")
        assert again.out == fresh
        assert integrity(mnt / "c" / "facts.sqlite") == "ok"
