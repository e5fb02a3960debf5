"""The small part of the C preprocessor kannot needs, on bytes and text, never on the AST.

- ``blank_attributes``: tree-sitter-c does not know kernel attribute macros (``noinstr``,
  ``__visible``, ``__section(...)``); they break the parse around function headers. We replace them
  with spaces of the same length before parsing, so byte offsets survive, and read annotations from
  the header text instead of from the tree's shape.
- ``scan_defines``: ``#define`` lines (with continuations), for macro expansion and for learning
  which macros define functions or alias annotations.
- ``expand``: one level of function-like macro substitution (params, ``#``, ``##``, variadics).
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Iterable, NamedTuple

# Attribute-like macros that carry no type: blanked before parsing. Annotation words among them are
# still read from the original header text.
BLANK_WORDS = frozenset(
    """
noinstr notrace __cpuidle __kprobes nokprobe_inline __always_inline __visible asmlinkage
__no_kcsan __no_sanitize_address __no_sanitize_thread __no_sanitize_undefined __no_sanitize_coverage
__no_sanitize_memory __no_profile __signed_wrap __no_sanitize_or_inline __no_kasan_or_inline
__noinline noinline noinline_for_stack __init __exit __ref __sched __lockfunc __irq_entry
__softirq_entry __must_check __noreturn __cold __hot __maybe_unused __used __weak __always_unused
__flatten __naked __preserve_most __init_or_module __meminit __devinit __cpuinit __initdata
__read_mostly __ro_after_init __latent_entropy __noinitretpoline __noclone __nocfi __unused
__user __force __iomem __percpu __rcu __kernel __bitwise __safe __nocast __private __must_hold
__attribute_const__ __pure __malloc __no_caller_saved_registers __trap_section __kprobes_text
__irqentry __no_stack_protector __noscs __nostackprotector __fix_address __weak_alias
__init_memblock __head __section_attr __mmu_notifier __nokprobe __intentional_overflow
__always_used __packed __randomize_layout __no_randomize_layout __cacheline_aligned
__cacheline_aligned_in_smp ____cacheline_aligned ____cacheline_aligned_in_smp __page_aligned_data
__page_aligned_bss __initconst __refdata __exitdata __aligned_largest __ksym __kfunc
__bpf_kfunc __diag_push __diag_pop __compiletime_error __cficanonical __no_fgcse __kcsan_disable
__maybe_noinstr __noinstr __efiapi __noendbr __no_retpoline __interrupt
""".split()
)

# Function-like attribute macros: the word and its balanced (...) are blanked.
BLANK_CALL_WORDS = frozenset(
    """
