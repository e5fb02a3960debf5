"""Patch workflows: only the findings a change introduces, baselines, and the formats bots read.

``kannot check --diff-base REV``: the files that differ between REV and the work tree (``git diff
--name-status``, plus untracked files) are read at REV with ``git show``; the engine analyses the
work tree once and the REV state once, the latter through ``Options(overrides=..., removed=...)``,
so the work tree is never touched. A finding is new when its line-number-free fingerprint material
occurs more often in the work tree than at REV. A new finding in an unchanged file (a callee in
another file lost ``noinstr``) gets a note pointing at the changed line.

``kannot check --patch FILE|-``: the same, with the "after" state made in memory by applying a
unified diff or an mbox (``kannot.patch.apply``).

``--baseline FILE`` / ``--write-baseline FILE``: a sorted list of fingerprints (no line numbers) of
findings to keep quiet about.
"""
from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kannot.analysis.findings import Finding
from kannot.engine import Options, analyze, analyze_affected, build_index, check_index, close_index
from kannot.report.checkpatch import format_checkpatch
from kannot.report.concise import format_concise
from kannot.report.context import ReportContext
from kannot.report.github import format_github
from kannot.report.json import format_json
from kannot.report.sarif import format_sarif
from kannot.report.text import format_errors, format_text, nothing_read
from kannot.source.files import SKIP_DIRS, SOURCE_SUFFIXES, FileError, arch_allowed, read_source, scan_tree

if TYPE_CHECKING:
    from kannot.index.core import Index
    from kannot.patch.apply import Change

FORMATS = ["text", "json", "concise", "sarif", "github", "checkpatch"]
ADVISORY = ["nokprobe", "notrace"]  # on by default when only new findings are reported
EXIT_CLEAN, EXIT_FINDINGS, EXIT_FATAL = 0, 1, 2


class WorkflowError(ValueError):
    """A usage or input error of the patch workflows (the CLI prints it and exits 2)."""


# arguments ----------------------------------------------------------------------------------------

def add_check_arguments(c: argparse.ArgumentParser) -> None:
    g = c.add_argument_group("patch workflows")
    g.add_argument("--diff-base", metavar="REV", help="report only findings that are new compared to git revision REV")
    g.add_argument("--patch", metavar="FILE", help="apply a unified diff or mbox (FILE, or - for stdin) in memory and report what it introduces")
    g.add_argument("--baseline", type=Path, metavar="FILE", help="do not report findings whose fingerprint is listed in FILE")
    g.add_argument("--write-baseline", type=Path, metavar="FILE", help="write the fingerprints of all current findings to FILE")
    for fmt in FORMATS:
        g.add_argument(f"--output-{fmt}", type=Path, metavar="FILE", dest=f"output_{fmt}", help=f"also write the {fmt} report to FILE")
    g.add_argument("--terse", action="store_true", help="checkpatch format: one line per finding")
    g.add_argument("--mailback", action="store_true", help="checkpatch format: print nothing when there is nothing to report")


def wants(args) -> bool:
    """True when this run needs the patch-workflow path (else the CLI's plain path runs)."""
    if getattr(args, "format", "text") not in ("text", "json"):
        return True
    if any(getattr(args, f"output_{fmt}", None) for fmt in FORMATS):
        return True
    return any(getattr(args, a, None) for a in ("diff_base", "patch", "baseline", "write_baseline"))


# changes ------------------------------------------------------------------------------------------

