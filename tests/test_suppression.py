"""Saying a call is fine: allow comments (and KN007 for unused ones) and .kannot.toml."""
from __future__ import annotations

import pytest

from conftest import SUPPRESS, by_caller, check, cli, copy_tree, line_of

ALLOW = "kernel/allow.c"


@pytest.fixture(scope="module")
def suppressed():
    run = check(SUPPRESS)
    assert run.rc == 1, run.err
    return run


def test_allow_comment_on_the_call_line(suppressed):
    assert by_caller(suppressed.findings, "allow_same_line") == []


def test_allow_comment_on_the_line_above(suppressed):
    assert by_caller(suppressed.findings, "allow_line_above") == []


def test_allow_comment_two_lines_above_is_too_far(suppressed):
    assert [(f["code"], f["callee"]) for f in by_caller(suppressed.findings, "allow_too_far")] == [("KN001", "plain_work")]
    unused = [f for f in suppressed.findings if f["code"] == "KN007" and f["line"] == line_of(SUPPRESS, ALLOW, "too far away")]
    assert len(unused) == 1


def test_allow_comment_for_another_code(suppressed):
    assert [f["code"] for f in by_caller(suppressed.findings, "allow_wrong_code")] == ["KN001"]
    line = line_of(SUPPRESS, ALLOW, "kannot: allow KN003 not an indirect call")
    (f,) = [f for f in suppressed.findings if f["code"] == "KN007" and f["line"] == line]
    assert "KN003" in f["message"]


def test_unused_allow_comment_is_kn007(suppressed):
    line = line_of(SUPPRESS, ALLOW, "left over after a fix")
    (f,) = [f for f in suppressed.findings if f["code"] == "KN007" and f["line"] == line]
    assert f["file"] == ALLOW
    assert f["rule"] == "marker"
    assert f["severity"] == "warning"
    assert f["callee"] is None


def test_exactly_the_expected_findings(suppressed):
    got = sorted((f["code"], f["line"]) for f in suppressed.findings)
    assert got == sorted([
        ("KN001", line_of(SUPPRESS, ALLOW, "plain_work();", nth=3)),  # allow_too_far
        ("KN001", line_of(SUPPRESS, ALLOW, "plain_work();", nth=4)),  # allow_wrong_code
        ("KN001", line_of(SUPPRESS, ALLOW, "other_work();", nth=1)),  # cfg_pair: only default_do_nmi is allowed
        ("KN007", line_of(SUPPRESS, ALLOW, "too far away")),
        ("KN007", line_of(SUPPRESS, ALLOW, "not an indirect call")),
        ("KN007", line_of(SUPPRESS, ALLOW, "left over after a fix")),
    ])


def test_config_allow_caller_callee_pair(suppressed):
    assert [(f["code"], f["callee"]) for f in by_caller(suppressed.findings, "cfg_pair")] == [("KN001", "other_work")]


def test_config_allow_any_callee(suppressed):
    assert by_caller(suppressed.findings, "cfg_wildcard") == []


def test_config_allow_indirect_by_code(suppressed):
    assert by_caller(suppressed.findings, "cfg_indirect") == []


def test_without_config_everything_is_reported(tmp_path):
    root = copy_tree(SUPPRESS, tmp_path)
    (root / ".kannot.toml").unlink()
    run = check(root)
    assert sorted((f["code"], f["callee"]) for f in by_caller(run.findings, "cfg_pair")) == [
        ("KN001", "default_do_nmi"), ("KN001", "other_work")]
    assert len(by_caller(run.findings, "cfg_wildcard")) == 2
    assert [f["code"] for f in by_caller(run.findings, "cfg_indirect")] == ["KN003"]


def test_explicit_config_path(tmp_path):
    root = copy_tree(SUPPRESS, tmp_path)
    cfg = tmp_path / "elsewhere.toml"
    (root / ".kannot.toml").rename(cfg)
    run = check(root, "--settings", cfg)
    assert by_caller(run.findings, "cfg_wildcard") == []
    missing = check(root, "--settings", tmp_path / "missing.toml")
    assert missing.rc == 2
    assert missing.out == ""


