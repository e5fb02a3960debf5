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


def test_workers_exit_when_the_main_process_is_killed(tree, tmp_path):
    """kill -9 of kannot while a worker is busy: its workers go too, and the output pipe closes
    (a caller reading it would otherwise wait for orphans)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = dict(os.environ, KANNOT_TEST_HANG_FILE=VICTIM, KANNOT_TEST_WATCHDOG="600")
    proc = subprocess.Popen([sys.executable, "-m", "kannot", "check", "--root", str(tree), "-j", "2", "--no-cache",
                             "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)

    def children() -> list[int]:
        out = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == proc.pid:
                            out.append(int(pid))
                except (OSError, ValueError, IndexError):
                    pass
        return out

    deadline = time.time() + 120
    kids: list[int] = []
    while time.time() < deadline and not kids:  # the worker pool is up once the hung file is read
        time.sleep(0.5)
        kids = children()
    assert kids, "no worker process started"
    time.sleep(2)
    kids = children()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    import threading

    reader = threading.Thread(target=proc.stdout.read, daemon=True)  # ends when no process holds the pipe
    reader.start()
    reader.join(20)
    try:
        assert not reader.is_alive(), "the output pipe is still held open"
        gone_by = time.time() + 20
        while time.time() < gone_by and any(_alive(k) for k in kids):
            time.sleep(0.2)
        assert not any(_alive(k) for k in kids)
    finally:
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
