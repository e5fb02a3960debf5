"""gcc-style text: `file:line:col: warning: message [CODE]`, then `note:` lines for the chain."""
from __future__ import annotations

from kannot.rules.classes import class_words
from kannot.analysis.findings import Finding
from kannot.rules import rule_of
from kannot.source.files import FileError


def format_finding(f: Finding) -> str:
    level = "error" if rule_of(f.code).severity == "error" else "warning"
    lines = [f"{f.file}:{f.line}:{f.column}: {level}: {f.message} [{f.code}]"]
    for link in f.chain[1:]:
        if link.kind == "callee":
            continue
        what = "macro" if link.kind == "macro" else "always-inline function"
        lines.append(f"{link.file}:{link.line}: note: called through {what} '{link.function}'")
    for c in f.candidates:
        if len(f.candidates) > 1 or c["class"] != "noinstr":
            lines.append(f"{c['file']}:{c['line']}: note: '{c['function']}' is defined here ({class_words(c['class'])})")
    for n in f.notes:
        if n.kind != "defined":  # (the candidates say that)
            lines.append(f"{f.file}:{f.line}: note: {n.render()}")
    if f.witness:
        lines.append(f"{f.file}:{f.line}: note: for example with {' '.join(f.witness)}" + _arch_words(f))
    for cause in f.causes:
        lines.append(f"{cause['file']}:{cause['line']}: note: {cause['message']}")
    return "\n".join(lines)


def _arch_words(f: Finding) -> str:
    return f" (ARCH={','.join(f.arches)})" if f.arches else ""




MAX_GROUPS_SHOWN = 10
MAX_ERRORS_OF_A_KIND = 3  # more file problems of one kind are counted, not listed


def format_text(findings: list[Finding], errors: list[FileError], summary: bool = True) -> str:
    out = [format_finding(f) for f in findings]
    if summary and findings:
        out.extend(summary_lines(findings))
    return "\n".join(out) + ("\n" if out else "")


def summary_lines(findings: list[Finding]) -> list[str]:
    """The counts per code, then the root causes many findings share, largest first."""
    counts: dict[str, int] = {}
    groups: dict[str, int] = {}
    for f in findings:
        counts[f.code] = counts.get(f.code, 0) + 1
        if f.group:
            groups[f.group] = groups.get(f.group, 0) + 1
    shared = sorted(((n, g) for g, n in groups.items() if n > 1), key=lambda x: (-x[0], x[1]))
    out = []
    if shared:
        out.append("kannot: findings sharing a root cause (the callee's definition and the condition of the call):")
        for n, g in shared[:MAX_GROUPS_SHOWN]:
            out.append(f"  {n:5}  {g}")
        if len(shared) > MAX_GROUPS_SHOWN:
            out.append(f"  ...and {len(shared) - MAX_GROUPS_SHOWN} more groups (JSON: each finding's 'group')")
    per = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
    out.append(f"kannot: {len(findings)} finding(s) ({per}); `kannot explain CODE` says why and how to fix")
    return out


def format_errors(errors: list[FileError], findings: list[Finding] | None = None, show_all: bool = False) -> str:
    """File problems for stderr. ``show_all`` (``--show-errors``): one line each. Else the files
    that could not be read or were skipped (those the findings pass through, and up to three of a
    kind), then one line counting the rest by kind (a whole tree has a thousand partly parsed
    files: listing them drowned the findings)."""
    if show_all or findings is None:
        return "".join(f"{e.file}: kannot: {e.message}\n" for e in errors)
    touched = {f.file for f in findings} | {l.file for f in findings for l in f.chain}
    per_kind: dict[str, int] = {}
    for e in errors:
        per_kind[error_kind(e.message)] = per_kind.get(error_kind(e.message), 0) + 1
    # a kind with few files (a symlink loop, NUL bytes, the one file a check read) is said file by
    # file; unreadable or skipped files also when a finding is in them; partly parsed files are
    # otherwise only counted: the kernel's macros make a thousand, fifty of them in the files of
    # any whole-tree run's findings, and the functions outside the damage were checked
    def listed(e: FileError) -> bool:
        kind = error_kind(e.message)
        return per_kind[kind] <= MAX_ERRORS_OF_A_KIND or (kind != "could not fully parse" and e.file in touched)

    shown = [e for e in errors if listed(e)]
    rest = [e for e in errors if not listed(e)]
    out = "".join(f"{e.file}: kannot: {e.message}\n" for e in shown)
    if rest:
        kinds: dict[str, int] = {}
        for e in rest:
            kind = error_kind(e.message)
            kinds[kind] = kinds.get(kind, 0) + 1
        per = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda x: (-x[1], x[0])))
        files = len({e.file for e in rest})
        out += (f"kannot: {files} more file(s) not fully read ({per}); the functions kannot could read were "
                "checked; --show-errors lists them (JSON lists every one)\n")
    return out


def error_kind(message: str) -> str:
    """The kind of a file problem: its message up to the first detail."""
    for i, ch in enumerate(message):
        if ch in "(:;,":
            return message[:i].strip()
    return message.strip()


def nothing_read(errors: list[FileError]) -> str:
    """Exit 2's message when no file gave facts: none found, or none readable (said which)."""
    bad = sorted({e.file for e in errors})
    if not bad:
        return "no C files found under the root"
    return f"none of the source files under the root could be read ({len(bad)} listed in errors)"
