"""tree-sitter set-up: one parser per process, queries loaded from the repo's queries/*.scm."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import tree_sitter
import tree_sitter_c

from . import limits

C_LANGUAGE = tree_sitter.Language(tree_sitter_c.language())


@lru_cache(maxsize=None)
def parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(C_LANGUAGE)


@lru_cache(maxsize=None)
def query(name: str) -> tree_sitter.Query:
    text = resources.files("kannot.queries").joinpath(f"{name}.scm").read_text()
    return tree_sitter.Query(C_LANGUAGE, text)


def captures(name: str, node: tree_sitter.Node) -> dict[str, list[tree_sitter.Node]]:
    return tree_sitter.QueryCursor(query(name)).captures(node)


_CHUNK = 1 << 20  # big reads: with small ones the progress callback costs a third of the parse


def parse(src: bytes) -> tree_sitter.Tree:
    """Parse ``src``; under a per-file deadline (``kannot.limits``) the parse is cancelled when
    the time is up and :class:`kannot.limits.FileTimeLimit` is raised."""
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


def matches(name: str, node: tree_sitter.Node) -> list[dict[str, list[tree_sitter.Node]]]:
    """Per-match captures, when several captures of one pattern must stay together."""
    return [caps for _i, caps in tree_sitter.QueryCursor(query(name)).matches(node)]
