"""Per-file limits, and the per-file boundary around facts extraction.

One pathological file (a 50 MB generated table, 10,000 nested ``#if``s, input that sends the
parser's error recovery into a slow path) must not stall or lose a whole run. Two limits apply to
every file, and the message of a skipped file names the one that fired and the flag that sets it:

- ``--max-file-size BYTES`` (default 8 MiB): larger files are not read (``kannot.source.files``).
- ``--file-time-limit SECONDS`` (default 10 s, 0: none): reading one file's facts may take this
  much CPU time. The tree-sitter parse is bounded through its progress callback (it works in any
  thread); the Python code around it (macro scan, ``#if`` bookkeeping) by a ``SIGVTALRM`` timer,
  which can only be armed in a process's main thread: the CLI's parse workers and ``-j 1`` runs.
  In other threads (the language server's) only the parse is bounded.

Only facts extraction is time-limited, because facts are a pure function of one file's bytes: a
file skipped for time is listed in ``errors`` and not cached, so a later run retries it. The
cross-file analysis is not (its per-function cost depends on what was memoised before, so a
time limit there would make findings depend on order and load).

Limits live in this module (set once by the CLI or the language server) so that
``sources.read_source`` and the facts workers see them without threading them through every
call; ``engine`` hands them to its worker processes with the pool's initializer.
"""
from __future__ import annotations

import argparse
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024  # the kernel's largest hand-written .c is ~1 MB
DEFAULT_FILE_TIME_LIMIT = 10.0  # seconds; the slowest 6.12 file takes well under 1 s


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    file_time_limit: float = DEFAULT_FILE_TIME_LIMIT  # 0: no limit


_current = Limits()


def current() -> Limits:
    return _current


def configure(limits: Limits) -> None:
    """Set the limits for this process (also the pool initializer of the facts workers)."""
    global _current
    _current = limits


class FileTimeLimit(Exception):
    """Raised inside facts extraction when the per-file time limit is over."""

    def __init__(self, stage: str, seconds: float):
        super().__init__(f"skipped: {stage} took more than the {seconds:g} s per-file CPU time limit (--file-time-limit)")
        self.stage = stage


# deadline -----------------------------------------------------------------------------------------
#
# The limit is on CPU time, not wall-clock time: on a loaded machine (a 2-core CI box running
# other jobs) a file would otherwise be skipped in one run and read in the next, and findings
# would depend on the load. The clock is the thread's CPU time (the language server parses in a
# thread); the backstop timer is ITIMER_VIRTUAL (the process's user CPU time, SIGVTALRM).

_local = threading.local()  # .deadline: time.thread_time() value or None; .seconds: the limit
TIMER_SIGNAL = getattr(signal, "SIGVTALRM", None)


def deadline_passed() -> bool:
    """True when the file being read has used up its time (called from the parse progress callback)."""
    d = getattr(_local, "deadline", None)
    return d is not None and time.thread_time() > d


def has_deadline() -> bool:
    return getattr(_local, "deadline", None) is not None


def deadline_seconds() -> float:
    """The limit in force (for messages)."""
    return getattr(_local, "seconds", _current.file_time_limit)


def timer_armed() -> bool:
    """True when this thread armed the SIGVTALRM backstop (the parse then blocks that signal)."""
    return bool(getattr(_local, "timer", False))


@contextmanager
def file_deadline(seconds: float) -> Iterator[None]:
    """Bound the enclosed facts extraction to ``seconds`` of CPU time (0 or less: no bound)."""
    if seconds <= 0:
        yield
        return
    _local.deadline = time.thread_time() + seconds
    _local.seconds = seconds
    timer = (TIMER_SIGNAL is not None and threading.current_thread() is threading.main_thread()
             and hasattr(signal, "setitimer"))
    old_handler = None
    if timer:
        assert TIMER_SIGNAL is not None  # (timer needs one)

        def on_timer(signum, frame):  # pure-Python loops cannot check a clock themselves
            raise FileTimeLimit("reading facts", seconds)

        try:
            old_handler = signal.signal(TIMER_SIGNAL, on_timer)
            # a little later than the parse's own check, so that a slow parse is named as such
            signal.setitimer(signal.ITIMER_VIRTUAL, seconds + 0.5)
        except (ValueError, OSError):  # not the main interpreter, or no timer: the parse check stays
            timer = False
    _local.timer = timer
    try:
        yield
    finally:
        _local.deadline = None
        _local.timer = False
        if timer:
            assert TIMER_SIGNAL is not None  # (timer needs one)
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(TIMER_SIGNAL, old_handler if old_handler is not None else signal.SIG_DFL)


@contextmanager
def timer_blocked() -> Iterator[None]:
    """Hold the backstop timer's signal while C code that calls back into Python runs (the
    tree-sitter parse with its read and progress callbacks): a Python exception raised by the
    signal handler inside those callbacks crashes py-tree-sitter (a NULL it does not check;
    seen as a segfault in a worker). The signal is delivered when the parse returns."""
    if not timer_armed():
        yield
        return
    assert TIMER_SIGNAL is not None  # (the timer is armed only with one)
    signal.pthread_sigmask(signal.SIG_BLOCK, {TIMER_SIGNAL})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {TIMER_SIGNAL})


# command line -------------------------------------------------------------------------------------

def parse_size(value: str) -> int:
    """``8M``, ``512k``, ``1G`` or plain bytes."""
    v = value.strip().lower().removesuffix("b").removesuffix("i")
    mult = 1
    if v and v[-1] in "kmg":
        mult = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[v[-1]]
        v = v[:-1]
    try:
        n = int(float(v) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {value!r} (bytes, or with k/M/G)") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive: {value!r}")
    return n


def _seconds(value: str) -> float:
    try:
        s = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if s < 0 or s != s:
        raise argparse.ArgumentTypeError(f"seconds must be 0 (no limit) or more: {value!r}")
    return s


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-file-size", type=parse_size, default=DEFAULT_MAX_FILE_BYTES, metavar="BYTES",
                   help="skip files larger than this (k/M/G suffixes; default: 8M)")
    p.add_argument("--file-time-limit", type=_seconds, default=DEFAULT_FILE_TIME_LIMIT, metavar="SECONDS",
                   help="skip a file whose facts take more CPU time than this to read (default: 10; 0: no limit)")


def from_args(args: argparse.Namespace) -> Limits:
    return Limits(max_file_bytes=getattr(args, "max_file_size", DEFAULT_MAX_FILE_BYTES),
                  file_time_limit=getattr(args, "file_time_limit", DEFAULT_FILE_TIME_LIMIT))
