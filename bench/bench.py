"""Time a whole-tree ``kannot check`` against ctags and a bare tree-sitter parse of the same files.

    python bench/bench.py --tree ~/linux [--runs 3] [--arch x86]
                          [--warm] [--edit FILE] [--edit-unrelated FILE] [--why FUNC] [--eager]
                          [--git-copy DIR] [--only ROWS] [--timeout 3600] [--json OUT]

Rows (each the median of --runs runs):
- kannot check (cold): an empty cache directory each run: the catalog scan of every file, then the
  files the check needs parsed (and both written to the cache);
- with --warm: kannot check (warm), nothing changed; kannot check (1 file edited): a comment line
  appended to --edit FILE (default arch/x86/kernel/traps.c) before each run, the file restored at
  the end; kannot check (unrelated file edited): the same with --edit-unrelated FILE (default
  fs/ext4/inode.c, which no protected function's check depends on: the stored result stands);
  kannot check (function edited): ``dump_stack();`` added to, then removed from, the first noinstr
  function of --edit FILE, in turn (each run a real edit inside a function: every later line
  moves); kannot check --patch (warm): a one-file patch making that edit, applied in memory;
  kannot why FUNC (warm) (default rcu_is_watching), after one untimed why has stored the map;
- with --warm and --git-copy DIR: kannot check --diff-base HEAD~1 (warm), in DIR: a git repository
  of the tree's listed files (made there once, and reused) whose last commit is that function edit;
  its cache is filled first (untimed), as for the other warm rows;
- with --eager: kannot check --eager --no-cache (every file parsed: the old way, for comparison);
- ctags and the bare parse (baselines).
The findings of cold, warm and eager runs must be identical; the table says whether they are.
--only ROWS times some rows only (``--warm --only function-edit,patch --runs 9``: the warm rows' goals
are absolute times, and their medians want more runs than the baselines can afford).

Each tool runs --runs times as a subprocess under ``/usr/bin/time -v``; the table shows the median
wall time, the median CPU time (user+sys) and the largest peak RSS. Peak RSS is GNU time's
"Maximum resident set size": the largest single process (the main one or one pool worker), not
the sum over a process pool.

All three read the same files, kannot's own list (``kannot.source.files.list_sources``: .c/.h/.S,
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

from identical import noinstr_function_edit  # (bench/, first on sys.path when run as a script)
from kannot.source.files import FileError, list_sources

HERE = Path(__file__).resolve().parent
TIME = "/usr/bin/time"
# --only's names for the rows (each a prefix-free key of its tool's name)
ROWS = {"cold": "kannot check (cold)", "warm": "kannot check (warm)", "edit": "kannot check (1 file edited)",
        "unrelated": "kannot check (unrelated edit)", "function-edit": "kannot check (function edited)",
        "patch": "kannot check --patch (warm)", "diff-base": "kannot check --diff-base (warm)",
        "why": "kannot why", "eager": "kannot check --eager", "ctags": "ctags", "bare": "bare tree-sitter parse"}


class EditedFile:
    """A file of the tree the warm rows edit (a numbered comment appended before each run) and
    restore afterwards, bytes and times."""

    def __init__(self, root: Path, rel: str, option: str):
        self.path, self.rel, self.option = root / rel, rel, option
        self.original = self.path.read_bytes() if self.path.is_file() else None
        self.times = self.path.stat() if self.original is not None else None
        self.edits = 0
        self.toggles = 0  # of toggle_function_edit: the first one makes the edit

    def edit(self) -> None:
        if self.original is None:
            raise RuntimeError(f"{self.option} {self.rel}: not a file of the tree")
        self.edits += 1
        self.path.write_bytes(self.original + f"/* kannot bench edit {self.edits} */\n".encode())

    def function_edit(self) -> bytes:
        """The file with ``dump_stack();`` added as the first line of its first ``noinstr``
        function's body (a real edit inside a function: every later line moves)."""
        got = noinstr_function_edit(self.original or b"")
        if got is not None:
            return got
        raise RuntimeError(f"{self.option} {self.rel}: no noinstr function with its brace on a line of its own")

    def toggle_function_edit(self) -> None:
        """Each run the other of the two states (the edit made, the edit undone): each run
        rechecks a changed function against the result the last run stored."""
        self.edits += 1
        self.toggles += 1
        self.path.write_bytes(self.function_edit() if self.toggles % 2 else self.original)

    def write_patch(self, out: Path) -> None:
        """A one-file patch making :meth:`function_edit`, as ``git diff`` writes it."""
        import difflib

        new = self.function_edit()
        diff = difflib.unified_diff(self.original.decode("utf-8", "surrogateescape").splitlines(True),
                                    new.decode("utf-8", "surrogateescape").splitlines(True),
                                    f"a/{self.rel}", f"b/{self.rel}")
        out.write_text(f"diff --git a/{self.rel} b/{self.rel}\n" + "".join(diff), encoding="utf-8",
                       errors="surrogateescape")

    def restore(self) -> None:
        if self.original is not None and self.edits:
            self.path.write_bytes(self.original)
            os.utime(self.path, ns=(self.times.st_atime_ns, self.times.st_mtime_ns))


