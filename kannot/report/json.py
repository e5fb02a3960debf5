"""The stable JSON interface: {"version": 1, "findings": [...], "errors": [...]}."""
from __future__ import annotations

import json

from kannot.analysis.findings import Finding
from kannot.source.files import FileError

_string = json.encoder.encode_basestring  # (the C one, as json.dumps uses with ensure_ascii=False)


def format_json(findings: list[Finding], errors: list[FileError]) -> str:
    doc = {"version": 1, "findings": [f.to_json() for f in findings], "errors": [e.to_json() for e in errors]}
    return indented_json(doc) + "\n"


def indented_json(value) -> str:
    """Exactly what ``json.dumps(value, indent=2, ensure_ascii=False)`` writes for the plain
    values a report holds (dicts with string keys, lists, strings, ints, bools, None), made
    without its pure-Python indenting encoder: the JSON of a kernel tree's check (hundreds of
    findings with their chains, thousands of reading notes) took it 0.1-0.2 s, a tenth of a
    warm recheck. Anything else is left to json.dumps."""
    out: list[str] = []
    try:
        _put(value, "\n", out)
    except _Unusual:
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(out)


class _Unusual(Exception):
    """A value :func:`_put` does not write (a float, a key that is no string...)."""


def _put(value, newline: str, out: list[str]) -> None:
    """``value`` at the indentation ``newline`` ends with."""
    if isinstance(value, str):
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif type(value) is int:
        out.append(int.__repr__(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        sep = "{" + inner
        for k, v in value.items():
            if not isinstance(k, str):
                raise _Unusual
            out.append(sep + _string(k) + ": ")
            _put(v, inner, out)
            sep = "," + inner
        out.append(newline + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        sep = "[" + inner
        for v in value:
            out.append(sep)
            _put(v, inner, out)
            sep = "," + inner
        out.append(newline + "]")
    else:
        raise _Unusual
