"""SARIF 2.1.0, as GitHub code scanning and other SARIF viewers read it.

- ``rules[]`` from ``kannot.rules`` (id, name, short and full description, help text and markdown).
- One result per finding: the call site as the location, the callee's definition(s) as
  ``relatedLocations``, the call chain through always-inline helpers and macros as a ``codeFlow``.
- URIs are relative to ``%SRCROOT%`` (the kernel tree given with ``--root``).
- ``partialFingerprints.primaryLocationLineHash`` is computed exactly as GitHub's upload action
  (codeql-action ``src/fingerprints.ts``) computes it, so uploads from kannot and from the action
  agree; ``kannot/v1`` carries kannot's own line-number-free fingerprint.
- In diff mode (``--diff-base``, ``--patch``, ``--baseline``) every result has ``baselineState``.
- File errors become ``toolExecutionNotifications``.
"""
from __future__ import annotations

import json

from kannot.rules.classes import class_words
from kannot import __version__
from kannot.analysis.findings import Finding
from kannot.rules import rule_of
from kannot.source.files import FileError
from kannot.report.context import ReportContext

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
# where a SARIF viewer sends a reader to learn about the tool: the package's page (change it when the
# project has a home page of its own)
INFORMATION_URI = "https://pypi.org/project/kannot/"

# codeql-action's rolling hash ---------------------------------------------------------------------
_BLOCK_SIZE = 100
_MOD = 37
_MASK = (1 << 64) - 1  # JavaScript Long arithmetic wraps at 64 bits
_FIRST_MOD = pow(_MOD, _BLOCK_SIZE, 1 << 64)
_TAB, _SPACE, _LF, _CR, _EOF = 9, 32, 10, 13, 65535


def line_hashes(text: str) -> dict[int, str]:
    """``{line: "hash:n"}`` for every line of TEXT, as codeql-action's ``hash()`` reports them.

    A rolling hash over the next 100 characters from each line start, spaces and tabs skipped,
    CR, LF and CRLF all read as LF, the file end read as the character 65535 and padded with NULs;
    ``n`` counts earlier lines with the same hash. Characters are UTF-16 code units, as in
    JavaScript's ``charCodeAt``.
    """
    window = [0] * _BLOCK_SIZE
    line_numbers = [-1] * _BLOCK_SIZE
    out: dict[int, str] = {}
    counts: dict[str, int] = {}
    h = 0
    index = 0
    line_number = 0
    line_start = True
    prev_cr = False

    def emit() -> None:
        value = format(h, "x")
        counts[value] = counts.get(value, 0) + 1
        out[line_numbers[index]] = f"{value}:{counts[value]}"
        line_numbers[index] = -1

    def update(current: int) -> None:
        nonlocal h, index
        begin = window[index]
        window[index] = current
        h = (_MOD * h + current - _FIRST_MOD * begin) & _MASK
        index = (index + 1) % _BLOCK_SIZE

    def process(current: int) -> None:
        nonlocal prev_cr, line_start, line_number
        if current == _SPACE or current == _TAB or (prev_cr and current == _LF):
            prev_cr = False
            return
        if current == _CR:
            current = _LF
            prev_cr = True
        else:
            prev_cr = False
        if line_numbers[index] != -1:
            emit()
        if line_start:
            line_start = False
            line_number += 1
            line_numbers[index] = line_number
        if current == _LF:
            line_start = True
        update(current)

    units = text.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(units), 2):
        process(units[i] | (units[i + 1] << 8))
    process(_EOF)
    for _ in range(_BLOCK_SIZE):
        if line_numbers[index] != -1:
            emit()
        update(0)
    return out


def file_line_hashes(data: bytes) -> dict[int, str]:
    # codeql-action reads the file as UTF-8 (invalid bytes become U+FFFD)
    return line_hashes(data.decode("utf-8", "replace"))


# the log -------------------------------------------------------------------------------------------

def _rule_descriptor(code: str) -> dict:
    r = rule_of(code)
    fix = r.fix.strip()
    rationale = " ".join(r.rationale.split())
    help_text = (f"{r.summary}\n\nWhy it matters:\n{r.rationale.strip()}\n\nHow to fix it:\n{fix}\n\n"
                 f"Suppress one occurrence with /* kannot: allow {code} <reason> */ on the call's line or the "
                 f"line above, or with an [[allow]] entry in .kannot.toml.")
    help_md = (f"{r.summary}\n\n**Why it matters.** {rationale}\n\n**How to fix it.**\n\n{fix}\n\n"
               f"Suppress one occurrence with `/* kannot: allow {code} <reason> */` on the call's line or the "
               f"line above, or with an `[[allow]]` entry in `.kannot.toml`.")
    return {
        "id": code,
        "name": _pascal(r.name),
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": rationale},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": _level(code), "enabled": r.default_enabled},
        "properties": {"tags": [r.family, r.name], "precision": "high", "problem.severity": _level(code)},
    }


def _pascal(slug: str) -> str:
    return "".join(part.capitalize() for part in slug.split("-"))


def _level(code: str) -> str:
    return "error" if rule_of(code).severity == "error" else "warning"


def _utf16_column(ctx: ReportContext, rel: str, line: int, byte_col: int) -> int:
    """kannot's columns count bytes; SARIF's (columnKind utf16CodeUnits) count UTF-16 code units."""
    data = ctx.source(rel)
    if data is None:
        return byte_col
    lines = data.split(b"\n")
    if not 1 <= line <= len(lines):
        return byte_col
    prefix = lines[line - 1][: max(byte_col - 1, 0)].decode("utf-8", "replace")
    return len(prefix.encode("utf-16-le", "surrogatepass")) // 2 + 1


