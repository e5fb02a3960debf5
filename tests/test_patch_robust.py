"""Issue 6, item 2: bad patches (``--patch``) are clear errors (exit 2, one line on stderr, nothing
on stdout), nothing is written anywhere (not the tree, not .git, not a cache), and no path gets
out of the root. Real ``kannot`` processes on a git checkout of the patch fixture tree."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from patchrepo import git, repo_linking_outside
from robust_helpers import kannot

SPDX = " // SPDX-License-Identifier: GPL-2.0\n"


def snapshot(top: Path) -> dict[str, tuple]:
    """Every file and directory under TOP, .git and hidden ones included, with bytes and mode."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(top))] = (stat.S_IFMT(st.st_mode), p.read_bytes() if stat.S_ISREG(st.st_mode) else None)
    return out


@pytest.fixture
def repo(tmp_path):
    return repo_linking_outside(tmp_path)


def run_patch(repo: Path, text: str | bytes, *extra: str):
    """A bad patch fails before anything is read, so even the facts cache is not created; a good
    one is run with --no-cache to show the same."""
    patch = repo.parent / "the.patch"
    patch.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = snapshot(repo.parent)
    p = kannot("check", "--root", repo, "-j", "1", "--format", "json", "--patch", patch, *extra)
    assert snapshot(repo.parent) == before  # nothing written anywhere, cache included
    return p


def hunk(a: str, b: str, header: str = "@@ -1,1 +1,2 @@") -> str:
    return f"--- {a}\n+++ {b}\n{header}\n{SPDX}+noinstr void evil(void) {{ }}\n"


