"""GitHub Actions workflow commands: one annotation per finding.

    ::error file=kernel/entry/common.c,line=12,endLine=12,col=2,endColumn=20,title=KN001 noinstr-call::message

Escaping follows the runner's rules (actions/toolkit ``command.ts``): in the message ``%``, CR and LF
become ``%25``, ``%0D``, ``%0A``; in property values ``:`` and ``,`` also become ``%3A`` and ``%2C``.
GitHub shows at most 10 annotations of each kind (error, warning, notice) per step: past that the
findings are printed as plain log lines, and a notice says how many were left out.
"""
from __future__ import annotations

import os
from pathlib import Path

from kannot.analysis.findings import Finding
from kannot.rules import rule_of
from kannot.source.files import FileError
from kannot.report.context import ReportContext, plain_notes
from kannot.report.text import format_finding

MAX_PER_KIND = 10


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _level(f: Finding) -> str:
    return "error" if rule_of(f.code).severity == "error" else "warning"


def _prefix(ctx: ReportContext) -> str:
    """Annotations name files relative to the repository; the kernel root may be a folder in it."""
    ws = os.environ.get("GITHUB_WORKSPACE")
    if not ws or ctx.root is None:
        return ""
    try:
        rel = Path(ctx.root).resolve().relative_to(Path(ws).resolve()).as_posix()
    except ValueError:
        return ""
    return "" if rel in ("", ".") else rel + "/"


def _message(f: Finding) -> str:
    lines = [f.message, *plain_notes(f)]
    lines.append(f"`kannot explain {f.code}` says why and how to fix it")
    return "\n".join(lines)


def format_github(findings: list[Finding], errors: list[FileError], ctx: ReportContext) -> str:
    prefix = _prefix(ctx)
    shown: dict[str, int] = {}
    left_out: dict[str, int] = {}
    out: list[str] = []
    for f in findings:
        kind = _level(f)
        if shown.get(kind, 0) >= MAX_PER_KIND:
            left_out[kind] = left_out.get(kind, 0) + 1
            out.append(format_finding(f))
            continue
        shown[kind] = shown.get(kind, 0) + 1
        props = [f"file={escape_property(prefix + f.file)}", f"line={f.line}"]
        if f.end_line >= f.line:
            props.append(f"endLine={f.end_line}")
        props.append(f"col={f.column}")
        if f.end_line == f.line and f.end_column > f.column:
            props.append(f"endColumn={f.end_column}")
        props.append(f"title={escape_property(f'{f.code} {rule_of(f.code).name}')}")
        out.append(f"::{kind} {','.join(props)}::{escape_data(_message(f))}")
    if left_out:
        per = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in sorted(left_out.items()))
        total = sum(left_out.values())
        out.append(f"::notice title=kannot::{escape_data(f'{total} more finding(s) not annotated ({per}): GitHub shows {MAX_PER_KIND} annotations of each kind per step. They are listed in the log above; SARIF upload shows them all.')}")
    return "".join(line + "\n" for line in out)
