"""Mutations of kernel-shaped C and the per-input check, shared by ``fuzz/fuzz_facts.py`` (the long
run) and ``tests/test_fuzz_facts.py`` (hypothesis, in CI).

A mutation is a plain tuple ``(op, position, argument)``, so the long run (``random.Random``) and
hypothesis (strategies) build the same inputs, and a crash is replayed from its tuple list.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path

from kannot.store.cache import decode, encode
from kannot.engine import Options, check_index
from kannot.facts.extract import FileFacts, guarded_extract
from kannot.index.core import Index
from kannot.source.files import FileError

REPO = Path(__file__).resolve().parents[1]

# Tokens a kernel file is made of, and the ones that break parsers: inserted at random places.
SNIPPETS: tuple[bytes, ...] = (
    b"noinstr ", b"notrace ", b"__always_inline ", b"static inline ", b"__kprobes ", b"NOKPROBE_SYMBOL(f);\n",
    b"instrumentation_begin();\n", b"instrumentation_end();\n", b"return;\n", b"goto out;\n", b"out:\n",
    b"#if defined(CONFIG_X) && !(A || B)\n", b"#ifdef CONFIG_Y\n", b"#else\n", b"#elif Z\n", b"#endif\n",
    b"#define M(a, ...) a##__VA_ARGS__ f(#a)\n", b"#define N M(N)\n", b"#define P(x) P(x) x(\n", b"#undef M\n",
    b"#include <linux/kernel.h>\n", b'#include "x.h"\n', b"\\\n", b"/*", b"*/", b"//", b"\"", b"'", b"{", b"}",
    b"(", b")", b"[", b"]", b";", b",", b"#", b"##", b"\x00", b"\xff\xfe", b"\xc3\x28", b"\r", b"\t", b"\n",
    b"/* kannot: allow KN001 reason */", b"DEFINE_IDTENTRY_RAW(exc_x) {", b"asm volatile(\"\" ::: \"memory\");",
    b"switch (x) { case 1: f(); break; default: g(); }", b"do { } while (0)", b"for (;;) ", b"while (1) ",
    b"if (x) ", b"else ", b"(*fp)(x);", b"ops->cb(x);", b"static_call(sc)(x);", b"__attribute__((noinline)) ",
    b"__section(\".noinstr.text\") ", b"typeof(x) ", b"_Generic(x, int: f)(x)", b"({ f(); })", b"sizeof(",
    b"WARN_ON(x);", b"BUG();", b"unreachable();", b"__noreturn ", b"extern ", b"struct s { int (*f)(void); };",
)
OPS = ("flip", "set", "delete", "truncate", "insert", "duplicate", "nest", "splice")
MAX_NEST = 3000  # the "nest" op wraps a spot in up to this many ( or { or #if


def seeds(extra: list[Path] = ()) -> list[tuple[str, bytes]]:
    """Kernel-shaped C to mutate: the test fixtures and the example tree (plus any ``extra`` files)."""
    out: list[tuple[str, bytes]] = []
    for base in (REPO / "tests" / "fixtures", REPO / "examples"):
        for p in sorted(base.rglob("*")):
            if p.suffix in (".c", ".h", ".S") and p.is_file():
                out.append((p.relative_to(base).as_posix(), p.read_bytes()))
    for p in extra:
        out.append((p.name, p.read_bytes()))
    return out


def apply(data: bytes, ops: list[tuple[str, int, int]], donors: list[bytes]) -> bytes:
    """Apply mutations; positions and arguments are taken modulo what the data allows."""
    for op, pos, arg in ops:
        n = len(data)
        p = pos % (n + 1)
        if op == "flip" and n:
            i = pos % n
            data = data[:i] + bytes([data[i] ^ (1 << (arg % 8))]) + data[i + 1:]
        elif op == "set" and n:
            i = pos % n
            data = data[:i] + bytes([arg % 256]) + data[i + 1:]
        elif op == "delete":
            data = data[:p] + data[p + 1 + arg % 64:]
        elif op == "truncate":
            data = data[:p]
        elif op == "insert":
            data = data[:p] + SNIPPETS[arg % len(SNIPPETS)] + data[p:]
        elif op == "duplicate":
            seg = data[p:p + 1 + arg % 512]
            data = data[:p] + seg + seg + data[p:]
        elif op == "nest":
            depth = 1 + arg % MAX_NEST
            kind = (arg // MAX_NEST) % 3
            if kind == 0:
                data = data[:p] + b"(" * depth + data[p:p + 8] + b")" * depth + data[p + 8:]
            elif kind == 1:
                data = data[:p] + b"{" * depth + data[p:]
            else:
                data = data[:p] + b"#if A\n" * depth + data[p:]
        elif op == "splice" and donors:
            donor = donors[arg % len(donors)]
            q = (pos // 7) % (len(donor) + 1)
            data = data[:p] + donor[q:q + 2048] + data[p:]
    return data


@dataclass
class Outcome:
    kind: str  # ok | parse-errors | limit | crash
    detail: str = ""
    trace: str = ""
    findings: int = 0


@dataclass
class Context:
    """Facts of a few real headers the mutated file is indexed with, so that calls resolve."""
    facts: dict[str, FileFacts] = field(default_factory=dict)
    src: dict[str, bytes] = field(default_factory=dict)


def context(rels_and_data: list[tuple[str, bytes]]) -> Context:
    ctx = Context()
    for rel, data in rels_and_data:
        facts, problem = guarded_extract(rel, data)
        if facts is not None:
            ctx.facts[rel], ctx.src[rel] = facts, data
    return ctx


def check_one(rel: str, data: bytes, ctx: Context | None = None) -> Outcome:
    """Everything one file goes through in a run. ``crash``: an exception got out of a boundary
    (facts, cache round trip, index build, checks) or a boundary caught an internal error."""
    try:
        facts, problem = guarded_extract(rel, data)  # the per-file boundary
    except BaseException as exc:  # noqa: BLE001 - this is what the fuzzer looks for
        return Outcome("crash", f"escaped the per-file boundary: {type(exc).__name__}: {exc}", traceback.format_exc())
    if facts is None:
        if problem.startswith("internal error"):
            return Outcome("crash", problem)
        return Outcome("limit", problem)
    try:
        back, _notes = decode(encode(facts, []))
        if back != facts:
            return Outcome("crash", "cache round trip changed the facts")
        files = dict(ctx.facts) if ctx is not None else {}
        files[rel] = facts
        srcs = ctx.src if ctx is not None else {}
        index = Index.build(Path("/nonexistent-fuzz-root"), None, files, lambda r: data if r == rel else srcs.get(r))
        errors: list[FileError] = []
        findings = check_index(index, Options(root=Path("/nonexistent-fuzz-root"), paths=[rel], select=["ALL"]), errors)
        [f.to_json() for f in findings]
    except BaseException as exc:  # noqa: BLE001
        return Outcome("crash", f"{type(exc).__name__}: {exc}", traceback.format_exc())
    internal = [e.message for e in errors if "internal error" in e.message]
    if internal:
        return Outcome("crash", internal[0])
    return Outcome("parse-errors" if facts.parse_errors else "ok", findings=len(findings))
