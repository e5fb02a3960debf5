"""Worker processes that cannot lose a run.

``concurrent.futures``' ``pool.map`` loses everything when one worker dies: a segfault in a C
extension on one odd file, the kernel's OOM killer, a ``kill`` from outside all end in
``BrokenProcessPool`` for every pending task. Here:

- work goes out in chunks with a bounded number in flight, and results come back in input order;
- when the pool breaks, the chunks that were in flight are re-run one item at a time (one in
  flight), so the item that breaks the pool again is known: it gets ``on_crash``'s result (one
  line in ``errors``) and the run goes on in a fresh pool;
- a pool that gives no answer for ``watchdog`` seconds (a worker stuck in C code that no time
  limit reaches) is treated the same way: its workers are killed, the items in flight are re-run
  one at a time under the same watchdog.

Test hooks (real processes, real signals): ``KANNOT_TEST_CRASH_FILE=rel`` makes the worker that
reads ``rel`` kill itself with SIGSEGV; ``KANNOT_TEST_HANG_FILE=rel`` makes it sleep forever;
``KANNOT_TEST_WATCHDOG=seconds`` shortens the watchdog.
"""
from __future__ import annotations

import os
import signal
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator, Sequence

CHUNK = 32
_MAIN_PID = os.getpid()  # (recorded in the main process; forked children inherit it)


def _run_chunk(fn: Callable[[Any], Any], chunk: list) -> list:
    hooks = "KANNOT_TEST_CRASH_FILE" in os.environ or "KANNOT_TEST_HANG_FILE" in os.environ
    out = []
    for item in chunk:
        if hooks:
            _test_hooks(item)
        out.append(fn(item))
    return out


def _test_hooks(item: Any) -> None:
    """Only in worker processes (see the module docstring); items are (root, rel, ...) tuples."""
    rel = item[1] if isinstance(item, tuple) and len(item) > 1 else None
    if rel is not None and os.environ.get("KANNOT_TEST_CRASH_FILE") == rel:
        os.kill(os.getpid(), signal.SIGSEGV)
    if rel is not None and os.environ.get("KANNOT_TEST_HANG_FILE") == rel:
        while True:
            time.sleep(3600)


def die_with_parent(parent: int | None = None) -> None:
    """In a worker or forked child: exit when the main process dies, and let go of its output (a
    caller reading kannot's stdout through a pipe would otherwise wait for orphaned workers
    holding it open). A thread watches the parent (Linux's parent-death signal would follow
    the thread that forked the worker, and the language server forks from short-lived ones)."""
    main = parent if parent is not None else _MAIN_PID
    if not _alive(main):  # the main process is already gone
        os._exit(1)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
    import threading

    def watch() -> None:
        while _alive(main):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="kannot-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    """Does process ``pid`` still run? (Not its being our parent: the language server's workers
    come from a fork server.) A zombie, killed but not yet reaped, counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    except IndexError:
        return True


def worker_init(parent: int, initializer: Callable | None, *args: Any) -> None:
    """A pool's initializer: :func:`die_with_parent` (``parent``: the main process's pid; a
    spawned worker imports this module anew), then ``initializer(*args)``."""
    die_with_parent(parent)
    if initializer is not None:
        initializer(*args)


def process_pool(jobs: int, initializer: Callable | None = None, *args: Any) -> ProcessPoolExecutor:
    """A pool whose workers run ``initializer(*args)`` first and die with this process."""
    return ProcessPoolExecutor(max_workers=jobs, initializer=worker_init, initargs=(os.getpid(), initializer, *args))


def watchdog_seconds(time_limit: float) -> float | None:
    """How long a pool may stay silent: far beyond any file's time limit (None: no watchdog)."""
    env = os.environ.get("KANNOT_TEST_WATCHDOG")
    if env:
        return float(env)
    if time_limit <= 0:
        return None
    return max(120.0, 20 * time_limit)


class Workers:
    """Worker processes kept for a whole run: a lazy check loads files in many small batches,
    and forking a pool for each cost more than the batch itself. ``map`` has the guarantees of
    the module docstring; a pool that broke is replaced for the next call."""

    def __init__(self, jobs: int, on_crash: Callable[[Any, str], Any], initializer: Callable | None = None,
                 initargs: tuple = (), watchdog: float | None = None):
        self.jobs = jobs
        self.on_crash = on_crash
        self.initializer = initializer
        self.initargs = initargs
        self.watchdog = watchdog
        self._pool: ProcessPoolExecutor | None = None

    def _shared(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = process_pool(self.jobs, self.initializer, *self.initargs)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, fn: Callable[[Any], Any], items: Sequence) -> Iterator:
        """``fn(item)`` for every item in worker processes, yielded in input order."""
        results: dict[int, Any] = {}
        # small batches are split finely: every worker gets a share
        size = max(1, min(CHUNK, -(-len(items) // (2 * self.jobs))))
        todo: deque[list[int]] = deque(list(range(i, min(i + size, len(items)))) for i in range(0, len(items), size))
        suspects: deque[int] = deque()  # items of chunks that were in flight when a pool broke
        emitted = 0

        def drain() -> Iterator:
            nonlocal emitted
            while emitted in results:
                yield results.pop(emitted)
                emitted += 1

        while todo or suspects:
            # one item at a time while there are suspects: the one that breaks the pool is the culprit
            alone = bool(suspects)
            window = 1 if alone else 2 * self.jobs
            pool = ProcessPoolExecutor(max_workers=1, initializer=worker_init,
                                       initargs=(os.getpid(), self.initializer, *self.initargs)) if alone else self._shared()
            in_flight: dict[Future, list[int]] = {}
            broken: str | None = None
            try:
                while (todo or suspects or in_flight) and broken is None:
                    while len(in_flight) < window and (suspects if alone else todo):
                        idx = [suspects.popleft()] if alone else todo.popleft()
                        in_flight[pool.submit(_run_chunk, fn, [items[i] for i in idx])] = idx
                    if not in_flight:
                        break  # suspects done: back to chunks in the shared pool
                    done, _ = wait(in_flight, timeout=self.watchdog, return_when=FIRST_COMPLETED)
                    if not done:
                        broken = f"no answer for {self.watchdog:g} s (the worker was killed)"
                        _kill_workers(pool)
                        break
                    for fut in done:
                        idx = in_flight.pop(fut)
                        try:
                            for i, r in zip(idx, fut.result()):
                                results[i] = r
                        except BrokenProcessPool:
                            broken = "the worker process died"
                            in_flight[fut] = idx  # handled with the others below
                            break
                    yield from drain()
            finally:
                if alone or broken is not None:
                    pool.shutdown(wait=broken is None, cancel_futures=True)
                    if pool is self._pool:
                        self._pool = None
                elif in_flight:  # the caller stopped early: nothing of this call may stay queued
                    for fut in in_flight:
                        fut.cancel()
            if broken is not None:
                lost = sorted(i for idx in in_flight.values() for i in idx)
                if alone and len(lost) == 1:
                    results[lost[0]] = self.on_crash(items[lost[0]], broken)  # the culprit
                else:
                    suspects.extend(lost)
                yield from drain()
        yield from drain()


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    # ProcessPoolExecutor has no public way to stop a worker that does not answer
    for proc in list(getattr(pool, "_processes", {}).values()):
        try:
            proc.kill()
        except (OSError, AttributeError):
            pass
