"""Bare tree-sitter parse of a file list, on every core: the floor under any tree-sitter linter.

    python bench/bare_parse.py ROOT LIST     # LIST: one path relative to ROOT per line

Prints one JSON line: files, bytes, files whose tree has an error node, seconds. Used by bench.py.
"""
from __future__ import annotations

import json
import os
import sys
import time
from multiprocessing import Pool

import tree_sitter
import tree_sitter_c

_parser: tree_sitter.Parser | None = None


def _init() -> None:
    global _parser
    _parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


def _parse(path: str) -> tuple[int, bool]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return 0, True
    assert _parser is not None
    tree = _parser.parse(data)
    return len(data), tree.root_node.has_error


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root, listing = argv
    with open(listing) as fh:
        paths = [os.path.join(root, line.strip()) for line in fh if line.strip()]
    t0 = time.monotonic()
    total = errors = 0
    with Pool(os.cpu_count() or 1, initializer=_init) as pool:
        for size, err in pool.imap_unordered(_parse, paths, chunksize=64):
            total += size
            errors += err
    print(json.dumps({"files": len(paths), "bytes": total, "files_with_errors": errors,
                      "seconds": round(time.monotonic() - t0, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
