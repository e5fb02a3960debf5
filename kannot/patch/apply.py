"""Apply a unified diff or an mbox of patches (git format-patch, b4) in memory, never on disk.

    change = apply_patch(root, data)
    change.after   # {rel: bytes | None}  the patched contents (None: the patch deletes the file)
    change.before  # {rel: bytes | None}  the contents the patch was made against

Paths are checked before anything is read: absolute paths, ``..`` components and paths that lead out
of the root through a symlink are refused. A hunk that does not match (exactly, at its line or
shifted up or down, as ``patch`` finds an offset) stops everything with :class:`PatchError` naming
the file and the hunk. A series that is already applied to the tree (``b4 prep --check`` runs on the
branch that holds it) is recognised by applying it in reverse: the tree is then the "after" state.
"""
from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import cast

import unidiff
from unidiff.constants import RE_HUNK_HEADER, LINE_TYPE_ADDED, LINE_TYPE_CONTEXT, LINE_TYPE_EMPTY, LINE_TYPE_NO_NEWLINE, LINE_TYPE_REMOVED

from kannot.source.files import SOURCE_SUFFIXES, read_source


class PatchError(Exception):
    """The patch cannot be used: it does not parse, names a bad path, or a hunk does not apply."""


@dataclass
class PatchedFile:
    source: str | None  # root-relative path before (None: the patch creates the file)
    target: str | None  # after (None: the patch deletes it)
    hunks: list  # unidiff hunks
    index_in_patch: int
    copy: bool = False  # git's "copy from/copy to": the source stays
    named: tuple[str, ...] = ()  # paths of "rename/copy from/to" lines, checked like the others


@dataclass
class Change:
    before: dict[str, bytes | None] = field(default_factory=dict)
    after: dict[str, bytes | None] = field(default_factory=dict)
    reversed: bool = False  # the patch was already applied: the tree on disk is the "after" state
    patch_lines: dict[tuple[str, int], int] = field(default_factory=dict)  # (file, line after) -> line in the patch
    lines: int = 0  # lines of patch text
    patches: int = 0  # messages or diffs read

    def source_files(self) -> list[str]:
        return sorted(r for r in set(self.before) | set(self.after) if r.endswith(SOURCE_SUFFIXES))


# reading ------------------------------------------------------------------------------------------

_MBOX_FROM = re.compile(rb"^From [^\s]+ .*\d{4}\s*$", re.M)


def split_messages(data: bytes) -> list[bytes]:
    """An mbox (lines ``From <hash> <date>``) as its messages; anything else as one piece."""
    starts = [m.start() for m in _MBOX_FROM.finditer(data)]
    if not starts or data[: starts[0]].strip():
        return [data]
    starts.append(len(data))
    return [data[a:b] for a, b in zip(starts, starts[1:])]


def _needs_decoding(msg_bytes: bytes) -> bool:
    head = msg_bytes.split(b"\n\n", 1)[0].lower()
    return b"content-transfer-encoding: base64" in head or b"content-transfer-encoding: quoted-printable" in head \
        or b"multipart/" in head


def _decoded_text(msg_bytes: bytes) -> str:
    """The diff text of one mail whose body is encoded or in MIME parts."""
    msg = email.message_from_bytes(msg_bytes, policy=email.policy.compat32)
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/x-patch", "text/x-diff", "application/octet-stream"):
            continue
        payload = cast(bytes, part.get_payload(decode=True) or b"")  # (decode=True: bytes or None)
        parts.append(payload.decode("utf-8", "surrogateescape"))
    return "\n".join(parts)


def parse_patch(data: bytes) -> tuple[list[PatchedFile], int, int]:
    """(files in patch order, number of patches, line offset list) from a diff or an mbox."""
    texts: list[tuple[str, int]] = []  # (text, first line of it in the input, 0-based)
    line_base = 0
    messages = split_messages(data)
    for m in messages:
        if _needs_decoding(m):
            texts.append((_decoded_text(m), -1))
        else:
            texts.append((m.decode("utf-8", "surrogateescape"), line_base))
        line_base += m.count(b"\n")
    files: list[PatchedFile] = []
    for text, base in texts:
        _check_hunk_headers(text)
        try:
            ps = unidiff.PatchSet(text)
        except unidiff.UnidiffParseError as exc:
            raise PatchError(f"cannot read the patch: {exc}") from None
        for pf in ps:
            src = None if pf.is_added_file else _clean_path(pf.source_file, "a/")
            dst = None if pf.is_removed_file else _clean_path(pf.target_file, "b/")
            if pf.is_binary_file and any(p is not None and p.endswith(SOURCE_SUFFIXES) for p in (src, dst)):
                # nothing to apply in memory, and ignoring it would check the unpatched file
                raise PatchError(f"cannot apply a binary diff to {dst or src}: kannot reads source text "
                                 "(make the patch with git format-patch without --binary)")
            copy, named = _rename_or_copy(pf, src, dst)
            if base >= 0:
                for h in pf:
                    for line in h:
                        if line.diff_line_no is not None:
                            line.diff_line_no_input = base + line.diff_line_no  # type: ignore[attr-defined]  # ours, on unidiff's Line
            files.append(PatchedFile(src, dst, list(pf), len(files), copy=copy, named=named))
    if not files:
        raise PatchError("no diff found in the input (expected a unified diff or an mbox of patches)")
    return files, len(messages), data.count(b"\n")