@dataclass
class Tool:
    name: str
    argv: list[str]
    ok_codes: tuple[int, ...] = (0,)
    check: Callable[[Path], str] | None = None  # reads the output: a note, or raises ValueError
    cwd: Path | None = None
    before: Callable[[], None] | None = None  # run before each timed run, untimed
    findings: list[str] = field(default_factory=list)  # the last run's findings (JSON lines)
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    error: str | None = None
    note: str = ""


def run_once(tool: Tool, timeout: float, stdout_path: Path) -> None:
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
        time_out = Path(tf.name)
    if tool.before is not None:
        tool.before()
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


def kannot_json(note: str, keep: list[str] | None = None) -> Callable[[Path], str]:
    def check(path: Path) -> str:
        data = json.loads(path.read_text())  # exit code 1 is findings, but also an uncaught exception
        if keep is not None:
            keep[:] = sorted(json.dumps(f, sort_keys=True) for f in data["findings"])
        return f"{note}, {len(data['findings'])} findings, {len(data['errors'])} file notes"
    return check


def why_json(path: Path) -> str:
    data = json.loads(path.read_text())
    return f"warm cache; {len(data['reached_from'])} protected contexts reach it"


def bare_json(path: Path) -> str:
    data = json.loads(path.read_text())
    return f"all cores, .c/.h only, {data['files_with_errors']} of {data['files']} files with a syntax error"


def git_copy(root: Path, rels: list[str], dest: Path, edited: EditedFile) -> str:
    """Make ``dest`` a git repository of ``rels`` (copies, with their times) in two commits, the
    second :meth:`EditedFile.function_edit`; a ``dest`` made so before is reused."""
    subject = "kannot bench: function edit"

    def git(*argv: str) -> str:
        return subprocess.run(["git", "-C", str(dest), "-c", "user.name=kannot bench", "-c",
                               "user.email=bench@localhost", *argv], check=True, capture_output=True,
                              text=True).stdout

    if (dest / ".git").is_dir():
        if git("log", "-1", "--format=%s").strip() != subject or git("status", "--porcelain"):
            raise RuntimeError(f"{dest}: a git repository, but not a clean copy made by this benchmark")
        return "reused"
    if dest.exists() and any(dest.iterdir()):
        raise RuntimeError(f"{dest}: exists and is not empty")
    t0 = time.monotonic()
    for rel in rels:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, dest / rel)
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "kannot bench: the tree")
    (dest / edited.rel).write_bytes(edited.function_edit())
    git("commit", "-qam", subject)
    return f"made in {time.monotonic() - t0:.0f}s"