__attribute__ __attribute __section __printf __scanf __aligned __alias __must_hold __acquires
__releases __cond_acquires __cond_releases __noinstr_section __diag_ignore __diag_ignore_all
__malloc_like __alloc_size __realloc_size __nonstring __counted_by __cleanup __assume_aligned
__designated_init __no_sanitize __access __nonnull __returns_nonnull __deprecated __copy
__patchable_function_entries __format __mode __fix_address __weak_alias __visible_alias
__attribute_used__ __free
""".split()
)

_IDENT_RE = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_BLANKABLE = frozenset(w.encode() for w in BLANK_WORDS | BLANK_CALL_WORDS)
# Candidates only (every blankable word starts with "_" or is one of these); the set decides.
# A big alternation of ~200 words is five times slower in Python's re.
_WORD_RE = re.compile(rb"\b(?:_[A-Za-z0-9_]+|noinstr|notrace|asmlinkage|noinline\w*|nokprobe_inline)\b")


# Annotation words of the families a tree's .kannot.toml defines (``__myvendor_text``): blanked
# like BLANK_WORDS. Set for the whole process by :func:`set_extra_blank_words` (kannot.rules.register,
# when the settings are read; worker processes get them from their initializer), and part of the
# facts cache's stamp (kannot.store.cache): facts read with other words are never reused.
_extra_blank: frozenset[bytes] = frozenset()
_extra_word_re: re.Pattern[bytes] | None = None


def set_extra_blank_words(words: Iterable[str]) -> None:
    global _extra_blank, _extra_word_re
    _extra_blank = frozenset(w.encode() for w in words)
    odd = sorted(w for w in _extra_blank if not w.startswith(b"_"))  # not candidates of _WORD_RE
    _extra_word_re = re.compile(_WORD_RE.pattern[:-3] + b"".join(b"|" + re.escape(w) for w in odd) + rb")\b") if odd else None


def extra_blank_words() -> tuple[str, ...]:
    return tuple(sorted(w.decode() for w in _extra_blank))


def blank_flavour() -> str:
    """What the facts depend on besides the code: "" unless the settings add words."""
    return "" if not _extra_blank else "+blank:" + ",".join(extra_blank_words())


@dataclass(frozen=True, slots=True)
class BlankedText:
    text: bytes  # same length as the original; attribute macros replaced by spaces
    marks: tuple[tuple[int, str], ...]  # (offset, original token text), for attribute calls too


_PP_LINE_RE = re.compile(rb"^[ \t]*#(?:[^\n]*\\\r?\n)*[^\n]*", re.M)


def blank_attributes(src: bytes) -> BlankedText:
    out = bytearray(src)
    marks: list[tuple[int, str]] = []
    pos = 0
    n = len(src)
    # preprocessor lines are left alone: `#define noinstr ...` must stay a valid #define
    directives = [m.span() for m in _PP_LINE_RE.finditer(src)] if b"#" in src else []
    di = 0
    word_re = _extra_word_re or _WORD_RE
    while True:
        m = word_re.search(src, pos)
        if m is None:
            break
        start, end = m.span()
        if m.group() not in _BLANKABLE and m.group() not in _extra_blank:
            pos = end
            continue
        while di < len(directives) and directives[di][1] <= start:
            di += 1
        if di < len(directives) and directives[di][0] <= start:
            pos = directives[di][1]
            continue
        word = m.group().decode()
        if word in BLANK_CALL_WORDS:
            j = end
            while j < n and src[j] in b" \t":
                j += 1
            if j < n and src[j : j + 1] == b"(":
                close = matching_paren(src, j)
                if close < 0:
                    pos = end
                    continue
                end = close + 1
            elif word in ("__attribute__", "__attribute"):
                pos = end
                continue
        chunk = src[start:end]
        marks.append((start, chunk.decode("utf-8", "replace")))
        # Keep newlines so line numbers survive; everything else becomes a space.
        out[start:end] = bytes(b if b == 0x0A else 0x20 for b in chunk)
        pos = end
    return BlankedText(bytes(out), tuple(marks))


def matching_paren(src: bytes, open_pos: int, limit: int = 20000) -> int:
    """Offset of the ')' matching the '(' at open_pos, skipping strings; -1 if none nearby."""
    depth = 0
    i = open_pos
    end = min(len(src), open_pos + limit)
    while i < end:
        c = src[i]
        if c == 0x28:  # (
            depth += 1
        elif c == 0x29:  # )
            depth -= 1
            if depth == 0:
                return i
        elif c == 0x22 or c == 0x27:  # " or '
            q = c
            i += 1
            while i < end and src[i] != q:
                if src[i] == 0x5C:  # backslash
                    i += 1
                i += 1
        i += 1
    return -1


def header_words(header: bytes) -> tuple[str, ...]:
    """Identifier-like words and section strings of a function header, in order."""
    words = [w.decode() for w in _IDENT_RE.findall(header)]
    for sec in _SECTION_RE.findall(header):
        words.append("section:" + sec.decode("utf-8", "replace"))  # any bytes may be in a string
    return tuple(words)


_SECTION_RE = re.compile(rb"""(?:__section__?|section)\s*\(\s*"([^"]*)"\s*\)""")


# --------------------------------------------------------------------------------------------
# #define scanning


@dataclass(frozen=True, slots=True)
class MacroDef:
    name: str
    params: tuple[str, ...] | None  # None: object-like
    body: str
    line: int  # 1-based line of the #define
    condition: str = ""  # enclosing #if conditions, joined with " && " ("" at top level)

    @property
    def function_like(self) -> bool:
        return self.params is not None


