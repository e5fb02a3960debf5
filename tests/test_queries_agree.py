"""queries/*.scm document the shapes kannot reads; facts.py finds them with a cheaper file-scope
walk. This test keeps the two in agreement on every fixture file (and on kernel-shaped snippets)."""
from pathlib import Path

import pytest

from kannot import cpp
from kannot.facts import _top_level
from kannot.parsing import captures, parse

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(p for base in (ROOT / "tests" / "fixtures", ROOT / "examples") for p in base.rglob("*.[ch]"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_walk_finds_what_the_queries_find(path):
    src = cpp.blank_attributes(path.read_bytes()).text
    root = parse(src).root_node
    walk = _top_level(root)
    outermost = []
    end = -1
    for node in sorted(captures("functions", root).get("definition", []), key=lambda n: n.start_byte):
        if node.start_byte >= end:
            outermost.append(node.start_byte)
            end = node.end_byte
    assert [n.start_byte for n in walk["function_definition"]] == outermost
    q_decls = {n.start_byte for n in captures("declarations", root).get("declaration", [])}
    assert q_decls <= {n.start_byte for n in walk["declaration"]}
    q_inv = {n.start_byte for n in captures("invocations", root).get("macro", [])}
    w_inv = set()
    for stmt in walk["expression_statement"]:
        call = stmt.named_children[0] if stmt.named_child_count else None
        if call is not None and call.type == "call_expression":
            fn = call.child_by_field_name("function")
            if fn is not None and fn.type == "identifier":
                w_inv.add(fn.start_byte)
    assert q_inv <= w_inv
