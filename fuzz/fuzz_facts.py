#!/usr/bin/env python3
"""Long fuzz run: mutate kernel-shaped C and push every input through a run's per-file path.

    PYTHONPATH=. python3 fuzz/fuzz_facts.py --inputs 100000 --seed 1 -j 2
    PYTHONPATH=. python3 fuzz/fuzz_facts.py --inputs 20000 --seed 7 --kernel-seeds ~/linux

Each input is a seed file (tests/fixtures, examples; with ``--kernel-seeds TREE`` also up to 200
small noinstr-bearing files of a kernel tree) with 1-8 mutations (byte flips, byte sets, deletions,
truncations, inserted kernel tokens and macros, duplicated segments, 1-3000-deep nesting of
``(`` ``{`` ``#if``, splices of other seeds). It goes through facts extraction under the per-file
limits, the cache's encode/decode round trip, an index with a few real headers, and every check
(``--select ALL``). A crash is an exception out of any of these or an "internal error" caught by a
boundary; each is written to ``--crash-dir`` with the mutation list that makes it. The run is
deterministic for a given ``--seed`` and ``--inputs`` (whatever ``-j``): input i uses
``Random(seed * 1_000_003 + i)``.

The last line is a summary, e.g. ``fuzz: 100000 inputs, 0 crashes (ok 9120, parse-errors 90510,
limit 370) in 812 s``; exit 1 when something crashed.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mutators as M  # noqa: E402
from kannot.source import limits  # noqa: E402

_STATE: dict = {}


def _kernel_seeds(tree: Path, limit: int = 200) -> list[Path]:
    """Small .c files of a kernel tree that use the annotations kannot checks, in a stable order."""
    out: list[Path] = []
    for sub in ("arch/x86/entry", "arch/x86/kernel", "kernel/entry", "kernel/locking", "kernel/sched",
                "kernel/rcu", "kernel/trace", "kernel", "mm", "lib"):
        d = tree / sub
        if not d.is_dir():
            continue
        for p in sorted(d.glob("*.c")):
            try:
                data = p.read_bytes()
            except OSError:
                continue
            if len(data) <= 24 * 1024 and (b"noinstr" in data or b"NOKPROBE_SYMBOL" in data or b"notrace" in data):
                out.append(p)
                if len(out) >= limit:
                    return out
    return out


def _init(extra: list[str], time_limit: float) -> None:
    limits.configure(limits.Limits(file_time_limit=time_limit))
    seeds = M.seeds([Path(p) for p in extra])
    headers = [(r.split("/", 1)[1], d) for r, d in seeds if r.startswith("mini/include/")]
    _STATE["seeds"] = seeds
    _STATE["donors"] = [d for _r, d in seeds]
    _STATE["ctx"] = M.context(headers)


def _one(args: tuple[int, int]) -> tuple[int, str, str, list, str]:
    seed, i = args
    rng = random.Random(seed * 1_000_003 + i)
    seeds = _STATE["seeds"]
    k = rng.randrange(len(seeds))
    ops = [(rng.choice(M.OPS), rng.randrange(1 << 30), rng.randrange(1 << 30)) for _ in range(rng.randint(1, 8))]
    data = M.apply(seeds[k][1], ops, _STATE["donors"])
    out = M.check_one("kernel/fuzz_input.c", data, _STATE["ctx"])
    return i, out.kind, out.detail, [seeds[k][0], ops], out.trace


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--kernel-seeds", type=Path, help="also mutate small annotated .c files of this kernel tree")
    ap.add_argument("--time-limit", type=float, default=limits.DEFAULT_FILE_TIME_LIMIT, help="the per-file limit (s)")
    ap.add_argument("--crash-dir", type=Path, default=Path("fuzz/crashes"))
    ap.add_argument("--progress", type=int, default=10_000, help="print a line every N inputs")
    a = ap.parse_args(argv)
    extra = [str(p) for p in _kernel_seeds(a.kernel_seeds)] if a.kernel_seeds else []
    t0 = time.time()
    counts: Counter = Counter()
    crashes = 0
    work = ((a.seed, i) for i in range(a.inputs))
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(a.jobs, initializer=_init, initargs=(extra, a.time_limit)) as pool:
        for done, (i, kind, detail, recipe, trace) in enumerate(pool.imap_unordered(_one, work, chunksize=64), 1):
            counts[kind] += 1
            if kind == "crash":
                crashes += 1
                a.crash_dir.mkdir(parents=True, exist_ok=True)
                (a.crash_dir / f"crash-{a.seed}-{i}.json").write_text(json.dumps(
                    {"seed": a.seed, "input": i, "detail": detail, "seed_file": recipe[0], "ops": recipe[1],
                     "trace": trace}, indent=1))
                print(f"fuzz: CRASH at input {i}: {detail}", flush=True)
            if a.progress and done % a.progress == 0:
                print(f"fuzz: {done} inputs, {crashes} crashes, {time.time() - t0:.0f} s", flush=True)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)
    print(f"fuzz: {a.inputs} inputs ({len(extra)} kernel seeds + fixtures), {crashes} crashes ({kinds}) "
          f"in {time.time() - t0:.0f} s; seed {a.seed}, -j {a.jobs}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
