"""``#if`` conditions as presence formulas (:mod:`kannot.build.logic`).

A condition is read, never evaluated by Python: a small precedence parser turns it into a
formula whose atoms are configuration facts:

- ``defined(CONFIG_X)``, ``#ifdef CONFIG_X``, a bare ``CONFIG_X``, ``IS_BUILTIN(CONFIG_X)``:
  ``y:X``; ``IS_MODULE``: ``m:X``; ``IS_ENABLED``: either; ``defined(CONFIG_X_MODULE)``:
  ``y:X_MODULE`` (the build model reads it as ``m:X`` for a tristate X);
- the compiler's own macros, for the arch (:data:`ARCH_MACROS`): ``__x86_64__`` is ``y:64BIT``
  on x86, ``__aarch64__`` is true on arm64, another arch's macro is false, ``__KERNEL__`` is
  defined and ``__ASSEMBLY__``, ``__CHECKER__``, ``__GENKSYMS__`` are not;
- any other ``defined(NAME)``: ``d:NAME``, decided later for the translation unit (the headers
  it includes, its Makefile's ``-D`` flags);
- integer arithmetic on literals is folded; ``BITS_PER_LONG``-like macros are split by word
  size; anything else (a comparison with an unknown value) is a free atom ``c:TEXT``.
"""
from __future__ import annotations

import re
from functools import lru_cache

from kannot.build import logic as L
from kannot.build.dotconfig import defined_operand
from kannot.build.logic import Formula

_TOKEN_RE = re.compile(
    r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|([A-Za-z_]\w*)|('(?:\\.|[^'\\])')|"
    r"(&&|\|\||==|!=|<=|>=|<<|>>|[()!<>,?:~+\-*/%&|^]))"
)

ALWAYS_DEFINED = frozenset({"__KERNEL__", "__GNUC__", "__STDC__", "__OPTIMIZE__", "__linux__", "__linux",
                            "__ELF__", "__CHAR_BIT__", "__GNUC_MINOR__", "__GNUC_PATCHLEVEL__",
                            "__SIZEOF_INT__", "__SIZEOF_LONG__", "__SIZEOF_POINTER__", "__ORDER_LITTLE_ENDIAN__",
                            "__ORDER_BIG_ENDIAN__", "__BYTE_ORDER__", "__has_attribute", "__has_builtin"})
NEVER_DEFINED = frozenset({"__ASSEMBLY__", "__ASSEMBLER__", "__CHECKER__", "__GENKSYMS__", "__cplusplus",
                           "__clang_analyzer__", "__KERNEL_STRICT_NAMES", "BUILD_VDSO", "BUILD_VDSO32",
                           "BUILD_VDSO32_64", "__BPF_TRACING__", "__OPTIMIZE_SIZE__", "__STRICT_ANSI__",
                           "_MSC_VER", "__INTEL_COMPILER"})