BAD = {
    "hunk header that is no hunk header": (hunk("a/kernel/context.c", "b/kernel/context.c", "@@ -x,1 +1,2 @@"), "malformed hunk header at line 3"),
    "combined-diff hunk header": (hunk("a/kernel/context.c", "b/kernel/context.c", "@@@ -1,1 -1,1 +1,2 @@@"), "malformed hunk header"),
    "hunk longer than it says": (hunk("a/kernel/context.c", "b/kernel/context.c", "@@ -1,3 +1,40 @@"), "cannot read the patch"),
    "garbage inside a hunk": ("--- a/kernel/context.c\n+++ b/kernel/context.c\n@@ -1,1 +1,2 @@\n" + SPDX + "garbage\n+x\n", "cannot read the patch"),
    "hunk that does not match": (hunk("a/kernel/context.c", "b/kernel/context.c").replace("SPDX", "SPDY"), "hunk #1"),
    "GIT binary patch on a .c file": ("diff --git a/kernel/context.c b/kernel/context.c\nindex 1234567..89abcde 100644\n"
                                      "GIT binary patch\nliteral 12\nTcmZ?l00000000000000\n\nliteral 0\nHcmV?d00001\n\n",
                                      "cannot apply a binary diff to kernel/context.c"),
    "'Binary files differ' on a header": ("diff --git a/include/linux/kernel.h b/include/linux/kernel.h\nindex 1234567..89abcde 100644\n"
                                          "Binary files a/include/linux/kernel.h and b/include/linux/kernel.h differ\n",
                                          "cannot apply a binary diff to include/linux/kernel.h"),
    "rename out of the root": ("diff --git a/kernel/context.c b/../ctx.c\nsimilarity index 100%\nrename from kernel/context.c\n"
                               "rename to ../ctx.c\n", "refusing path '../ctx.c'"),
    "rename lines that disagree with the header": ("diff --git a/kernel/context.c b/kernel/ctx.c\nsimilarity index 100%\n"
                                                   "rename from kernel/context.c\nrename to ../../ctx.c\n", "name different files"),
    "copy to an absolute path": ("diff --git a/kernel/context.c b/kernel/c2.c\nsimilarity index 100%\ncopy from kernel/context.c\n"
                                 "copy to /etc/c2.c\n", "refusing path"),
    "absolute target": (hunk("/etc/x.c", "/etc/x.c"), "absolute"),
    "dot-dot target": (hunk("a/kernel/../../x.c", "b/kernel/../../x.c"), "'..'"),
    "new file through a symlink out of the root": ("--- /dev/null\n+++ b/kernel/link/new.c\n@@ -0,0 +1 @@\n+int x;\n", "outside the root"),
    "edit through a symlink out of the root": (hunk("a/kernel/link/x.c", "b/kernel/link/x.c"), "outside the root"),
    "a later message with a bad path": ("From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001\nSubject: [PATCH 1/2] ok\n\n---\n"
                                        + hunk("a/kernel/context.c", "b/kernel/context.c")
                                        + "\nFrom 2222222222222222222222222222222222222222 Mon Sep 17 00:00:00 2001\nSubject: [PATCH 2/2] bad\n\n---\n"
                                        + hunk("a/../../etc/passwd.c", "b/../../etc/passwd.c"), "'..'"),
    "NUL in a path": (hunk("a/kernel/con\0text.c", "b/kernel/con\0text.c"), "refusing path"),
    "not a patch at all": ("\x00\xff\xfe binary junk \x89PNG\r\n", "no diff found"),
    "/dev/null to /dev/null": ("--- /dev/null\n+++ /dev/null\n@@ -0,0 +1 @@\n+int x;\n", "names no file"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_patch_is_one_clear_error_and_writes_nothing(repo, name):
    text, words = BAD[name]
    p = run_patch(repo, text)
    assert p.rc == 2, (p.rc, p.err)
    assert p.out == b""
    lines = p.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kannot: error: ") and words in lines[0], p.err


def test_binary_diff_of_a_file_kannot_does_not_read_is_ignored(repo):
    p = run_patch(repo, "diff --git a/fw/blob.bin b/fw/blob.bin\nnew file mode 100644\nindex 0000000..89abcde\n"
                        "Binary files /dev/null and b/fw/blob.bin differ\n", "--no-cache")
    assert p.rc == 0, p.err
    assert b'"findings": []' in p.out


def test_pure_rename_and_copy_are_applied_in_memory(repo):
    """A rename moves the file in memory (its functions and their findings with it); a copy keeps
    the source. Neither touches the disk."""
    rename = run_patch(repo, "diff --git a/kernel/context.c b/kernel/ctx.c\nsimilarity index 100%\n"
                             "rename from kernel/context.c\nrename to kernel/ctx.c\n", "--no-cache")
    assert rename.rc in (0, 1), rename.err
    copy = run_patch(repo, "diff --git a/kernel/context.c b/kernel/context2.c\nsimilarity index 100%\n"
                           "copy from kernel/context.c\ncopy to kernel/context2.c\n", "--no-cache")
    assert copy.rc in (0, 1), copy.err
    assert not (repo / "kernel" / "ctx.c").exists() and not (repo / "kernel" / "context2.c").exists()


def test_rename_with_a_change_and_a_copy_with_a_change(repo):
    """git format-patch -M -C output: the changed copy is checked, the source is still there."""
    (repo / "kernel" / "context2.c").write_text((repo / "kernel" / "context.c").read_text().replace(
        "noinstr void ct_user_exit(void)", "noinstr void ct_user_exit2(void)\n{\n\trcu_irq_work();\n}\n\nvoid unused(void)"))
    git(repo, "add", "-A", "kernel/context2.c")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "copy")
    patch = git(repo, "format-patch", "-1", "-C", "-C", "--stdout")
    git(repo, "reset", "-q", "--hard", "HEAD^")
    assert "copy from kernel/context.c" in patch
    p = run_patch(repo, patch, "--no-cache")
    assert p.rc == 1, p.err
    assert b'"caller": "ct_user_exit2"' in p.out and b'"callee": "rcu_irq_work"' in p.out
    # kernel/context.c is still there: its ct_user_exit resolves (a rename would make it KN004)
    assert b'"callee": "ct_user_exit"' not in p.out