def _physical(ctx: ReportContext, rel: str, line: int, col: int | None = None,
              end_line: int | None = None, end_col: int | None = None) -> dict:
    region: dict = {"startLine": max(line, 1)}
    if col is not None and col >= 1:
        region["startColumn"] = _utf16_column(ctx, rel, line, col)
        if end_line is not None and end_col is not None and (end_line, end_col) > (line, col):
            region["endLine"] = end_line
            region["endColumn"] = _utf16_column(ctx, rel, end_line, end_col)
    return {"artifactLocation": {"uri": _uri(rel), "uriBaseId": SRCROOT}, "region": region}


def _uri(rel: str) -> str:
    from urllib.parse import quote
    return quote(rel, safe="/-_.~")




def _result(f: Finding, ctx: ReportContext, rule_index: dict[str, int], hashes: dict[str, dict[int, str]]) -> dict:
    related: list[dict] = []
    link_texts = []
    for c in f.candidates:
        if len(f.candidates) > 1 or c["class"] != "noinstr":
            rid = len(related) + 1
            related.append({
                "id": rid,
                "physicalLocation": _physical(ctx, c["file"], c["line"]),
                "message": {"text": f"'{c['function']}' is defined here ({class_words(c['class'])})"},
            })
            link_texts.append(f"[{c['function']}]({rid})")
    for cause in getattr(f, "causes", None) or []:
        rid = len(related) + 1
        related.append({"id": rid, "physicalLocation": _physical(ctx, cause["file"], cause["line"]),
                        "message": {"text": cause["message"]}})
        link_texts.append(f"[changed here]({rid})")
    message = f.message
    if link_texts:
        message += " (see " + ", ".join(link_texts) + ")"
    res: dict = {
        "ruleId": f.code,
        "ruleIndex": rule_index[f.code],
        "level": _level(f.code),
        "message": {"text": message},
        "locations": [{"physicalLocation": _physical(ctx, f.file, f.line, f.column, f.end_line, f.end_column)}],
    }
    if related:
        res["relatedLocations"] = related
    flow = _code_flow(f, ctx)
    if flow is not None:
        res["codeFlows"] = [flow]
    fp = {"kannot/v1": f.fingerprint}
    if f.file not in hashes:
        data = ctx.source(f.file)
        hashes[f.file] = file_line_hashes(data) if data is not None else {}
    lh = hashes[f.file].get(f.line)
    if lh is not None:
        fp["primaryLocationLineHash"] = lh
    res["partialFingerprints"] = fp
    if ctx.diff_mode:
        res["baselineState"] = getattr(f, "baseline_state", None) or "new"
    props: dict = {"caller": f.caller}
    if f.callee:
        props["callee"] = f.callee
    if f.conditions:
        props["conditions"] = list(f.conditions)
    if f.witness:
        props["witness"] = list(f.witness)
    if f.group:
        props["group"] = f.group
    if f.arches:
        props["arches"] = list(f.arches)
    res["properties"] = props
    return res


def _code_flow(f: Finding, ctx: ReportContext) -> dict | None:
    if len(f.chain) < 2:
        return None
    locs = []
    for i, link in enumerate(f.chain):
        if i == 0:
            phys = _physical(ctx, f.file, f.line, f.column, f.end_line, f.end_column)
            text = f"'{link.function}' makes the call"
        elif link.kind == "callee":
            phys = _physical(ctx, link.file, link.line)
            text = f"'{link.function}' is defined here"
        else:
            phys = _physical(ctx, link.file, link.line)
            what = "macro" if link.kind == "macro" else "always-inline function"
            text = f"called through {what} '{link.function}'"
        if not link.file:
            continue
        locs.append({"location": {"physicalLocation": phys, "message": {"text": text}}})
    if len(locs) < 2:
        return None
    return {"message": {"text": f"how '{f.caller}' reaches the call"}, "threadFlows": [{"locations": locs}]}


def sarif_log(findings: list[Finding], errors: list[FileError], ctx: ReportContext) -> dict:
    """The log; ``ctx.rules``: the check's rules (a tree's own families add theirs to the driver's)."""
    codes = sorted(set(ctx.rules.rules) | {f.code for f in findings})
    rule_index = {c: i for i, c in enumerate(codes)}
    hashes: dict[str, dict[int, str]] = {}
    # notifications for the files with results (a whole tree has a thousand partly parsed
    # files: listing them all made a one-result log 2 MB), and one counting the others
    touched = {f.file for f in findings} | {l.file for f in findings for l in f.chain}
    kept = [e for e in errors if e.file and e.file in touched]
    others = [e for e in errors if e.file and e.file not in touched]
    notifications = [
        {"level": "warning", "message": {"text": e.message},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e.file), "uriBaseId": SRCROOT}}}]}
        for e in kept
    ]
    if others:
        notifications.append({"level": "note", "message": {"text": (
            f"{len({e.file for e in others})} other file(s) were not fully read (the functions kannot could "
            "read were checked); the JSON report lists them")}})
    run: dict = {
        "tool": {"driver": {
            "name": "kannot",
            "version": __version__,
            "semanticVersion": __version__,
            "informationUri": INFORMATION_URI,
            "rules": [_rule_descriptor(c) for c in codes],
        }},
        "invocations": [{
            "executionSuccessful": True,
            "toolExecutionNotifications": notifications,
        }],
        "columnKind": "utf16CodeUnits",
        "results": [_result(f, ctx, rule_index, hashes) for f in findings],
    }
    if ctx.root is not None:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": ctx.root.resolve().as_uri() + "/"}}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def format_sarif(findings: list[Finding], errors: list[FileError], ctx: ReportContext) -> str:
    return json.dumps(sarif_log(findings, errors, ctx), indent=2, ensure_ascii=False) + "\n"
