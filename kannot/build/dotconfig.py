"""A kernel ``.config`` and the evaluation of ``#if`` conditions against it.

Three-valued: a condition is True, False or None (unknown). Only ``CONFIG_`` symbols are known
(from the .config; absent means "not set"); any other identifier (arch macros, feature macros like
``arch_atomic_read``, include guards) is unknown, and unknown branches are kept, conservatively.
Supported: ``defined(X)``/``defined X``, ``IS_ENABLED``, ``IS_BUILTIN``, ``IS_MODULE``,
``IS_REACHABLE``, integer literals and comparisons, ``!``, ``&&``, ``||``, parentheses.
Nothing read from the sources is ever evaluated by Python: this is a parser, not ``eval``.
"""
from __future__ import annotations

import re
from typing import Protocol
from dataclasses import dataclass, field
from pathlib import Path

_LINE_RE = re.compile(r"^(CONFIG_\w+)=(.*)$")
_UNSET_RE = re.compile(r"^# (CONFIG_\w+) is not set$")
_TOKEN_RE = re.compile(r"\s*(?:(\d+[uUlL]*|0[xX][0-9a-fA-F]+[uUlL]*)|([A-Za-z_]\w*)|(&&|\|\||==|!=|<=|>=|[()!<>,]))")


CONFIG_ARCH_SYMBOLS = [
    ("CONFIG_UML", "um"), ("CONFIG_X86", "x86"), ("CONFIG_ARM64", "arm64"), ("CONFIG_ARM", "arm"),
    ("CONFIG_RISCV", "riscv"), ("CONFIG_PPC", "powerpc"), ("CONFIG_S390", "s390"),
    ("CONFIG_LOONGARCH", "loongarch"), ("CONFIG_MIPS", "mips"), ("CONFIG_SPARC", "sparc"),
    ("CONFIG_PARISC", "parisc"), ("CONFIG_M68K", "m68k"), ("CONFIG_SUPERH", "sh"), ("CONFIG_XTENSA", "xtensa"),
    ("CONFIG_ALPHA", "alpha"), ("CONFIG_ARC", "arc"), ("CONFIG_CSKY", "csky"), ("CONFIG_HEXAGON", "hexagon"),
    ("CONFIG_MICROBLAZE", "microblaze"), ("CONFIG_NIOS2", "nios2"), ("CONFIG_OPENRISC", "openrisc"),
]


def config_arch(values: dict[str, str]) -> str | None:
    for sym, arch in CONFIG_ARCH_SYMBOLS:
        if values.get(sym) == "y":
            return arch
    return None


@dataclass
class KernelConfig:
    path: Path | None
    values: dict[str, str] = field(default_factory=dict)  # CONFIG_FOO -> "y" | "m" | "123" | '"str"'

    @classmethod
    def load(cls, path: Path) -> "KernelConfig":
        cfg = cls(path)
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            m = _LINE_RE.match(line.strip())
            if m:
                cfg.values[m.group(1)] = m.group(2)
        return cfg

    @property
    def arch(self) -> str | None:
        """The arch the .config is for (CONFIG_X86 -> x86, CONFIG_ARM64 -> arm64, ...)."""
        return config_arch(self.values)

    def state(self, sym: str) -> str | None:
        return self.values.get(sym)

    def evaluate(self, condition: str, macro_known=None) -> bool | None:
        """Truth of an #if condition, or None when it depends on something not in the .config.

        ``macro_known(name)``: True/False when the tree says whether a non-CONFIG macro such as
        ``arch_atomic_add_return_relaxed`` can be defined, None when it cannot tell."""
        try:
            tokens = _tokenize(condition)
            parser = _Parser(tokens, self, macro_known)
            value = parser.expr()
            if parser.pos != len(tokens):
                return None
            return None if value is None else bool(value)
        except (ValueError, IndexError, RecursionError):
            return None


def _tokenize(text: str) -> list[str]:
    text = text.replace("\\\n", " ")
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read condition at {text[pos:pos + 10]!r}")
        out.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
    return out


