"""The stable JSON interface: {"version": 1, "findings": [...], "errors": [...]}."""
from __future__ import annotations

import json

from ..findings import Finding
from ..sources import FileError

_EMPTY_ERRORS = '  "errors": []\n}'


def format_json(findings: list[Finding], errors: list[FileError]) -> str:
    doc = {"version": 1, "findings": [f.to_json() for f in findings], "errors": []}
    text = json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False)
    if errors:
        # what json.dumps(indent=2) writes for the error list, made directly: a whole tree has
        # thousands of reading notes, and the indenting encoder is pure Python (0.2 s on 6.12)
        string = json.encoder.encode_basestring
        items = ",\n".join(f'    {{\n      "file": {string(e.file)},\n      "message": {string(e.message)}\n    }}'
                           for e in errors)
        text = text[: -len(_EMPTY_ERRORS)] + f'  "errors": [\n{items}\n  ]\n}}'
    return text + "\n"
