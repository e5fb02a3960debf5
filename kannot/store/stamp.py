"""The one stamp every stored thing carries: the store's format version and a hash of the whole
package. A stored blob written by other code (a release, or a developer's edit to any module) is
never read: the cache starts over when the stamp differs (kannot.store.cache).

Computed once, at import, so it describes the code this process runs (its workers fork from it),
not a later edit on disk."""
from __future__ import annotations

import hashlib
from pathlib import Path

from kannot import __version__

FORMAT = 8  # bump when a stored shape changes in a way the code hash cannot see (it always can today)


def _compute() -> str:
    h = hashlib.blake2b(digest_size=8)
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        try:
            h.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
        except OSError:
            pass
    for path in sorted(package.rglob("*.toml")):  # shipped data (the default rule families)
        try:
            h.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
        except OSError:
            pass
    return f"{__version__}/{FORMAT}/{h.hexdigest()}"


CODE_STAMP = _compute()
