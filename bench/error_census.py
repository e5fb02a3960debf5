#!/usr/bin/env python3
"""Count a whole-tree run's ``errors`` by kind: every problem file accounted for, in one table.

    PYTHONPATH=. python3 bench/error_census.py --tree ~/linux              # runs kannot check (no cache, -j 2)
    PYTHONPATH=. python3 bench/error_census.py --json out.json --tree ~/linux  # counts an existing run's JSON

A kind is the message with names and numbers taken out ("skipped function '<name>': expansion
nested too deep"). Also printed: the number of .c/.h/.S files under the tree that kannot lists
(``kannot.sources.list_sources``), the files with at least one error, the exit code, the findings
and the wall time, so that a crash (no JSON, exit 2) or a hang cannot pass for a clean run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def kind(message: str) -> str:
    m = re.sub(r"'[^']*'", "'<name>'", message)
    m = re.sub(r"\d+(\.\d+)?", "N", m)
    if m.startswith("could not fully parse"):
        return "could not fully parse (syntax error regions); functions outside them are still checked"
    return m


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, required=True)
    ap.add_argument("--json", type=Path, help="an existing `kannot check --format json` output of this tree")
    ap.add_argument("-j", "--jobs", default="2")
    ap.add_argument("--timeout", type=float, default=3600)
    a = ap.parse_args(argv)
    rc = None
    seconds = None
    if a.json is None:
        t = time.monotonic()
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        proc = subprocess.run([sys.executable, "-m", "kannot", "check", "--root", str(a.tree), "--format", "json",
                               "--no-cache", "-j", a.jobs], capture_output=True, env=env, timeout=a.timeout)
        seconds = time.monotonic() - t
        rc = proc.returncode
        if rc not in (0, 1):
            print(f"kannot failed (exit {rc}):\n{proc.stderr.decode(errors='replace')[-3000:]}", file=sys.stderr)
            return 2
        doc = json.loads(proc.stdout)
    else:
        doc = json.loads(a.json.read_bytes())
    from kannot.sources import list_sources

    listed = list_sources(a.tree.resolve(), None, [])
    errors = doc["errors"]
    kinds = Counter(kind(e["message"]) for e in errors)
    files = {e["file"] for e in errors}
    print(f"tree: {a.tree}")
    print(f"source files listed: {len(listed)}; findings: {len(doc['findings'])}"
          + (f"; exit {rc}; {seconds:.0f} s" if rc is not None else ""))
    print(f"errors: {len(errors)} lines on {len(files)} files")
    for k, n in kinds.most_common():
        print(f"{n:8d}  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