# Compiler macros that name an arch: false on every other arch.
_ARCH_WORDS = {
    "x86": ("__x86_64__", "__x86_64", "__i386__", "__i386", "i386", "__amd64__", "__amd64"),
    "arm64": ("__aarch64__", "__AARCH64EL__", "__AARCH64EB__", "__ARM64_ARCH_8__"),
    "arm": ("__arm__", "__ARMEB__", "__ARMEL__", "__thumb__", "__thumb2__"),
    "powerpc": ("__powerpc__", "__powerpc64__", "__PPC__", "__PPC64__", "__ppc__", "__ppc64__", "__powerpc"),
    "sparc": ("__sparc__", "__sparc", "__sparc_v9__", "__arch64__", "__sparc64__"),
    "mips": ("__mips__", "__mips", "__mips64", "_MIPS_SIM", "__MIPSEB__", "__MIPSEL__"),
    "s390": ("__s390__", "__s390x__"),
    "alpha": ("__alpha__",),
    "parisc": ("__hppa__", "__hppa64__"),
    "riscv": ("__riscv", "__riscv_xlen"),
    "m68k": ("__m68k__", "__mc68000__", "__mcoldfire__"),
    "sh": ("__sh__", "__SH4__"),
    "xtensa": ("__xtensa__",),
    "loongarch": ("__loongarch__", "__loongarch64"),
    "ia64": ("__ia64__",),
    "microblaze": ("__microblaze__",),
    "openrisc": ("__or1k__",),
    "arc": ("__arc__",),
    "csky": ("__csky__",),
    "nios2": ("__nios2__",),
    "hexagon": ("__hexagon__",),
    "um": ("__um__", "UML"),
}
_ARCH_OF = {w: a for a, ws in _ARCH_WORDS.items() for w in ws}
_WORD64 = L.atom("y:64BIT")
# A compiler macro on its own arch: what it means there (absent: always defined).
_ON_ARCH: dict[str, Formula] = {
    "__x86_64__": _WORD64, "__x86_64": _WORD64, "__amd64__": _WORD64, "__amd64": _WORD64,
    "__i386__": ~_WORD64, "__i386": ~_WORD64, "i386": ~_WORD64,
    "__AARCH64EB__": L.atom("y:CPU_BIG_ENDIAN"), "__AARCH64EL__": ~L.atom("y:CPU_BIG_ENDIAN"),
    "__powerpc64__": _WORD64, "__PPC64__": _WORD64, "__ppc64__": _WORD64,
    "__s390x__": _WORD64, "__riscv_xlen": L.TRUE, "__mips64": _WORD64, "__sparc_v9__": _WORD64,
    "__arch64__": _WORD64, "__sparc64__": _WORD64, "__hppa64__": _WORD64, "__loongarch64": _WORD64,
    "__ARMEB__": L.atom("y:CPU_BIG_ENDIAN"), "__ARMEL__": ~L.atom("y:CPU_BIG_ENDIAN"),
    "__MIPSEB__": L.atom("y:CPU_BIG_ENDIAN"), "__MIPSEL__": ~L.atom("y:CPU_BIG_ENDIAN"),
}
# Macros the compiler defines on every arch, as the kernel's flags make it: __SIZEOF_INT128__ on
# 64-bit targets, the sanitizers' with the options that turn them on, -funsigned-char everywhere.
_COMPILER_BUILTINS: dict[str, Formula] = {
    "__SIZEOF_INT128__": _WORD64,
    "__SANITIZE_ADDRESS__": L.atom("y:KASAN_GENERIC") | L.atom("y:KASAN_SW_TAGS"),
    "__SANITIZE_HWADDRESS__": L.atom("y:KASAN_SW_TAGS"),
    "__SANITIZE_THREAD__": L.atom("y:KCSAN"),
    "__SANITIZE_MEMORY__": L.atom("y:KMSAN"),
    "__CHAR_UNSIGNED__": L.TRUE,
    "__GCC_ASM_FLAG_OUTPUTS__": L.TRUE,
}

# Integer macros whose value is the word size (64 with CONFIG_64BIT, else 32).
_WORD_SIZED = {"BITS_PER_LONG": (64, 32), "__BITS_PER_LONG": (64, 32), "__SIZEOF_LONG__": (8, 4),
               "__SIZEOF_POINTER__": (8, 4), "BITS_PER_LONG_LONG": (64, 64), "__SIZEOF_LONG_LONG__": (8, 8)}


def macro_defined(name: str, arch: str) -> Formula | None:
    """What ``defined(name)`` is on ``arch`` without looking at any file (None: depends on
    the files; a ``d:`` atom)."""
    if name in ALWAYS_DEFINED or name in _WORD_SIZED and name.startswith("__"):
        return L.TRUE
    if name in NEVER_DEFINED:
        return L.FALSE
    if name == "__clang__":
        return L.atom("y:CC_IS_CLANG")
    builtin = _COMPILER_BUILTINS.get(name)
    if builtin is not None:
        return builtin
    owner = _ARCH_OF.get(name)
    if owner is not None:
        if owner != arch:
            return L.FALSE
        return _ON_ARCH.get(name, L.TRUE)
    return None


