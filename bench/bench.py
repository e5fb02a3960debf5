"""Time a whole-tree ``kannot check`` against ctags and a bare tree-sitter parse of the same files.

    python bench/bench.py --tree /root/.cache/kernel-trees/linux-source-6.12 [--runs 3] [--arch x86]
                          [--timeout 3600] [--json OUT]

Each tool runs --runs times as a subprocess under ``/usr/bin/time -v``; the table shows the median
wall time, the median CPU time (user+sys) and the largest peak RSS. Peak RSS is GNU time's
"Maximum resident set size": the largest single process (the main one or one pool worker), not
the sum over a process pool.

All three read the same files, kannot's own list (``kannot.sources.list_sources``: .c/.h/.S,
without Documentation/ tools/ scripts/ samples/ usr/, and without arch/ other than --arch):
- kannot: ``python -m kannot check --root TREE -q --format json --no-cache [--arch A]`` (all cores);
  with --warm also ``--cache-dir TMP`` after one untimed run has filled that cache;
- ctags:  ``ctags -f TMP --langmap=C:+.h -L LIST`` (Universal Ctags, one core; .h read as C);
- bare parse: ``bench/bare_parse.py`` (tree-sitter-c parse of the .c/.h files, a pool of all cores).
The files are read once before timing so no tool pays for a cold page cache alone.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kannot.sources import FileError, list_sources

HERE = Path(__file__).resolve().parent
TIME = "/usr/bin/time"


@dataclass
class Tool:
    name: str
    argv: list[str]
    ok_codes: tuple[int, ...] = (0,)
    check: Callable[[Path], str] | None = None  # reads the output: a note, or raises ValueError
    cwd: Path | None = None
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    error: str | None = None
    note: str = ""


def run_once(tool: Tool, timeout: float, stdout_path: Path) -> None:
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
        time_out = Path(tf.name)
    try:
        t0 = time.monotonic()
        with open(stdout_path, "wb") as out:
            # own process group, so a timeout also ends the tool's workers, not only GNU time
            proc = subprocess.Popen([TIME, "-v", "-o", str(time_out), *tool.argv], stdout=out,
                                    stderr=subprocess.PIPE, cwd=tool.cwd, start_new_session=True)
            try:
                _, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                raise RuntimeError(f"timed out after {timeout:g}s") from None
        wall = time.monotonic() - t0
        tail = " | ".join(err.decode(errors="replace").strip().splitlines()[-3:])
        if proc.returncode not in tool.ok_codes:
            raise RuntimeError(f"exit code {proc.returncode}: {tail}")
        if tool.check is not None:
            try:
                tool.note = tool.check(stdout_path)
            except (ValueError, KeyError, TypeError) as exc:
                raise RuntimeError(f"exit code {proc.returncode}, unusable output ({exc}); stderr: {tail}") from None
        report = time_out.read_text()
    finally:
        time_out.unlink(missing_ok=True)
    tool.walls.append(wall)
    tool.cpus.append(_field(report, r"User time \(seconds\)") + _field(report, r"System time \(seconds\)"))
    tool.rss_kb.append(int(_field(report, r"Maximum resident set size \(kbytes\)")))


def kannot_json(note: str) -> Callable[[Path], str]:
    def check(path: Path) -> str:
        data = json.loads(path.read_text())  # exit code 1 is findings, but also an uncaught exception
        return f"{note}, {len(data['findings'])} findings, {len(data['errors'])} file notes"
    return check


def bare_json(path: Path) -> str:
    data = json.loads(path.read_text())
    return f"all cores, .c/.h only, {data['files_with_errors']} of {data['files']} files with a syntax error"


def code_stamp() -> str:
    """Digest of kannot's sources: tells whether the code changed between runs."""
    import hashlib

    import kannot
    h = hashlib.sha256()
    for p in sorted(Path(kannot.__file__).parent.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def _field(report: str, label: str) -> float:
    m = re.search(label + r":\s*([0-9.]+)", report)
    if m is None:
        raise RuntimeError(f"no '{label}' in /usr/bin/time -v output")
    return float(m.group(1))


def warm(root: Path, rels: list[str]) -> int:
    total = 0
    for rel in rels:
        try:
            total += len((root / rel).read_bytes())
        except OSError:
            pass
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--arch")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per run (default 3600)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--warm", action="store_true",
                    help="also time kannot with a warm facts cache (one untimed run fills it first)")
    args = ap.parse_args(argv)
    root = args.tree.resolve()
    missing = [what for what, ok in (("/usr/bin/time (GNU time)", os.access(TIME, os.X_OK)),
                                     ("ctags", shutil.which("ctags") is not None),
                                     (f"tree {root}", root.is_dir())) if not ok]
    if missing or args.runs < 1:
        print(f"bench: missing: {', '.join(missing)}" if missing else "bench: --runs must be >= 1", file=sys.stderr)
        return 2

    errors: list[FileError] = []
    rels = list_sources(root, args.arch, errors)
    c_rels = [r for r in rels if r.endswith((".c", ".h"))]
    tmp = Path(tempfile.mkdtemp(prefix="kannot-bench-"))
    (tmp / "all.txt").write_text("\n".join(rels) + "\n")
    (tmp / "c.txt").write_text("\n".join(c_rels) + "\n")
    size = warm(root, rels)
    load0 = os.getloadavg()[0]
    stamp0 = code_stamp()
    print(f"kannot code {stamp0}; tree {root}: {len(rels)} files ({len(c_rels)} .c/.h), {size / 1e6:.0f} MB, arch {args.arch or 'all'}, "
          f"{os.cpu_count()} cores, {args.runs} run(s) each", flush=True)
    if load0 > 0.5 * (os.cpu_count() or 1):
        print(f"warning: load average {load0:.1f} before starting: other processes share the cores, times are inflated",
              file=sys.stderr, flush=True)

    arch = ["--arch", args.arch] if args.arch else []
    tools = [
        Tool("kannot check", [sys.executable, "-m", "kannot", "check", "--root", str(root), "-q", "--format", "json",
                              "--no-cache", *arch], ok_codes=(0, 1), check=kannot_json("all cores, no facts cache")),
        Tool("ctags", ["ctags", "-f", str(tmp / "tags"), "--langmap=C:+.h", "-L", str(tmp / "all.txt")], cwd=root,
             note="1 core"),
        Tool("bare tree-sitter parse", [sys.executable, str(HERE / "bare_parse.py"), str(root), str(tmp / "c.txt")],
             check=bare_json),
    ]
    if args.warm:
        warm_argv = [sys.executable, "-m", "kannot", "check", "--root", str(root), "-q", "--format", "json",
                     "--cache-dir", str(tmp / "cache"), *arch]
        tools.insert(1, Tool("kannot check (warm)", warm_argv, ok_codes=(0, 1), check=kannot_json("all cores, warm facts cache")))
        primer = Tool("prime", warm_argv, ok_codes=(0, 1), check=kannot_json(""))
        try:
            run_once(primer, args.timeout, tmp / "prime.out")
            print(f"  cache filled in {primer.walls[0]:.1f}s (not counted)", flush=True)
        except (RuntimeError, OSError) as exc:
            tools[1].error = f"filling the cache failed: {exc}"
    for tool in tools:
        for i in range(args.runs if tool.error is None else 0):
            out = tmp / f"{tool.name.split()[0]}.out"
            try:
                run_once(tool, args.timeout, out)
            except (RuntimeError, OSError) as exc:
                tool.error = str(exc)
                print(f"  {tool.name}: run {i + 1} failed: {exc}", file=sys.stderr, flush=True)
                break
            print(f"  {tool.name}: run {i + 1}: {tool.walls[-1]:.1f}s, {tool.rss_kb[-1] / 1024:.0f} MB", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    if code_stamp() != stamp0:
        print("warning: kannot's code changed while the benchmark ran: the kannot runs used different code",
              file=sys.stderr, flush=True)

    med = {t.name: statistics.median(t.walls) for t in tools if t.walls and t.error is None}
    print(f"\n{'tool':24} {'median wall':>12} {'median cpu':>11} {'peak RSS':>10}  notes")
    for t in tools:
        if t.error is not None:
            print(f"{t.name:24} {'FAILED':>12} {'':>11} {'':>10}  {t.error}")
            continue
        print(f"{t.name:24} {med[t.name]:11.1f}s {statistics.median(t.cpus):10.1f}s {max(t.rss_kb) / 1024:8.0f}MB  {t.note}")
    print(f"load average (1 min) before: {load0:.1f}, after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for mine in ("kannot check", "kannot check (warm)"):
        for other in ("ctags", "bare tree-sitter parse"):
            if med.get(mine) and med.get(other):
                print(f"{mine} / {other}: {med[mine] / med[other]:.1f}x wall")
    if args.json:
        args.json.write_text(json.dumps({
            "tree": str(root), "arch": args.arch, "files": len(rels), "bytes": size, "cores": os.cpu_count(), "load_before": load0,
            "runs": args.runs,
            "tools": [{"name": t.name, "argv": t.argv, "walls": t.walls, "cpus": t.cpus, "rss_kb": t.rss_kb,
                       "error": t.error, "note": t.note} for t in tools],
        }, indent=1))
    return 1 if any(t.error for t in tools) else 0


if __name__ == "__main__":
    sys.exit(main())
