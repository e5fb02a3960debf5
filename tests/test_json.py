"""The stable JSON interface and fingerprints."""
from __future__ import annotations

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import MINI, by_caller, callees, check, col_of, copy_tree, line_after

LINK = {
    "type": "object",
    "required": ["function", "file", "line"],
    "properties": {"function": {"type": "string"}, "file": {"type": "string"}, "line": {"type": "integer", "minimum": 0}},
}
FINDING = {
    "type": "object",
    "required": ["code", "rule", "file", "line", "column", "end_line", "end_column", "caller", "callee",
                 "message", "chain", "fingerprint"],
    "properties": {
        "code": {"type": "string", "pattern": "^KN[0-9]{3}$"},
        "rule": {"enum": ["noinstr", "nokprobe", "notrace", "marker"]},
        "severity": {"enum": ["error", "warning"]},
        "file": {"type": "string", "pattern": "^[^/]"},
        "line": {"type": "integer", "minimum": 1},
        "column": {"type": "integer", "minimum": 1},
        "end_line": {"type": "integer", "minimum": 1},
        "end_column": {"type": "integer", "minimum": 1},
        "caller": {"type": "string"},
        "callee": {"type": ["string", "null"]},
        "message": {"type": "string", "minLength": 1},
        "chain": {"type": "array", "items": LINK, "minItems": 1},
        "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{8,}$"},
    },
}
DOCUMENT = {
    "type": "object",
    "required": ["version", "findings", "errors"],
    "properties": {
        "version": {"const": 1},
        "findings": {"type": "array", "items": FINDING},
        "errors": {
            "type": "array",
            "items": {"type": "object", "required": ["file", "message"],
                      "properties": {"file": {"type": "string"}, "message": {"type": "string"}}},
        },
    },
}


def test_document_matches_the_schema(mini_all):
    jsonschema.validate(mini_all.doc, DOCUMENT)
    assert {f["code"] for f in mini_all.findings} == {"KN001", "KN002", "KN003", "KN004", "KN005", "KN006", "KN101", "KN201"}


def test_files_are_root_relative_and_exist(mini_all):
    for f in mini_all.findings:
        assert (MINI / f["file"]).is_file(), f["file"]
        for link in f["chain"]:
            if link["file"]:
                assert (MINI / link["file"]).is_file(), link


def test_positions_are_one_based_and_cover_the_call(mini_default):
    (f,) = by_caller(mini_default.findings, "annot_leading")
    line = line_after(MINI, "kernel/annotations.c", "noinstr void annot_leading(void)", "instrumentable_work();")
    col = col_of(MINI, "kernel/annotations.c", line, "instrumentable_work()")
    assert (f["line"], f["column"], f["end_line"]) == (line, col, line)
    # the end is just past the closing parenthesis (exclusive, like SARIF's endColumn)
    assert f["end_column"] == col + len("instrumentable_work()")


def test_end_position_of_a_multi_line_call(mini_default):
    (f,) = by_caller(mini_default.findings, "ct_nmi_enter")
    assert f["end_line"] >= f["line"]
    for g in mini_default.findings:
        assert (g["end_line"], g["end_column"]) >= (g["line"], g["column"]), g


def test_caller_callee_and_chain_shapes(mini_default):
    for f in mini_default.findings:
        assert f["chain"][0]["function"] == f["caller"]
        assert f["chain"][0]["file"] == f["file"]
        if f["code"] in ("KN001", "KN002", "KN004"):
            assert f["callee"] and f["chain"][-1]["function"] == f["callee"]
        if f["code"] in ("KN003", "KN005", "KN006"):
            assert f["callee"] is None


def test_candidates_listed(mini_default):
    (f,) = by_caller(mini_default.findings, "cfg_caller")
    assert all({"file", "line", "class"} <= set(c) for c in f["candidates"])
    assert len(f["candidates"]) == 2


