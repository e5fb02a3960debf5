"""Check kannot against objtool's view of a built kernel (the oracle in ../shared/oracle).

    python bench/oracle_check.py --tree ~/linux \\
        --oracle ../shared/oracle/linux-6.12-x86_64/noinstr-edges.tsv --arch x86 [--json out.json]

The index is built once through the Python API, then:

coverage
    For every oracle row whose caller kannot has a C definition for, is the callee among
    ``callees_of(caller)`` (by name, or as a function/macro on the chain of one of kannot's leaves,
    since an always-inline helper may be out-of-lined in the build)? ``static_call`` rows match a
    kannot static_call leaf naming the same key. Counted apart, not against coverage: callers
    kannot cannot read (assembly, or no C definition), compiler-invented callees, and indirect /
    pv_ops rows (compared with kannot's indirect leaves instead). Callees defined only in assembly
    (called from inline asm) and static calls count like any other: kannot must list them.
    Strict coverage counts what kannot's callee map lists, the calls inside helpers gcc may
    inline (entries with ``inlined_from``) included: the map is meant to hold every call a build
    may emit; how many rows only those entries cover is printed too. A miss is then looked for
    by this script's own search under static / header / same-file helpers (MISS2): a hint,
    never counted.
false alarms
    Judged under the oracle's own configuration (its ``config`` beside the edges, ``--config``
    and ``--only-built``, as objtool built it): objtool reported nothing on this build, so every oracle row is a call it accepted. A
    noinstr-family finding on an oracle (caller, callee) pair is a false positive: on a .text /
    .spinlock.text / .sched.text callee kannot missed the instrumentation region; on a noinstr
    section callee kannot misjudged the callee's class. Other noinstr-family findings on x86 code
    are listed by caller for triage.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import kannot
from kannot.rules import classes as C
from kannot.source import files as sources
from kannot.callees import callees_of
from kannot.engine import Options, build_index, check_index
from kannot.index.core import Index
from kannot.build.dotconfig import KernelConfig
from kannot.rules import ALL_RULES
from kannot.source.files import FileError

TEXT_SECTIONS = frozenset({".text", ".spinlock.text", ".sched.text"})
INDIRECT_KINDS = frozenset({"indirect", "pv_ops"})
COMPILER_NAMES = re.compile(r"__stack_chk_fail|__x86_\w+|__sanitizer_\w+|__tsan_\w+|__asan_\w+|__ubsan_\w+"
                            r"|_?_?(memcpy|memset|memmove)")
NOINSTR_CODES = frozenset(c for c, r in ALL_RULES.items() if r.family == "noinstr")
# "(typeof(*(p)) *)(p)": a cast that kannot's IR reads as a call through a pointer
HINT_DEPTH = 3  # how many inlined calls deep a missed callee is looked for
CAST_LIKE = re.compile(r"\(\s*(typeof|__typeof__|__typeof)\b.*|.*\*\s*\)?\s*$", re.S)


@dataclass(frozen=True)
class Row:
    caller: str
    callee: str
    section: str
    kind: str


@dataclass
class RowResult:
    caller: str
    callee: str
    section: str
    kind: str
    status: str  # covered | via_inlined | missed | compiler | indirect_seen | indirect_missed
    note: str = ""


def load_oracle(path: Path) -> list[Row]:
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) != 4 or parts[0] == "caller":
            continue
        rows.append(Row(*parts))
    return rows


def c_defs(index: Index, name: str) -> list:
    return [d for d in index.defs_named(name) if d.asm_section is None]


def leaf_names(callees: list[dict]) -> set[str]:
    """Every function or macro a leaf of kannot's callee map names or passes through."""
    out: set[str] = set()
    for c in callees:
        if c["callee"]:
            out.add(c["callee"])
        out.update(link["function"] for link in c["chain"][1:])
        out.update(d["function"] for d in c["candidates"])  # __get_user_{1,2,4,8}: one call, four
    return out


def static_call_keys(callees: list[dict]) -> set[str]:
    keys: set[str] = set()
    for c in callees:
        if c["kind"] == "static_call":
            keys.update(re.findall(r"\w+", c["text"]))
    return keys


