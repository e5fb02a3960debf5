"""The build model's stored forms (kannot.build.model), encoded and decoded here only: the arch's
Kconfig tree and Kbuild model (one row), the signature of the files they were read from (another:
a warm run reads only it to know that none changed), and what the solver learned (answers)."""
from __future__ import annotations

import marshal
from typing import NamedTuple

from kannot.build import kbuild, kconfig
from kannot.store.stamp import CODE_STAMP


class ModelBlobs(NamedTuple):
    model: bytes  # the Kconfig tree and the Kbuild model, packed
    sig: bytes  # the digest of the files read, and their names


def keys(arch: str) -> tuple[str, str]:
    """The rows of :class:`ModelBlobs`' two parts (per arch and code stamp)."""
    stamp = f"{arch}:{CODE_STAMP}"
    return f"build:{stamp}", f"buildsig:{stamp}"


def pack(tree: kconfig.KconfigTree, kb: kbuild.KbuildModel, sig: bytes, read: list[str]) -> ModelBlobs:
    return ModelBlobs(marshal.dumps((tree.pack(), kb.pack())), marshal.dumps((sig, read)))


def unpack_model(blob: bytes) -> tuple[kconfig.KconfigTree, kbuild.KbuildModel]:
    """(ValueError, EOFError or TypeError for a damaged row)"""
    tpack, kpack = marshal.loads(bytes(blob))
    return kconfig.KconfigTree.unpack(tpack), kbuild.KbuildModel.unpack(kpack)


def unpack_sig(blob: bytes) -> tuple[bytes, list[str]]:
    """(the digest, the files it is of); ValueError, EOFError or TypeError for a damaged row."""
    sig, read = marshal.loads(bytes(blob))
    return sig, read


def store(arch: str, blobs: ModelBlobs, cache, notices: list[str] | None) -> None:
    key, sig_key = keys(arch)
    said = notices if notices is not None else []
    cache.put_result(key, blobs.model, said)
    cache.put_result(sig_key, blobs.sig, said)


def answers_key(arch: str, digest: str, facts: str, complete: bool) -> str:
    """The stored answers' row: of one model (its build files' digest) and one set of facts."""
    return f"answers:{arch}:{digest}:{facts}:{complete}:{CODE_STAMP}"


def pack_answers(answers: dict[str, int]) -> bytes:
    return marshal.dumps(answers)


def unpack_answers(blob: bytes) -> dict[str, int] | None:
    """None for a damaged row."""
    try:
        got = marshal.loads(bytes(blob))
    except (ValueError, EOFError, TypeError):
        return None
    return got if isinstance(got, dict) else None
