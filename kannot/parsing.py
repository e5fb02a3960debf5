"""tree-sitter set-up: one parser per process, queries loaded from the repo's queries/*.scm."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import tree_sitter
import tree_sitter_c

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


def parse(src: bytes) -> tree_sitter.Tree:
    return parser().parse(src)


def matches(name: str, node: tree_sitter.Node) -> list[dict[str, list[tree_sitter.Node]]]:
    """Per-match captures, when several captures of one pattern must stay together."""
    return [caps for _i, caps in tree_sitter.QueryCursor(query(name)).matches(node)]
