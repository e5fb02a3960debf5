"""Finding and reading the tree's files. Every odd file becomes an error line, never an exception."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from . import limits

SOURCE_SUFFIXES = (".c", ".h", ".S")
SKIP_DIRS = frozenset({".git", ".kannot-cache", ".pc", "Documentation", "tools", "scripts", "samples", "usr"})


@dataclass(frozen=True)
class FileError:
    file: str
    message: str

    def to_json(self) -> dict:
        return {"file": self.file, "message": self.message}


def find_kernel_root(start: Path) -> Path:
    """Walk up from ``start`` to a kernel tree's top (Kbuild + arch/ + include/linux), else ``start``."""
    start = start.resolve()
    for cand in (start, *start.parents):
        if (cand / "Kbuild").is_file() and (cand / "arch").is_dir() and (cand / "include" / "linux").is_dir():
            return cand
    return start


def arch_allowed(rel: str, arch: str | None) -> bool:
    if arch is None or not rel.startswith("arch/"):
        return True
    parts = rel.split("/", 2)
    if len(parts) < 3:
        return True  # "arch" itself, or a file directly in arch/
    return parts[1] == arch


def list_sources(root: Path, arch: str | None, errors: list[FileError]) -> list[str]:
    """Relative paths of the tree's C, header and assembly files, sorted."""
    out: list[str] = []
    root_s = str(root)
    seen_dirs: set[tuple[int, int]] = set()

    def onerror(exc: OSError) -> None:
        errors.append(FileError(_rel(exc.filename or root_s, root_s), f"cannot list directory: {exc.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root_s, onerror=onerror):
        try:
            st = os.stat(dirpath)
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                dirnames[:] = []
                continue
            seen_dirs.add(key)
        except OSError:
            continue
        rel_dir = _rel(dirpath, root_s)
        if rel_dir.endswith(SOURCE_SUFFIXES) and arch_allowed(rel_dir, arch):
            # `foo.c/`: not a source file; what is inside it is read like any folder's files
            errors.append(FileError(os.fsencode(rel_dir).decode("utf-8", "replace"), "is a directory, not a file (read as a folder)"))
        dirnames[:] = sorted(
            d for d in dirnames
            if not (d in SKIP_DIRS and rel_dir == "") and not d.startswith(".")
            and arch_allowed((f"{rel_dir}/{d}" if rel_dir else d) + "/", arch)
        )
        for name in filenames:
            if name.endswith(SOURCE_SUFFIXES):
                full = f"{rel_dir}/{name}" if rel_dir else name
                # names are the bytes on disk read as UTF-8, whatever the locale decoded them as
                # (a latin-1 or ASCII locale must not rename files in the report)
                raw = os.fsencode(full)
                try:
                    rel = raw.decode("utf-8")
                except UnicodeDecodeError:
                    errors.append(FileError(raw.decode("utf-8", "replace"), "skipped: path is not valid UTF-8"))
                    continue
                if arch_allowed(rel, arch):
                    out.append(rel)
    out.sort()
    return out


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
