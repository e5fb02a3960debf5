"""The facts cache: cold, warm and --no-cache runs give byte-identical JSON; edits are seen;
a damaged or foreign database is rebuilt with a notice, never trusted."""
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kannot.cli.main import main

MINI = Path(__file__).resolve().parents[1] / "examples" / "kernel-mini"


def run(capsys, root, *extra):
    rc = main(["check", "--root", str(root), "-j", "1", "--format", "json", *extra])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_cold_warm_and_no_cache_are_identical(tmp_path, capsys):
    root = tmp_path / "tree"
    shutil.copytree(MINI, root)
    cache = tmp_path / "cache"
    _, cold, _ = run(capsys, root, "--cache-dir", str(cache))
    assert (cache / "facts.sqlite").is_file()
    _, warm, _ = run(capsys, root, "--cache-dir", str(cache))
    _, nocache, _ = run(capsys, root, "--no-cache")
    assert cold == warm == nocache
    assert '"KN001"' in cold


def test_an_edit_is_seen_on_a_warm_cache(tmp_path, capsys):
    root = tmp_path / "tree"
    shutil.copytree(MINI, root)
    cache = tmp_path / "cache"
    run(capsys, root, "--cache-dir", str(cache))
    handle = root / "kernel/irq/handle.c"
    handle.write_text(handle.read_text().replace("\tirq_enter();\n", "\tinstrumentation_begin();\n\tirq_enter();\n\tinstrumentation_end();\n"))
    _, warm, _ = run(capsys, root, "--cache-dir", str(cache))
    _, fresh, _ = run(capsys, root, "--no-cache")
    assert warm == fresh
    assert '"callee": "irq_enter"' not in warm


def test_corrupt_cache_is_rebuilt_with_a_notice(tmp_path, capsys):
    root = tmp_path / "tree"
    shutil.copytree(MINI, root)
    cache = tmp_path / "cache"
    _, good, _ = run(capsys, root, "--cache-dir", str(cache))
    (cache / "facts.sqlite").write_bytes(b"this is not a database" * 100)
    for extra in ("facts.sqlite-wal", "facts.sqlite-shm"):
        (cache / extra).unlink(missing_ok=True)
    rc, out, err = run(capsys, root, "--cache-dir", str(cache))
    assert out == good and rc == 1
    assert "cache" in err and "rebuilding" in err


def test_damaged_row_is_not_trusted(tmp_path, capsys):
    root = tmp_path / "tree"
    shutil.copytree(MINI, root)
    cache = tmp_path / "cache"
    _, good, _ = run(capsys, root, "--cache-dir", str(cache))
    con = sqlite3.connect(cache / "facts.sqlite")
    con.execute("UPDATE facts SET blob = x'00ff00' WHERE path = 'kernel/irq/handle.c'")
    con.commit()
    con.close()
    _, out, _ = run(capsys, root, "--cache-dir", str(cache))
    assert out == good


def test_clean_removes_the_cache(tmp_path, capsys):
    root = tmp_path / "tree"
    shutil.copytree(MINI, root)
    run(capsys, root)
    assert (root / ".kannot-cache" / "facts.sqlite").exists()
    assert main(["clean", "--root", str(root)]) == 0
    assert not (root / ".kannot-cache").exists()