class _Value:
    """A sub-expression: an integer constant, a formula (0 or 1), per-case integers, or text."""

    __slots__ = ("num", "formula", "cases", "text", "option")

    def __init__(self, num: int | None = None, formula: Formula | None = None,
                 cases: list[tuple[Formula, int]] | None = None, text: str = "", option: bool = False) -> None:
        self.num, self.formula, self.cases, self.text = num, formula, cases, text
        self.option = option  # a bare CONFIG_X: 1 for a bool at y, but a number for an int option

    def as_formula(self) -> Formula:
        if self.formula is not None:
            return self.formula
        if self.num is not None:
            return L.const(self.num != 0)
        if self.cases is not None:
            return L.disj(c for c, v in self.cases if v != 0)
        return L.atom("c:" + self.text)

    def as_cases(self) -> list[tuple[Formula, int]] | None:
        if self.num is not None:
            return [(L.TRUE, self.num)]
        if self.cases is not None:
            return self.cases
        if self.formula is not None:
            return [(self.formula, 1), (~self.formula, 0)]
        return None


_CMP = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}
_ARITH = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
          "/": lambda a, b: a // b if b else 0, "%": lambda a, b: a % b if b else 0,
          "<<": lambda a, b: a << b if 0 <= b < 64 else 0, ">>": lambda a, b: a >> b if 0 <= b < 64 else 0,
          "&": lambda a, b: a & b, "|": lambda a, b: a | b, "^": lambda a, b: a ^ b}
_PREC = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="), ("<<", ">>"),
         ("+", "-"), ("*", "/", "%")]


