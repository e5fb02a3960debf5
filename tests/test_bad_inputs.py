"""Odd files never lose a run: parse errors, NUL bytes, bad encodings, empty files, directories
named like sources, symlink loops. Each is listed in `errors` (when there is something to say) and
the findings from the other files are intact."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import BROKEN, CLEAN, by_caller, check, copy_tree, line_after

GOOD = ("KN001", "kernel/good.c", "good_caller", "plain_work")


def keyset(run):
    return {(f["code"], f["file"], f["caller"], f["callee"]) for f in run.findings}


def test_file_with_parse_errors_is_still_checked_and_listed():
    run = check(BROKEN)
    assert run.rc == 1
    assert keyset(run) == {GOOD, ("KN001", "kernel/broken.c", "broken_caller", "plain_work")}
    (f,) = by_caller(run.findings, "broken_caller")
    assert f["line"] == line_after(BROKEN, "kernel/broken.c", "noinstr void broken_caller(void)", "plain_work();")
    errs = [e for e in run.errors if e["file"] == "kernel/broken.c"]
    assert len(errs) == 1
    assert "parse" in errs[0]["message"]
    # the error names the first bad line (the garbage tokens)
    assert str(line_after(BROKEN, "kernel/broken.c", "static int garbage", "garbage")) in errs[0]["message"]


def test_parse_errors_go_to_stderr_in_text_mode_unless_quiet():
    run = check(BROKEN, fmt="text")
    assert "kernel/broken.c" in run.err
    quiet = check(BROKEN, "-q", fmt="text")
    assert quiet.err == ""
    assert quiet.out == run.out


@pytest.fixture
def bad_tree(tmp_path):
    root = copy_tree(BROKEN, tmp_path)
    k = root / "kernel"
    (k / "nul.c").write_bytes(b"#include <linux/kernel.h>\n\x00\x00\x00\nnoinstr void nul_caller(void)\n{\n\tplain_work();\n}\n")
    (k / "latin1.c").write_bytes(
        "#include <linux/kernel.h>\n/* d\xe9j\xe0 vu: not UTF-8 */\nnoinstr void latin_caller(void)\n{\n\tprintk(\"\xe9\");\n}\n".encode("latin-1"))
    (k / "binary.c").write_bytes(bytes(range(256)) * 4)
    (k / "empty.c").write_bytes(b"")
    (k / "empty.h").write_bytes(b"")
    (k / "foo.c").mkdir()
    (k / "foo.c" / "inner.c").write_text("#include <linux/kernel.h>\n\nnoinstr void inner_caller(void)\n{\n\tplain_work();\n}\n")
    os.symlink("loop_b.c", k / "loop_a.c")
    os.symlink("loop_a.c", k / "loop_b.c")
    os.symlink("nowhere.c", k / "dangling.c")
    os.symlink("..", k / "up")  # a directory loop: must not be walked forever
    return root


def test_bad_files_do_not_lose_the_run(bad_tree):
    run = check(bad_tree)
    assert run.rc == 1
    keys = keyset(run)
    assert GOOD in keys
    assert ("KN001", "kernel/broken.c", "broken_caller", "plain_work") in keys
    assert ("KN001", "kernel/nul.c", "nul_caller", "plain_work") in keys
    assert ("KN001", "kernel/latin1.c", "latin_caller", "printk") in keys
    assert ("KN001", "kernel/foo.c/inner.c", "inner_caller", "plain_work") in keys
    # nothing was found twice through the kernel/up -> .. loop
    assert len(run.findings) == len(keys)
    assert not any("/up/" in f["file"] for f in run.findings)


def test_bad_files_are_listed_in_errors(bad_tree):
    run = check(bad_tree)
    errs = {}
    for e in run.errors:
        errs.setdefault(e["file"], []).append(e["message"])
    assert any("NUL" in m for m in errs["kernel/nul.c"])
    for link in ("kernel/loop_a.c", "kernel/loop_b.c", "kernel/dangling.c"):
        assert any("symlink" in m for m in errs[link]), link
    # an empty file is valid C: nothing to say about it
    assert "kernel/empty.c" not in errs and "kernel/empty.h" not in errs
    # every error names a root-relative file
    assert all(not os.path.isabs(e["file"]) for e in run.errors)


def test_bad_files_in_text_mode(bad_tree):
    run = check(bad_tree, fmt="text")
    assert run.rc == 1
    assert "kernel/loop_a.c: kannot: symlink" in run.err
    assert "good_caller" in run.out


def test_file_name_that_is_not_utf8(tmp_path):
    root = copy_tree(BROKEN, tmp_path)
    d = os.path.join(os.fsencode(root), b"kernel", b"caf\xe9")
    os.mkdir(d)
    with open(os.path.join(d, b"bad\xff.c"), "wb") as fh:
        fh.write(b"#include <linux/kernel.h>\n\nnoinstr void badname_caller(void)\n{\n\tplain_work();\n}\n")
    # a real process, so that what reaches stdout must be encodable
    proc = subprocess.run([sys.executable, "-m", "kannot", "check", "--root", str(root), "-j", "1", "--format", "json"],
                          capture_output=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout.decode("utf-8"))
    keys = {(f["code"], f["file"], f["caller"], f["callee"]) for f in doc["findings"]}
    assert GOOD in keys
    assert [f for f in doc["findings"] if f["caller"] == "badname_caller"] or any("caf" in e["file"] for e in doc["errors"])


def test_tree_with_no_sources_is_a_fatal_error(tmp_path):
    root = tmp_path / "empty"
    (root / "include/linux").mkdir(parents=True)
    (root / "arch").mkdir()
    (root / "Kbuild").write_text("")
    run = check(root)
    assert run.rc == 2
    assert "no C files" in run.err


def test_huge_generated_file_is_skipped_and_listed(tmp_path):
    root = copy_tree(BROKEN, tmp_path)
    (root / "kernel/generated_table.c").write_bytes(b"static const int table[] = {\n" + b"0,\n" * 3000 + b"};\n")
    run = check(root, "--max-file-size", "4k")
    assert run.rc == 1
    assert GOOD in keyset(run)
    (e,) = [e for e in run.errors if e["file"] == "kernel/generated_table.c"]
    assert "4096-byte file size limit (--max-file-size)" in e["message"]


def test_headers_defining_annotation_macros_parse_cleanly():
    run = check(CLEAN)
    assert run.errors == []


def test_mini_compiler_headers_parse_cleanly(mini_default):
    files = {e["file"] for e in mini_default.errors}
    assert not files & {"include/linux/compiler_types.h", "include/asm-generic/kprobes.h"}


def test_genuine_grammar_limits_are_listed(mini_default):
    """`static DEFINE_PER_CPU(enum nmi_states, ...)` really does not parse as C; it is listed, and
    exc_nmi below it is still checked (test_calls_and_resolution)."""
    assert "arch/x86/kernel/nmi.c" in {e["file"] for e in mini_default.errors}
    assert by_caller(mini_default.findings, "exc_nmi") != []


def test_only_mini_errors_are_parse_notes(mini_default):
    for e in mini_default.errors:
        assert "parse" in e["message"], e
    assert not [e for e in mini_default.errors if e["file"].startswith("kernel/")]
