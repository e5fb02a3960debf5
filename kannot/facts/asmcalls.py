"""Calls written in inline asm: ``asm("call foo")``, ``"call __" #fn "_%c[size]"``, static calls.

objtool sees every ``call`` the assembler emits, including those a C function makes from an
``asm`` statement. The kernel writes them in a few shapes, all of them a string literal that
begins with ``call`` (after macro arguments are substituted, ``#x`` stringified):

- a literal symbol: ``"call __sw_hweight32"`` (an ALTERNATIVE's old instruction);
- an operand: ``"call %c[old]"`` / ``"call %P[func]"`` / ``"call %c0"`` with ``[old] "i" (fn)``:
  the call goes to the function the operand names (``alternative_call()`` names two: both are
  candidates, the CPU's features pick one at boot);
- a pasted size: ``"call __" #fn "_%c[size]"`` with ``[size] "i" (sizeof(*(ptr)))``:
  ``__get_user_1`` .. ``__get_user_8`` (:data:`SIZE_WILDCARD` in the target);
- a static call: ``"call " STATIC_CALL_TRAMP_STR(name)``: the ``__SCT__name`` trampoline.

The scan is textual (a template is often a macro call tree-sitter cannot parse as asm):
find the ``asm`` keyword, take the balanced parentheses after its qualifiers, read the string
literals before the first top-level ``:`` and the operands after it. Indirect calls
(``call *%[thunk]``, ``%V`` retpoline thunks) and local labels are not direct calls: skipped.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from kannot.facts.cpp import matching_paren, split_args

SIZE_WILDCARD = "{size}"
SIZES = ("1", "2", "4", "8")
ASM_CALL = "__kannot_asm_call"  # the IR's call name for an asm call; its args text is the target

_ASM_RE = re.compile(rb"\b(?:asm|__asm__|__asm|asm_inline|asm_volatile_goto)\b")
_QUALIFIERS = re.compile(rb"\s*(?:(?:volatile|__volatile__|__volatile|inline|__inline__|goto|asm_inline)\b\s*)*")
_STRING_RE = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_TRAMP_RE = re.compile(r"\bSTATIC_CALL_TRAMP_STR\s*\(\s*(\w+)\s*\)")
_STRINGIFY_RE = re.compile(r"\b__stringify\s*\(\s*([^()]*?)\s*\)")
_CALL_RE = re.compile(r"(?:^|[\s;])call[lq]?\s+([^\s;,]+)")
_REF_RE = re.compile(r"%[a-zA-Z]?(?:\[(\w+)\]|(\d+))")
_OPERAND_RE = re.compile(r"^\s*(?:\[\s*(\w+)\s*\])?\s*(?:\"[^\"]*\"\s*)+\((.*)\)\s*$", re.S)
_NAME_RE = re.compile(r"[A-Za-z_]\w*")
_SIZE_VALUE = re.compile(r"\s*(?:sizeof\b.*|\d+[uUlL]*)\s*", re.S)


@dataclass(frozen=True, slots=True)
class AsmCall:
    start: int  # byte offset of the asm keyword
    end: int  # byte offset just past its closing parenthesis
    targets: tuple[str, ...]  # function names, "__SCT__key", or names with SIZE_WILDCARD


class AsmScan:
    """The asm statements of one text, found once; ``within(start, end)`` those in a range."""

    def __init__(self, src: bytes):
        self.src = src
        self._starts = [m.start() for m in _ASM_RE.finditer(src)] if b"asm" in src else []
        self._done: set[int] = set()

    def take(self, start: int, end: int) -> list[AsmCall]:
        """The asm calls whose keyword lies in [start, end), each returned once."""
        out: list[AsmCall] = []
        i = bisect.bisect_left(self._starts, start)
        while i < len(self._starts) and self._starts[i] < end:
            s = self._starts[i]
            i += 1
            if s in self._done:
                continue
            self._done.add(s)
            got = parse_asm(self.src, s)
            if got is not None and got.targets:
                out.append(got)
        return out


def parse_asm(src: bytes, start: int) -> AsmCall | None:
    """The asm statement whose keyword starts at ``start``, or None when it is not one."""
    m = _ASM_RE.match(src, start)
    if m is None:
        return None
    q = _QUALIFIERS.match(src, m.end())
    open_pos = q.end() if q is not None else m.end()
    if open_pos >= len(src) or src[open_pos : open_pos + 1] != b"(":
        return None  # `asm("reg")` register names come here too, and are caught below
    close = matching_paren(src, open_pos, 8000)
    if close < 0:
        return None
    inner = src[open_pos + 1 : close].decode("utf-8", "replace")
    sections = split_args(inner, ":")  # ("::" when there are no outputs: an empty section)
    if not sections:
        return None
    template = sections[0]
    operands: list[tuple[str | None, str]] = []
    for sec in sections[1:3]:  # outputs, inputs (clobbers and goto labels name no callee)
        for op in split_args(sec):
            if not op.strip():
                continue
            om = _OPERAND_RE.match(op)
            operands.append((om.group(1), om.group(2)) if om else (None, op.strip()))
    return AsmCall(start, close + 1, tuple(dict.fromkeys(call_targets(template, operands))))


def call_targets(template: str, operands: list[tuple[str | None, str]]) -> list[str]:
    """The direct call targets a template names, its ``%`` references read through ``operands``."""
    text = _TRAMP_RE.sub(lambda m: f'"__SCT__{m.group(1)}"', template)
    text = _STRINGIFY_RE.sub(lambda m: '"' + m.group(1) + '"', text)
    out: list[str] = []
    for s in _adjacent_strings(text):
        s = s.replace("\\n", "\n").replace("\\t", "\t")
        for cm in _CALL_RE.finditer(s):
            target = cm.group(1)
            if target.startswith(("*", ".", "%V")) or target[0].isdigit() or "%V" in target:
                continue  # indirect, a local label, a retpoline thunk
            name = _REF_RE.sub(lambda r: _operand_text(r, operands), target)
            if "\0" in name:
                continue
            if _NAME_RE.fullmatch(name.replace(SIZE_WILDCARD, "1")):
                out.append(name)
    return out


def resolve(target: str) -> list[str]:
    """The concrete names a target stands for (a size wildcard: one per size)."""
    if SIZE_WILDCARD in target:
        return [target.replace(SIZE_WILDCARD, n) for n in SIZES]
    return [target]


def _operand_text(ref: re.Match, operands: list[tuple[str | None, str]]) -> str:
    name, number = ref.group(1), ref.group(2)
    value = None
    if name is not None:
        value = next((v for n, v in operands if n == name), None)
    elif number is not None and int(number) < len(operands):
        value = operands[int(number)][1]
    if value is None:
        return "\0"
    if _SIZE_VALUE.fullmatch(value):
        return SIZE_WILDCARD if not value.strip()[0].isdigit() else value.strip().rstrip("uUlL")
    ident = value.strip().lstrip("&").strip()
    while ident.startswith("(") and ident.endswith(")"):
        ident = ident[1:-1].strip()
    ident = re.sub(r"^\([^()]*\)\s*", "", ident).lstrip("&").strip()  # a cast: (void *)fn
    return ident if _NAME_RE.fullmatch(ident) else "\0"


def _adjacent_strings(text: str) -> list[str]:
    """String literals, adjacent ones (only blanks between) concatenated, as C does."""
    out: list[str] = []
    last_end = -1
    for m in _STRING_RE.finditer(text):
        if out and text[last_end : m.start()].strip() == "":
            out[-1] += m.group(1)
        else:
            out.append(m.group(1))
        last_end = m.end()
    return out
