"""Finding and reading the tree's files. Every odd file becomes an error line, never an exception."""
from __future__ import annotations

import itertools
import operator
import os
import stat
from array import array
from dataclasses import dataclass
from pathlib import Path

from kannot.source import limits

SOURCE_SUFFIXES = (".c", ".h", ".S")
SKIP_DIRS = frozenset({".git", ".kannot-cache", ".pc", "Documentation", "tools", "scripts", "samples", "usr"})


@dataclass(frozen=True)
class FileError:
    file: str
    message: str

    def to_json(self) -> dict:
        return {"file": self.file, "message": self.message}


class Listing(dict):
    """The tree's files, sorted, -> (size, mtime_ns), with the packed forms a warm run compares
    and stores (the joined names, the signatures as one array) made once, on first use: the
    listing is complete by then and not changed after."""

    __slots__ = ("_packed",)

    def packed(self) -> tuple[str, array]:
        got = getattr(self, "_packed", None)
        if got is None:
            got = self._packed = ("\0".join(self), array("q", itertools.chain.from_iterable(self.values())))
        return got


def is_sorted(items: list[str]) -> bool:
    """Strictly increasing (a listing's order: what lookups by bisection need)."""
    return all(map(operator.lt, items, itertools.islice(items, 1, None)))


def moved_positions(old: array, new: array) -> list[int]:
    """The positions whose (size, mtime_ns) pair differs between the flat arrays ``old`` and
    ``new`` (of the same files), or is (-1, -1) in ``new`` (not stat'ed): compared a block at
    a time, as a warm run usually finds one file moved among 50,000."""
    if len(old) != len(new):
        raise ValueError("listings of different lengths")
    out: set[int] = set()
    block = 4096  # (even: a block holds whole pairs)
    for start in range(0, len(new), block):
        if old[start : start + block] != new[start : start + block]:
            out.update(j // 2 for j in range(start, min(start + block, len(new))) if old[j] != new[j])
    if -1 in new:
        out.update(j // 2 for j in range(0, len(new), 2) if new[j] == -1 and new[j + 1] == -1)
    return sorted(out)


def find_kernel_root(start: Path) -> Path:
    """Walk up from ``start`` to a kernel tree's top (Kbuild + arch/ + include/linux), else ``start``."""
    start = start.resolve()
    return kernel_root_above(start) or start


def kernel_root_above(start: Path) -> Path | None:
    """The kernel tree's top at or above ``start`` (Kbuild, arch/ and include/linux), or None."""
    start = start.resolve()
    for cand in (start, *start.parents):
        if (cand / "Kbuild").is_file() and (cand / "arch").is_dir() and (cand / "include" / "linux").is_dir():
            return cand
    return None


# Folders inside one arch's folder that belong to another arch (ARCH=um builds arch/x86/um).
SUBARCH_DIRS = {"arch/x86/um/": "um"}


def arch_allowed(rel: str, arch: str | None) -> bool:
    if arch is None or not rel.startswith("arch/"):
        return True
    parts = rel.split("/", 2)
    if len(parts) < 3:
        return True  # "arch" itself, or a file directly in arch/
    for prefix, owner in SUBARCH_DIRS.items():
        if rel.startswith(prefix) and owner != arch:
            return False
    return parts[1] == arch or (arch == "um" and rel.startswith("arch/x86/um/"))


def list_sources(root: Path, arch: str | None, errors: list[FileError]) -> list[str]:
    """Relative paths of the tree's C, header and assembly files, sorted."""
    return [rel for rel, _sig in scan_tree(root, arch, errors)]


def scan_tree(root: Path, arch: str | None, errors: list[FileError], jobs: int | None = None) -> list[tuple[str, tuple[int, int]]]:
    """(rel, (size, mtime_ns)) of the tree's C, header and assembly files, sorted by rel: the
    listing and every file's signature in one walk (a warm run's first question is "what
    changed?", and on a kernel tree this walk is most of its answer's cost). A file that cannot
    be stat'ed gets (-1, -1): it is read (and its problem said) later.

    Like ``os.walk`` without following links: symlinked folders are not entered, a folder seen
    twice (bind mounts) is listed once, and a folder that cannot be listed is an error line.
    With ``jobs`` > 1 a forked child walks half of the second-level folders (the stat calls are
    most of the time, and threads would only queue on the GIL)."""
    records, tasks = _top(os.fsencode(str(root)), arch, depth=2)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if jobs > 1 and len(tasks) > 1:
        records += _walk_split(tasks, arch)
    else:
        records += _walk(tasks, arch)
    # merged in folder order: the first folder with a given identity wins (bind mounts)
    records.sort(key=lambda r: r[0])
    seen: set[tuple[int, int]] = set()
    out: list[tuple[str, tuple[int, int]]] = []
    for rel_dir, key, files, errs in records:
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        out.extend(files)
        errors.extend(FileError(f, m) for f, m in errs)
    out.sort()
    return out


_Record = tuple  # (rel_dir, (dev, ino) or None, [(rel, sig)], [(file, message)])


def _top(root_b: bytes, arch: str | None, depth: int) -> tuple[list[_Record], list[tuple[bytes, str, bool]]]:
    """The records of the folders above ``depth``, and the folders at ``depth`` (not walked)."""
    records: list[_Record] = []
    current = [(root_b, "", True)]  # (path, rel, rel is valid UTF-8)
    for _level in range(depth):
        below: list[tuple[bytes, str, bool]] = []
        for task in current:
            rec, subdirs = _scan_dir(*task, arch)
            if rec is not None:
                records.append(rec)
            below += subdirs
        current = below
    return records, current


def _walk(tasks: list[tuple[bytes, str, bool]], arch: str | None) -> list[_Record]:
    """The records of the whole subtrees of ``tasks`` (in no order: they are sorted when merged)."""
    records: list[_Record] = []
    stack = list(tasks)
    while stack:
        rec, subdirs = _scan_dir(*stack.pop(), arch)
        if rec is not None:
            records.append(rec)
        stack += subdirs
    return records


def _scan_dir(dir_b: bytes, rel_dir: str, dir_ok: bool, arch: str | None) -> tuple[_Record | None, list]:
    """One folder: its record and its subfolders."""
    try:
        st = os.stat(dir_b)
        key = (st.st_dev, st.st_ino)
    except OSError:
        return None, []
    errs: list[tuple[str, str]] = []
    try:
        with os.scandir(dir_b) as it:
            entries = list(it)
    except OSError as exc:
        return (rel_dir, key, [], [(_shown(rel_dir), f"cannot list directory: {exc.strerror}")]), []
    if rel_dir.endswith(SOURCE_SUFFIXES) and arch_allowed(rel_dir, arch):
        # `foo.c/`: not a source file; what is inside it is read like any folder's files
        errs.append((_shown(rel_dir), "is a directory, not a file (read as a folder)"))
    prefix = rel_dir + "/" if rel_dir else ""
    files: list[tuple[str, tuple[int, int]]] = []
    subdirs: list[tuple[bytes, str, bool]] = []
    for entry in entries:
        name_b = entry.name
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        # names are the bytes on disk read as UTF-8, whatever the locale (a latin-1 or ASCII
        # locale must not rename files in the report)
        if is_dir:
            if name_b.startswith(b".") or entry.is_symlink():
                continue
            name = name_b.decode("utf-8", "surrogateescape")
            if rel_dir == "" and name in SKIP_DIRS:
                continue
            if arch_allowed(prefix + name + "/", arch):
                subdirs.append((entry.path, prefix + name, dir_ok and _utf8(name_b)))
            continue
        if not name_b.endswith((b".c", b".h", b".S")):
            continue
        rel = prefix + name_b.decode("utf-8", "surrogateescape")
        if not (dir_ok and (name_b.isascii() or _utf8(name_b))):
            errs.append((_shown(rel), "skipped: path is not valid UTF-8"))
            continue
        # (no arch test for files: other arches' folders were not entered, and a file directly
        # in arch/ is everyone's)
        try:
            fst = entry.stat()
            sig = (fst.st_size, fst.st_mtime_ns)
        except OSError:
            sig = (-1, -1)
        files.append((rel, sig))
    return (rel_dir, key, files, errs), subdirs


def _walk_split(tasks: list[tuple[bytes, str, bool]], arch: str | None) -> list[_Record]:
    """Walk ``tasks``, every other one in a forked child. Any trouble with the child (no fork,
    threads running, a crash): the parent walks its share too."""
    tasks = sorted(tasks, key=lambda t: t[1])
    mine, theirs = tasks[0::2], tasks[1::2]
    import threading

    if not hasattr(os, "fork") or threading.active_count() > 1:
        return _walk(tasks, arch)  # forking a threaded process (the language server) is unsafe
    import marshal

    try:
        r, w = os.pipe()
        pid = os.fork()
    except OSError:
        return _walk(tasks, arch)
    if pid == 0:  # the child: walk, send, leave without running any cleanup of the parent's
        code = 1
        try:
            from kannot.source.workers import die_with_parent

            die_with_parent()
            os.close(r)
            data = marshal.dumps(_walk(theirs, arch))
            with os.fdopen(w, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    records = _walk(mine, arch)
    with os.fdopen(r, "rb") as inp:
        data = inp.read()
    _pid, status = os.waitpid(pid, 0)
    try:
        if status != 0:
            raise ValueError("the walking child failed")
        records += marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        records += _walk(theirs, arch)
    return records


def _utf8(name: bytes) -> bool:
    try:
        name.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _shown(rel: str) -> str:
    """A path for a message: undecodable bytes shown as U+FFFD."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _rel(path: str, root: str) -> str:
    rel = os.path.relpath(path, root)
    return "" if rel == "." else rel.replace(os.sep, "/")


def fs_path(root: Path, rel: str) -> bytes:
    """The file's path as bytes: ``rel`` is UTF-8 on disk, whatever the locale's encoding."""
    return os.path.join(os.fsencode(root), rel.encode("utf-8", "surrogateescape"))


def read_source(root: Path, rel: str) -> tuple[bytes | None, str | None]:
    """(content, note): content None with the reason, or content with an optional note (NUL bytes).

    Never raises for a bad file, and never blocks: a FIFO or device named ``x.c`` is refused
    before it is opened (and opened non-blocking in case it was swapped in since), and at most
    the size limit plus one byte is read, so a file that grows while it is read cannot exhaust
    memory.
    """
    path = fs_path(root, rel)
    limit = limits.current().max_file_bytes
    try:
        if os.path.islink(path):
            try:
                os.stat(path)
            except OSError:
                return None, "symlink loop or dangling symlink"
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            return None, "is a directory, not a file"
        if not stat.S_ISREG(st.st_mode):
            return None, f"skipped: not a regular file ({_kind(st.st_mode)})"
        if st.st_size > limit:
            return None, _too_big(st.st_size, limit)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None, "skipped: not a regular file (replaced while being read)"
            chunks: list[bytes] = []
            got = 0
            while got <= limit:
                chunk = os.read(fd, min(1 << 20, limit + 1 - got))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
        finally:
            os.close(fd)
        if got > limit:
            return None, _too_big(got, limit, growing=True)
        data = b"".join(chunks)
    except FileNotFoundError:
        return None, "vanished while being read"
    except PermissionError:
        return None, "unreadable: permission denied"
    except IsADirectoryError:
        return None, "is a directory, not a file"
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    if b"\0" in data:
        # parsed with the NULs blanked, and said so
        return data.replace(b"\0", b" "), "contains NUL bytes (read as spaces)"
    return data, None


def _too_big(size: int, limit: int, growing: bool = False) -> str:
    what = "over" if not growing else "over (it grew while being read)"
    return f"skipped: {size} bytes is {what} the {limit}-byte file size limit (--max-file-size)"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "an unknown kind of file"
