#!/usr/bin/env python3
"""Count a whole-tree run's ``errors`` by kind: every problem file accounted for, in one table.

    PYTHONPATH=. python3 bench/error_census.py --tree ~/linux              # runs kannot check (no cache, -j 2)
    PYTHONPATH=. python3 bench/error_census.py --json out.json --tree ~/linux  # counts an existing run's JSON

A kind is the message with names and numbers taken out ("skipped function '<name>': expansion
nested too deep"). Also printed: the number of .c/.h/.S files under the tree that kannot lists
(``kannot.source.files.list_sources``), the files with at least one error, the exit code, the findings
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
    ap.add_argument("--facts-only", action="store_true",
                    help="every file through the per-file path (listing, reading, limits, worker processes, "
                         "facts) without the cross-file checks: the file-level errors of a whole tree in minutes")
    ap.add_argument("--out", type=Path, help="also write the errors as JSON here")
    a = ap.parse_args(argv)
    rc = None
    seconds = None
    if a.facts_only:
        from kannot.engine import Options, collect_facts
        from kannot.source.files import FileError, list_sources as _list

        t = time.monotonic()
        errs: list[FileError] = []
        root = a.tree.resolve()
        rels = _list(root, None, errs)
        facts = collect_facts(Options(root=root, jobs=int(a.jobs)), rels, errs)
        errs.sort(key=lambda e: (e.file, e.message))
        seconds = time.monotonic() - t
        doc = {"findings": [], "errors": [e.to_json() for e in errs]}
        print(f"facts read for {len(facts)} of {len(rels)} listed files in {seconds:.0f} s")
    elif a.json is None:
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
    if a.out is not None:
        a.out.write_text(json.dumps(doc["errors"], indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    from kannot.source.files import list_sources

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