# the parameter list may continue over backslash-newlines (__CPU_PM_CPU_IDLE_ENTER)
_DEFINE_RE = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_][A-Za-z0-9_]*)(\((?:[^)\n\\]|\\\r?\n|\\)*\))?", re.M)
# (from the '#': a pattern that begins with a literal is searched at C speed, one that begins
# with ``^[ \t]*`` is tried at every byte; that the line has only blanks before is checked apart)
_COND_RE = re.compile(rb"#[ \t]*(if|ifdef|ifndef|elif|else|endif)\b((?:[^\n]*\\\r?\n)*[^\n]*)")


class _Directive(NamedTuple):
    start: int  # where its line starts
    kind: bytes  # if, ifdef, ifndef, elif, else, endif
    text: bytes  # the rest of the line (continuation lines included)
    end: int


def _conditionals(src: bytes) -> list[_Directive]:
    """The #if/#ifdef/#ifndef/#elif/#else/#endif lines of ``src`` (``#`` first on its line,
    spaces and tabs before it allowed)."""
    out = []
    pos = 0
    search = _COND_RE.search
    while (m := search(src, pos)) is not None:
        at = m.start()
        start = src.rfind(b"\n", 0, at) + 1
        if start == at or not src[start:at].strip(b" \t"):
            out.append(_Directive(start, m.group(1), m.group(2), m.end()))
            pos = m.end()
        else:  # not a directive: what it took (up to a backslash-continued line's end) is searched again
            pos = at + 1
    return out


MAX_CONDITION_DEPTH = 32
MAX_CONDITION_CHARS = 4096


def condition_points(src: bytes, end: int | None = None) -> list[tuple[int, str]]:
    """(offset, condition in force after it) at every #if/#elif/#else/#endif (before ``end``:
    the same points as without it, the later ones left out). Each level's
    condition is parenthesized (``(A || B) && defined(C)``); a header's include guard
    (``#ifndef X`` / ``#define X`` ... a last ``#endif``) is no condition: it only says whether
    the header was read before, and a second read adds nothing."""
    stack: list[list[str]] = []  # per level: [current branch condition, negation of earlier ones]
    out: list[tuple[int, str]] = []
    matches = _conditionals(src)
    guard = _guard_index(src, matches)  # (the whole file's: its last #endif says)
    if end is not None:
        matches = matches[: bisect.bisect_left(matches, end, key=lambda m: m.start)]
    for i, m in enumerate(matches):
        kind = m.kind.decode()
        arg = _directive_arg(m.text)
        if i == guard:
            stack.append(["", ""])
        elif kind == "ifdef":
            stack.append([f"defined({arg})", f"!defined({arg})"])
        elif kind == "ifndef":
            stack.append([f"!defined({arg})", f"defined({arg})"])
        elif kind == "if":
            stack.append([f"({arg})", f"!({arg})"])
        elif kind == "elif" and stack:
            prev = stack[-1][1]
            if len(prev) > MAX_CONDITION_CHARS:  # a 10,000-arm #elif chain: stop growing (weaker)
                stack[-1] = [prev, prev]
            else:
                stack[-1] = [f"{prev} && ({arg})", f"{prev} && !({arg})"]
        elif kind == "else" and stack:
            stack[-1] = [stack[-1][1], stack[-1][1]]
        elif kind == "endif" and stack:
            stack.pop()
        # Only the outer levels are named: real code nests a dozen deep, and joining 10,000
        # levels at each of 10,000 lines is quadratic. Dropping inner conditions makes code look
        # possible in more configurations, never in fewer (more findings, never fewer).
        out.append((m.start, " && ".join(level[0] for level in stack[:MAX_CONDITION_DEPTH] if level[0])))
    return out