def judge_row(index: Index, row: Row, every: list[dict], ctx: "Ctx") -> RowResult:
    res = RowResult(row.caller, row.callee, row.section, row.kind, "missed")
    callees = strict(every)
    names = leaf_names(callees)
    if row.kind in INDIRECT_KINDS:
        icalls = sorted({c["text"] for c in callees if c["kind"] == "icall" and not CAST_LIKE.fullmatch(c["text"])})
        res.status = "indirect_seen" if icalls else "indirect_missed"
        res.note = "; ".join(icalls[:4])
        return res
    if row.kind == "static_call":
        key = row.callee.removeprefix("__SCT__")
        if key in static_call_keys(callees) or key in names:
            res.status = "covered"
        else:
            res.note = "static call (kannot lists no static_call leaf for it)"
        return res_with_hint(index, res, every, ctx)
    if COMPILER_NAMES.fullmatch(row.callee):
        res.status = "compiler"
        res.note = "kannot sees it too" if row.callee in names else ""
    elif row.callee in names:
        res.status = "covered"
    elif index.defs_named(row.callee) and not c_defs(index, row.callee):
        res.note = "defined only in assembly: called from inline asm"
    return res_with_hint(index, res, every, ctx)


@dataclass
class Ctx:
    cache: dict[str, list[dict]]

    def callees(self, index: Index, name: str) -> list[dict]:
        got = self.cache.get(name)
        if got is None:
            got = self.cache[name] = callees_of(index, name)
        return got


def strict(callees: list[dict]) -> list[dict]:
    """kannot's own callee map (what this script found by itself is never in it)."""
    return callees


def direct(callees: list[dict]) -> list[dict]:
    """The map without the calls inside helpers gcc may inline."""
    return [c for c in callees if not c.get("inlined_from")]


def res_with_hint(index: Index, res: RowResult, every: list[dict], ctx: Ctx) -> RowResult:
    """For a miss: is the callee further down, under functions gcc may inline (static, header, same file)?

    By this script's own search (HINT_DEPTH deep): a hint for the reader, not counted."""
    if res.status == "covered":
        d = direct(every)
        target = res.callee.removeprefix("__SCT__")
        if not (target in leaf_names(d) or target in static_call_keys(d)):
            hit = next(c for c in every if target in leaf_names([c]) or target in static_call_keys([c]))
            res.note = f"listed inside {' -> '.join(hit['inlined_from'])}(), which gcc may inline"
    if res.status != "missed":
        return res
    target = res.callee.removeprefix("__SCT__")
    callees = strict(every)
    if not index.defs_named(res.callee) and not res.callee.startswith("__SCT__"):
        res.note = "no definition in the indexed tree"
    files = {d.path for d in c_defs(index, res.caller)}
    todo: list[tuple[list[dict], tuple[str, ...]]] = [(callees, ())]
    seen: set[str] = set()
    while todo:
        cur, path = todo.pop(0)
        for c in cur:
            name = c["callee"]
            if c["kind"] != "call" or not name or name in seen or not inlinable(index, name, files):
                continue
            seen.add(name)
            sub = strict(ctx.callees(index, name))
            if target in leaf_names(sub) or target in static_call_keys(sub):
                res.status = "via_inlined"
                res.note = f"under {' -> '.join(path + (name,))}(), which gcc inlined; kannot keeps it as a call"
                return res
            if len(path) + 1 < HINT_DEPTH:
                todo.append((sub, path + (name,)))
    return res


def inlinable(index: Index, name: str, files: set[str]) -> bool:
    """gcc can inline it (no LTO): static, defined in a header, or in the caller's own file."""
    defs = c_defs(index, name)
    return bool(defs) and all((d.static or d.is_header or d.path in files) and C.NOINLINE not in d.classes
                              and C.NOINSTR not in d.classes for d in defs)