class _Parser:
    def __init__(self, tokens: list[str], arch: str) -> None:
        self.t = tokens
        self.i = 0
        self.arch = arch

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, want: str | None = None) -> str:
        if self.i >= len(self.t):
            raise ValueError("unexpected end")
        tok = self.t[self.i]
        if want is not None and tok != want:
            raise ValueError(f"expected {want}")
        self.i += 1
        return tok

    def ternary(self) -> _Value:
        cond = self.binary(0)
        if self.peek() != "?":
            return cond
        self.take("?")
        a = self.ternary()
        self.take(":")
        b = self.ternary()
        c = cond.as_formula()
        if c is L.TRUE:
            return a
        if c is L.FALSE:
            return b
        return _Value(formula=L.ite(c, a.as_formula(), b.as_formula()))

    def binary(self, level: int) -> _Value:
        if level == len(_PREC):
            return self.unary()
        left = self.binary(level + 1)
        ops = _PREC[level]
        while self.peek() in ops:
            op = self.take()
            right = self.binary(level + 1)
            left = self.combine(op, left, right)
        return left

    def combine(self, op: str, a: _Value, b: _Value) -> _Value:
        if op == "||":
            return _Value(formula=a.as_formula() | b.as_formula())
        if op == "&&":
            return _Value(formula=a.as_formula() & b.as_formula())
        ca, cb = a.as_cases(), b.as_cases()
        text = f"{a.text or _num_text(a)} {op} {b.text or _num_text(b)}"
        if a.option or b.option:
            ca = cb = None  # CONFIG_NR_CPUS > 4: the option's value decides (kannot.build.model)
        if ca is not None and cb is not None and len(ca) * len(cb) <= 16:
            if op in _CMP:
                fn = _CMP[op]
                return _Value(formula=L.disj(x & y for x, u in ca for y, v in cb if fn(u, v)), text=text)
            fn = _ARITH[op]
            cases = [(x & y, fn(u, v)) for x, u in ca for y, v in cb]
            cases = [(c, v) for c, v in cases if c is not L.FALSE]
            if len(cases) == 1 and cases[0][0] is L.TRUE:
                return _Value(num=cases[0][1], text=text)
            return _Value(cases=cases, text=text)
        if op in _CMP:
            return _Value(formula=L.atom("c:" + text), text=text)
        return _Value(text=text)

    def unary(self) -> _Value:
        tok = self.peek()
        if tok == "!":
            self.take()
            v = self.unary()
            return _Value(formula=~v.as_formula(), text="!" + (v.text or _num_text(v)))
        if tok in ("-", "~", "+"):
            self.take()
            v = self.unary()
            if v.num is not None:
                return _Value(num={"-": -v.num, "~": ~v.num, "+": v.num}[tok])
            return _Value(text=tok + v.text)
        return self.primary()

    def primary(self) -> _Value:
        tok = self.take()
        if tok == "(":
            v = self.ternary()
            self.take(")")
            return _Value(v.num, v.formula, v.cases, f"({v.text})" if v.text else "", v.option)
        if tok[0].isdigit():
            return _Value(num=int(tok, 0))
        if tok[0] == "'":
            body = tok[1:-1]
            return _Value(num=ord(body[-1]) if body else 0)
        if tok == "defined":
            name = defined_operand(self)
            return _Value(formula=self.defined(name), text=f"defined({name})")
        if tok in ("IS_ENABLED", "IS_BUILTIN", "IS_MODULE", "IS_REACHABLE"):
            self.take("(")
            name = self.take()
            self.take(")")
            if not name.startswith("CONFIG_"):
                return _Value(formula=L.atom(f"c:{tok}({name})"))
            sym = name[len("CONFIG_"):]
            y, m = L.atom(f"y:{sym}"), L.atom(f"m:{sym}")
            f = {"IS_BUILTIN": y, "IS_MODULE": m, "IS_ENABLED": y | m,
                 "IS_REACHABLE": y | (m & L.atom("d:MODULE"))}[tok]
            return _Value(formula=f)
        if not (tok[0].isalpha() or tok[0] == "_"):
            raise ValueError(f"unexpected {tok!r}")
        if self.peek() == "(":  # a function-like macro kannot does not know: unknown
            start = self.i
            depth = 0
            while True:
                t = self.take()
                depth += t == "("
                depth -= t == ")"
                if depth == 0:
                    break
            text = tok + "".join(self.t[start:self.i])
            if tok in ("__has_attribute", "__has_builtin", "__has_include", "__GCC4_has_attribute"):
                return _Value(text=text, formula=L.atom("c:" + text))
            return _Value(text=text)
        if tok.startswith("CONFIG_"):
            return _Value(formula=L.atom(f"y:{tok[len('CONFIG_'):]}"), text=tok, option=True)
        if tok in _WORD_SIZED:
            big, small = _WORD_SIZED[tok]
            return _Value(cases=[(_WORD64, big), (~_WORD64, small)], text=tok)
        known = macro_defined(tok, self.arch)
        if known is L.FALSE:
            return _Value(num=0, text=tok)  # an undefined name is 0 in #if
        return _Value(text=tok)

    def defined(self, name: str) -> Formula:
        if name.startswith("CONFIG_"):
            return L.atom(f"y:{name[len('CONFIG_'):]}")
        known = macro_defined(name, self.arch)
        return known if known is not None else L.atom(f"d:{name}")


def _num_text(v: _Value) -> str:
    return str(v.num) if v.num is not None else "?"


def _tokens(text: str) -> list[str]:
    out = []
    pos = 0
    text = text.replace("\\\n", " ")
    n = len(text)
    while pos < n:
        if text[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read condition at {text[pos:pos + 10]!r}")
        out.append(m.group(1) or m.group(2) or m.group(3) or m.group(4))
        pos = m.end()
    return out


@lru_cache(maxsize=65536)
def parse(condition: str, arch: str) -> Formula:
    """The formula of one ``#if`` expression (an ``#ifdef X`` is ``defined(X)``). A condition
    that cannot be read is a free atom: both branches stay possible."""
    try:
        tokens = _tokens(condition)
        if not tokens:
            return L.atom("c:" + condition.strip())
        p = _Parser(tokens, arch)
        v = p.ternary()
        if p.i != len(tokens):
            raise ValueError("trailing tokens")
        return v.as_formula()
    except (ValueError, IndexError, RecursionError):
        return L.atom("c:" + " ".join(condition.split()))


def reset() -> None:
    """Forget the parsed conditions (with kannot.build.logic.reset, between arches)."""
    parse.cache_clear()
