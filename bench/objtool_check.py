#!/usr/bin/env python3
"""objtool in the loop: build a witness configuration for real and compare objtool's noinstr
warnings on vmlinux.o with the functions kannot flags for that .config.

    python3 bench/objtool_check.py --tree ~/linux --work /tmp/ot-branch \
        --option CONFIG_PROFILE_ANNOTATED_BRANCHES=y [--option ...] [--jobs 2] \
        [--out bench/results/objtool-branch-profiling.txt]

Steps (in --work, never in the tree): x86_64_defconfig, then CONFIG_DEBUG_ENTRY=y (objtool's
noinstr validation) and the options, `make olddefconfig`, `make -j vmlinux` (12-18 minutes on
2 cores), then `kannot check --config WORK/.config --only-built`. Every function objtool warns
about must be flagged by kannot; the other flagged functions are listed for explanation.
Needs gcc, flex, bison, bc, libelf-dev and libssl-dev.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

# vmlinux.o: warning: objtool: exc_nmi+0x52: call to foo() leaves .noinstr.text section
WARNING_RE = re.compile(r"vmlinux\.o: warning: objtool: ([A-Za-z_][\w.]*)\+0x[0-9a-f]+: (.*)")


def kannot_cmd() -> list[str]:
    exe = shutil.which("kannot")
    return [exe] if exe else [sys.executable, "-m", "kannot"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--option", action="append", default=[], help="CONFIG_X=y (repeatable): the witness")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", type=Path, help="kannot's cache folder (default: WORK/cache)")
    ap.add_argument("--skip-build", action="store_true", help="reuse WORK's build log")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    tree = args.tree.expanduser().resolve()
    work = args.work.resolve()
    build = work / "build"
    build.mkdir(parents=True, exist_ok=True)
    make = ["make", "-s", "-C", str(tree), f"O={build}", "ARCH=x86_64"]
    log = work / "build.log"
    t0 = time.time()
    if not args.skip_build:
        subprocess.run(make + ["x86_64_defconfig"], check=True, capture_output=True)
        dot = build / ".config"
        dot.write_text(dot.read_text() + "\n".join(["CONFIG_DEBUG_ENTRY=y", *args.option]) + "\n")
        subprocess.run(make + ["olddefconfig"], check=True, capture_output=True)
        with open(log, "w") as out:
            done = subprocess.run(["make", "-C", str(tree), f"O={build}", "ARCH=x86_64", f"-j{args.jobs}", "vmlinux"],
                                  stdout=out, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            sys.exit(f"the build failed: see {log}")
    build_time = time.time() - t0
    timing = work / "build-seconds"
    if args.skip_build and timing.exists():
        build_time = float(timing.read_text())
    else:
        timing.write_text(f"{build_time:.0f}\n")
    values = {}
    for line in (build / ".config").read_text().splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            k, _, v = line.partition("=")
            values[k] = v
    kept = [o for o in args.option if values.get(o.partition("=")[0], "n") == o.partition("=")[2]]
    warnings: dict[str, list[str]] = {}
    for line in log.read_text(errors="replace").splitlines():
        m = WARNING_RE.search(line)
        if m:
            func = re.sub(r"\.(isra|constprop|part|cold|lto_priv)\.\d+$|\.cold$", "", m.group(1))
            warnings.setdefault(func, []).append(m.group(2))
    cache = args.cache or work / "cache"
    t1 = time.time()
    got = subprocess.run(kannot_cmd() + ["check", "--root", str(tree), "--config", str(build / ".config"),
                                         "--only-built", "--format", "json", "-q", "--cache-dir", str(cache)],
                         capture_output=True, text=True)
    check_time = time.time() - t1
    findings = json.loads(got.stdout)["findings"]
    flagged: dict[str, list[dict]] = {}
    for f in findings:
        if f["code"] in ("KN001", "KN002", "KN003", "KN004", "KN005", "KN006"):
            flagged.setdefault(f["caller"], []).append(f)
    missed = sorted(set(warnings) - set(flagged))
    others = sorted(set(flagged) - set(warnings))
    lines = [
        f"# objtool in the loop: x86_64_defconfig + CONFIG_DEBUG_ENTRY=y + {' '.join(args.option) or '(nothing)'}",
        f"tree: {tree.name}; build {build_time:.0f} s (make -j{args.jobs} vmlinux); kannot --config --only-built {check_time:.0f} s",
        f"witness options kept by olddefconfig: {len(kept)}/{len(args.option)}",
        f"functions objtool warns about: {len(warnings)}; flagged by kannot: {len(flagged)} ({len(findings)} findings)",
        f"objtool's functions kannot flags: {len(set(warnings) & set(flagged))}/{len(warnings)}; missed: {', '.join(missed) or 'none'}",
        "",
        "## objtool's warnings",
        *[f"- {fn}: {'; '.join(sorted(set(ws)))}" for fn, ws in sorted(warnings.items())],
        "",
        "## flagged by kannot, no objtool warning (each to be explained)",
    ]
    for fn in others:
        for f in flagged[fn]:
            lines.append(f"- {f['code']} {f['file']}:{f['line']} {fn} -> {f['callee'] or f['message'][:60]}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