def test_fingerprints_are_unique_and_stable_across_runs(mini_all):
    again = check(MINI, "--select", "ALL")
    fps = [f["fingerprint"] for f in mini_all.findings]
    assert len(set(fps)) == len(fps)
    assert fps == [f["fingerprint"] for f in again.findings]
    assert again.doc == mini_all.doc


def test_same_callee_twice_in_one_function_gets_two_fingerprints(tmp_path):
    root = copy_tree(MINI, tmp_path)
    (root / "kernel/twice.c").write_text(
        "#include <linux/kernel.h>\n\nnoinstr void twice(void)\n{\n\tplain_after();\n\tplain_after(); plain_after();\n}\n")
    run = check(root, "kernel/twice.c")
    assert [(f["callee"], f["line"], f["column"]) for f in run.findings] == [
        ("plain_after", 5, 2), ("plain_after", 6, 2), ("plain_after", 6, 17)]
    fps = [f["fingerprint"] for f in run.findings]
    assert len(set(fps)) == 3
    assert fps == [f["fingerprint"] for f in check(root, "kernel/twice.c").findings]


def test_fingerprint_unchanged_by_an_unrelated_line_above(tmp_path, mini_default):
    root = copy_tree(MINI, tmp_path)
    path = root / "kernel/regions.c"
    text = path.read_text()
    path.write_text(text.replace("int printk_ratelimit(void);", "int printk_ratelimit(void);\n/* an unrelated comment */\nint unrelated_decl;\n", 1))
    after = check(root)
    before = {(f["code"], f["caller"], f["callee"], f["line"]): f["fingerprint"] for f in mini_default.findings
              if f["file"] == "kernel/regions.c"}
    moved = {(f["code"], f["caller"], f["callee"], f["line"] - 3): f["fingerprint"] for f in after.findings
             if f["file"] == "kernel/regions.c"}
    assert moved == before
    # and every other finding is untouched
    others = lambda run: sorted((f["fingerprint"], f["line"]) for f in run.findings if f["file"] != "kernel/regions.c")
    assert others(after) == others(mini_default)


def test_fingerprint_changes_when_the_finding_changes(tmp_path, mini_default):
    root = copy_tree(MINI, tmp_path)
    path = root / "kernel/regions.c"
    path.write_text(path.read_text().replace("\tplain_before();\n\tinstrumentation_begin();", "\tplain_check();\n\tinstrumentation_begin();", 1))
    after = check(root)
    old = {f["fingerprint"] for f in by_caller(mini_default.findings, "region_simple")}
    new = {f["callee"]: f["fingerprint"] for f in by_caller(after.findings, "region_simple")}
    assert set(new) == {"plain_check", "plain_after"}
    assert new["plain_check"] not in old
    assert new["plain_after"] in old


@settings(max_examples=8, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["", "/* comment */", "// c++ comment", "#define UNRELATED 1", "struct unrelated;"]),
                min_size=1, max_size=6))
def test_fingerprints_survive_inserted_lines_property(tmp_path_factory, lines):
    root = copy_tree(MINI, tmp_path_factory.mktemp("fp"))
    base = check(root, "kernel/macros.c", "kernel/inline.c")
    for rel in ("kernel/macros.c", "kernel/inline.c"):
        p = root / rel
        src = p.read_text()
        head, sep, rest = src.partition("#include <linux/kernel.h>\n")
        p.write_text(head + sep + "\n".join(lines) + "\n" + rest)
    after = check(root, "kernel/macros.c", "kernel/inline.c")
    shift = len(lines)
    assert [(f["fingerprint"], f["line"] + shift, f["code"], f["callee"]) for f in base.findings] == \
        [(f["fingerprint"], f["line"], f["code"], f["callee"]) for f in after.findings]


def test_errors_entries(tmp_path):
    from conftest import BROKEN

    run = check(BROKEN)
    jsonschema.validate(run.doc, DOCUMENT)
    assert [e["file"] for e in run.errors] == ["kernel/broken.c"]


