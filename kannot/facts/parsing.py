"""tree-sitter set-up: one parser per process, and the parse under a per-file deadline.

Facts are found by walking the tree (kannot.facts.extract), not by tree-sitter queries: a walk of
the file-scope containers visits a small part of the nodes a query cursor would, keeps the
order of definitions and #if nesting that conditions need, and is the one description of the
shapes kannot reads (docs/design.md, "Why a walk and not queries")."""
from __future__ import annotations

from functools import lru_cache

import tree_sitter
import tree_sitter_c

from kannot.source import limits

C_LANGUAGE = tree_sitter.Language(tree_sitter_c.language())


@lru_cache(maxsize=None)
def parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(C_LANGUAGE)


_CHUNK = 1 << 20  # big reads: with small ones the progress callback costs a third of the parse


def parse(src: bytes) -> tree_sitter.Tree:
    """Parse ``src``; under a per-file deadline (``kannot.source.limits``) the parse is cancelled when
    the time is up and :class:`kannot.source.limits.FileTimeLimit` is raised."""
    if not limits.has_deadline():
        return parser().parse(src)
    p = parser()

    def read(offset: int, _point) -> bytes:
        return src[offset : offset + _CHUNK]

    try:
        # py-tree-sitter calls progress_callback only when the text comes from a callable
        with limits.timer_blocked():
            return p.parse(read, progress_callback=lambda _offset, _has_error: limits.deadline_passed())
    except ValueError:
        p.reset()  # a halted parse would otherwise be resumed by the next call
        if limits.deadline_passed():
            raise limits.FileTimeLimit("parse", limits.deadline_seconds()) from None
        raise
