"""SARIF 2.1.0 output: schema, GitHub's fingerprints, rules, locations, flows, baselineState."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from conftest import MINI, check, cli, copy_tree
from kannot.report.sarif import file_line_hashes, line_hashes
from kannot.rules import ALL_RULES
from patchrepo import commit, drop_noinstr, make_repo

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

# codeql-action's own test vectors for its fingerprint hash (src/fingerprints.test.ts)
GOLDEN = [
    ("", ["c129715d7a2bc9a3:1"]),
    (" a\nb\n  \t\tc\n d", ["271789c17abda88f:1", "54703d4cd895b18:1", "180aee12dab6264:1", "a23a3dc5e078b07b:1"]),
    (" hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End",
     ["8b7cf3e952e7aeb2:1", "b1ae1287ec4718d9:1", "bff680108adb0fcc:1", "c6805c5e1288b612:1",
      "b86d3392aea1be30:1", "e6ceba753e1a442:1"]),
    (" hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End\n",
     ["e9496ae3ebfced30:1", "fb7c023a8b9ccb3f:1", "ce8ba1a563dcdaca:1", "e20e36e16fcb0cc8:1",
      "b3edc88f2938467e:1", "c8e28b0b4002a3a0:1", "c129715d7a2bc9a3:1"]),
    (" hello; \t\nworld!!!\r\r\r  \t\tGreetings\r End\r",
     ["e9496ae3ebfced30:1", "fb7c023a8b9ccb3f:1", "ce8ba1a563dcdaca:1", "e20e36e16fcb0cc8:1",
      "b3edc88f2938467e:1", "c8e28b0b4002a3a0:1", "c129715d7a2bc9a3:1"]),
    (" hello; \t\r\nworld!!!\r\n\r\n\r\n  \t\tGreetings\r\n End\r\n",
     ["e9496ae3ebfced30:1", "fb7c023a8b9ccb3f:1", "ce8ba1a563dcdaca:1", "e20e36e16fcb0cc8:1",
      "b3edc88f2938467e:1", "c8e28b0b4002a3a0:1", "c129715d7a2bc9a3:1"]),
    (" hello; \t\nworld!!!\r\n\n\r  \t\tGreetings\r End\r\n",
     ["e9496ae3ebfced30:1", "fb7c023a8b9ccb3f:1", "ce8ba1a563dcdaca:1", "e20e36e16fcb0cc8:1",
      "b3edc88f2938467e:1", "c8e28b0b4002a3a0:1", "c129715d7a2bc9a3:1"]),
    ("Lorem ipsum dolor sit amet.\n" * 10,
     ["a7f2ff13bc495cf2:1", "a7f2ff13bc495cf2:2", "a7f2ff13bc495cf2:3", "a7f2ff13bc495cf2:4",
      "a7f2ff13bc495cf2:5", "a7f2ff13bc495cf2:6", "a7f2ff1481e87703:1", "a9cf91f7bbf1862b:1",
      "55ec222b86bcae53:1", "cc97dc7b1d7d8f7b:1", "c129715d7a2bc9a3:1"]),
    ("x = 2\nx = 1\nprint(x)\nx = 3\nprint(x)\nx = 4\nprint(x)\n",
     ["e54938cc54b302f1:1", "bb609acbe9138d60:1", "1131fd5871777f34:1", "5c482a0f8b35ea28:1",
      "54517377da7028d2:1", "2c644846cb18d53e:1", "f1b89f20de0d133:1", "c129715d7a2bc9a3:1"]),
]


@pytest.mark.parametrize("text,expected", GOLDEN)
def test_primary_location_line_hash_matches_codeql_action(text, expected):
    got = line_hashes(text)
    assert [got[n] for n in sorted(got)] == expected
    assert sorted(got) == list(range(1, len(expected) + 1))
    assert file_line_hashes(text.encode()) == got


@pytest.fixture(scope="module")
def mini_sarif():
    run = check(MINI, "--select", "ALL", "--no-cache", fmt="sarif")
    assert run.rc == 1, run.err
    return json.loads(run.out)


def test_validates_against_the_sarif_2_1_0_schema(mini_sarif):
    errors = sorted(VALIDATOR.iter_errors(mini_sarif), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert mini_sarif["version"] == "2.1.0"


def test_rules_come_from_the_rule_modules(mini_sarif):
    driver = mini_sarif["runs"][0]["tool"]["driver"]
    assert driver["name"] == "kannot"
    rules = driver["rules"]
    assert [r["id"] for r in rules] == sorted(ALL_RULES)
    for r in rules:
        rule = ALL_RULES[r["id"]]
        assert r["shortDescription"]["text"] == rule.summary
        assert r["fullDescription"]["text"] and r["help"]["text"] and r["help"]["markdown"]
        assert rule.fix.strip().splitlines()[0] in r["help"]["text"]
        assert r["defaultConfiguration"]["enabled"] == rule.default_enabled
    for res in mini_sarif["runs"][0]["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]


def test_locations_are_relative_to_srcroot_and_carry_github_fingerprints(mini_sarif):
    run = mini_sarif["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")
    assert run["results"]
    for res in run["results"]:
        assert len(res["locations"]) >= 1
        phys = res["locations"][0]["physicalLocation"]
        loc = phys["artifactLocation"]
        assert loc["uriBaseId"] == "%SRCROOT%" and not loc["uri"].startswith("/") and "://" not in loc["uri"]
        assert (MINI / loc["uri"]).is_file()
        line = phys["region"]["startLine"]
        assert res["partialFingerprints"]["primaryLocationLineHash"] == file_line_hashes((MINI / loc["uri"]).read_bytes())[line]
        assert len(res["partialFingerprints"]["kannot/v1"]) == 20
        assert "baselineState" not in res  # whole-tree run


def test_related_locations_and_code_flows(mini_sarif):
    results = mini_sarif["runs"][0]["results"]
    chained = [r for r in results if r["properties"].get("caller") == "chain_entry"]
    assert chained, "the mini tree's chain_entry reaches a plain callee through two always-inline helpers"
    res = chained[0]
    flow = res["codeFlows"][0]["threadFlows"][0]["locations"]
    files = [l["location"]["physicalLocation"]["artifactLocation"]["uri"] for l in flow]
    assert files == ["kernel/inline.c", "include/linux/chain_outer.h", "include/linux/chain_inner.h", "kernel/inline.c"]
    related = res["relatedLocations"]
    assert related[0]["message"]["text"].startswith("'chain_leaf_plain' is defined here")
    assert f"]({related[0]['id']})" in res["message"]["text"]


def test_diff_mode_sets_baseline_state(tmp_path):
    repo = make_repo(tmp_path)
    drop_noinstr(repo)
    commit(repo, "context: drop noinstr")
    run = cli("check", "--root", repo, "-j", "1", "--no-cache", "--format", "sarif", "--diff-base", "HEAD~1")
    assert run.rc == 1, run.err
    doc = json.loads(run.out)
    assert not list(VALIDATOR.iter_errors(doc))
    results = doc["runs"][0]["results"]
    assert len(results) == 3 and {r["baselineState"] for r in results} == {"new"}
    # the changed line that made each call new is a related location
    for r in results:
        assert any(rl["physicalLocation"]["artifactLocation"]["uri"] == "kernel/context.c"
                   and rl["message"]["text"].startswith("the change to 'ct_user_exit'") for rl in r["relatedLocations"])


def _fingerprints(doc):
    return [(r["ruleId"], r["partialFingerprints"]["kannot/v1"], r["partialFingerprints"]["primaryLocationLineHash"])
            for r in doc["runs"][0]["results"]]


def test_fingerprints_are_stable_across_runs_and_an_unrelated_edit_above(tmp_path):
    tree = copy_tree(MINI, tmp_path)
    first = json.loads(check(tree, "--no-cache", fmt="sarif").out)
    again = json.loads(check(tree, "--no-cache", fmt="sarif").out)
    assert _fingerprints(first) == _fingerprints(again)
    path = tree / "arch" / "x86" / "kernel" / "nmi.c"
    path.write_text("// an unrelated comment\n// and another one, moving every line down\n" + path.read_text())
    moved = json.loads(check(tree, "--no-cache", fmt="sarif").out)
    assert _fingerprints(moved) == _fingerprints(first)
    lines = lambda d: {r["partialFingerprints"]["kannot/v1"]: r["locations"][0]["physicalLocation"]["region"]["startLine"]  # noqa: E731
                       for r in d["runs"][0]["results"]
                       if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "arch/x86/kernel/nmi.c"}
    assert lines(moved) and all(lines(moved)[k] == lines(first)[k] + 2 for k in lines(first))


def test_columns_are_utf16_code_units(tmp_path):
    repo = make_repo(tmp_path)
    (repo / "kernel" / "wide.c").write_text(
        '#include <linux/kernel.h>\n\nnoinstr void wide_entry(void)\n{\n\t/* \u00e9\U0001F600 */ probe_helper();\n}\n',
        encoding="utf-8")
    run = cli("check", "--root", repo, "-j", "1", "--no-cache", "--format", "sarif", "kernel/wide.c")
    doc = json.loads(run.out)
    (res,) = doc["runs"][0]["results"]
    region = res["locations"][0]["physicalLocation"]["region"]
    line = '\t/* \u00e9\U0001F600 */ probe_helper();'
    assert region["startColumn"] == len(line[:line.index("probe_helper")].encode("utf-16-le")) // 2 + 1
    assert doc["runs"][0]["columnKind"] == "utf16CodeUnits"


def _multitool() -> str | None:
    env = os.environ.get("KANNOT_SARIF_MULTITOOL")
    if env and Path(env).is_file():
        return env
    return shutil.which("sarif-multitool")


def test_sarif_multitool_reports_no_error_or_warning(tmp_path, mini_sarif):
    tool = _multitool()
    if tool is None:
        pytest.skip("SARIF Multitool not installed (npm @microsoft/sarif-multitool; .ci/run installs it)")
    log = tmp_path / "kannot.sarif"
    log.write_text(json.dumps(mini_sarif))
    out = tmp_path / "validation.sarif"
    proc = subprocess.run([tool, "validate", "--rule-kind", "Sarif;Gh", "--level", "Error;Warning",
                           "-o", str(out), str(log)], capture_output=True, text=True, timeout=300)
    findings = [l for l in proc.stdout.splitlines() if ": error " in l or ": warning " in l]
    assert proc.returncode == 0 and not findings, proc.stdout[-3000:]


def test_several_formats_in_one_run(tmp_path):
    sarif, js, cp = tmp_path / "k.sarif", tmp_path / "k.json", tmp_path / "k.txt"
    run = check(MINI, "--no-cache", "--output-sarif", sarif, "--output-json", js, "--output-checkpatch", cp, fmt="text")
    assert run.rc == 1
    plain = check(MINI, "--no-cache", fmt="text")
    assert run.out == plain.out  # stdout keeps the --format report, unchanged
    assert json.loads(js.read_text()) == json.loads(check(MINI, "--no-cache").out)
    assert not list(VALIDATOR.iter_errors(json.loads(sarif.read_text())))
    assert cp.read_text().startswith("ERROR:")
