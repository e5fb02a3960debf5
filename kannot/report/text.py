"""gcc-style text: `file:line:col: warning: message [CODE]`, then `note:` lines for the chain."""
from __future__ import annotations

from ..findings import Finding
from ..rules import ALL_RULES
from ..sources import FileError


def format_finding(f: Finding) -> str:
    level = "error" if ALL_RULES[f.code].severity == "error" else "warning"
    lines = [f"{f.file}:{f.line}:{f.column}: {level}: {f.message} [{f.code}]"]
    for link in f.chain[1:]:
        if link.kind == "callee":
            continue
        what = "macro" if link.kind == "macro" else "always-inline function"
        lines.append(f"{link.file}:{link.line}: note: called through {what} '{link.function}'")
    for c in f.candidates:
        if len(f.candidates) > 1 or c["class"] != "noinstr":
            lines.append(f"{c['file']}:{c['line']}: note: '{c['function']}' is defined here ({_class_words(c['class'])})")
    for cause in f.causes:
        lines.append(f"{cause['file']}:{cause['line']}: note: {cause['message']}")
    return "\n".join(lines)


def _class_words(cls: str) -> str:
    return {"none": "not noinstr, traceable", "inline": "plain inline"}.get(cls, cls)


def format_text(findings: list[Finding], errors: list[FileError], summary: bool = True) -> str:
    out = [format_finding(f) for f in findings]
    if summary and findings:
        counts: dict[str, int] = {}
        for f in findings:
            counts[f.code] = counts.get(f.code, 0) + 1
        per = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
        out.append(f"kannot: {len(findings)} finding(s) ({per}); `kannot explain CODE` says why and how to fix")
    return "\n".join(out) + ("\n" if out else "")


def format_errors(errors: list[FileError]) -> str:
    return "".join(f"{e.file}: kannot: {e.message}\n" for e in errors)
