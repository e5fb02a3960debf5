"""Issue 6, item 5: the same input gives byte-identical JSON, SARIF and text whatever ``-j``, the
cache state, the order the file system lists files in, the locale and the hash seed. Real
processes on a tree of 400+ files (enough for ``-j 2`` to use worker processes), with a file name
and a finding that are not ASCII."""
from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest

from kannot.engine import Options, check_index, collect_facts
from kannot.index.core import Index
from kannot.report.json import format_json
from kannot.source.files import list_sources, read_source
from robust_helpers import generated_tree, kannot, tmpfs

LOCALES = {"C.UTF-8": {"LC_ALL": "C.UTF-8"},
           "C": {"LC_ALL": "C"},
           "POSIX, UTF-8 mode off": {"LC_ALL": "POSIX", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
           "latin-1 stdio": {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "latin-1"}}


def make_tree(root: Path, order_seed: int) -> Path:
    if root.exists():
        shutil.rmtree(root)
    generated_tree(root, extra_files=300, order_seed=order_seed)
    (root / "kernel" / "café.c").write_bytes(
        "#include <linux/kernel.h>\n\nnoinstr void café_entry(void)\n{\n\tplain_helper_0(1); /* déjà */\n}\n".encode())
    (root / "kernel" / "latin1.c").write_bytes("/* d\xe9j\xe0 */\nnoinstr void lat_entry(void) { plain_helper_4(2); }\n".encode("latin-1"))
    return root


def outputs(root: Path, tmp: Path, *args: str, env: dict | None = None) -> tuple[bytes, bytes, bytes]:
    sarif, text = tmp / "out.sarif", tmp / "out.txt"
    p = kannot("check", "--root", root, "--format", "json", "--output-sarif", sarif, "--output-text", text, *args,
               env={"LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0", **(env or {})})
    assert p.rc == 1, p.err
    return p.out, sarif.read_bytes(), text.read_bytes()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("determinism") / "tree", order_seed=1)


@pytest.fixture(scope="module")
def reference(tree, tmp_path_factory):
    out = outputs(tree, tmp_path_factory.mktemp("ref"), "-j", "1", "--no-cache")
    doc = json.loads(out[0])
    assert any(f["file"] == "kernel/café.c" and f["caller"] == "café_entry" for f in doc["findings"])
    assert any(f["file"] == "kernel/latin1.c" for f in doc["findings"])
    assert len(doc["findings"]) > 75
    return out


def test_plain_json_path_prints_the_same_bytes(tree, reference):
    p = kannot("check", "--root", tree, "--format", "json", "-j", "2", "--no-cache", env={"LC_ALL": "C.UTF-8"})
    assert p.out == reference[0]


def test_jobs_and_cache_states(tree, reference, tmp_path):
    cache = tmp_path / "cache"
    assert outputs(tree, tmp_path, "-j", "2", "--no-cache") == reference
    assert outputs(tree, tmp_path, "-j", "2", "--cache-dir", cache) == reference  # cold
    assert outputs(tree, tmp_path, "-j", "1", "--cache-dir", cache) == reference  # warm
    (tree / "drivers/gen1/gen_001.c").touch()  # half-warm: one file re-read, by content hash
    assert outputs(tree, tmp_path, "-j", "2", "--cache-dir", cache) == reference


@pytest.mark.parametrize("name", list(LOCALES))
def test_locales(tree, reference, tmp_path, name):
    assert outputs(tree, tmp_path, "-j", "2", "--no-cache", env=LOCALES[name]) == reference


@pytest.mark.parametrize("seed", ["1", "4242"])
def test_hash_seeds(tree, reference, tmp_path, seed):
    """Set and dict orders of strings change with PYTHONHASHSEED: no output may depend on them."""
    assert outputs(tree, tmp_path, "-j", "1", "--no-cache", env={"PYTHONHASHSEED": seed}) == reference


def test_file_system_order(reference, tmp_path):
    """The same tree at the same path, its files created in other orders, gives the same bytes.
    ext4 lists a directory in hash order whatever the creation order, so the trees are made on a
    tmpfs, which lists newest first (needs mount rights; the internal sort points are tested
    below in any case)."""
    with tmpfs(tmp_path / "mnt", "64m") as mnt:
        tree = mnt / "tree"
        seen_listings = []
        first = None
        for order_seed in (1, 2, 3):
            make_tree(tree, order_seed)
            seen_listings.append(os.listdir(tree / "drivers/gen0"))
            got = outputs(tree, tmp_path, "-j", "2", "--no-cache")
            assert got[0] == reference[0] and got[2] == reference[2]  # JSON and text: no absolute paths
            first = first or got
            assert got == first  # SARIF too (its %SRCROOT% is this tree's path)
        assert len({tuple(l) for l in seen_listings}) == 3  # the listing order really changed


def test_sources_are_listed_in_one_order(tree, monkeypatch):
    """list_sources sorts what os.walk gives, whatever order that is."""
    import kannot.source.files as sources

    expected = list_sources(tree, None, [])
    real_walk = os.walk

    def reversed_walk(top, **kw):
        for dirpath, dirnames, filenames in real_walk(top, **kw):
            dirnames.reverse()
            yield dirpath, dirnames, list(reversed(filenames))

    monkeypatch.setattr(sources.os, "walk", reversed_walk)
    assert list_sources(tree, None, []) == expected


def test_index_does_not_depend_on_the_order_facts_arrive_in(tree):
    """The internal sort point: facts come from the cache first and from workers after, so the
    index gets them in any order. Shuffled dicts give the same findings."""
    errors: list = []
    opts = Options(root=tree, jobs=1)
    rels = list_sources(tree, None, errors)
    facts = collect_facts(opts, rels, errors)
    read = lambda rel: read_source(tree, rel)[0]  # noqa: E731
    expected = None
    for seed in range(3):
        items = list(facts.items())
        random.Random(seed).shuffle(items)
        index = Index.build(tree, None, dict(items), read)
        got = format_json(check_index(index, Options(root=tree), []), [])
        expected = expected or got
        assert got == expected


def test_a_changed_candidate_on_a_warm_cache(tmp_path):
    """A re-read file's facts arrive after the cached ones: before the index sorted them, the
    candidates of a function defined twice (arm64 and x86 arch_idle_hook) came out in another order."""
    root = tmp_path / "tree"
    shutil.copytree(Path(__file__).parent / "fixtures" / "mini", root)
    cache = tmp_path / "cache"
    args = ("check", "--root", root, "--format", "json", "-j", "1", "--arch", "arm64")
    kannot(*args, "--cache-dir", cache)
    hooks = root / "arch/arm64/kernel/cpu_hooks.c"
    hooks.write_bytes(hooks.read_bytes() + b"/* edited */\n")
    warm = kannot(*args, "--cache-dir", cache)
    cold = kannot(*args, "--no-cache")
    assert b"arch_idle_hook" in cold.out and warm.out == cold.out