def _check_hunk_headers(text: str) -> None:
    """unidiff skips a line like ``@@ -x,1 +1,2 @@`` as noise, and the hunk under it with it: a
    patch would then be checked without its change. Every ``@@`` line after a file's ``---``/``+++``
    header must be a hunk header."""
    in_diff = False
    prev = ""
    for no, line in enumerate(text.splitlines(), 1):
        if line.startswith("+++ ") and prev.startswith("--- "):
            in_diff = True
        elif in_diff and line.startswith("@@") and not RE_HUNK_HEADER.match(line):
            raise PatchError(f"cannot read the patch: malformed hunk header at line {no}: {line[:80]!r}")
        prev = line


def _rename_or_copy(pf, src: str | None, dst: str | None) -> tuple[bool, tuple[str, ...]]:
    """(is a copy, the paths of its "rename/copy from/to" lines). The lines must name the files
    the ``diff --git`` header names: a patch whose parts disagree is refused, not guessed at."""
    info = str(pf.patch_info or "")
    froms = re.findall(r"^(?:rename|copy) from (.+)$", info, re.M)
    tos = re.findall(r"^(?:rename|copy) to (.+)$", info, re.M)
    copy = bool(re.search(r"^copy from ", info, re.M))
    named = tuple(_clean_path(p, "") for p in froms + tos)
    for p in named:
        if p not in (src, dst):
            raise PatchError(f"refusing path {p!r} in the patch: its rename/copy lines and its diff header "
                             f"name different files ({src!r} -> {dst!r})")
    return copy, named


def _clean_path(raw: str, prefix: str) -> str:
    path = raw.split("\t", 1)[0]
    if path.startswith('"') and path.endswith('"'):
        path = path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1").decode("utf-8", "surrogateescape")
    if path.startswith(prefix):
        path = path[len(prefix):]
    return path


def check_path(root: Path, rel: str) -> str:
    """REL as a clean root-relative path, or PatchError if it leaves the root."""
    if not rel or rel.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", rel) or "\\" in rel:
        raise PatchError(f"refusing path {rel!r} in the patch: absolute or not a plain relative path")
    parts = PurePosixPath(rel).parts
    if any(p == ".." for p in parts):
        raise PatchError(f"refusing path {rel!r} in the patch: it contains '..'")
    clean = "/".join(p for p in parts if p not in ("", "."))
    if not clean or "\0" in clean:
        raise PatchError(f"refusing path {rel!r} in the patch: empty or invalid")
    full = (root / clean).resolve()
    try:
        full.relative_to(root.resolve())
    except ValueError:
        raise PatchError(f"refusing path {rel!r} in the patch: it leads outside the root {root}") from None
    return clean


# applying -----------------------------------------------------------------------------------------

MAX_OFFSET = 1000  # how far from its stated line a hunk may have moved


def _hunk_sides(hunk, reverse: bool) -> tuple[list[str], list[str], list]:
    old: list[str] = []
    new: list[str] = []
    added_lines: list = []  # unidiff lines on the "new" side, in order, None for context
    last: tuple[list[str], ...] | None = None
    for line in hunk:
        t = line.line_type
        if t == LINE_TYPE_NO_NEWLINE:
            if last is not None:
                for seq in last:
                    if seq and seq[-1].endswith("\n"):
                        seq[-1] = seq[-1][:-1]
            continue
        if t == LINE_TYPE_CONTEXT:
            old.append(line.value)
            new.append(line.value)
            added_lines.append(None)
            last = (old, new)
        elif t == LINE_TYPE_REMOVED:
            old.append(line.value)
            last = (old,)
        elif t == LINE_TYPE_ADDED:
            new.append(line.value)
            added_lines.append(line)
            last = (new,)
        elif t == LINE_TYPE_EMPTY:
            if line.source_line_no is None and line.target_line_no is None:
                continue  # the blank line after a hunk (before a mail's "-- " signature)
            old.append("\n")
            new.append("\n")
            added_lines.append(None)
            last = (old, new)
    if reverse:
        return new, old, [None] * len(old)
    return old, new, added_lines


