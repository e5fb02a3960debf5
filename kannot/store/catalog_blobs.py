"""The catalog's stored forms (kannot.index.catalog), encoded and decoded here only.

- a file's entry (a row of the cache's ``texts`` table): its :class:`~kannot.facts.text.TextFacts`
  and the note reading it left (:func:`pack_catalog_entry`, :func:`unpack_catalog_entry`);
- the name indexes, as one blob (:class:`CatalogState`, :func:`pack_state`): what a warm run
  maps and reads;
- every file's (size, mtime_ns), as a blob of their own (:func:`pack_sigs`): an edit that
  changes no file's names rewrites only them.
"""
from __future__ import annotations

import gc
import itertools
import marshal
import struct
from array import array
from typing import Any, NamedTuple

from kannot.facts.text import TextFacts
from kannot.store.stamp import FORMAT

INDEX_KEY = "catalog"
SIGS_KEY = "catalog-sigs"
_STATE_MAGIC = b"KNCAT\0\0\0"
_PARTS = 12  # the small parts, then heads' five arrays, defines' five, the invocations

# a frozen name index (kannot.index.catalog.Postings.freeze): the sorted names in one string
# (or still in the mapped blob: MappedText), where each starts, and three arrays of ranks
Frozen = tuple[Any, bytes, bytes, bytes, bytes]


class MappedText:
    """A stored index's names, still in the (mapped) stored catalog: the index searches them as
    bytes (decoding the 20 MB of a kernel tree's names cost a warm run 0.05 s), and decodes them
    whole only to split them (a whole check, or a rewrite)."""

    __slots__ = ("buf", "start", "_size")

    def __init__(self, buf: Any, start: int, size: int):
        self.buf, self.start, self._size = buf, start, size  # (buf: bytes or an mmap)

    def __len__(self) -> int:
        return self._size

    def split(self, sep: str) -> list[str]:
        return self.buf[self.start : self.start + self._size].decode("utf-8", "surrogateescape").split(sep)


class CatalogState(NamedTuple):
    """A catalog as stored."""

    files: list[str]
    sigs: array | None  # stored apart (pack_sigs); None until read
    includes: list[str | None]  # per file: its #include lines packed in one string
    notes: dict[str, str]  # file -> what reading it said
    unreadable: list[str]
    heads: Frozen
    defines: Frozen
    invocations: bytes  # marshalled arg -> [(rank, macro)]
    marks: dict[int, int]  # rank -> family bits


def pack_state(state: CatalogState) -> bytes:
    """The small parts marshalled, and each array of the two name indexes (and the packed
    invocations) as raw bytes, 8-aligned, behind a table of offsets. A warm run maps the file
    and keeps views of those (unmarshalling and copying 85 MB cost it 0.2 s more)."""
    heads, defines = state.heads, state.defines
    raws = [heads[0].encode("utf-8", "surrogateescape"), *heads[1:],
            defines[0].encode("utf-8", "surrogateescape"), *defines[1:], state.invocations]
    small = (FORMAT, state.files, None, state.includes, state.notes, state.unreadable, state.marks)
    parts = [marshal.dumps(small), *raws]
    pos = len(_STATE_MAGIC) + 4 + 16 * len(parts)
    table, body = [], []
    for part in parts:
        pad = -pos % 8
        body += [b"\0" * pad, part]
        table.append(struct.pack("<QQ", pos + pad, len(part)))
        pos += pad + len(part)
    return b"".join([_STATE_MAGIC, struct.pack("<I", len(parts)), *table, *body])


def unpack_state(blob: Any) -> CatalogState | None:
    """:func:`pack_state` undone (``blob``: bytes, or a mapped file); None for another format.
    Raises ValueError for a damaged one."""
    view = memoryview(blob)
    if bytes(view[: len(_STATE_MAGIC)]) != _STATE_MAGIC:
        return None
    (n,) = struct.unpack_from("<I", view, len(_STATE_MAGIC))
    if n != _PARTS:
        raise ValueError("stored catalog of another shape")
    parts, places = [], []
    for k in range(n):
        start, size = struct.unpack_from("<QQ", view, len(_STATE_MAGIC) + 4 + 16 * k)
        if start + size > len(view):
            raise ValueError("stored catalog cut short")
        parts.append(view[start : start + size])
        places.append((start, size))
    small = marshal.loads(parts[0])
    if not (isinstance(small, tuple) and len(small) == 7 and small[0] == FORMAT):
        return None
    _fmt, files, _sigs, includes, notes, unreadable, marks = small
    heads = (MappedText(blob, *places[1]), *parts[2:6])
    defines = (MappedText(blob, *places[6]), *parts[7:11])
    if len(includes) != len(files):
        raise ValueError("stored includes do not match the stored files")
    return CatalogState(files, None, includes, notes, unreadable, heads, defines,  # type: ignore[arg-type]
                        bytes(parts[11]), marks)


def pack_sigs(sigs: "list[tuple[int, int]] | array") -> bytes:
    """(``sigs``: pairs, or already one flat array)"""
    flat = sigs if isinstance(sigs, array) else array("q", itertools.chain.from_iterable(sigs))
    return marshal.dumps((len(flat) // 2, flat.tobytes()))


def unpack_sigs(blob: bytes | None, count: int) -> array:
    """The stored signatures, as one flat array of (size, mtime_ns) pairs."""
    if blob is None:
        raise ValueError("no stored signatures")
    n, flat_b = marshal.loads(blob)
    flat = array("q")
    flat.frombytes(flat_b)
    if n != count or len(flat) != 2 * n:
        raise ValueError("stored signatures do not match the stored files")
    return flat


def pack_invocations(index: dict[str, list[tuple[int, str]]]) -> bytes:
    """The invocations index (argument -> (rank, macro) of each file-scope ``MACRO(arg...``)."""
    return marshal.dumps(index)


def unpack_invocations(blob: bytes) -> dict[str, list[tuple[int, str]]]:
    return marshal.loads(blob)


def pack_catalog_entry(tf: TextFacts | None, note: str | None) -> bytes:
    """A file's entry as stored (None: unreadable, and the note says why)."""
    if tf is None:
        return marshal.dumps((None, note or "unreadable"))
    return marshal.dumps(((tf.heads, tf.defines, tf.includes, tf.invocations, tf.marks), note))


def unpack_catalog_entry(row: bytes, many: bool = False) -> tuple[TextFacts | None, str | None]:
    """:func:`pack_catalog_entry` undone (ValueError, EOFError or TypeError for a damaged row).
    ``many``: one of a whole tree's rows, read with the cyclic GC off (millions of small
    objects, no cycle: twice as fast)."""
    enabled = many and gc.isenabled()
    if enabled:
        gc.disable()
    try:
        fields, note = marshal.loads(row)
    finally:
        if enabled:
            gc.enable()
    return (TextFacts(*fields) if fields is not None else None), note
