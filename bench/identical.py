"""Run kannot's JSON check four ways on a tree (cold, warm, one-function edit, --patch) and keep
each output, so two versions of kannot can be compared byte for byte (issue 19's bar).

    python bench/identical.py --tree T --arch x86 --kannot SRC --out DIR

SRC is a kannot source folder (put first on PYTHONPATH). The tree is copied to a scratch folder of
its own; the edit replaces one file of that copy, never the tree itself."""
from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EDIT = "arch/x86/kernel/traps.c"


def noinstr_function_edit(original: bytes) -> bytes | None:
    """``dump_stack();`` as the first line of the file's first ``noinstr`` function's body (a real
    edit inside a function: every later line moves); None when no such function has its brace on
    a line of its own. bench/bench.py makes the same edit."""
    lines = original.split(b"\n")
    for i, line in enumerate(lines):
        if re.search(rb"\bnoinstr\b", line) and b"(" in line and not line.rstrip().endswith(b";"):
            brace = next((j for j in range(i, min(i + 4, len(lines))) if lines[j].strip() == b"{"), None)
            if brace is not None:
                return b"\n".join(lines[: brace + 1] + [b"\tdump_stack();"] + lines[brace + 1:])
    return None


def replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".kannot-tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, required=True)
    ap.add_argument("--arch", default="x86")
    ap.add_argument("--kannot", type=Path, required=True, help="kannot source folder")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--no-patch", action="store_true", help="leave out the --patch run (the slowest)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="kannot-identical-"))  # (the JSON names no absolute path)
    tree = scratch / "tree"
    # a real copy: a hard-linked one would see another process's edits of the tree (a benchmark
    # that edits a file in place and restores it) in the middle of a run
    subprocess.run(["cp", "-a", "--reflink=auto", str(args.tree.resolve()), str(tree)], check=True)
    cache = scratch / "cache"
    env = dict(os.environ, PYTHONPATH=str(args.kannot.resolve()), KANNOT_CACHE_DIR=str(cache))
    base = [sys.executable, "-m", "kannot", "check", "--root", str(tree), "--arch", args.arch,
            "--format", "json", "--cache-dir", str(cache)]
    original = (tree / EDIT).read_bytes()
    patch = scratch / "one.patch"
    new = noinstr_function_edit(original)
    if new is None:
        raise SystemExit(f"{EDIT}: no noinstr function with its brace on a line of its own")
    diff = difflib.unified_diff(original.decode("utf-8", "surrogateescape").splitlines(True),
                                new.decode("utf-8", "surrogateescape").splitlines(True),
                                f"a/{EDIT}", f"b/{EDIT}")
    patch.write_text(f"diff --git a/{EDIT} b/{EDIT}\n" + "".join(diff), encoding="utf-8", errors="surrogateescape")

    def run(name: str, extra: list[str]) -> None:
        t = time.monotonic()
        p = subprocess.run(base + extra, env=env, capture_output=True)
        (args.out / f"{name}.json").write_bytes(p.stdout)
        print(f"{name}: rc {p.returncode}, {len(p.stdout)} bytes, {time.monotonic() - t:.1f} s", flush=True)
        if p.returncode not in (0, 1):
            print(p.stderr.decode(errors="replace")[-2000:], file=sys.stderr)

    try:
        run("cold", [])
        run("warm", [])
        replace(tree / EDIT, new)
        run("edit", [])
        replace(tree / EDIT, original)
        run("restored", [])
        if not args.no_patch:
            run("patch", ["--patch", str(patch)])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
