"""One line per finding: `file:line:col: CODE message` (for editors' quickfix lists and grep)."""
from __future__ import annotations

from kannot.analysis.findings import Finding
from kannot.source.files import FileError


def format_concise(findings: list[Finding], errors: list[FileError]) -> str:
    out = [f"{f.file}:{f.line}:{f.column}: {f.code} {_one_line(f.message)}" for f in findings]
    return "".join(line + "\n" for line in out)


def _one_line(text: str) -> str:
    return " ".join(text.split())