@pytest.mark.parametrize("in_side_files", [False, True], ids=["blobs-in-the-database", "blobs-in-side-files"])
def test_killed_writer_leaves_a_usable_cache(tmp_path, capsys, in_side_files):
    """SIGKILL a real process while it writes the cache, several times; then the findings equal a fresh run's."""
    root = tmp_path / "tree"
    shutil.copytree(MINI, root)
    cache = tmp_path / "cache"
    _, fresh, _ = run(capsys, root, "--no-cache")
    env = {**os.environ, **({"KANNOT_SIDE_FILE_MIN": "0"} if in_side_files else {})}
    for delay in (0.05, 0.2, 0.4, 0.8):
        proc = subprocess.Popen([sys.executable, "-m", "kannot", "check", "--root", str(root), "-j", "1", "-q",
                                 "--cache-dir", str(cache)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _, after, _ = run(capsys, root, "--cache-dir", str(cache))
    assert after == fresh


def test_an_editors_first_check_writes_the_catalog_after_its_result(tmp_path):
    """The LSP's first (lazy) check hands its findings over before the new catalog is stored;
    the catalog is stored when the cache commits, from the disk's text, not the unsaved buffer."""
    from kannot.store.cache import FactsCache
    from kannot.engine import Options, analyze

    root = tmp_path / "tree"
    shutil.copytree(MINI, root)
    cache = tmp_path / "cache"
    rel = "arch/x86/kernel/traps.c"
    buffer = (root / rel).read_bytes() + b"\nnoinstr void unsaved_fn(void)\n{\n\tplain_after();\n}\n"
    stored_when_ready = []

    def ready(result):
        stored_when_ready.append(FactsCache.open(cache, []).get_blob("catalog"))
        assert any(f.caller == "unsaved_fn" for f in result.findings)

    first = analyze(Options(root=root, jobs=1, cache_dir=cache, paths=[rel], overrides={rel: buffer},
                            write_catalog_later=True), before_close=ready)
    assert stored_when_ready == [None]
    assert FactsCache.open(cache, []).get_blob("catalog") is not None
    # the stored catalog is the disk's: a later run without the buffer finds no unsaved_fn
    later = analyze(Options(root=root, jobs=1, cache_dir=cache, paths=[rel]))
    fresh = analyze(Options(root=root, jobs=1, lazy=False, paths=[rel]))
    assert [f.to_json() for f in later.findings] == [f.to_json() for f in fresh.findings]
    assert not any(f.caller == "unsaved_fn" for f in later.findings)
    assert any(f.caller == "unsaved_fn" for f in first.findings)


def test_stored_name_indexes_answer_as_the_built_ones(monkeypatch):
    """The catalog's name indexes are stored frozen (sorted names, arrays of ranks); after
    reloading, lookups, additions and removals answer as the dict they were built from."""
    from kannot.index.catalog import Postings

    built = Postings()
    table = {"zeta": [4, 1], "alpha": [2], "mid": [0, 3, 5], "gone": [7]}
    for name, ranks in table.items():
        for r in ranks:
            built.add(name, r)
    built.discard("gone", 7)
    stored = Postings(built.freeze())
    for name in ["zeta", "alpha", "mid"]:
        assert stored.get(name) == built.get(name) == table[name]
    for name in ["gone", "absent", "", "m", "zz"]:
        assert stored.get(name) is None and stored.get(name, ()) == ()
    assert "mid" in stored and "gone" not in stored and "absent" not in stored
    # after many lookups the names are split once and searched as a list: the same answers
    from kannot.index.catalog import _Names

    monkeypatch.setattr(_Names, "SPLIT_AFTER", 2)
    many = Postings(built.freeze())
    for _ in range(3):
        assert [many.get(n) for n in ["zeta", "alpha", "mid", "gone", "zz"]] == [[4, 1], [2], [0, 3, 5], None, None]
    assert isinstance(many._names, _Names) and many._names._list == ["alpha", "mid", "zeta"]
    stored.add("alpha", 9)
    stored.add("new", 3)
    stored.add("new", 3, once=True)
    stored.discard("zeta", 4)
    again = Postings(stored.freeze())
    assert again.as_dict() == {"zeta": [1], "alpha": [2, 9], "mid": [0, 3, 5], "new": [3]}


def test_an_edit_inside_a_function_rewrites_only_the_signatures(tmp_path, capsys):
    """A body edit changes no name of the file: the stored name index is kept as it is (a
    warm run after it neither rebuilds nor rewrites it), and the result is a fresh run's."""
    root = tmp_path / "tree"
    shutil.copytree(MINI, root)
    cache = tmp_path / "cache"
    run(capsys, root, "--cache-dir", str(cache))
    db = cache / "facts.sqlite"

    def blobs():
        with sqlite3.connect(db) as con:
            return dict(con.execute("SELECT key, blob FROM blobs"))

    before = blobs()
    handle = root / "kernel/irq/handle.c"
    handle.write_text(handle.read_text().replace("\tirq_enter();\n", "\tirq_enter();\n\tirq_enter();\n"))
    _, warm, _ = run(capsys, root, "--cache-dir", str(cache))
    after = blobs()
    assert after["catalog"] == before["catalog"]
    assert after["catalog-sigs"] != before["catalog-sigs"]
    _, fresh, _ = run(capsys, root, "--no-cache")
    assert warm == fresh
    # a new name in the file: the index is rewritten, and the next run still agrees
    handle.write_text(handle.read_text() + "\nvoid kannot_new_helper(void)\n{\n}\n")
    _, warm, _ = run(capsys, root, "--cache-dir", str(cache))
    assert blobs()["catalog"] != after["catalog"]
    _, fresh, _ = run(capsys, root, "--no-cache")
    assert warm == fresh


@pytest.fixture
def side_files(monkeypatch):
    """Every stored blob in a file beside the database, as a big tree's catalog is."""
    import kannot.store.cache

    monkeypatch.setattr(kannot.store.cache, "SIDE_FILE_MIN", 0)
    monkeypatch.setattr(kannot.store.cache, "_SIDE_GRACE_S", -1)


def test_blobs_in_side_files_answer_as_in_the_database(tmp_path, capsys, side_files):
    from kannot.store.cache import cache_side_files

    def catalog_files() -> list[Path]:
        return [f for f in cache_side_files(cache) if f.name.startswith("blob-catalog")]

    def result_files() -> list[Path]:  # the stored result's: one, the replaced one removed at once
        got = [f for f in cache_side_files(cache) if f.name.startswith("blob-result")]
        assert len(got) == 1
        return got

    root = tmp_path / "tree"
    shutil.copytree(MINI, root)
    cache = tmp_path / "cache"
    _, fresh, _ = run(capsys, root, "--no-cache")
    _, cold, _ = run(capsys, root, "--cache-dir", str(cache))
    files = catalog_files()
    assert len(files) == 2  # the catalog's index and its signatures
    first_result = result_files()
    rel = "arch/x86/kernel/traps.c"
    (root / rel).write_text((root / rel).read_text() + "\nvoid added_later(void)\n{\n}\n")  # a new name: rewritten
    _, warm, err = run(capsys, root, "--cache-dir", str(cache))
    _, fresh2, _ = run(capsys, root, "--no-cache")
    assert cold == fresh and warm == fresh2 and "missing or damaged" not in err
    now = catalog_files()
    assert len(now) == 4 and set(files) <= set(now)  # the new ones, and the replaced ones (a reader may hold them)
    assert result_files() != first_result
    (root / rel).write_text((root / rel).read_text() + "\nvoid added_again(void)\n{\n}\n")
    _, again, err = run(capsys, root, "--cache-dir", str(cache))
    assert len(catalog_files()) == 4 and not set(files) & set(catalog_files())
    result_files()
    _, reused, err = run(capsys, root, "--cache-dir", str(cache))  # read back from its side file
    assert reused == again and "missing or damaged" not in err
    assert main(["clean", "--root", str(root), "--cache-dir", str(cache)]) == 0
    assert not cache.exists()


def test_a_write_of_the_signatures_alone_keeps_the_index_file(tmp_path, capsys, monkeypatch):
    """An edit inside a function that loads the catalog rewrites only its signatures: the side
    file of its index, which that write does not name, stays (it was removed, and every later
    run scanned the whole tree again)."""
    import kannot.store.cache
    from kannot.store.cache import cache_side_files

    monkeypatch.setattr(kannot.store.cache, "SIDE_FILE_MIN", 1 << 10)  # the index in a file, the signatures not
    monkeypatch.setattr(kannot.store.cache, "_SIDE_GRACE_S", -1)
    root = tmp_path / "tree"
    shutil.copytree(MINI, root)
    cache = tmp_path / "cache"
    run(capsys, root, "--cache-dir", str(cache))
    index_file = [f for f in cache_side_files(cache) if f.name.startswith("blob-catalog")]
    assert len(index_file) == 1
    rel = "arch/x86/kernel/traps.c"
    for n in range(2):  # a new call inside a function: a recheck with the catalog loaded
        text = (root / rel).read_text()
        (root / rel).write_text(text.replace("\n}\n", f"\n\tplain_after_{n}();\n}}\n", 1))
        _, warm, err = run(capsys, root, "--cache-dir", str(cache))
        _, fresh, _ = run(capsys, root, "--no-cache")
        assert warm == fresh and "missing or damaged" not in err and "scanning" not in err
    assert [f for f in cache_side_files(cache) if f.name.startswith("blob-catalog")] == index_file


@pytest.mark.parametrize("kind", ["catalog", "result"])
@pytest.mark.parametrize("damage", ["removed", "cut short", "overwritten"])
def test_a_lost_or_damaged_side_file_is_said_and_made_again(tmp_path, capsys, side_files, damage, kind):
    from kannot.store.cache import cache_side_files

    root = tmp_path / "tree"
    shutil.copytree(MINI, root)
    cache = tmp_path / "cache"
    _, fresh, _ = run(capsys, root, "--no-cache")
    run(capsys, root, "--cache-dir", str(cache))
    biggest = max((p for p in cache_side_files(cache) if p.name.startswith(f"blob-{kind}")), key=lambda p: p.stat().st_size)
    data = biggest.read_bytes()
    if damage == "removed":
        biggest.unlink()
    elif damage == "cut short":
        biggest.write_bytes(data[: len(data) // 2])
    else:
        biggest.write_bytes(bytes(len(data)))
    rel = "arch/x86/kernel/traps.c"
    (root / rel).write_text((root / rel).read_text() + "\nvoid added_later(void)\n{\n}\n")  # the catalog is read
    _, warm, err = run(capsys, root, "--cache-dir", str(cache))
    _, fresh2, _ = run(capsys, root, "--no-cache")
    said = "missing or damaged; making it again" if kind == "catalog" else "result's file is missing or damaged"
    assert warm == fresh2 and said in err
    _, again, err = run(capsys, root, "--cache-dir", str(cache))
    assert again == fresh2 and "missing or damaged" not in err