def _find(lines: list[str], want: list[str], expected: int) -> int | None:
    n = len(want)
    if n == 0:
        return max(0, min(expected, len(lines)))
    for delta in range(0, MAX_OFFSET + 1):
        for pos in ((expected + delta,) if delta == 0 else (expected - delta, expected + delta)):
            if 0 <= pos <= len(lines) - n and lines[pos:pos + n] == want:
                return pos
    return None


def _apply_file(rel: str, content: str | None, pf: PatchedFile, reverse: bool,
                patch_lines: dict[tuple[str, int], int] | None) -> str:
    lines = (content or "").splitlines(keepends=True)
    out: list[str] = []
    cursor = 0
    shift = 0
    for i, hunk in enumerate(pf.hunks, 1):
        old, new, added = _hunk_sides(hunk, reverse)
        start = (hunk.target_start if reverse else hunk.source_start)
        expected = max(start - 1, 0) + shift
        if not old and start == 0:
            expected = 0
        pos = _find(lines, old, max(expected, cursor))
        if pos is None or pos < cursor:
            header = f"@@ -{hunk.source_start},{hunk.source_length} +{hunk.target_start},{hunk.target_length} @@"
            if hunk.section_header:
                header += " " + hunk.section_header.strip()
            raise PatchError(f"patch does not apply: {rel}: hunk #{i} ({header}) does not match the tree")
        out.extend(lines[cursor:pos])
        first_new = len(out) + 1
        out.extend(new)
        if patch_lines is not None:
            for k, line in enumerate(added):
                if line is not None:
                    patch_lines[(rel, first_new + k)] = getattr(line, "diff_line_no_input", line.diff_line_no)
        cursor = pos + len(old)
        shift = pos - max(start - 1, 0)
    out.extend(lines[cursor:])
    return "".join(out)


def _apply_all(root: Path, files: list[PatchedFile], reverse: bool) -> tuple[dict, dict, dict]:
    current: dict[str, str | None] = {}
    original: dict[str, str | None] = {}
    patch_lines: dict[tuple[str, int], int] = {}
    order = list(reversed(files)) if reverse else files

    def load(rel: str) -> str | None:
        if rel not in current:
            data, _note = read_source(root, rel)
            text = None if data is None else data.decode("utf-8", "surrogateescape")
            current[rel] = text
            original[rel] = text
        return current[rel]

    content: str | None
    for pf in order:
        src, dst = (pf.target, pf.source) if reverse else (pf.source, pf.target)
        if src is None:  # a new file
            if dst is None:
                raise PatchError("malformed patch: a diff of /dev/null to /dev/null names no file")
            created = dst
            if load(created) is not None:
                raise PatchError(f"patch does not apply: {dst}: the patch creates it, but it already exists")
            content = _apply_file(created, "", pf, reverse, None if reverse else patch_lines)
            current[created] = content
            continue
        content = load(src)
        if content is None:
            raise PatchError(f"patch does not apply: {src}: no such file in the tree")
        if pf.copy and reverse:  # undoing a copy: the copy goes, the source was never touched
            current[src] = None
            continue
        if not pf.hunks and dst is not None and src != dst:  # pure rename or copy
            load(dst)
            current[dst] = content
            if not pf.copy:
                current[src] = None
            continue
        new = _apply_file(src, content, pf, reverse, None if reverse else patch_lines)
        if dst is None:
            current[src] = None
        else:
            if dst != src:
                load(dst)
                if not pf.copy:
                    current[src] = None
            current[dst] = new
    return original, current, patch_lines


def apply_patch(root: Path, data: bytes) -> Change:
    files, n_patches, n_lines = parse_patch(data)
    for pf in files:  # every path is checked before anything is read
        for p in pf.named:
            check_path(root, p)
        if pf.source is not None:
            pf.source = check_path(root, pf.source)
        if pf.target is not None:
            pf.target = check_path(root, pf.target)
    try:
        original, current, patch_lines = _apply_all(root, files, reverse=False)
        rev = False
    except PatchError as forward_error:
        try:
            original, current, _ = _apply_all(root, files, reverse=True)
        except PatchError:
            raise forward_error from None
        rev = True
        patch_lines = {}  # the tree holds the patched lines where the patch says they are
        for pf in files:
            for hunk in pf.hunks:
                for line in hunk:
                    if line.line_type == LINE_TYPE_ADDED and pf.target is not None:
                        patch_lines[(pf.target, line.target_line_no)] = getattr(line, "diff_line_no_input", line.diff_line_no)
    enc = lambda t: None if t is None else t.encode("utf-8", "surrogateescape")  # noqa: E731
    change = Change(reversed=rev, lines=n_lines, patches=n_patches)
    for rel in set(original) | set(current):
        a, b = enc(original.get(rel)), enc(current.get(rel))
        if rev:
            change.before[rel], change.after[rel] = b, a
        else:
            change.before[rel], change.after[rel] = a, b
    change.patch_lines = patch_lines
    return change
