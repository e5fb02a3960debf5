"""The kernel's checkpatch.pl style, for b4 and patch bots that already parse it.

    ERROR:NOINSTR_CALL: noinstr function 'f' calls instrumentable 'g()' ... [KN001]
    #42: FILE: kernel/entry/common.c:12:
    +	g();

``--terse``: ``FILE:LINE: ERROR:TYPE: message`` one per line. ``--mailback``: nothing at all when
there is nothing to report. Errors of kannot's own (unreadable files) never go to stderr in this
format: b4 counts every stderr line of a check command as a failure.
"""
from __future__ import annotations

from kannot.analysis.findings import Finding
from kannot.rules import rule_of
from kannot.source.files import FileError
from kannot.report.context import ReportContext, plain_notes


def checkpatch_type(code: str) -> str:
    return rule_of(code).name.upper().replace("-", "_")




def _level(code: str) -> str:
    return "ERROR" if rule_of(code).severity == "error" else "WARNING"


def format_checkpatch(findings: list[Finding], errors: list[FileError], ctx: ReportContext) -> str:
    if not findings and ctx.mailback:
        return ""
    out: list[str] = []
    n_err = sum(1 for f in findings if _level(f.code) == "ERROR")
    n_warn = len(findings) - n_err
    for f in findings:
        head = f"{_level(f.code)}:{checkpatch_type(f.code)}: {' '.join(f.message.split())} [{f.code}]"
        if ctx.terse:
            out.append(f"{f.file}:{f.line}: {head}")
            continue
        out.append(head)
        n = ctx.patch_lines.get((f.file, f.line), f.line)
        out.append(f"#{n}: FILE: {f.file}:{f.line}:")
        text = ctx.line_text(f.file, f.line)
        if text is not None:
            # '+' for a line the patch adds (and for every line outside --patch, as checkpatch -f shows
            # files); ' ' for an unchanged line whose call the patch made new (a callee changed)
            added = not ctx.patch_lines or (f.file, f.line) in ctx.patch_lines
            out.append(("+" if added else " ") + text)
        out += [f"NOTE: {note}" for note in plain_notes(f)]
        out.append("")
    if not ctx.terse:
        checked = ctx.lines_checked if ctx.lines_checked is not None else 0
        out.append(f"total: {n_err} errors, {n_warn} warnings, 0 checks, {checked} lines checked")
        if not findings:
            out.append("")
            out.append("kannot: no new unprotected calls." if ctx.diff_mode else
                       "kannot: no unprotected calls out of noinstr, notrace or NOKPROBE functions.")
    return "".join(line + "\n" for line in out)
