"""What a report needs besides the findings: where the sources are and which run produced them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kannot.analysis.findings import Finding
from kannot.rules.classes import class_words
from kannot.rules import DEFAULT_RULES, RuleSet
from kannot.source.files import read_source

Reader = Callable[[str], "bytes | None"]


@dataclass
class ReportContext:
    root: Path | None = None
    # the contents kannot analysed (a --patch run reads patched files from memory, not the disk)
    read: Reader | None = None
    diff_mode: bool = False  # --diff-base/--patch/--baseline: the findings are the new ones
    terse: bool = False  # checkpatch --terse
    mailback: bool = False  # checkpatch --mailback: nothing at all when clean
    # --patch: (file, line in the patched file) -> line number in the patch, for checkpatch's "#N:"
    patch_lines: dict[tuple[str, int], int] = field(default_factory=dict)
    lines_checked: int | None = None  # checkpatch's summary: lines of the patch (or of the files reported)
    rules: RuleSet = DEFAULT_RULES  # the check's rules (SARIF lists them, a tree's own families' too)
    _cache: dict = field(default_factory=dict, repr=False)

    def source(self, rel: str) -> bytes | None:
        if rel in self._cache:
            return self._cache[rel]
        data = None
        if self.read is not None:
            data = self.read(rel)
        elif self.root is not None:
            data, _note = read_source(self.root, rel)
        self._cache[rel] = data
        return data

    def line_text(self, rel: str, line: int) -> str | None:
        """Line LINE (1-based) of REL without its line ending, or None."""
        data = self.source(rel)
        if data is None or line < 1:
            return None
        lines = data.split(b"\n")
        if line > len(lines):
            return None
        return lines[line - 1].rstrip(b"\r").decode("utf-8", "replace")


def plain_notes(f: Finding) -> list[str]:
    """The notes of a finding for formats without a place per note (checkpatch, GitHub): the
    callee's definitions when they say more than the message, a witness, what made it new."""
    out = [f"'{c['function']}' is defined at {c['file']}:{c['line']} ({class_words(c['class'])})"
           for c in f.candidates if len(f.candidates) > 1 or c["class"] != "noinstr"]
    if f.witness:
        out.append(f"for example with {' '.join(f.witness)}")
    out += [f"{cause['file']}:{cause['line']}: {cause['message']}" for cause in f.causes]
    return out