def _directive_arg(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").replace("\\\r\n", " ").replace("\\\n", " ")
    text = _DIRECTIVE_COMMENT_RE.sub(" ", text)
    return " ".join(text.split("/*")[0].split())


_DIRECTIVE_COMMENT_RE = re.compile(r"/\*.*?\*/|//.*$", re.S)


_GUARD_IF_RE = re.compile(r"!\s*defined\s*\(?\s*([A-Za-z_]\w*)\s*\)?")
_COMMENTS_AND_SPACE_RE = re.compile(rb"(?:\s+|/\*.*?\*/|//[^\n]*)*", re.S)
_DEFINE_WORD_RE = re.compile(rb"#[ \t]*define[ \t]+(\w+)")  # (the guard's #define: the word it names)


def _guard_index(src: bytes, matches: list[_Directive]) -> int:
    """The index of the include guard's #ifndef among ``matches``, or -1."""
    if not matches:
        return -1
    first = matches[0]
    kind = first.kind
    arg = _directive_arg(first.text)
    name = None
    if kind == b"ifndef":
        name = arg
    elif kind == b"if":
        g = _GUARD_IF_RE.fullmatch(arg)
        name = g.group(1) if g else None
    if not name or not _IS_IDENT.fullmatch(name):
        return -1
    line_end = src.find(b"\n", first.end)
    spaces = _COMMENTS_AND_SPACE_RE.match(src, line_end + 1 if line_end >= 0 else len(src))
    assert spaces is not None  # (the pattern matches the empty string)
    after = spaces.end()
    defined = _DEFINE_WORD_RE.match(src, after, after + 200)
    if defined is None or defined.group(1) != name.encode():
        return -1
    depth = 0
    for i, m in enumerate(matches):
        k = m.kind
        if k in (b"if", b"ifdef", b"ifndef"):
            depth += 1
        elif k == b"endif":
            depth -= 1
            if depth == 0:
                return 0 if i == len(matches) - 1 else -1
    return -1


_COMMENT_RE = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_CALLISH_RE = re.compile(r"[A-Za-z_]\w*\s*\(|##")


def scan_defines(src: bytes) -> tuple[list[MacroDef], list[str]]:
    """Return (macros worth keeping, names of every function-like or lower-case macro).

    A macro is kept with its body when it can matter to call analysis: the body contains a call
    or a token paste, is a single identifier (an alias), or holds attribute syntax. Others are
    only remembered by name, so that a call to them is known to be a macro, not unresolved.
    """
    kept: list[MacroDef] = []
    names: list[str] = []
    line_pos, line_no = 0, 1  # counted incrementally: files with 20,000 #defines exist
    conds = condition_points(src) if b"#if" in src else []
    ci, condition = 0, ""
    for m in _DEFINE_RE.finditer(src):
        while ci < len(conds) and conds[ci][0] < m.start():
            condition = conds[ci][1]
            ci += 1
        name = m.group(1).decode()
        params_raw = m.group(2)
        # body: rest of the logical line, following backslash continuations
        i = m.end()
        n = len(src)
        pieces = []
        while True:
            j = src.find(b"\n", i)
            if j < 0:
                j = n
            line = src[i:j]
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.endswith(b"\\"):
                pieces.append(line[:-1])
                i = j + 1
                if i >= n:
                    break
                continue
            pieces.append(line)
            break
        body = b"\n".join(pieces).decode("utf-8", "replace")
        if "/*" in body or "//" in body:
            body = _COMMENT_RE.sub(" ", body)
        body = body.strip()
        line_no += src.count(b"\n", line_pos, m.start())
        line_pos = m.start()
        params: tuple[str, ...] | None = None
        if params_raw is not None:
            raw = params_raw[1:-1].decode("utf-8", "replace").replace("\\\n", " ").replace("\\\r\n", " ")
            params = tuple(p.strip() for p in raw.split(",") if p.strip())
            names.append(name)
        keep = bool(_CALLISH_RE.search(body)) or "__attribute__" in body or _IS_IDENT.fullmatch(body) is not None
        if params is None and not keep:
            if name[0].islower():
                names.append(name)  # a feature macro (#define arch_foo): `#ifdef arch_foo` needs it
            continue
        if keep:
            kept.append(MacroDef(name, params, body, line_no, condition))
    return kept, names


_IS_IDENT = re.compile(r"[A-Za-z_]\w*")


# --------------------------------------------------------------------------------------------
# expansion

_TOKEN_RE = re.compile(r"""[A-Za-z_]\w*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|\#\#|\#|\s+|.""", re.S)


def split_args(text: str, sep: str = ",") -> list[str]:
    """Split a macro call's argument text at top-level commas (or ``sep``: an asm statement's
    sections at ':')."""
    args: list[str] = []
    depth = 0
    cur: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                if text[j] == "\\":
                    j += 1
                j += 1
            cur.append(text[i : j + 1])
            i = j + 1
            continue
        elif c == sep and depth == 0:
            args.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    last = "".join(cur).strip()
    if last or args:
        args.append(last)
    return args


def expand(macro: MacroDef, args: list[str]) -> str:
    """One level of substitution of ``args`` into ``macro``'s body (no rescanning)."""
    if macro.params is None:
        return macro.body
    params = list(macro.params)
    binding: dict[str, str] = {}
    variadic_name = None
    if params and params[-1].endswith("..."):
        last = params.pop()
        variadic_name = last[:-3].strip() or "__VA_ARGS__"
    for i, p in enumerate(params):
        binding[p] = args[i] if i < len(args) else ""
    if variadic_name is not None:
        binding[variadic_name] = ", ".join(args[len(params) :])
        if variadic_name != "__VA_ARGS__":
            binding.setdefault("__VA_ARGS__", binding[variadic_name])
    tokens = _TOKEN_RE.findall(macro.body)
    out: list[str] = []
    i = 0
    n = len(tokens)
    while i < n:
        t = tokens[i]
        if t == "#" and i + 1 < n:
            j = i + 1
            while j < n and tokens[j].isspace():
                j += 1
            if j < n and tokens[j] in binding:
                out.append('"' + binding[tokens[j]].replace("\\", "\\\\").replace('"', '\\"') + '"')
                i = j + 1
                continue
        if t == "##":
            while out and out[-1].isspace():
                out.pop()
            j = i + 1
            while j < n and tokens[j].isspace():
                j += 1
            if j < n:
                nxt = tokens[j]
                piece = binding.get(nxt, nxt)
                if out and out[-1] == ",":
                    # GNU ", ## __VA_ARGS__": drop the comma when the variadic part is empty
                    if nxt in ("__VA_ARGS__", variadic_name) and not piece.strip():
                        out.pop()
                        i = j + 1
                        continue
                out.append(piece.strip())
                i = j + 1
                continue
            i += 1
            continue
        if t in binding:
            # the left operand of a following ## is pasted unexpanded: same text here
            out.append(binding[t].strip() if _next_is_paste(tokens, i) else binding[t])
        else:
            out.append(t)
        i += 1
    return "".join(out)


def _next_is_paste(tokens: list[str], i: int) -> bool:
    j = i + 1
    while j < len(tokens) and tokens[j].isspace():
        j += 1
    return j < len(tokens) and tokens[j] == "##"


_INCLUDE_RE = re.compile(rb'#[ \t]*include[ \t]*([<"])([^>"\n]+)[>"]')


def scan_includes(src: bytes) -> list[tuple[str, str, str]]:
    """``#include`` lines: ``#`` first on its line (spaces and tabs before it allowed), as
    (``<`` or ``"``, path, the ``#if`` conditions around the line: "" when none)."""
    found = []
    for m in _INCLUDE_RE.finditer(src):
        start = m.start()
        if src[src.rfind(b"\n", 0, start) + 1 : start].strip(b" \t"):
            continue  # '#include' inside a comment or string, not a directive
        found.append(m)
    if not found:
        return []
    # (the conditions are looked for only when an #if comes before the first include)
    conds = condition_points(src, found[-1].start()) if src.find(b"#if", 0, found[0].start()) >= 0 else []
    return [(m.group(1).decode(), m.group(2).decode("utf-8", "replace").strip(), condition_at(conds, m.start()))
            for m in found]


def condition_at(points: list[tuple[int, str]], offset: int) -> str:
    """The #if conditions around ``offset``, from :func:`condition_points`."""
    i = bisect.bisect_left(points, (offset, "")) - 1
    return points[i][1] if i >= 0 else ""
