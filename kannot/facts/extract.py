"""Per-file facts: a pure function of (path, bytes). Nothing here looks at other files.

What a file contributes to the cross-file index: its function definitions (name, header words,
body range), prototypes carrying attributes, function-pointer variables, macros, includes,
NOKPROBE_SYMBOL() names, kannot allow comments, and assembly symbols for .S files. Function
bodies are turned into IR lazily (``function_ir``) only for the functions a check needs.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from tree_sitter import Node

from kannot.facts import cpp
from kannot.source import limits
from kannot.facts.ir import IRBuilder, declarator_name, param_names
from kannot.facts.parsing import parse
from kannot.rules import DEFAULT_RULES


@dataclass(slots=True)
class FunctionFact:
    name: str
    line: int  # of the name (1-based)
    column: int
    end_line: int
    words: tuple[str, ...]  # header words (annotations, type, macros), parameters excluded
    body_start: int  # byte range of the body, for lazy IR
    body_end: int
    head_macro: str | None = None  # DEFINE_IDTENTRY_RAW in `DEFINE_IDTENTRY_RAW(exc_int3) {`
    head_args: str | None = None  # `exc_int3`
    params: tuple[str, ...] = ()  # parameter names: calls through them are indirect
    condition: str = ""  # enclosing #if conditions (" && "-joined), "" at top level
    # the body's text and first column: equal digests and places mean an unchanged body (a
    # stored result rechecks only the callers of functions whose body moved or changed)
    digest: str = ""


@dataclass(slots=True)
class PrototypeFact:
    name: str
    line: int
    words: tuple[str, ...]


@dataclass(slots=True)
class AllowComment:
    line: int
    codes: tuple[str, ...]
    reason: str


@dataclass(slots=True)
class FileFacts:
    path: str  # relative to the root, '/' separated
    functions: list[FunctionFact] = field(default_factory=list)
    prototypes: list[PrototypeFact] = field(default_factory=list)
    pointer_vars: list[str] = field(default_factory=list)
    macros: list[cpp.MacroDef] = field(default_factory=list)
    macro_names: list[str] = field(default_factory=list)  # every function-like macro
    includes: list[tuple[str, str, str]] = field(default_factory=list)  # ('<'|'"', path, #if conditions)
    nokprobe: list[str] = field(default_factory=list)
    allows: list[AllowComment] = field(default_factory=list)
    asm_symbols: list[tuple[str, int, str]] = field(default_factory=list)  # (name, line, section)
    invocations: list[tuple[str, str, int, int]] = field(default_factory=list)  # file-scope MACRO(args);
    parse_errors: int = 0
    first_error_line: int | None = None


# Header words that say something about the protected/safe class of a function, or that name a
# prototype worth keeping. Others may still be learned aliases (resolved at index time).
INTERESTING_PROTO_WORDS = frozenset(
    """noinstr __cpuidle notrace __kprobes __noreturn noreturn __always_inline alias
    __noinstr_section __section section __attribute__ nokprobe_inline""".split()
)

# NOKPROBE_SYMBOL(f): the invocations the shipped families name (kannot/rules/families.toml)
_NOKPROBE_RE = re.compile(rb"\b(?:" + b"|".join(re.escape(n.encode()) for n in sorted(DEFAULT_RULES.invocations))
                          + rb")\s*\(\s*([A-Za-z_]\w*)\s*\)")
# codes: kannot's own (KN001) and those of a tree's own families (kannot.rules.base.CODE_RE)
_ALLOW_RE = re.compile(rb"kannot:\s*allow\s+((?:(?:KN\d+|[A-Z]{2,4}\d{2,4})[\s,]*)+)([^\n]*)")
_MACROISH_RE = re.compile(r"_*[A-Z][A-Z0-9_]*")


def extract_facts(path: str, src: bytes) -> FileFacts:
    """Facts of one file. ``src`` is the raw content; never raises for odd C (parse errors are data)."""
    facts = FileFacts(path=path)
    macros, names = cpp.scan_defines(src)
    facts.macros = macros
    facts.macro_names = names
    facts.includes = cpp.scan_includes(src)  # the catalog's own reader: lazy and eager indexes agree
    facts.allows = _allow_comments(src)
    if path.endswith((".S", ".s")):
        facts.asm_symbols = scan_asm(src)
        return facts
    facts.nokprobe = sorted({m.group(1).decode() for m in _NOKPROBE_RE.finditer(src)})
    blanked = cpp.blank_attributes(src)
    tree = parse(blanked.text)
    root = tree.root_node
    if root.has_error:
        facts.parse_errors, facts.first_error_line = _errors(root)
    items = _top_level(root)
    facts.functions = read_functions(src, root, items)
    if root.has_error:
        facts.functions += _recovered_functions(src, blanked.text, root, facts.functions)
        facts.functions.sort(key=lambda f: f.body_start)
    if b"#if" in src:
        _attach_conditions(src, facts.functions)
    facts.prototypes, facts.pointer_vars = _declarations(src, root, items)
    facts.invocations = invocations(src, root, items)
    return facts


def _attach_conditions(src: bytes, functions: list[FunctionFact]) -> None:
    conds = cpp.condition_points(src)
    i, current = 0, ""
    for fn in functions:  # in source order
        while i < len(conds) and conds[i][0] < fn.body_start:
            current = conds[i][1]
            i += 1
        fn.condition = current


_CONTAINERS = frozenset({"translation_unit", "preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif",
                         "preproc_elifdef", "ERROR", "linkage_specification", "declaration_list"})


def _top_level(root: Node) -> dict[str, list[Node]]:
    """File-scope function definitions, declarations and statements, in source order.

    Walking only the file-scope containers (and ERROR nodes) is much cheaper than running
    queries over every node of every body.
    """
    out: dict[str, list[Node]] = {"function_definition": [], "declaration": [], "expression_statement": []}
    stack = [root]
    while stack:
        node = stack.pop()
        for child in reversed(node.children):
            t = child.type
            if t in out:
                out[t].append(child)
            elif t in _CONTAINERS:
                stack.append(child)
    for nodes in out.values():
        nodes.sort(key=lambda n: n.start_byte)
    return out


# the head of a file-scope function definition: at column 0, a name, a parameter list, a '{'
_HEAD_RE = re.compile(rb"^(?![#\s}/*])(?!typedef\b)(?!struct\s+\w+\s*\{)[^;{}()\n=]*\b[A-Za-z_]\w*\s*\([^;{}]*\)[^;{}()=]*\{", re.M)
MAX_RECOVERIES = 4  # reparses per file


def _recovered_functions(src: bytes, text: bytes, root: Node, known: list[FunctionFact]) -> list[FunctionFact]:
    """Definitions an error region swallowed (a member-list macro without ';', such as
    cpu_entry_area.h's ESTACKS_MEMBERS(), turns the rest of the file into one ERROR node): each
    function head in a damaged region not already read starts a reparse of the text from there
    (what is before it blanked, so positions stay), which reads the definitions after it."""
    regions = [(n.start_byte, n.end_byte) for n in _error_nodes(root) if n.end_point[0] - n.start_point[0] >= 2]
    if not regions:
        return []
    spans = [(f.body_start, f.body_end) for f in known]
    found: list[FunctionFact] = []
    tries = 0
    for lo, hi in regions:
        for m in _HEAD_RE.finditer(text, lo, hi):
            at = m.start()
            if any(a <= at < b for a, b in spans):
                continue
            if tries >= MAX_RECOVERIES:
                return found
            tries += 1
            blank = bytes(c if c == 0x0A else 0x20 for c in text[:at])
            sub = parse(blank + text[at:])
            new = [fn for fn in read_functions(src, sub.root_node)
                   if fn.body_start >= at and not any(a <= fn.body_start < b for a, b in spans)]
            found += new
            spans += [(fn.body_start, fn.body_end) for fn in new]
            if not any(fn.body_start < hi for fn in new):
                break  # nothing read in this region from there: its other heads would not do better
    return found


def _error_nodes(root: Node) -> list[Node]:
    out = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error:
            out.append(node)
            continue
        stack.extend(c for c in node.children if c.has_error or c.is_error)
    return out


def _errors(root: Node) -> tuple[int, int | None]:
    """(number of error regions, line of the first), walking only into subtrees that hold one."""
    count = 0
    first: int | None = None
    if root.is_error:  # the whole file is one error region (an unclosed '{' at the end, ...)
        count, first = 1, root.start_point[0] + 1
    stack = [root]
    while stack and count < 10000:
        node = stack.pop()
        for child in node.children:
            if child.is_error or child.is_missing:
                count += 1
                line = child.start_point[0] + 1
                first = line if first is None else min(first, line)
            elif child.has_error:
                stack.append(child)
    return count, first


def invocations(src: bytes, root: Node, items: dict | None = None) -> list[tuple[str, str, int, int]]:
    """File-scope ``MACRO(args);`` statements with an upper-case macro name."""
    out = []
    if items is None:
        items = _top_level(root)
    for stmt in items["expression_statement"]:
        call = stmt.named_children[0] if stmt.named_child_count else None
        if call is None or call.type != "call_expression":
            continue
        name_node, args = call.child_by_field_name("function"), call.child_by_field_name("arguments")
        if name_node is None or args is None or name_node.type != "identifier":
            continue
        name = src[name_node.start_byte : name_node.end_byte].decode("utf-8", "replace")
        if not _MACROISH_RE.fullmatch(name) or name.startswith(("EXPORT_SYMBOL", "MODULE_", "NOKPROBE_SYMBOL")):
            continue
        text = src[args.start_byte + 1 : args.end_byte - 1].decode("utf-8", "replace")
        out.append((name, text, name_node.start_point[0] + 1, name_node.start_point[1] + 1))
    if root.has_error:
        out += _bare_invocations(src, {line for _n, _t, line, _c in out})
    return out


# ``DEFINE_GHCB_ACCESSORS(cpl)`` on a line of its own, no ';': a run of them parses as one
# ERROR node, so they are found in the text (column 0, not a #define's continuation, not the
# head of a definition whose body follows)
_BARE_INVOCATION_RE = re.compile(rb"^(_*[A-Z][A-Z0-9_]*)\(([^()\n]*(?:\([^()\n]*\)[^()\n]*)*)\)[ \t]*;?[ \t]*$", re.M)


def _bare_invocations(src: bytes, known: set[int]) -> list[tuple[str, str, int, int]]:
    out = []
    for m in _BARE_INVOCATION_RE.finditer(src):
        line = src.count(b"\n", 0, m.start()) + 1
        if line in known:
            continue
        prev_end = m.start() - 1
        prev_start = src.rfind(b"\n", 0, prev_end) + 1
        if src[prev_start:prev_end].rstrip().endswith(b"\\"):
            continue  # inside a multi-line #define
        rest = src[m.end() : m.end() + 200].lstrip()
        if rest.startswith(b"{"):
            continue  # DEFINE_IDTENTRY(exc_x) { ... }: a definition
        name = m.group(1).decode()
        if name.startswith(("EXPORT_SYMBOL", "MODULE_", "NOKPROBE_SYMBOL")):
            continue
        out.append((name, m.group(2).decode("utf-8", "replace"), line, 1))
    return out


def _allow_comments(src: bytes) -> list[AllowComment]:
    out = []
    for m in _ALLOW_RE.finditer(src):
        codes = tuple(re.findall(r"KN\d+|[A-Z]{2,4}\d{2,4}", m.group(1).decode()))
        reason = m.group(2).decode("utf-8", "replace").split("*/")[0].strip()
        out.append(AllowComment(src.count(b"\n", 0, m.start()) + 1, codes, reason))
    return out


def header_start(src: bytes, node_start: int, limit: int = 600) -> int:
    """Where a function header begins: after the previous ';', '}', '{', comment or # line."""
    lo = max(0, node_start - limit)
    i = node_start - 1
    while i >= lo:
        c = src[i]
        if c in b";{}":
            return i + 1
        if c == 0x2F and i > 0 and src[i - 1] == 0x2A:  # end of a /* */ comment
            return i + 1
        if c == 0x0A:
            # a preprocessor line or a // comment above ends the header
            j = src.rfind(b"\n", 0, i) + 1
            line = src[j:i].lstrip()
            if line.startswith(b"#") or line.startswith(b"//"):
                return i + 1
        i -= 1
    return lo


def read_functions(src: bytes, root: Node, items: dict | None = None) -> list[FunctionFact]:
    """Definitions found by the file-scope walk."""
    defs = (items if items is not None else _top_level(root))["function_definition"]
    out: list[FunctionFact] = []
    outer_end = -1
    for node in defs:
        if node.start_byte < outer_end:
            continue  # nested: a scoped_guard()/for_each block of the enclosing function
        body = node.child_by_field_name("body")
        decl = node.child_by_field_name("declarator")
        if body is None or decl is None:
            continue
        outer_end = body.end_byte
        start = header_start(src, node.start_byte)
        head_macro = head_args = None
        params = None
        name: str | None
        type_node = node.child_by_field_name("type")
        if decl.type == "parenthesized_declarator" and type_node is not None and type_node.type in ("type_identifier", "macro_type_specifier"):
            # DEFINE_IDTENTRY_RAW(exc_int3) { ... }
            head_macro = src[type_node.start_byte : type_node.end_byte].decode()
            head_args = src[decl.start_byte + 1 : decl.end_byte - 1].decode("utf-8", "replace").strip()
            name = head_args.split(",")[0].strip()
            name_node = decl
        else:
            fdecl = decl
            while fdecl is not None and fdecl.type not in ("function_declarator",):
                fdecl = fdecl.child_by_field_name("declarator")
            if fdecl is None:
                continue
            inner = fdecl.child_by_field_name("declarator")
            name = declarator_name(inner, src) if inner is not None else None
            if not name:
                continue
            name_node = inner
            params = fdecl.child_by_field_name("parameters")
            if _MACROISH_RE.fullmatch(name) and params is not None:
                # static DEFINE_PER_CPU(...);  DEFINE_IDTENTRY_RAW(exc_nmi) { ... } merged by the parser
                head_macro = name
                head_args = src[params.start_byte + 1 : params.end_byte - 1].decode("utf-8", "replace").strip()
        header = src[start : body.start_byte]
        if params is not None:
            header = src[start : params.start_byte] + b" " + src[params.end_byte : body.start_byte]
        words = cpp.header_words(header)
        out.append(
            FunctionFact(
                name=name,
                line=name_node.start_point[0] + 1,
                column=name_node.start_point[1] + 1,
                end_line=node.end_point[0] + 1,
                words=words,
                body_start=body.start_byte,
                body_end=body.end_byte,
                head_macro=head_macro,
                head_args=head_args,
                params=tuple(param_names(decl, src)),
                digest=_body_digest(src, body),
            )
        )
    return out


def _body_digest(src: bytes, body: Node) -> str:
    h = hashlib.blake2b(src[body.start_byte : body.end_byte], digest_size=8)
    h.update(str(body.start_point[1]).encode())
    return h.hexdigest()


def _declarations(src: bytes, root: Node, items: dict | None = None) -> tuple[list[PrototypeFact], list[str]]:
    """Prototypes and function-pointer variables."""
    protos: list[PrototypeFact] = []
    pointers: list[str] = []
    for node in (items if items is not None else _top_level(root))["declaration"]:
        for d in node.children_by_field_name("declarator"):
            target = d.child_by_field_name("declarator") if d.type == "init_declarator" else d
            if target is None:
                continue
            if target.type == "function_declarator":
                inner = target.child_by_field_name("declarator")
                if inner is not None and inner.type == "parenthesized_declarator":
                    name = declarator_name(inner, src)
                    if name:
                        pointers.append(name)  # void (*handler)(...)
                    continue
                name = declarator_name(inner, src) if inner is not None else None
                if not name:
                    continue
                start = header_start(src, node.start_byte)
                words = cpp.header_words(src[start : node.end_byte])
                if INTERESTING_PROTO_WORDS.intersection(words):
                    protos.append(PrototypeFact(name, node.start_point[0] + 1, words))
            elif target.type == "pointer_declarator" and "(" in src[target.start_byte : target.end_byte].decode("utf-8", "replace"):
                name = declarator_name(target, src)
                if name:
                    pointers.append(name)
    return protos, pointers


def function_ir(src: bytes, fn: FunctionFact, bound: tuple[tuple[str, str], ...] = ()) -> list:
    """Parse ``fn``'s body (from the file's raw bytes) into IR events. ``bound``: parameters
    replaced by the constant or function a call site passes (an always-inline helper's body
    specialised for it, as gcc does once it inlines)."""
    blanked = cpp.blank_attributes(src).text
    # Parse only the body, padded with the lines before it so positions stay right.
    line_offset = src.count(b"\n", 0, fn.body_start)
    col = fn.body_start - (src.rfind(b"\n", 0, fn.body_start) + 1)
    body_text = blanked[fn.body_start : fn.body_end]
    for param, value in bound:  # not a member of the same name (s->dowd, s.cmp)
        body_text = re.sub(rb"(?<![\w.>])" + re.escape(param.encode()) + rb"\b", value.encode(), body_text)
    snippet = b" " * col + body_text
    tree = parse(snippet)
    body = tree.root_node
    builder = IRBuilder(snippet, line_offset=line_offset)
    builder.locals |= set(fn.params) - {p for p, _v in bound}
    events: list = []
    for child in body.named_children:
        builder.stmt(child, events)
    return events


# --------------------------------------------------------------------------------------------
# assembly

_ASM_SECTION_RE = re.compile(r"^\s*\.(?:push)?section\s+([.\w]+)", re.M)
_ASM_SYM_RE = re.compile(
    r"^\s*(?:SYM_FUNC_START(?:_LOCAL|_NOALIGN|_WEAK|_LOCAL_NOALIGN)?|SYM_TYPED_FUNC_START|SYM_CODE_START(?:_LOCAL|_NOALIGN|_LOCAL_NOALIGN)?|SYM_INNER_LABEL(?:_ALIGN)?|ENTRY|GLOBAL|WEAK|SYM_FUNC_ALIAS(?:_WEAK)?|SYM_FUNC_ALIAS_MEMFUNC)\s*\(\s*(\w+)"
)
_ASM_LINE_RE = re.compile(r"[^\n]*\n?")


def scan_asm(src: bytes) -> list[tuple[str, int, str]]:
    """Symbols defined in a .S file with the section they are in (.text when not said)."""
    text = src.decode("utf-8", "replace")
    section = ".text"
    stack: list[str] = []
    out: list[tuple[str, int, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith((".pushsection", ".section")):
            m = _ASM_SECTION_RE.match(line)
            if m:
                if s.startswith(".pushsection"):
                    stack.append(section)
                section = m.group(1)
        elif s.startswith(".popsection") or s.startswith(".previous"):
            section = stack.pop() if stack else ".text"
        elif s in (".text", "__TEXT", ".text;") or s.startswith(".text "):
            section = ".text"
        elif s.startswith(("__INIT", "__HEAD")):
            section = ".init.text" if s.startswith("__INIT") else ".head.text"
        elif s.startswith(".entry.text"):
            section = ".entry.text"
        else:
            m = _ASM_SYM_RE.match(line)
            if m:
                out.append((m.group(1), lineno, section))
    return out


# the per-file boundary ----------------------------------------------------------------------------

def guarded_extract(rel: str, data: bytes):
    """``(facts, None)`` or ``(None, message)``: facts extraction that never raises.

    Everything a file can make the extractor do (time out, recurse too deep, hit a bug) ends here
    as one message for ``errors``; the run goes on with the other files.
    """
    seconds = limits.current().file_time_limit
    try:
        with limits.file_deadline(seconds):
            return extract_facts(rel, data), None
    except limits.FileTimeLimit as exc:
        return None, str(exc)
    except RecursionError:
        return None, "skipped: nesting too deep to parse"
    except MemoryError:
        return None, "skipped: out of memory while reading facts"
    except Exception as exc:  # noqa: BLE001 - the per-file boundary: one odd file never loses the run
        return None, f"internal error while reading facts: {type(exc).__name__}: {exc}"
