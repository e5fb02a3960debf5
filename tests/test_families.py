"""Families as data: the shipped ones (kannot/rules/families.toml) give what the code gave, and a
family defined only in a tree's .kannot.toml works end to end (tests/fixtures/family: functions
marked __myvendor_text, a macro for __section(".myvendor.text"), may call only functions with
the same mark; direct calls only; KNX01 for a call, KNX02 for an indirect call)."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import FIXTURES, MINI, callees, check, cli, line_of
from kannot.rules import classes as C
from kannot.rules import ALL_RULES, DEFAULT_RULES, INDIRECT_CALL, RuleSet, rule_of
from kannot.settings import load_config

FAMILY = FIXTURES / "family"
SRC = "kernel/vendor/fastpath.c"

# classes.WORD_CLASSES before the families became data: the shipped data must give it exactly
OLD_WORD_CLASSES = {
    "noinstr": {"noinstr", "notrace"}, "__cpuidle": {"noinstr", "cpuidle", "notrace"}, "notrace": {"notrace"},
    "__notrace_funcgraph": set(), "inline": {"inline", "notrace"}, "__inline__": {"inline", "notrace"},
    "__inline": {"inline", "notrace"}, "__always_inline": {"always_inline", "inline", "notrace"},
    "always_inline": {"always_inline", "inline", "notrace"}, "__always_inline__": {"always_inline", "inline", "notrace"},
    "nokprobe_inline": {"always_inline", "inline", "notrace", "nokprobe"},
    "__no_sanitize_or_inline": {"always_inline", "inline", "notrace"},
    "__no_kasan_or_inline": {"always_inline", "inline", "notrace"}, "__kprobes": {"kprobes", "notrace"},
    "__noreturn": {"noreturn"}, "noreturn": {"noreturn"}, "__noreturn__": {"noreturn"}, "_Noreturn": {"noreturn"},
    "static": {"static"}, "__weak": {"weak"}, "weak": {"weak"}, "noinline": {"noinline"}, "__noinline__": {"noinline"},
    "noinline_for_stack": {"noinline"}, "__naked": {"notrace"}, "__exit": {"notrace"}, "__preserve_most": {"notrace"},
    "section:.noinstr.text": {"noinstr", "notrace"}, "section:.entry.text": {"noinstr", "notrace"},
    "section:.cpuidle.text": {"noinstr", "cpuidle", "notrace"}, "section:.kprobes.text": {"kprobes"},
}


# the shipped families -----------------------------------------------------------------------------

def test_shipped_families_give_the_old_word_table():
    assert {w: set(c) for w, c in DEFAULT_RULES.word_classes.items()} == OLD_WORD_CLASSES
    assert DEFAULT_RULES.classes_of(["section:.text..__x86.indirect_thunk"], None) == {"noinstr"}
    assert DEFAULT_RULES.asm_classes(".entry.text") == {"noinstr"}
    assert DEFAULT_RULES.asm_classes(".text..__x86.rethunk") == {"noinstr"}
    assert DEFAULT_RULES.asm_classes(".kprobes.text") == {"kprobes"}
    assert DEFAULT_RULES.asm_classes(".text") == frozenset()
    assert DEFAULT_RULES.invoked_classes == {"nokprobe"}
    assert (DEFAULT_RULES.region_begin, DEFAULT_RULES.region_end) == ("instrumentation_begin", "instrumentation_end")


@pytest.mark.parametrize("classes, families", [
    ({"noinstr", "notrace"}, ["noinstr"]),  # noinstr supersedes the advisory families
    ({"noinstr", "cpuidle", "notrace", "nokprobe"}, ["noinstr"]),
    ({"kprobes", "notrace"}, ["nokprobe", "notrace"]),
    ({"nokprobe"}, ["nokprobe"]),
    ({"notrace"}, ["notrace"]),
    ({"notrace", "inline"}, []),  # plain inline is notrace, but not checked
    ({"static"}, []),
])
def test_which_families_check_a_function(classes, families):
    assert DEFAULT_RULES.families_of(frozenset(classes)) == families


def test_rules_carry_what_the_checker_and_the_editor_ask():
    assert DEFAULT_RULES.region_codes == {"KN001", "KN002", "KN003", "KN004"}  # was lsp.REGION_CODES
    for code, rule in ALL_RULES.items():
        assert rule.message is not None, code
        assert rule_of(code) is rule
    for fam in DEFAULT_RULES.families:
        kinds = [ALL_RULES[c].kind for c in fam.codes]
        assert len(kinds) == len(set(kinds)), fam.name  # one rule per kind and family
    assert [DEFAULT_RULES.rule_for("noinstr", k).code for k in ("call", "inline-call", "indirect-call", "unresolved",
                                                                  "unbalanced-region", "return-in-region")] == \
        ["KN001", "KN002", "KN003", "KN004", "KN005", "KN006"]


def test_shipped_rules_messages_unchanged_on_the_mini_tree(mini_all):
    # one message of each shape, as the checker wrote them before the rules held them
    msgs = {f["code"]: f["message"] for f in mini_all.findings}
    assert "outside instrumentation_begin()/instrumentation_end()" in msgs["KN001"]
    assert "which is plain 'inline'" in msgs["KN002"] and "make it __always_inline" in msgs["KN002"]
    assert "makes an indirect call through" in msgs["KN003"]
    assert msgs["KN101"].startswith("NOKPROBE function '") and msgs["KN101"].endswith("which can be kprobed")
    assert msgs["KN201"].startswith("notrace function '") and "which ftrace can trace" in msgs["KN201"]


# a family of the tree's own: kannot check ------------------------------------------------------------

@pytest.fixture(scope="module")
def family_json():
    run = check(FAMILY, "--no-cache")
    assert run.rc == 1, run.err
    return run


def test_family_check_json(family_json):
    got = sorted((f["code"], f["rule"], f["severity"], f["caller"], f["callee"], f["line"]) for f in family_json.findings)
    assert got == sorted([
        ("KNX01", "myvendor", "error", "vendor_entry", "plain_helper", line_of(FAMILY, SRC, "plain_helper();", 2)),
        ("KNX02", "myvendor", "error", "vendor_entry", None, line_of(FAMILY, SRC, "vendor_hook();")),
        # marked by the section itself, not by the word
        ("KNX01", "myvendor", "error", "vendor_by_section", "plain_helper", line_of(FAMILY, SRC, "plain_helper();", 3)),
        # kannot's own families are checked as before, beside it
        ("KN001", "noinstr", "error", "vendor_nmi", "plain_helper", line_of(FAMILY, SRC, "plain_helper();", 5)),
    ])
    knx01 = next(f for f in family_json.findings if f["code"] == "KNX01" and f["caller"] == "vendor_entry")
    assert knx01["message"] == ("__myvendor_text function 'vendor_entry' calls 'plain_helper()', which is not in "
                                ".myvendor.text")
    assert knx01["notes"][0] == f"'plain_helper' is defined at {SRC}:{line_of(FAMILY, SRC, 'void plain_helper(void)')} (not myvendor)"
    knx02 = next(f for f in family_json.findings if f["code"] == "KNX02")
    assert knx02["message"] == "__myvendor_text function 'vendor_entry' makes an indirect call through 'vendor_hook'"
    assert all(f["fingerprint"] for f in family_json.findings)


def test_family_direct_calls_only_and_allow_comment(family_json):
    # transitive = false: the call inlined_helper() makes is the helper's, not vendor_entry's
    assert not [f for f in family_json.findings if f["line"] == line_of(FAMILY, SRC, "inlined_helper();")]
    # /* kannot: allow KNX01 ... */ suppresses it, and is used (no KN007)
    assert not [f for f in family_json.findings if f["caller"] == "vendor_allowed" or f["code"] == "KN007"]


def test_family_check_text():
    run = check(FAMILY, "--no-cache", fmt="text")
    assert run.rc == 1
    line = line_of(FAMILY, SRC, "vendor_hook();")
    assert (f"{SRC}:{line}:2: error: __myvendor_text function 'vendor_entry' makes an indirect call through "
            "'vendor_hook' [KNX02]") in run.out.splitlines()
    assert "(KN001 1, KNX01 2, KNX02 1)" in run.out  # the summary counts its codes


def test_family_transitive_when_asked(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(FAMILY, root, ignore=shutil.ignore_patterns(".kannot-cache"))
    toml = root / ".kannot.toml"
    toml.write_text(toml.read_text().replace("transitive = false", "transitive = true"))
    run = check(root, "--no-cache")
    inlined = [f for f in run.findings if f["line"] == line_of(root, SRC, "inlined_helper();")]
    assert [(f["code"], f["callee"], [l["function"] for l in f["chain"]]) for f in inlined] == \
        [("KNX01", "plain_helper", ["vendor_entry", "inlined_helper", "plain_helper"])]


def test_family_eager_and_lazy_agree(family_json):
    eager = check(FAMILY, "--no-cache", "--eager")
    assert eager.findings == family_json.findings


def test_family_cached_runs_agree(tmp_path, family_json):
    first = check(FAMILY, "--cache-dir", tmp_path / "cache")
    again = check(FAMILY, "--cache-dir", tmp_path / "cache")
    assert first.findings == again.findings == family_json.findings


def test_family_sarif_lists_its_rules():
    run = check(FAMILY, "--no-cache", fmt="sarif")
    assert run.rc == 1
    sarif = json.loads(run.out)["runs"][0]
    rules = sarif["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert {"KN001", "KNX01", "KNX02"} <= set(ids)
    knx01 = rules[ids.index("KNX01")]
    assert knx01["name"] == "MyvendorCall"
    assert knx01["shortDescription"]["text"] == "A __myvendor_text function calls a function outside .myvendor.text."
    assert knx01["defaultConfiguration"] == {"level": "error", "enabled": True}
    assert knx01["properties"]["tags"] == ["myvendor", "myvendor-call"]
    for result in sarif["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]
    assert sorted(r["ruleId"] for r in sarif["results"]) == ["KN001", "KNX01", "KNX01", "KNX02"]


@pytest.mark.parametrize("args, codes", [
    (["--ignore", "KNX02"], ["KN001", "KNX01", "KNX01"]),
    (["--ignore", "myvendor"], ["KN001"]),  # the family's name
    (["--ignore", "myvendor-call"], ["KN001", "KNX02"]),  # a rule's name
    (["--ignore", "KNX"], ["KN001"]),  # a prefix
    (["--select", "myvendor", "--ignore", "noinstr"], ["KNX01", "KNX01", "KNX02"]),
])
def test_family_select_and_ignore(args, codes):
    run = check(FAMILY, "--no-cache", *args)
    assert sorted(f["code"] for f in run.findings) == codes


def test_family_opt_in_and_settings_ignore(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(FAMILY, root, ignore=shutil.ignore_patterns(".kannot-cache"))
    toml = root / ".kannot.toml"
    toml.write_text(toml.read_text().replace("transitive = false", "transitive = false\ndefault_enabled = false"))
    assert sorted(f["code"] for f in check(root, "--no-cache").findings) == ["KN001"]
    assert sorted(f["code"] for f in check(root, "--no-cache", "--select", "myvendor").findings) == \
        ["KN001", "KNX01", "KNX01", "KNX02"]
    toml.write_text(toml.read_text().replace("default_enabled = false", "") + '\n[check]\nignore = ["noinstr"]\n')
    assert sorted(f["code"] for f in check(root, "--no-cache").findings) == ["KNX01", "KNX01", "KNX02"]


def test_family_allow_entry_and_unknown_code_marker(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(FAMILY, root, ignore=shutil.ignore_patterns(".kannot-cache"))
    (root / ".kannot.toml").write_text((root / ".kannot.toml").read_text() + (
        '\n[[allow]]\ncaller = "vendor_by_section"\ncallee = "plain_helper"\ncode = "KNX01"\nreason = "boot only"\n'))
    run = check(root, "--no-cache")
    assert not [f for f in run.findings if f["caller"] == "vendor_by_section"]
    # an allow comment for a code no rule has is still KN007
    src = root / SRC
    src.write_text(src.read_text().replace("/* kannot: allow KNX01", "/* kannot: allow KNX09"))
    run = check(root, "--no-cache")
    assert [f["message"] for f in run.findings if f["code"] == "KN007"] == ["'kannot: allow KNX09' names no kannot rule"]


# callees, why, explain ------------------------------------------------------------------------------

def test_family_callees_verdicts():
    run = callees(FAMILY, "vendor_entry", "--no-cache")
    assert run.rc == 0, run.err
    got = {(c["line"], c["callee"] or c["text"], c["verdict"]) for c in run.doc["callees"]}
    assert (line_of(FAMILY, SRC, "vendor_helper();"), "vendor_helper", "safe: myvendor") in got
    assert (line_of(FAMILY, SRC, "plain_helper();", 2), "plain_helper", "not myvendor") in got
    assert (line_of(FAMILY, SRC, "vendor_hook();"), "vendor_hook", "indirect") in got
    helper = [v for line, _n, v in got if line == line_of(FAMILY, SRC, "inlined_helper();")]
    assert helper and all("not judged" in v for v in helper)
    definition = run.doc["callees"][0]["definition"]
    assert definition["class"] == "myvendor"


def test_family_why():
    run = cli("why", "plain_helper", "--root", FAMILY, "-j", "1", "--no-cache", "--format", "json")
    assert run.rc == 0, run.err
    rows = {(r["family"], r["caller"]) for r in run.doc["reached_from"]}
    assert {("noinstr", "vendor_nmi"), ("myvendor", "vendor_entry"), ("myvendor", "vendor_by_section")} <= rows
    assert ("myvendor", "vendor_entry") in rows
    assert run.doc["verdict"].startswith("unsafe to kprobe or trace: reached from noinstr 'vendor_nmi'")
    # only the family reaches it: its own verdict
    mine = cli("why", "vendor_helper", "--root", FAMILY, "-j", "1", "--no-cache", "--format", "json")
    assert mine.doc["verdict"].startswith("safe to kprobe and trace")  # it is a myvendor function itself


def test_family_why_verdict_of_the_family(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(FAMILY, root, ignore=shutil.ignore_patterns(".kannot-cache"))
    src = root / SRC
    src.write_text(src.read_text().replace("noinstr void vendor_nmi", "void vendor_nmi"))
    run = cli("why", "plain_helper", "--root", root, "-j", "1", "--no-cache", "--format", "json")
    assert run.doc["verdict"] == (f"not a myvendor function, but called from myvendor 'vendor_entry' "
                                  f"({SRC}:{line_of(root, SRC, 'plain_helper();', 2)})")


def test_family_explain():
    run = cli("explain", "KNX01", "--root", FAMILY)
    assert run.rc == 0, run.err
    assert run.out.startswith("KNX01 myvendor-call  [myvendor, error, on by default]")
    assert "The vendor bank is the only memory mapped while the fast path runs." in run.out
    assert "/* kannot: allow KNX01 <reason> */" in run.out
    listed = cli("explain", "--root", FAMILY)
    assert "KNX02  on   myvendor  myvendor-indirect-call" in listed.out
    families = cli("explain", "families", "--root", FAMILY)
    assert "  myvendor   KNX01, KNX02  " in families.out and "[[family]]" in families.out
    assert cli("explain", "KNX01", "--root", MINI).rc == 2  # no such family there


# settings that cannot be used --------------------------------------------------------------------

GOOD = '[[family]]\nname = "myvendor"\nwords = ["__myvendor_text"]\n[[family.rule]]\ncode = "KNX01"\n'


@pytest.mark.parametrize("text, said", [
    (GOOD.replace('name = "myvendor"', 'name = "myvendor"\ncolour = "red"'), "unknown key 'colour'"),
    (GOOD + 'colour = "red"\n', "rule 1: unknown key 'colour'"),
    (GOOD.replace("KNX01", "KN301"), "'code' must be 2-4 capital letters and 2-4 digits"),
    (GOOD.replace("KNX01", "knx1"), "'code' must be 2-4 capital letters"),
    (GOOD + '[[family]]\nname = "other"\nwords = ["__other_text"]\n[[family.rule]]\ncode = "KNX01"\n',
     "code KNX01 is already used by another rule"),
    (GOOD + '[[family.rule]]\ncode = "KNX02"\n', "two rules of kind 'call'"),
    (GOOD.replace('"myvendor"', '"notrace"'), "the name 'notrace' is taken"),
    (GOOD.replace('"myvendor"', '"inline"'), "the name 'inline' is taken"),
    (GOOD.replace("__myvendor_text", "noinstr"), "'noinstr' already means something"),
    (GOOD.replace('words = ["__myvendor_text"]\n', ""), "needs 'words'"),
    (GOOD + 'kind = "return"\n', "'kind' must be one of call, indirect-call, unresolved"),
    (GOOD + 'message = "{caller} {oops}"\n', "unknown field {oops}"),
    (GOOD.replace('[[family.rule]]\ncode = "KNX01"\n', ""), "needs at least one [[family.rule]]"),
    (GOOD.replace('name = "myvendor"', 'name = "myvendor"\nsafe = ["bogus"]'), "safe: 'bogus' is no class"),
    (GOOD.replace('words = ["__myvendor_text"]', 'words = { __myvendor_text = ["bogus"] }'), "words: 'bogus' is no class"),
    (GOOD.replace('name = "myvendor"', 'name = "myvendor"\ntransitive = "no"'), "'transitive' must be true or false"),
    ('family = 3\n', "'family' must be an array of tables"),
])
def test_bad_family_settings_are_one_line_and_exit_2(tmp_path, text, said):
    root = tmp_path / "tree"
    shutil.copytree(FAMILY, root, ignore=shutil.ignore_patterns(".kannot-cache"))
    (root / ".kannot.toml").write_text(text)
    run = check(root, "--no-cache")
    assert run.rc == 2
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kannot: error: ") and said in lines[0], run.err
    assert ".kannot.toml" in lines[0]


def test_settings_families_are_a_rule_set():
    cfg = load_config(FAMILY / ".kannot.toml")
    rules: RuleSet = cfg.rules
    assert rules.family_names == ("noinstr", "nokprobe", "notrace", "myvendor")
    fam = rules.family("myvendor")
    assert (fam.transitive, fam.regions, fam.builtin, fam.safe) == (False, False, False, {"myvendor"})
    assert rules.rule_for("myvendor", INDIRECT_CALL).code == "KNX02"
    assert rules.word_classes["__myvendor_text"] == {"myvendor"}
    assert rules.word_classes["section:.myvendor.text"] == {"myvendor"}
    assert C.describe(frozenset({"myvendor", "static"})) == "myvendor"
    assert rule_of("KNX01").family == "myvendor"
    assert DEFAULT_RULES.rules.keys() == ALL_RULES.keys()  # kannot's own set is untouched
    load_config(None)  # (the process's registered families are those of the last settings read)


def test_nocfi_style_family_judges_indirect_calls_only(tmp_path):
    # functions marked __nocfi must not make indirect calls (there is no CFI check to catch a bad
    # target); their direct calls are fine
    root = tmp_path / "tree"
    shutil.copytree(FAMILY, root, ignore=shutil.ignore_patterns(".kannot-cache"))
    (root / ".kannot.toml").write_text(
        '[[family]]\nname = "nocfi"\nwords = ["__nocfi"]\nsafe = ["nocfi", "notrace", "static"]\n'
        '[[family.rule]]\ncode = "CFI01"\nkind = "indirect-call"\nseverity = "warning"\n'
        'message = "{label} function \'{caller}\' makes an indirect call through \'{text}\' with no CFI check"\n')
    (root / "kernel/vendor/cfi.c").write_text(
        "// SPDX-License-Identifier: GPL-2.0\nvoid plain_helper(void);\nstatic void (*cfi_hook)(int);\n\n"
        "void __nocfi call_firmware(int x)\n{\n\tplain_helper();\n\tcfi_hook(x);\n}\n")
    run = check(root, "--no-cache", "kernel/vendor/cfi.c")
    assert [(f["code"], f["severity"], f["caller"], f["message"]) for f in run.findings] == [
        ("CFI01", "warning", "call_firmware", "nocfi function 'call_firmware' makes an indirect call through 'cfi_hook' "
                                               "with no CFI check")]