def _git(root: Path, *argv: str, input: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(["git", "-C", str(root), *argv], input=input, capture_output=True, check=False)
    except FileNotFoundError:
        raise WorkflowError("--diff-base needs git, and git is not installed") from None
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise WorkflowError(f"git {' '.join(argv[:2])} failed: {msg[-1] if msg else 'exit ' + str(proc.returncode)}")
    return proc.stdout


def git_change(root: Path, rev: str) -> Change:
    """The source files that differ between REV and the work tree, with their contents on both sides."""
    top = Path(_git(root, "rev-parse", "--show-toplevel").decode().strip()).resolve()
    try:
        commit = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    except WorkflowError:
        commit = ""
    if not commit:
        if rev == "HEAD" and not _has_commits(root):
            commit = EMPTY_TREE  # the first commit of a repository: everything in it is new
        else:
            raise WorkflowError(f"--diff-base {rev}: no such commit in the git repository at {top}")
    try:
        prefix = root.resolve().relative_to(top).as_posix()
    except ValueError:
        raise WorkflowError(f"the root {root} is not inside the git work tree {top}") from None
    prefix = "" if prefix == "." else prefix + "/"

    status: dict[str, str] = {}
    out = _git(top, "diff", "--name-status", "--no-renames", "-z", commit, "--")
    items = out.split(b"\0")
    for kind, raw in zip(items[0::2], items[1::2]):
        if kind:
            status[raw.decode("utf-8", "surrogateescape")] = kind.decode()[:1]
    for raw in _git(top, "ls-files", "--others", "--exclude-standard", "-z").split(b"\0"):
        if raw:
            status.setdefault(raw.decode("utf-8", "surrogateescape"), "A")

    from kannot.patch.apply import Change

    change = Change()
    wanted: list[tuple[str, str]] = []  # (path from top, rel to root) read at REV
    for path, st in sorted(status.items()):
        if not path.endswith(SOURCE_SUFFIXES) or not path.startswith(prefix):
            continue
        rel = path[len(prefix):]
        if st != "A":
            wanted.append((path, rel))
        else:
            change.before[rel] = None
        data, _note = read_source(root, rel)
        change.after[rel] = data if (root / rel).exists() else None
    if wanted:
        blobs = _cat_files(top, [f"{commit}:{p}" for p, _ in wanted])
        for (path, rel), blob in zip(wanted, blobs):
            change.before[rel] = blob
    return change


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's well-known empty tree


def _has_commits(root: Path) -> bool:
    proc = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet", "HEAD"], capture_output=True)
    return proc.returncode == 0


def _cat_files(top: Path, specs: list[str]) -> list[bytes | None]:
    """``git cat-file --batch``: many blobs in one process."""
    out = _git(top, "cat-file", "--batch", input=("\n".join(specs) + "\n").encode("utf-8", "surrogateescape"))
    blobs: list[bytes | None] = []
    pos = 0
    for _ in specs:
        nl = out.index(b"\n", pos)
        header = out[pos:nl].split()
        pos = nl + 1
        if len(header) >= 2 and header[-1] == b"missing":
            blobs.append(None)
            continue
        size = int(header[2])
        blobs.append(out[pos:pos + size])
        pos += size + 1
    return blobs


def _listed(rel: str, arch: str | None) -> bool:
    """Would the engine read REL when walking the tree (the same skips as ``list_sources``)?"""
    parts = rel.split("/")
    if parts[0] in SKIP_DIRS and len(parts) > 1:
        return False
    if any(p.startswith(".") for p in parts[:-1]):
        return False
    return rel.endswith(SOURCE_SUFFIXES) and arch_allowed(rel, arch)


def _side(opts: Options, contents: dict[str, bytes | None]) -> Options:
    overrides = dict(opts.overrides)
    removed = set(opts.removed)
    for rel, data in contents.items():
        if not _listed(rel, opts.arch):
            continue
        if data is None:
            removed.add(rel)
            overrides.pop(rel, None)
        else:
            overrides[rel] = data
            removed.discard(rel)
    return replace(opts, overrides=overrides, removed=removed)


def _on_disk_dropped(opts: Options) -> Options:
    """``opts`` without the overrides that equal the file on disk (a side of a change lists
    every file of it; only those that differ from the disk make it another tree)."""
    same = set()
    for rel, data in opts.overrides.items():
        disk, _note = read_source(opts.root, rel)
        if disk is not None and disk == data:
            same.add(rel)
    if not same:
        return opts
    return replace(opts, overrides={r: d for r, d in opts.overrides.items() if r not in same})


class _CauseIndex:
    """The work side's index for :func:`add_causes`, built only if a new finding needs a cause
    (a finding on a changed line needs none): the stored results answered without one."""

    def __init__(self, opts: Options):
        self.opts = opts
        self.index: Index | None = None

    def defs_named(self, name: str):
        if self.index is None:
            self.index = build_index(self.opts, [])
        return self.index.defs_named(name)

    def close(self) -> None:
        if self.index is not None:
            close_index(self.index)


@dataclass
class LineChanges:
    """Per file: lines of the "after" contents that a change added or replaced, and deletion points."""
    changed: dict[str, set[int]] = field(default_factory=dict)
    deleted_at: dict[str, set[int]] = field(default_factory=dict)

    def touched(self, rel: str) -> set[int]:
        return self.changed.get(rel, set()) | self.deleted_at.get(rel, set())


def line_changes(change: Change) -> LineChanges:
    lc = LineChanges()
    for rel in change.source_files():
        a = (change.before.get(rel) or b"").split(b"\n")
        b_data = change.after.get(rel)
        if b_data is None:
            continue
        b = b_data.split(b"\n")
        sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
        changed: set[int] = set()
        deleted: set[int] = set()
        for tag, _i1, _i2, j1, j2 in sm.get_opcodes():
            if tag in ("replace", "insert"):
                changed.update(range(j1 + 1, j2 + 1))
            elif tag == "delete":
                deleted.add(min(j1 + 1, max(len(b), 1)))
        if change.before.get(rel) is None:
            changed = set(range(1, len(b) + 1))
        lc.changed[rel] = changed
        lc.deleted_at[rel] = deleted
    return lc


# new findings -------------------------------------------------------------------------------------

def new_findings(work: list[Finding], base: list[Finding], lc: LineChanges) -> list[Finding]:
    """Findings of WORK whose fingerprint material occurs more often than in BASE.

    When a material occurs more often (a second identical call added), the extra findings are the
    ones on changed lines, else the last ones.
    """
    base_count = Counter(f.fingerprint_material() for f in base)
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in work:
        groups[f.fingerprint_material()].append(f)
    out: list[Finding] = []
    for material, fs in groups.items():
        extra = len(fs) - base_count.get(material, 0)
        if extra <= 0:
            continue
        ranked = sorted(range(len(fs)), key=lambda i: (fs[i].line not in lc.changed.get(fs[i].file, ()), -i))
        out += [fs[i] for i in sorted(ranked[:extra])]
    out.sort(key=lambda f: (f.file, f.line, f.column, f.code, f.callee or "", f.message))
    return out


def add_causes(findings: list[Finding], index: Index | _CauseIndex, lc: LineChanges, read) -> None:
    """A note on each new finding whose own line did not change: the changed line that made it new."""
    for f in findings:
        f.baseline_state = "new"
        if f.line in lc.touched(f.file):
            continue
        cause = _cause(f, index, lc, read)
        if cause is not None:
            f.causes.append(cause)


def _cause(f: Finding, index: Index | _CauseIndex, lc: LineChanges, read) -> dict | None:
    spots: list[tuple[str, str]] = []  # (function, file) of what the chain goes through
    for link in f.chain[1:]:
        spots.append((link.function, link.file))
    for c in f.candidates:
        spots.append((c["function"], c["file"]))
    for name, rel in spots:
        touched = lc.touched(rel)
        if not touched:
            continue
        for d in index.defs_named(name):
            if d.path != rel:
                continue
            end = d.fact.end_line if d.fact is not None else d.line
            hit = sorted(n for n in touched if d.line - 3 <= n <= end)
            if hit:
                return {"file": rel, "line": hit[0],
                        "message": f"the change to '{name}' here makes this call new"}
        macro_lines = sorted(touched)
        return {"file": rel, "line": macro_lines[0], "message": f"'{name}' in {rel} changed; the first change is here"}
    if f.callee:  # a definition that was removed or renamed: a changed line naming the callee
        for rel in sorted(lc.changed):
            if rel == f.file:
                continue
            return_line = _line_naming(read(rel), f.callee, lc.touched(rel))
            if return_line is not None:
                return {"file": rel, "line": return_line, "message": f"a change to '{f.callee}' here makes this call new"}
    return None


def _line_naming(data: bytes | None, name: str, lines: set[int]) -> int | None:
    if data is None:
        return None
    text = data.split(b"\n")
    for n in sorted(lines):
        if 1 <= n <= len(text) and name.encode() in text[n - 1]:
            return n
    return None


# baselines ----------------------------------------------------------------------------------------

def read_baseline(path: Path) -> set[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkflowError(f"baseline {path} not found (create it with --write-baseline)") from None
    except OSError as exc:
        raise WorkflowError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    out = set()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.add(line.split()[0])
    return out


def write_baseline(path: Path, findings: list[Finding]) -> None:
    rows = {}
    for f in findings:
        what = f"{f.caller} -> {f.callee or f.detail}" if f.caller else (f.detail or "")
        rows[f.fingerprint] = f"{f.fingerprint}  # {f.code} {f.file}: {what}".rstrip()
    body = "".join(rows[k] + "\n" for k in sorted(rows))
    header = ("# kannot baseline: fingerprints of known findings (no line numbers), one per line, sorted.\n"
              "# Findings listed here are not reported; regenerate with `kannot check --write-baseline FILE`.\n")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(header + body, encoding="utf-8")
    os.replace(tmp, path)


# the command --------------------------------------------------------------------------------------

def _reader(root: Path, after: dict[str, bytes | None]):
    def read(rel: str) -> bytes | None:
        if rel in after:
            return after[rel]
        data, _note = read_source(root, rel)
        return data
    return read


def _render(fmt: str, findings: list[Finding], errors: list[FileError], ctx: ReportContext) -> str:
    if fmt == "json":
        return format_json(findings, errors)
    if fmt == "concise":
        return format_concise(findings, errors)
    if fmt == "sarif":
        return format_sarif(findings, errors, ctx)
    if fmt == "github":
        return format_github(findings, errors, ctx)
    if fmt == "checkpatch":
        return format_checkpatch(findings, errors, ctx)
    return format_text(findings, errors)


def cmd_check(args, opts: Options) -> int:
    quiet_stderr = args.quiet or args.format == "checkpatch"
    if args.format == "checkpatch":
        opts.progress = None
        opts.status = None
    if args.diff_base and args.patch:
        raise WorkflowError("--diff-base and --patch cannot be used together")
    if args.write_baseline and (args.diff_base or args.patch):
        raise WorkflowError("--write-baseline records the whole tree's findings; it cannot be combined with --diff-base or --patch")
    notes: list[str] = []
    change: Change | None = None
    if args.diff_base:
        change = git_change(opts.root, args.diff_base)
    elif args.patch:
        from kannot.patch.apply import PatchError, apply_patch

        data = sys.stdin.buffer.read() if args.patch == "-" else _read_patch_file(args.patch)
        try:
            change = apply_patch(opts.root, data)
        except PatchError as exc:
            raise WorkflowError(str(exc)) from None
        if change.reversed:
            notes.append("kannot: the patch is already applied to the tree; comparing the tree with the tree before it")

    after: dict[str, bytes | None] = {}
    lc = LineChanges()
    skipped = False
    findings: list[Finding]
    errors: list[FileError]
    all_findings: list[Finding]
    index: Index | _CauseIndex
    if change is not None and not any(_listed(r, opts.arch) and change.before.get(r) != change.after.get(r)
                                      for r in change.source_files()):
        # no C, header or assembly file differs: nothing can be new, and nothing is analysed
        findings, errors, all_findings, n_files, skipped = [], [], [], 1, True
        after = change.after
    elif change is not None:
        opts.select = list(opts.select or []) + ADVISORY
        opts.enabled_codes()
        work_opts = _on_disk_dropped(_side(opts, change.after))
        base_opts = _on_disk_dropped(_side(opts, change.before))
        if opts.cache_dir is not None and opts.lazy and not work_opts.removed and not base_opts.removed:
            # Both sides from the stored result of the tree on disk (kannot.store.memo): the side that
            # is the disk (the base of --patch, the work tree of --diff-base) first, so that the
            # record exists; the other side's changed files are edits of it, and only the
            # functions they can reach are checked again (engine.recheck).
            walk_errors: list[FileError] = []
            walked = (dict(scan_tree(opts.root, opts.arch, walk_errors)), walk_errors)
            work_opts, base_opts = replace(work_opts, walked=walked), replace(base_opts, walked=walked)
            sides = sorted([work_opts, base_opts], key=lambda o: bool(o.overrides))
            # the quick way: only the functions the change can affect, on both sides, from the
            # stored result of the disk's tree (a baseline's stale entries need every finding)
            quick = analyze_affected(sides[1]) if not sides[0].overrides and not args.baseline else None
            if quick is not None:
                # (analyze_affected gives both states' findings and errors)
                assert quick.disk_findings is not None and quick.disk_errors is not None
                work, base = ((quick.findings, quick.disk_findings) if sides[1] is work_opts
                              else (quick.disk_findings, quick.findings))
                errors = quick.errors if sides[1] is work_opts else quick.disk_errors
                n_files = quick.files_readable
            else:
                if sides[0].overrides:  # neither side is the disk (a partly staged file): its record first
                    analyze(replace(work_opts, overrides={}))
                results = {id(o): analyze(o) for o in sides}
                work_result, base_result = results[id(work_opts)], results[id(base_opts)]
                work, base, errors = work_result.findings, base_result.findings, work_result.errors
                n_files = work_result.files_readable
            index = _CauseIndex(work_opts)
        else:
            errors = []
            index = build_index(work_opts, errors)
            try:
                work = check_index(index, work_opts, errors)
            finally:
                close_index(index)
            # A finding's fingerprint material names its file, so only files with findings in the
            # work tree can hold matching findings at the base: the base side checks just those.
            base = []
            finding_files = sorted({f.file for f in work})
            if finding_files:
                base_opts.paths = finding_files
                base_errors: list[FileError] = []
                base_index = build_index(base_opts, base_errors)
                try:
                    base = check_index(base_index, base_opts, base_errors)
                finally:
                    close_index(base_index)
                del base_index  # two whole-tree indexes need not live at once
            catalog = index.catalog
            n_files = len(catalog.files) - len(catalog.unreadable) if catalog is not None else len(index.files)
        lc = line_changes(change)
        findings = new_findings(work, base, lc)
        try:
            add_causes(findings, index, lc, _reader(opts.root, change.after))
        finally:
            if isinstance(index, _CauseIndex):
                index.close()
        after = change.after
        all_findings = work
    else:
        result = analyze(opts)
        findings, errors = result.findings, result.errors
        all_findings = findings
        n_files = result.files_readable
    errors.sort(key=lambda e: (e.file, e.message))

    if args.baseline:
        known = read_baseline(args.baseline)
        current = {f.fingerprint for f in all_findings}
        stale = [] if skipped else sorted(known - current)
        findings = [f for f in findings if f.fingerprint not in known]
        if stale and not args.write_baseline:
            notes.append(f"kannot: baseline {args.baseline}: {len(stale)} stale entr{'y' if len(stale) == 1 else 'ies'} "
                         f"no longer found ({', '.join(stale[:5])}{', ...' if len(stale) > 5 else ''}); "
                         f"--write-baseline {args.baseline} drops them")
    if args.write_baseline:
        old = set()
        if args.write_baseline.exists():
            try:
                old = read_baseline(args.write_baseline)
            except WorkflowError:
                old = set()
        write_baseline(args.write_baseline, all_findings)
        current = {f.fingerprint for f in all_findings}
        dropped = len(old - current)
        notes.append(f"kannot: wrote {len(current)} fingerprint(s) to {args.write_baseline}"
                     + (f", dropped {dropped} stale" if dropped else ""))
        findings = []

    ctx = ReportContext(root=opts.root, read=_reader(opts.root, after), diff_mode=change is not None or bool(args.baseline),
                        terse=args.terse, mailback=args.mailback, rules=opts.config.rules)
    if change is not None and args.patch:
        ctx.patch_lines = change.patch_lines
        ctx.lines_checked = change.lines
    else:
        ctx.lines_checked = sum(len(lc.touched(r)) for r in lc.changed) if change is not None else None
    for fmt in FORMATS:
        target = getattr(args, f"output_{fmt}", None)
        if target is not None:
            try:
                Path(target).write_text(_render(fmt, findings, errors, ctx), encoding="utf-8")
            except OSError as exc:
                raise WorkflowError(f"cannot write {target}: {exc.strerror or exc}") from None
    if opts.status is not None:
        opts.status.close()
    sys.stdout.write(_render(args.format, findings, errors, ctx))
    sys.stdout.flush()
    if not quiet_stderr:
        for n in getattr(opts, "notices", None) or []:  # the facts cache's one-line notices
            print(f"kannot: {n}", file=sys.stderr)
        if args.format in ("text", "concise", "github"):
            sys.stderr.write(format_errors(errors, findings, getattr(args, "show_errors", False)))
        for n in notes:
            print(n, file=sys.stderr)
    if not n_files:

        print(f"kannot: error: {nothing_read(errors)}", file=sys.stderr)
        return EXIT_FATAL
    return EXIT_FINDINGS if findings else EXIT_CLEAN


def _read_patch_file(name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise WorkflowError(f"cannot read patch {name}: {exc.strerror or exc}") from None
