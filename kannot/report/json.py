"""The stable JSON interface: {"version": 1, "findings": [...], "errors": [...]}."""
from __future__ import annotations

import json

from ..findings import Finding
from ..sources import FileError


def format_json(findings: list[Finding], errors: list[FileError]) -> str:
    doc = {"version": 1, "findings": [f.to_json() for f in findings], "errors": [e.to_json() for e in errors]}
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