def test_config_found_walking_up_from_the_root(tmp_path):
    root = copy_tree(SUPPRESS, tmp_path)
    (root / ".kannot.toml").rename(tmp_path / ".kannot.toml")
    run = check(root)
    assert by_caller(run.findings, "cfg_wildcard") == []


def test_ignored_rule_makes_no_kn007(tmp_path):
    root = copy_tree(SUPPRESS, tmp_path)
    run = check(root, "--ignore", "KN001")
    assert [f for f in run.findings if f["code"] == "KN007" and "KN001" in f["message"]] == []


def test_kn007_can_be_ignored():
    run = check(SUPPRESS, "--ignore", "KN007")
    assert {f["code"] for f in run.findings} == {"KN001"}


def test_allow_comment_with_two_codes_and_unknown_code(tmp_path):
    root = copy_tree(SUPPRESS, tmp_path)
    (root / "kernel/multi.c").write_text(
        "#include <linux/kernel.h>\n\nnoinstr void multi(void)\n{\n"
        "\t// kannot: allow KN001, KN004 two codes, only one used\n\tplain_work();\n"
        "\t/* kannot: allow KN999 no such rule */\n\tother_work();\n}\n"
    )
    run = check(root, "kernel/multi.c")
    got = sorted((f["code"], f["line"]) for f in run.findings)
    assert got == [("KN001", 8), ("KN007", 5), ("KN007", 7)]
    kn007 = {f["line"]: f["message"] for f in run.findings if f["code"] == "KN007"}
    assert "KN004" in kn007[5]
    assert "KN999" in kn007[7]


def test_allow_comment_suppresses_region_findings(tmp_path):
    root = copy_tree(SUPPRESS, tmp_path)
    (root / "kernel/region_allow.c").write_text(
        "#include <linux/kernel.h>\n\nnoinstr int ret_in_region(int x)\n{\n\tinstrumentation_begin();\n"
        "\tif (x)\n\t\treturn 1; /* kannot: allow KN006 the caller closes it */\n\tinstrumentation_end();\n\treturn 0;\n}\n"
    )
    run = check(root, "kernel/region_allow.c")
    assert run.findings == []
    assert run.rc == 0


@pytest.mark.parametrize("text, what", [
    ("[[allow]\ncaller = 1\n", "invalid TOML"),
    ('[[allow]]\ncaller = "x"\n', "reason"),
    ('[[allow]]\nreason = "r"\n', "caller"),
    ('[[allow]]\ncaller = "x"\nreason = "r"\ncallee = 3\n', "callee"),
    ("allow = 3\n", "allow"),
    ('[check]\nselect = "KN101"\n', "select"),
    ('[check]\narch = 5\n', "arch"),
    ('[check]\nselect = ["KN999"]\n', "KN999"),
])
def test_malformed_config_is_a_one_line_usage_error(tmp_path, text, what):
    root = copy_tree(SUPPRESS, tmp_path)
    (root / ".kannot.toml").write_text(text)
    run = check(root)
    assert run.rc == 2
    assert run.out == ""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("kannot: error:")
    assert what in lines[0]
    assert "Traceback" not in run.err


def test_malformed_config_also_fails_callees(tmp_path):
    root = copy_tree(SUPPRESS, tmp_path)
    (root / ".kannot.toml").write_text("not toml at all [[[\n")
    run = cli("callees", "cfg_pair", "--root", root, "-j", "1")
    assert run.rc == 2
    assert len(run.err.strip().splitlines()) == 1


def test_allow_comment_at_the_call_inside_an_always_inline_helper(tmp_path):
    from conftest import MINI

    root = copy_tree(MINI, tmp_path)
    helper = root / "include/linux/chain_inner.h"
    helper.write_text(helper.read_text().replace(
        "\t\tchain_leaf_plain(x);", "\t\tchain_leaf_plain(x); /* kannot: allow KN001 the leaf is fine */"))
    run = check(root, "kernel/inline.c", "include/linux/chain_inner.h")
    assert by_caller(run.findings, "chain_entry") == []
    assert [f for f in run.findings if f["code"] == "KN007"] == []
