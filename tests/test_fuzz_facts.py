"""Property-based robustness (hypothesis): real kernel-shaped C from the fixtures, mutated with
byte flips, truncations, inserted kernel tokens and macros, deep nesting and splices, goes through
everything one file goes through in a run (facts under the per-file limits, the cache's
encode/decode, an index with real headers, every check). No exception may get out of a boundary
and no boundary may catch an internal error. The long run is ``fuzz/fuzz_facts.py``."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
import mutators as M  # noqa: E402

SEEDS = M.seeds()
DONORS = [d for _r, d in SEEDS]
CTX = M.context([(r.split("/", 1)[1], d) for r, d in SEEDS if r.startswith("mini/include/")])

ops = st.lists(st.tuples(st.sampled_from(M.OPS), st.integers(0, 1 << 30), st.integers(0, 1 << 30)), min_size=1, max_size=8)


@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(seed=st.integers(0, len(SEEDS) - 1), mutations=ops)
def test_mutated_kernel_c_never_escapes_the_per_file_boundary(seed, mutations):
    data = M.apply(SEEDS[seed][1], mutations, DONORS)
    out = M.check_one("kernel/fuzz_input.c", data, CTX)
    assert out.kind != "crash", (SEEDS[seed][0], mutations, out.detail, out.trace)


@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_never_escape_the_per_file_boundary(data):
    out = M.check_one("kernel/bytes.c", data, CTX)
    assert out.kind != "crash", (data, out.detail, out.trace)


@pytest.mark.parametrize("name,data", [
    ("((x)) call", b"noinstr void f(void)\n{\n\t((x))(1);\n\t(\n(y))(2);\n}\n"),  # found by the fuzzer
    ("bad UTF-8 section", b"__section(\".noinstr\xee\x28\") void f(void)\n{\n\tg();\n}\n"),  # found by the fuzzer
    ("10000 parentheses", b"noinstr void f(void)\n{\n\tint x = " + b"(" * 10000 + b"1" + b")" * 10000 + b";\n\tg();\n}\n"),
    ("10000 braces", b"noinstr void f(void)\n{\n" + b"{" * 10000 + b"g();" + b"}" * 10000 + b"\n}\n"),
    ("10000 unclosed braces", b"noinstr void f(void)\n{\n" + b"{" * 10000 + b"g();\n"),
    ("10000 nested #if", b"#if A\n" * 10000 + b"noinstr void f(void)\n{\n\tg();\n}\n"),
    ("10000 #elif arms", b"#if A0\n" + b"".join(b"#elif A%d\nint a%d;\n" % (i, i) for i in range(10000)) + b"#endif\n"),
    ("deep #if expression", b"#if " + b"(" * 10000 + b"X" + b")" * 10000 + b"\nnoinstr void f(void) { g(); }\n#endif\n"),
    ("5000 chained #defines", b"".join(b"#define D%d D%d\n" % (i, i + 1) for i in range(5000)) + b"noinstr void f(void) { D0(); }\n"),
    ("macro nested 5000 deep", b"#define M(x) (x)\nnoinstr void f(void) { g(" + b"M(" * 5000 + b"1" + b")" * 5000 + b"); }\n"),
])
def test_pathological_shapes(name, data):
    out = M.check_one("kernel/shape.c", data, CTX)
    assert out.kind != "crash", (name, out.detail, out.trace)
