"""A worker process that dies (SIGSEGV in a C extension, the OOM killer) or hangs in C code costs
its own file, listed in ``errors``, never the run: real ``kannot check -j 2`` processes whose
worker really gets SIGSEGV or really never answers (test hooks in kannot/workers.py)."""
from __future__ import annotations

import json

import pytest

from robust_helpers import generated_tree, kannot

VICTIM = "drivers/gen2/gen_016.c"  # has a finding (every fourth generated file does)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return generated_tree(tmp_path_factory.mktemp("workers") / "tree", extra_files=200)


@pytest.fixture(scope="module")
def lone(tree):
    p = kannot("check", "--root", tree, "--format", "json", "-j", "1", "--no-cache")
    doc = json.loads(p.out)
    assert any(f["file"] == VICTIM for f in doc["findings"])
    return doc


def _without_victim(doc: dict) -> list:
    return [f for f in doc["findings"] if f["file"] != VICTIM]


@pytest.mark.parametrize("hook,env,message", [
    ("crash", {"KANNOT_TEST_CRASH_FILE": VICTIM}, "skipped: the worker process died while reading this file"),
    ("hang", {"KANNOT_TEST_HANG_FILE": VICTIM, "KANNOT_TEST_WATCHDOG": "2"},
     "skipped: no answer for 2 s (the worker was killed) while reading this file"),
])
def test_a_dead_or_stuck_worker_costs_one_file(tree, lone, tmp_path, hook, env, message):
    p = kannot("check", "--root", tree, "--format", "json", "-j", "2", "--cache-dir", tmp_path / "cache", env=env,
               timeout=600)
    assert p.rc == 1, p.err
    doc = json.loads(p.out)
    assert [e for e in doc["errors"] if e["file"] == VICTIM] == [{"file": VICTIM, "message": message}]
    assert doc["findings"] == _without_victim(lone)  # everything else, byte for byte in order
    # the skipped file was not cached: the next run reads it
    again = kannot("check", "--root", tree, "--format", "json", "-j", "2", "--cache-dir", tmp_path / "cache")
    assert json.loads(again.out) == lone