def code_stamp() -> str:
    """Digest of kannot's sources: tells whether the code changed between runs."""
    import hashlib

    import kannot
    h = hashlib.sha256()
    for p in sorted(Path(kannot.__file__).parent.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def _secs(s: float) -> str:
    """Seconds, with two decimals under 10 s (the warm rows' goals are 1.5 s and 2 s)."""
    return f"{s:.2f}s" if s < 10 else f"{s:.1f}s"


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
                    help="also time kannot with a warm cache, after a one-file edit, and kannot why")
    ap.add_argument("--edit", default="arch/x86/kernel/traps.c", help="the file --warm edits (restored afterwards)")
    ap.add_argument("--edit-unrelated", default="fs/ext4/inode.c",
                    help="a file --warm edits that no check depends on (restored afterwards)")
    ap.add_argument("--why", default="rcu_is_watching", help="the function --warm asks kannot why about")
    ap.add_argument("--eager", action="store_true", help="also time kannot check --eager (every file parsed)")
    ap.add_argument("--only", metavar="ROWS",
                    help="time only these rows (comma-separated: " + ", ".join(ROWS) + "); the default is all")
    ap.add_argument("--git-copy", type=Path, metavar="DIR",
                    help="with --warm: also time --diff-base HEAD~1 in DIR, a git copy of the tree (made once)")
    args = ap.parse_args(argv)
    root = args.tree.resolve()
    only = None
    if args.only:
        only = [w.strip() for w in args.only.split(",") if w.strip()]
        unknown = [w for w in only if w not in ROWS]
        if unknown:
            print(f"bench: --only: unknown row(s) {', '.join(unknown)}; rows: {', '.join(ROWS)}", file=sys.stderr)
            return 2
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
    print(f"kannot code {stamp0}; tree {root.name}: {len(rels)} files ({len(c_rels)} .c/.h), {size / 1e6:.0f} MB, arch {args.arch or 'all'}, "
          f"{os.cpu_count()} cores, {args.runs} run(s) each", flush=True)
    if load0 > 0.5 * (os.cpu_count() or 1):
        print(f"warning: load average {load0:.1f} before starting: other processes share the cores, times are inflated",
              file=sys.stderr, flush=True)

    arch = ["--arch", args.arch] if args.arch else []
    cold_cache = tmp / "cold-cache"
    cold = Tool("kannot check (cold)", [sys.executable, "-m", "kannot", "check", "--root", str(root), "-q", "--format", "json",
                                        "--cache-dir", str(cold_cache), *arch], ok_codes=(0, 1),
                before=lambda: shutil.rmtree(cold_cache, ignore_errors=True))
    cold.check = kannot_json("all cores, empty cache", cold.findings)
    tools = [
        cold,
        Tool("ctags", ["ctags", "-f", str(tmp / "tags"), "--langmap=C:+.h", "-L", str(tmp / "all.txt")], cwd=root,
             note="1 core"),
        Tool("bare tree-sitter parse", [sys.executable, str(HERE / "bare_parse.py"), str(root), str(tmp / "c.txt")],
             check=bare_json),
    ]
    edited = EditedFile(root, args.edit, "--edit") if args.warm else None
    unrelated = EditedFile(root, args.edit_unrelated, "--edit-unrelated") if args.warm else None
    if args.eager:
        eager = Tool("kannot check --eager", [sys.executable, "-m", "kannot", "check", "--root", str(root), "-q", "--format",
                                               "json", "--no-cache", "--eager", *arch], ok_codes=(0, 1))
        eager.check = kannot_json("all cores, every file parsed, no cache", eager.findings)
        tools.insert(1, eager)
    if args.warm:
        warm_argv = [sys.executable, "-m", "kannot", "check", "--root", str(root), "-q", "--format", "json",
                     "--cache-dir", str(tmp / "cache"), *arch]
        warm_tool = Tool("kannot check (warm)", warm_argv, ok_codes=(0, 1))
        warm_tool.check = kannot_json("nothing changed", warm_tool.findings)
        edit_tool = Tool("kannot check (1 file edited)", warm_argv, ok_codes=(0, 1), before=edited.edit,
                         check=kannot_json(f"{args.edit} edited"))
        unrelated_tool = Tool("kannot check (unrelated edit)", warm_argv, ok_codes=(0, 1), before=unrelated.edit,
                              check=kannot_json(f"{args.edit_unrelated} edited"))
        body_tool = Tool("kannot check (function edited)", warm_argv, ok_codes=(0, 1), before=edited.toggle_function_edit,
                         check=kannot_json(f"dump_stack() in {args.edit}'s first noinstr function, added or removed"))
        patch = tmp / "one-file.patch"
        edited.write_patch(patch)
        patch_argv = warm_argv + ["--patch", str(patch)]
        patch_tool = Tool("kannot check --patch (warm)", patch_argv, ok_codes=(0, 1),
                          check=kannot_json(f"one-file patch: dump_stack() in {args.edit}"))
        why_tool = Tool(f"kannot why {args.why} (warm)", [sys.executable, "-m", "kannot", "why", args.why, "--root", str(root),
                        "-q", "--format", "json", "--cache-dir", str(tmp / "cache"), *arch], check=why_json)
        warm_rows = [warm_tool, edit_tool, unrelated_tool, body_tool, patch_tool, why_tool]
        primers: list[Tool] = []
        if args.git_copy is not None:
            copy = args.git_copy.resolve()
            git_argv = [sys.executable, "-m", "kannot", "check", "--root", str(copy), "-q", "--format", "json",
                        "--cache-dir", str(tmp / "git-cache"), *arch]
            diff_tool = Tool("kannot check --diff-base (warm)", git_argv + ["--diff-base", "HEAD~1"], ok_codes=(0, 1),
                             check=kannot_json(f"git copy, HEAD~1..HEAD: dump_stack() in {args.edit}"))
            warm_rows.insert(5, diff_tool)
            try:
                made = git_copy(root, rels, copy, edited)
                print(f"  git copy {copy.name}: {made}", flush=True)
                primers = [Tool("prime git copy", git_argv, ok_codes=(0, 1), check=kannot_json("")),
                           Tool("prime diff-base", diff_tool.argv, ok_codes=(0, 1), check=kannot_json(""))]
            except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                diff_tool.error = f"making the git copy failed: {exc}"
        tools[1:1] = warm_rows
        primer = Tool("prime", warm_argv, ok_codes=(0, 1), check=kannot_json(""))
        def wanted(key: str) -> bool:
            return only is None or key in only

        try:
            for extra in primers if wanted("diff-base") else []:
                run_once(extra, args.timeout, tmp / "prime-git.out")
                print(f"  {extra.name}: {extra.walls[0]:.1f}s (not counted)", flush=True)
            run_once(primer, args.timeout, tmp / "prime.out")
            said = f"  cache filled in {primer.walls[0]:.1f}s"
            if wanted("why"):
                primer2 = Tool("prime why", why_tool.argv, check=why_json)
                run_once(primer2, args.timeout, tmp / "prime-why.out")
                said += f", + {primer2.walls[0]:.1f}s for why"
            if wanted("patch"):
                primer3 = Tool("prime patch", patch_argv, ok_codes=(0, 1), check=kannot_json(""))
                run_once(primer3, args.timeout, tmp / "prime-patch.out")
                said += f", + {primer3.walls[0]:.1f}s for a patch's advisory rules"
            print(said + " (not counted)", flush=True)
        except (RuntimeError, OSError) as exc:
            for t in warm_rows:
                t.error = f"filling the cache failed: {exc}"
    if only is not None:
        tools = [t for t in tools if any(t.name.startswith(ROWS[k]) for k in only)]
    for tool in tools:
        for i in range(args.runs if tool.error is None else 0):
            out = tmp / f"{tool.name.split()[0]}.out"
            try:
                run_once(tool, args.timeout, out)
            except (RuntimeError, OSError) as exc:
                tool.error = str(exc)
                print(f"  {tool.name}: run {i + 1} failed: {exc}", file=sys.stderr, flush=True)
                break
            print(f"  {tool.name}: run {i + 1}: {_secs(tool.walls[-1])}, {tool.rss_kb[-1] / 1024:.0f} MB", flush=True)
        if tool.name in ("kannot check (1 file edited)", "kannot check (function edited)"):
            edited.restore()  # the user's tree as it was
        if tool.name == "kannot check (unrelated edit)":
            unrelated.restore()
    shutil.rmtree(tmp, ignore_errors=True)
    if code_stamp() != stamp0:
        print("warning: kannot's code changed while the benchmark ran: the kannot runs used different code",
              file=sys.stderr, flush=True)

    med = {t.name: statistics.median(t.walls) for t in tools if t.walls and t.error is None}
    print(f"\n{'tool':34} {'median wall':>12} {'median cpu':>11} {'peak RSS':>10}  notes")
    for t in tools:
        if t.error is not None:
            print(f"{t.name:34} {'FAILED':>12} {'':>11} {'':>10}  {t.error}")
            continue
        print(f"{t.name:34} {_secs(med[t.name]):>12} {_secs(statistics.median(t.cpus)):>11} {max(t.rss_kb) / 1024:8.0f}MB  {t.note}")
    print(f"load average (1 min) before: {load0:.1f}, after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for mine in [t.name for t in tools if t.name.startswith("kannot")]:
        for other in ("ctags", "bare tree-sitter parse"):
            if med.get(mine) and med.get(other):
                print(f"{mine} / {other}: {med[mine] / med[other]:.2f}x wall")
    compared = [t for t in tools if t.findings]
    if len(compared) > 1:
        same = all(t.findings == compared[0].findings for t in compared)
        print(f"findings identical across {', '.join(t.name for t in compared)}: {'yes' if same else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps({
            "tree": root.name, "arch": args.arch, "files": len(rels), "bytes": size, "cores": os.cpu_count(), "load_before": load0,
            "runs": args.runs,
            "tools": [{"name": t.name, "argv": t.argv, "walls": t.walls, "cpus": t.cpus, "rss_kb": t.rss_kb,
                       "error": t.error, "note": t.note} for t in tools],
        }, indent=1))
    return 1 if any(t.error for t in tools) else 0


if __name__ == "__main__":
    sys.exit(main())
