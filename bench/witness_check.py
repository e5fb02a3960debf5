#!/usr/bin/env python3
"""Check kannot's witnesses with the kernel's own Kconfig tool.

For findings sampled at random from a whole-tree run, merge each finding's witness into the
arch's defconfig, let ``make olddefconfig`` (scripts/kconfig/conf) settle every other option,
and check that

1. every witness option kept its value (the witness is a configuration Kconfig accepts), and
2. ``kannot check --config`` of the resulting .config still reports the finding.

Usage:
    python3 bench/witness_check.py --tree ~/linux --arch x86 --sample 50 --work /tmp/wc-x86 \
        [--findings kannot.json] [--seed 1] [--out bench/results/witness-check-x86.txt]

Needs make, gcc, flex and bison (to build scripts/kconfig/conf). Nothing is written in the tree:
the configurations live in --work (``make O=DIR``).
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

# ARCH=x86 (not x86_64): the 64-bit prompt is visible, so 32-bit witnesses can be merged too
MAKE_ARCH = {"x86": "x86", "arm64": "arm64"}
DEFCONFIG = {"x86": "x86_64_defconfig", "arm64": "defconfig"}


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def kannot_cmd() -> list[str]:
    exe = shutil.which("kannot")
    return [exe] if exe else [sys.executable, "-m", "kannot"]


def whole_run(tree: Path, arch: str, cache: Path) -> list[dict]:
    got = run(kannot_cmd() + ["check", "--root", str(tree), "--arch", arch, "--format", "json", "-q",
                              "--cache-dir", str(cache)])
    if got.returncode not in (0, 1):
        sys.exit(f"kannot failed: {got.stderr[-2000:]}")
    return json.loads(got.stdout)["findings"]


def read_config(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            k, _, v = line.partition("=")
            out[k] = v
    return out


def merged(base: str, witness: list[str]) -> str:
    """``base`` (.config text) with the witness's options replacing their lines."""
    values = {}
    for w in witness:
        if w.startswith("CONFIG_") and "=" in w:
            k, _, v = w.partition("=")
            values[k] = v
    lines = []
    for line in base.splitlines():
        key = line.split("=", 1)[0] if line.startswith("CONFIG_") else (
            line[2:].split(" ", 1)[0] if line.startswith("# CONFIG_") else None)
        if key in values:
            continue
        lines.append(line)
    for k, v in values.items():
        lines.append(f"# {k} is not set" if v == "n" else f"{k}={v}")
    return "\n".join(lines) + "\n"


def same(f: dict, g: dict) -> bool:
    return (f["code"], f["file"], f["caller"], f["callee"] or "", f["line"]) == \
           (g["code"], g["file"], g["caller"], g["callee"] or "", g["line"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", type=Path, required=True)
    ap.add_argument("--arch", default="x86", choices=sorted(MAKE_ARCH))
    ap.add_argument("--sample", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, required=True, help="scratch folder (make O=...)")
    ap.add_argument("--findings", type=Path, help="a kannot JSON report of the whole tree (default: run kannot)")
    ap.add_argument("--cache", type=Path, help="kannot's cache folder (default: WORK/cache)")
    ap.add_argument("--out", type=Path, help="write the report here too")
    args = ap.parse_args()
    tree = args.tree.expanduser().resolve()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    cache = args.cache or work / "cache"
    findings = json.loads(args.findings.read_text())["findings"] if args.findings else whole_run(tree, args.arch, cache)
    rng = random.Random(args.seed)
    sample = rng.sample(findings, min(args.sample, len(findings)))
    make = ["make", "-s", "-C", str(tree), f"O={work / 'build'}", f"ARCH={MAKE_ARCH[args.arch]}"]
    got = run(make + [DEFCONFIG[args.arch]])
    if got.returncode != 0:
        sys.exit(f"make defconfig failed: {got.stderr[-2000:]}")
    dot = work / "build" / ".config"
    base = dot.read_text()
    report: list[str] = []
    ok_values = ok_found = 0
    t0 = time.time()
    for i, f in enumerate(sample, 1):
        dot.write_text(merged(base, f["witness"]))
        got = run(make + ["olddefconfig"])
        if got.returncode != 0:
            report.append(f"{i:3} ERROR olddefconfig: {got.stderr[-300:]}")
            continue
        values = read_config(dot)
        lost = []
        for w in f["witness"]:
            if not w.startswith("CONFIG_"):
                continue
            k, _, v = w.partition("=")
            have = values.get(k, "n")
            if have != v:
                lost.append(f"{k}={v} became {have}")
        cfg = work / f"config-{i}"
        shutil.copy(dot, cfg)
        got = run(kannot_cmd() + ["check", "--root", str(tree), "--config", str(cfg), "--format", "json", "-q",
                                  "--cache-dir", str(cache), f["file"]])
        try:
            again = json.loads(got.stdout)["findings"] if got.returncode in (0, 1) else None
        except json.JSONDecodeError:
            again = None
        found = again is not None and any(same(f, g) for g in again)
        ok_values += not lost
        ok_found += found
        what = f"{f['code']} {f['file']}:{f['line']} {f['caller']} -> {f['callee'] or f['message'][:40]}"
        status = ("kept" if not lost else "LOST " + ", ".join(lost)) + "; " + ("reported" if found else "NOT REPORTED")
        report.append(f"{i:3} {what}\n      witness: {' '.join(f['witness']) or '(none)'}\n      {status}")
        print(report[-1], flush=True)
    head = [
        f"# witness check, {args.arch}, {len(sample)} of {len(findings)} findings (seed {args.seed})",
        f"tree: {tree.name}; base: make {DEFCONFIG[args.arch]}; each witness merged, then make olddefconfig",
        f"witness values kept: {ok_values}/{len(sample)}",
        f"finding reported by kannot check --config of the result: {ok_found}/{len(sample)}",
        f"time: {time.time() - t0:.0f} s",
        "",
    ]
    text = "\n".join(head + report) + "\n"
    print("\n".join(head))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0 if ok_values == ok_found == len(sample) else 1


if __name__ == "__main__":
    sys.exit(main())