# kannot callees --format json ------------------------------------------------------------------


def test_callees_json_shape_and_inlined_helpers():
    run = callees(MINI, "chain_entry")
    assert run.rc == 0
    doc = run.doc
    assert doc["function"] == "chain_entry"
    (c,) = [x for x in doc["callees"] if "inlined_from" not in x]
    # chain_leaf_plain is in chain_entry's file: gcc may inline it, so its call is listed too
    assert [(x["callee"], x["inlined_from"]) for x in doc["callees"] if "inlined_from" in x] == [("printk", ["chain_leaf_plain"])]
    assert {"callee", "chain", "verdict", "candidates", "in_region", "line", "kind"} <= set(c)
    assert c["callee"] == "chain_leaf_plain"
    assert [l["function"] for l in c["chain"]] == ["chain_entry", "chain_outer", "chain_inner", "chain_leaf_plain"]
    assert [l["kind"] for l in c["chain"]] == ["function", "always_inline", "always_inline", "callee"]
    assert c["in_region"] is False
    assert not c["verdict"].startswith("safe")
    # the helpers are expanded, never listed as callees themselves
    assert "chain_outer" not in [x["callee"] for x in doc["callees"]]


def test_callees_lists_indirect_and_unresolved():
    ind = callees(MINI, "indirect_ops").doc["callees"]
    assert [(c["callee"], c["kind"], c["text"]) for c in ind] == [(None, "icall", "ops->fn")]
    assert ind[0]["verdict"].startswith("indirect")
    unres = callees(MINI, "unresolved_caller").doc["callees"]
    assert [(c["callee"], c["kind"]) for c in unres] == [("no_such_function_anywhere", "unresolved")]


def test_callees_text_output():
    from conftest import cli

    run = cli("callees", "irqentry_enter_from_user_mode", "--root", MINI, "-j", "1")
    assert run.rc == 0
    lines = run.out.strip().splitlines()
    assert any("__ct_user_exit" in l and "enter_from_user_mode -> user_exit_irqoff" in l for l in lines)
    assert any("kmsan_unpoison_entry_regs" in l and "in instrumentation region" in l for l in lines)


def test_the_report_is_written_as_the_indenting_encoder_writes_it():
    """format_json writes the JSON itself: byte for byte what json.dumps(indent=2) gives, odd
    characters, empty lists and nested notes included."""
    import json

    from kannot.analysis.findings import Finding, Link
    from kannot.report.json import format_json
    from kannot.source.files import FileError

    finding = Finding("KN001", "a.c", 3, 2, 3, 9, "f", "g", "noinstr 'f' calls \"g\"", [Link("f", "a.c", 3)])
    odd = [FileError("dir/ü.c", 'a "quoted" \\ back\tslash \u2028 \x01 line'), FileError("b\udcff.h", "surrogate path"),
           FileError("c.c", "")]
    for findings in ([], [finding]):
        for errors in ([], odd[:1], odd):
            doc = {"version": 1, "findings": [f.to_json() for f in findings], "errors": [e.to_json() for e in errors]}
            assert format_json(findings, errors) == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def test_the_direct_writer_equals_json_dumps_on_every_plain_value_and_leaves_the_rest_to_it():
    import json

    from kannot.report.json import indented_json

    values = [
        {}, [], "", 0, -3, True, False, None, {"a": []}, {"a": {}}, [[], {}, [[]]],
        {"k\u00fc\n": ["x", 1, None, {"deep": [True, {"e": "\x00\u2028\udcff"}]}]},
        {"version": 1, "findings": [{"chain": [{"function": "f", "line": 3}], "notes": []}], "errors": []},
        (1, 2), [1.5], {1: "int key"}, {"nan": float("nan")},  # (these: json.dumps itself)
    ]
    for value in values:
        assert indented_json(value) == json.dumps(value, indent=2, ensure_ascii=False), value