class _Parser:
    """Precedence: || < && < ==,!= < <,>,<=,>= < unary ! < primary. Values: int or None (unknown)."""

    def __init__(self, tokens: list[str], cfg: "KernelConfig | None", macro_known=None):
        self.t = tokens
        self.pos = 0
        self.cfg = cfg if cfg is not None else KernelConfig(None, {})
        self.unknown_config = cfg is None  # no .config: CONFIG_ symbols are unknown too
        self.macro_known = macro_known

    def peek(self) -> str | None:
        return self.t[self.pos] if self.pos < len(self.t) else None

    def take(self, want: str | None = None) -> str:
        tok = self.t[self.pos]
        if want is not None and tok != want:
            raise ValueError(f"expected {want}")
        self.pos += 1
        return tok

    def expr(self):
        left = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            left = 1 if (left or right) else (None if left is None or right is None else 0)
        return left

    def and_(self):
        left = self.cmp()
        while self.peek() == "&&":
            self.take()
            right = self.cmp()
            if left == 0 or right == 0:
                left = 0
            elif left is None or right is None:
                left = None
            else:
                left = 1
        return left

    def cmp(self):
        left = self.unary()
        while self.peek() in ("==", "!=", "<", ">", "<=", ">="):
            op = self.take()
            right = self.unary()
            if left is None or right is None:
                left = None
                continue
            left = int({"==": left == right, "!=": left != right, "<": left < right, ">": left > right,
                        "<=": left <= right, ">=": left >= right}[op])
        return left

    def unary(self):
        if self.peek() == "!":
            self.take()
            v = self.unary()
            return None if v is None else int(not v)
        return self.primary()

    def primary(self):
        tok = self.take()
        if tok == "(":
            v = self.expr()
            self.take(")")
            return v
        if tok[0].isdigit():
            return int(tok.rstrip("uUlL"), 0)
        if tok == "defined":
            return self._defined(defined_operand(self))
        if tok in ("IS_ENABLED", "IS_BUILTIN", "IS_MODULE", "IS_REACHABLE"):
            self.take("(")
            name = self.take()
            self.take(")")
            if not name.startswith("CONFIG_") or self.unknown_config:
                return None
            st = self.cfg.state(name)
            if tok == "IS_BUILTIN":
                return int(st == "y")
            if tok == "IS_MODULE":
                return int(st == "m")
            return int(st in ("y", "m"))
        if tok.startswith("CONFIG_"):
            if self.peek() == "(":
                raise ValueError("function-like use of a CONFIG symbol")
            if self.unknown_config:
                return None
            st = self.cfg.state(tok)
            if st is None or st in ("y", "m"):
                return 1 if st == "y" else 0
            try:
                return int(st, 0)
            except ValueError:
                return None
        if self.peek() == "(":  # some other function-like macro: unknown, skip its arguments
            depth = 0
            while True:
                t = self.take()
                depth += t == "("
                depth -= t == ")"
                if depth == 0 and t == ")":
                    break
        return None

    def _defined(self, name: str):
        if not name.startswith("CONFIG_"):
            known = self.macro_known(name) if self.macro_known is not None else None
            return None if known is None else int(known)
        if self.unknown_config:
            return None
        if name.endswith("_MODULE") and self.cfg.state(name[: -len("_MODULE")]) == "m":
            return 1  # autoconf.h defines CONFIG_FOO_MODULE for FOO=m, and not CONFIG_FOO
        st = self.cfg.state(name)
        return int(st is not None and st != "m")


class TokenReader(Protocol):
    def peek(self) -> str | None: ...

    def take(self, want: str | None = None) -> str: ...


def defined_operand(p: TokenReader) -> str:
    """The name of ``defined NAME`` or ``defined(NAME)``, after the ``defined`` token."""
    paren = p.peek() == "("
    if paren:
        p.take("(")
    name = p.take()
    if paren:
        p.take(")")
    return name