def kannot_commit() -> str:
    repo = Path(kannot.__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "kannot"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + (" (kannot/ modified)" if dirty else "")


def finding_names(f) -> set[str]:
    return {f.callee or ""} | {link.function for link in f.chain[1:]}


def x86_code(path: str) -> bool:
    return path.startswith("arch/x86/") or not path.startswith("arch/")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, required=True)
    ap.add_argument("--oracle", type=Path, required=True)
    ap.add_argument("--arch", default="x86")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--cache-dir", type=Path, help="kannot facts cache to use (default: none, parse everything)")
    args = ap.parse_args(argv)
    if not args.tree.is_dir() or not args.oracle.is_file():
        print("oracle_check: --tree must be a directory and --oracle a file", file=sys.stderr)
        return 2
    rows = load_oracle(args.oracle)
    opts = Options(root=args.tree.resolve(), arch=args.arch, cache_dir=args.cache_dir)
    errors: list[FileError] = []
    if args.arch and not any(r.startswith(f"arch/{args.arch}/") for r in sources.list_sources(opts.root, args.arch, [])):
        # kannot before 1da458a pruned all of arch/ under --arch: every number would be meaningless
        print(f"oracle_check: kannot lists no arch/{args.arch}/ file for --arch {args.arch}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    index = build_index(opts, errors)
    t_index = time.monotonic() - t0

    # coverage ---------------------------------------------------------------------------------
    by_caller: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_caller[r.caller].append(r)
    results: list[RowResult] = []
    unreadable: dict[str, str] = {}
    ctx = Ctx({})
    t0 = time.monotonic()
    for caller in sorted(by_caller):
        if not c_defs(index, caller):
            unreadable[caller] = "assembly" if index.defs_named(caller) else "no definition"
            continue
        callees = ctx.callees(index, caller)
        results += [judge_row(index, r, callees, ctx) for r in by_caller[caller]]
    t_cov = time.monotonic() - t0
    status = Counter(r.status for r in results)
    denom = status["covered"] + status["via_inlined"] + status["missed"]
    via_helpers = sum(1 for r in results if r.status == "covered" and r.note.startswith("listed inside"))
    pct = lambda n: round(100.0 * n / denom, 1) if denom else 0.0  # noqa: E731

    print(f"== coverage: oracle callees found in kannot's callee maps ({args.arch}) ==")
    for r in results:
        if r.status in ("missed", "via_inlined"):
            tag = {"missed": "MISS ", "via_inlined": "MISS2"}[r.status]
            print(f"{tag} {r.caller} -> {r.callee}  [{r.section} {r.kind}]" + (f"  ({r.note})" if r.note else ""))
    for r in results:
        if r.status in ("compiler", "indirect_missed", "indirect_seen"):
            print(f"APART {r.status:15} {r.caller} -> {r.callee}" + (f"  ({r.note})" if r.note else ""))
    for what in sorted(set(unreadable.values())):
        names = sorted(c for c, w in unreadable.items() if w == what)
        print(f"callers not read, {what} ({len(names)}): " + " ".join(names))

    # false alarms -----------------------------------------------------------------------------
    t0 = time.monotonic()
    every_config = check_index(index, Options(root=opts.root, arch=args.arch), errors)
    per_code = Counter(f.code for f in every_config)
    config = args.oracle.parent / "config"
    if config.is_file():  # the configuration objtool checked
        copts = Options(root=opts.root, arch=args.arch, cache_dir=args.cache_dir,
                        kconfig=KernelConfig.load(config), only_built=True)
        cindex = build_index(copts, [])
        findings = check_index(cindex, copts, [])
    else:
        findings = every_config
    t_check = time.monotonic() - t0
    noinstr = [f for f in findings if f.code in NOINSTR_CODES]
    pairs: dict[tuple[str, str], Row] = {(r.caller, r.callee): r for r in rows}
    indirect_callers = {r.caller for r in rows if r.kind in INDIRECT_KINDS}
    oracle_callers = set(by_caller)
    fps: list[dict] = []
    triage: dict[str, list] = defaultdict(list)
    for f in noinstr:
        hit = next((pairs[(f.caller, n)] for n in finding_names(f) if (f.caller, n) in pairs), None)
        if f.code == "KN003" and hit is None and f.caller in indirect_callers:
            hit = next(r for r in rows if r.caller == f.caller and r.kind in INDIRECT_KINDS)
        if hit is not None:
            why = "missed region" if hit.section in TEXT_SECTIONS or hit.kind in INDIRECT_KINDS else "callee class misjudged"
            fps.append({"code": f.code, "file": f.file, "line": f.line, "caller": f.caller, "callee": f.callee or f.detail,
                        "oracle_callee": hit.callee, "section": hit.section, "why": why, "message": f.message})
        elif x86_code(f.file):
            triage[f.caller].append(f)

    print(f"\n== false positives: findings on calls objtool accepted ({len(fps)}) ==")
    for p in fps:
        print(f"FP  {p['code']} {p['file']}:{p['line']} {p['caller']} -> {p['callee']}  [oracle {p['oracle_callee']} {p['section']}: {p['why']}]")
    print(f"\n== findings per code (--arch {args.arch}, every configuration, default codes) ==")
    for code, n in sorted(per_code.items()):
        print(f"{code}  {n:6d}  {ALL_RULES[code].name}")
    n_triage = sum(len(v) for v in triage.values())
    print(f"\n== noinstr-family findings not in the oracle, by caller ({n_triage} in {len(triage)} callers; * = caller is in the oracle, i.e. built) ==")
    for caller in sorted(triage, key=lambda c: (c not in oracle_callers, c)):
        fs = triage[caller]
        print(f"{'*' if caller in oracle_callers else ' '} {caller}  ({fs[0].file})")
        for f in fs:
            print(f"    {f.code} :{f.line} {f.callee or f.detail}{_via(f)}")

    summary = {
        "kannot": kannot_commit(), "tree": opts.root.name, "arch": args.arch, "oracle": args.oracle.name,
        "files_indexed": len(index.files),
        "file_errors": dict(Counter(re.split(r"[(:;]", e.message)[0].strip() for e in errors).most_common()),
        "seconds": {"index": round(t_index, 1), "coverage": round(t_cov, 1), "check": round(t_check, 1)},
        "oracle_rows": len(rows), "oracle_callers": len(by_caller),
        "callers_not_read": len(unreadable),
        "rows_of_read_callers": len(results),
        "coverage_rows": denom, "covered": status["covered"], "missed": status["missed"],
        "covered_only_inside_inlinable_helpers": via_helpers, "found_by_bench_search": status["via_inlined"],
        "coverage_percent": pct(status["covered"]),
        "coverage_percent_without_inlinable_helpers": pct(status["covered"] - via_helpers),
        "coverage_percent_incl_bench_search": pct(status["covered"] + status["via_inlined"]),
        "apart": {k: status[k] for k in ("compiler", "indirect_seen", "indirect_missed")},
        "findings_per_code": dict(sorted(per_code.items())),
        "findings_per_code_in_oracle_config": dict(sorted(Counter(f.code for f in findings).items())),
        "kn003_on_cast_like_text": sum(1 for f in findings if f.code == "KN003" and CAST_LIKE.fullmatch(f.detail)),
        "false_positives": len(fps),
        "false_positives_on_text": sum(1 for p in fps if p["why"] == "missed region"),
        "triage_findings": n_triage, "triage_callers": len(triage),
        "triage_findings_in_oracle_callers": sum(len(v) for c, v in triage.items() if c in oracle_callers),
        "triage_in_oracle_callers_by_code": dict(sorted(Counter(f.code for c, v in triage.items() if c in oracle_callers for f in v).items())),
        "triage_top_callees": dict(Counter(f.callee or f.code for v in triage.values() for f in v).most_common(8)),
    }
    print("\n== summary ==")
    for k, v in summary.items():
        print(f"{k:44} {v}")
    if args.json:
        args.json.write_text(json.dumps({
            "summary": summary,
            "rows": [asdict(r) for r in results],
            "callers_not_read": unreadable,
            "false_positives": fps,
            "triage": {c: [f.to_json() for f in fs] for c, fs in sorted(triage.items())},
        }, indent=1))
    return 0


def _via(f) -> str:
    mids = [link.function for link in f.chain[1:] if link.kind in ("always_inline", "macro")]
    return f"  via {' -> '.join(mids)}" if mids else ""


if __name__ == "__main__":
    sys.exit(main())
