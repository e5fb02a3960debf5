"""A function body as a small control-flow IR: the only shape the rules walk.

Events are plain tuples (cheap, picklable, cacheable):

  ("call",   name, args_text, pos, arg_events, tail_args)  direct call by name (function or macro)
  ("icall",  text, pos, sub_events)                         call through an expression (pointer)
  ("if",     cond_events, then_events, else_events)
  ("pp",     [(condition_text, events), ...], has_else)     #if/#ifdef branches inside a body
  ("loop",   pre_events, body_events)
  ("switch", cond_events, [case_events, ...], has_default)
  ("return", expr_events, pos)
  ("goto", label) / ("label", name) / ("break",) / ("continue",)

``pos`` is (line, column, end_line, end_column), 1-based, columns in bytes. ``tail_args`` is the
argument text of an outer call when the callee is itself a call (``guard(x)(y)``,
``static_call(f)(a)``): the inner macro's expansion is followed by ``(tail_args)``.
"""
from __future__ import annotations

import re

from tree_sitter import Node

from kannot.facts.asmcalls import ASM_CALL, AsmScan

Event = tuple
Pos = tuple[int, int, int, int]

# Calls whose arguments are not evaluated, or that are not calls at all.
UNEVALUATED_CALLS = frozenset(
    """sizeof typeof __typeof__ __typeof _Alignof __alignof__ alignof offsetof __builtin_offsetof
    __builtin_constant_p __builtin_types_compatible_p __same_type __is_constexpr _Static_assert
    static_assert __builtin_choose_expr_types __native_word __scalar_type_to_expr_cases
    __unqual_scalar_typeof typeof_member""".split()
)
ASM_WORDS = frozenset({"asm", "__asm__", "__asm", "asm_inline", "asm_volatile_goto", "asm_goto_output"})
_SKIP_NODES = frozenset(
    """string_literal concatenated_string char_literal number_literal sizeof_expression
    alignof_expression offsetof_expression gnu_asm_expression comment type_descriptor
    primitive_type sized_type_specifier type_identifier field_identifier preproc_def
    preproc_function_def preproc_include preproc_call true false null""".split()
)


def _pos(node: Node, line_offset: int) -> Pos:
    (l1, c1), (l2, c2) = node.start_point, node.end_point
    return (l1 + 1 + line_offset, c1 + 1, l2 + 1 + line_offset, c2 + 1)


class IRBuilder:
    """Builds events from a tree-sitter body. ``line_offset`` shifts lines for synthetic texts."""

    def __init__(self, src: bytes, local_names: set[str] | None = None, line_offset: int = 0):
        self.src = src
        self.locals = set(local_names or ())
        self.line_offset = line_offset
        self._asm: AsmScan | None = None

    def text(self, node: Node) -> str:
        return self.src[node.start_byte : node.end_byte].decode("utf-8", "replace")

    # statements ---------------------------------------------------------------------------
    def block(self, node: Node | None) -> list[Event]:
        out: list[Event] = []
        if node is not None:
            self.stmt(node, out)
        return out

    def stmt(self, node: Node, out: list[Event]) -> None:
        t = node.type
        if t == "compound_statement":
            for child in node.named_children:
                self.stmt(child, out)
        elif t == "if_statement":
            cond_node = node.child_by_field_name("condition")
            cond: list[Event] = []
            known = self.cond(cond_node, cond) if cond_node is not None else None
            then = self.block(node.child_by_field_name("consequence"))
            alt = node.child_by_field_name("alternative")
            other: list[Event] = []
            if alt is not None:
                for child in alt.named_children:  # else_clause -> statement
                    self.stmt(child, other)
            if known is None:
                shape = _cond_shape(cond_node, self.src) if cond_node is not None else None
                out.append(("if", cond, then, other, shape) if shape is not None else ("if", cond, then, other))
            else:  # `if (!0)` after macro substitution (CPU_PM_CPU_IDLE_ENTER's is_rcu): one branch
                out.extend(cond)
                out.extend(then if known else other)
        elif t in ("for_statement", "for_range_loop"):
            pre: list[Event] = []
            for field in ("initializer", "condition"):
                self.expr(node.child_by_field_name(field), pre)
            body = self.block(node.child_by_field_name("body"))
            self.expr(node.child_by_field_name("update"), body)
            self.expr(node.child_by_field_name("condition"), body)
            out.append(("loop", pre, body))
        elif t == "while_statement":
            pre = []
            self.expr(node.child_by_field_name("condition"), pre)
            body = self.block(node.child_by_field_name("body"))
            self.expr(node.child_by_field_name("condition"), body)
            out.append(("loop", pre, body))
        elif t == "do_statement":
            body = self.block(node.child_by_field_name("body"))
            self.expr(node.child_by_field_name("condition"), body)
            # the body runs at least once: run it, then loop it
            out.extend(body)
            out.append(("loop", [], body))
        elif t == "switch_statement":
            cond = []
            self.expr(node.child_by_field_name("condition"), cond)
            cases: list[list[Event]] = []
            has_default = False
            body_node = node.child_by_field_name("body")
            for child in body_node.named_children if body_node is not None else ():
                if child.type == "case_statement":
                    events: list[Event] = []
                    value = child.child_by_field_name("value")
                    if value is None:
                        has_default = True
                    for sub in child.named_children:
                        if value is not None and sub.id == value.id:
                            continue
                        self.stmt(sub, events)
                    cases.append(events)
                elif cases:
                    self.stmt(child, cases[-1])
            out.append(("switch", cond, cases, has_default))
        elif t == "return_statement":
            events = []
            for child in node.named_children:
                self.expr(child, events)
            out.extend(events)
            out.append(("return", [], _pos(node, self.line_offset)))
        elif t == "goto_statement":
            label = node.child_by_field_name("label")
            out.append(("goto", self.text(label) if label is not None else ""))
        elif t == "labeled_statement":
            label = node.child_by_field_name("label")
            out.append(("label", self.text(label) if label is not None else ""))
            for child in node.named_children:
                if label is None or child.id != label.id:
                    self.stmt(child, out)
        elif t == "break_statement":
            out.append(("break",))
        elif t == "continue_statement":
            out.append(("continue",))
        elif t in ("preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef"):
            out.append(self.preproc(node))
        elif t == "function_definition":
            # scoped_guard(rcu) { ... } / for_each_cpu(cpu) { ... } parsed as a nested function:
            # the macro is a call, the block a loop body of the enclosing function.
            self.macro_block(node, out)
        elif t == "declaration":
            self.asm_calls(node, out)
            self.declare(node)
            self.expr(node, out)
        else:
            self.asm_calls(node, out)
            self.expr(node, out)

    def asm_calls(self, node: Node, out: list[Event]) -> None:
        """The calls an ``asm`` statement in ``node`` makes (kannot.facts.asmcalls), as calls of
        :data:`ASM_CALL` whose argument text is the target."""
        if self._asm is None:
            self._asm = AsmScan(self.src)
        for a in self._asm.take(node.start_byte, node.end_byte):
            line = self.src.count(b"\n", 0, a.start) + 1 + self.line_offset
            col = a.start - (self.src.rfind(b"\n", 0, a.start) + 1) + 1
            for target in a.targets:
                out.append(("call", ASM_CALL, target, (line, col, line, col + 3), [], None))

    def cond(self, node: Node, out: list[Event]) -> bool | None:
        """The events of a condition, as C evaluates it (``&&``/``||`` short-circuit), and its
        value when constant: ``if (false && unlikely(x))`` after an always-inline helper's
        parameter is bound to ``false`` never calls what its right side calls."""
        t = node.type
        if t in ("parenthesized_expression", "condition_clause") and node.named_child_count == 1:
            return self.cond(node.named_children[0], out)
        if t == "binary_expression":
            op_node = node.child_by_field_name("operator")
            op = op_node.type if op_node is not None else ""
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if op in ("&&", "||") and left is not None and right is not None:
                lv = self.cond(left, out)
                if (op == "&&" and lv is False) or (op == "||" and lv is True):
                    return lv  # the right side is never evaluated
                rv = self.cond(right, out)
                if op == "&&":
                    return False if rv is False else (True if lv is True and rv is True else None)
                return True if rv is True else (False if lv is False and rv is False else None)
        if t == "unary_expression" and node.child_count == 2 and node.children[0].type == "!":
            v = self.cond(node.children[1], out)
            return None if v is None else not v
        if t in ("true", "false"):
            return t == "true"
        if t == "null" or (t == "identifier" and self.text(node) in ("NULL", "false", "true")):
            return self.text(node) == "true"
        self.expr(node, out)
        return constant_truth(self.text(node))

    def preproc(self, node: Node) -> Event:
        branches: list[tuple[str, list[Event]]] = []
        has_else = False
        cur: Node | None = node
        while cur is not None:
            cond_node = cur.child_by_field_name("condition") or cur.child_by_field_name("name")
            cond = self.text(cond_node) if cond_node is not None else ""
            if cur.type == "preproc_ifdef":
                first = cur.children[0].type if cur.children else "#ifdef"
                cond = ("!defined " if "ifndef" in first else "defined ") + cond
            alt = cur.child_by_field_name("alternative")
            events: list[Event] = []
            for child in cur.named_children:
                if cond_node is not None and child.id == cond_node.id:
                    continue
                if alt is not None and child.id == alt.id:
                    continue
                self.stmt(child, events)
            if cur.type == "preproc_else":
                has_else = True
                cond = "else"
            branches.append((cond, events))
            cur = alt
        return ("pp", branches, has_else)

    def macro_block(self, node: Node, out: list[Event]) -> None:
        type_node = node.child_by_field_name("type")
        decl = node.child_by_field_name("declarator")
        if type_node is not None and decl is not None:
            name = self.text(type_node).strip()
            args = self.text(decl).strip()
            if args.startswith("(") and args.endswith(")"):
                args = args[1:-1]
            arg_events: list[Event] = []
            self.expr(decl, arg_events)
            out.append(("call", name, args, _pos(type_node, self.line_offset), arg_events, None))
        body = self.block(node.child_by_field_name("body"))
        out.append(("loop", [], body))

    def declare(self, node: Node) -> None:
        for child in node.named_children:
            name = declarator_name(child, self.src)
            if name:
                self.locals.add(name)

    # expressions --------------------------------------------------------------------------
    def expr(self, node: Node | None, out: list[Event]) -> None:
        if node is None:
            return
        t = node.type
        if t == "call_expression":
            self.call(node, out)
        elif t in _SKIP_NODES:
            if t == "gnu_asm_expression":
                self.asm_calls(node, out)
            return
        elif t in ("compound_statement", "if_statement", "return_statement", "for_statement",
                   "while_statement", "do_statement", "switch_statement", "goto_statement",
                   "labeled_statement", "preproc_if", "preproc_ifdef"):
            self.stmt(node, out)
        elif t == "declaration":
            self.declare(node)
            for child in node.named_children:
                self.expr(child, out)
        else:
            for child in node.named_children:
                self.expr(child, out)

    def call(self, node: Node, out: list[Event]) -> None:
        fn = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        args_text = self.text(args)[1:-1] if args is not None else ""
        pos = _pos(node, self.line_offset)
        if fn is None:
            return
        if fn.type == "parenthesized_expression" and fn.named_child_count == 1 and fn.named_children[0].type == "identifier":
            fn = fn.named_children[0]  # (func)(args): a direct call that bypasses a function-like macro
        if _is_cast(fn, self.text(fn), self.src):
            self.expr(args, out)  # (u64)(x), (typeof(*p) *)(x): a cast, not a call
            return
        if fn.type == "identifier":
            name = self.text(fn)
            if name in UNEVALUATED_CALLS:
                return
            if name in ASM_WORDS:  # `asm_inline (...)` read as a call: its calls come from asm_calls()
                self.expr(args, out)
                return
            arg_events: list[Event] = []
            self.expr(args, arg_events)
            if name in self.locals:
                out.append(("icall", name, pos, arg_events))
            else:
                out.append(("call", name, args_text, pos, arg_events, None))
        elif fn.type in ("string_literal", "concatenated_string") or '"' in self.text(fn) or self.text(fn).startswith(("asm", "__asm")):
            return  # inline-asm templates and operands mis-parsed as calls (docs/semantics.md 5.2)
        elif fn.type == "call_expression" and (inner := fn.child_by_field_name("function")) is not None and inner.type == "identifier":
            # guard(lock)(&l), static_call(f)(x): a macro producing the callee
            inner_args = fn.child_by_field_name("arguments")
            inner_text = self.text(inner_args)[1:-1] if inner_args is not None else ""
            arg_events = []
            self.expr(args, arg_events)
            out.append(("call", self.text(inner), inner_text, pos, arg_events, args_text))
        else:
            sub: list[Event] = []
            self.expr(fn, sub)
            self.expr(args, sub)
            out.append(("icall", " ".join(self.text(fn).split()), pos, sub))


def _cond_shape(node: Node, src: bytes, depth: int = 0):
    """The shape of a condition made of calls, ``!``, ``&&`` and ``||``, or None: lets the
    analysis decide a branch by what always-inline helpers return (``if
    (microcode_nmi_handler_enabled())`` where that helper is ``{ return false; }``)."""
    if depth > 8:
        return None
    t = node.type
    if t in ("parenthesized_expression", "condition_clause") and node.named_child_count == 1:
        return _cond_shape(node.named_children[0], src, depth + 1)
    if t == "unary_expression" and node.child_count == 2 and node.children[0].type == "!":
        inner = _cond_shape(node.children[1], src, depth + 1)
        return ("not", inner) if inner is not None else None
    if t == "binary_expression":
        op_node = node.child_by_field_name("operator")
        op = op_node.type if op_node is not None else ""
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if op in ("&&", "||") and left is not None and right is not None:
            a, b = _cond_shape(left, src, depth + 1), _cond_shape(right, src, depth + 1)
            if a is None and b is None:
                return None
            return ("and" if op == "&&" else "or", a, b)
    if t == "call_expression":
        fn = node.child_by_field_name("function")
        if fn is not None and fn.type == "identifier":
            return ("call", src[fn.start_byte : fn.end_byte].decode("utf-8", "replace"))
    return None


_TYPE_WORDS = frozenset(
    """typeof __typeof__ __typeof struct union enum const volatile unsigned signed char short int
    long float double void bool _Bool u8 u16 u32 u64 s8 s16 s32 s64 __u8 __u16 __u32 __u64 __s8
    __s16 __s32 __s64 __le16 __le32 __le64 __be16 __be32 __be64 size_t ssize_t uintptr_t
    intptr_t ptrdiff_t phys_addr_t dma_addr_t resource_size_t""".split()
)


def _is_cast(fn: Node, text: str, src: bytes) -> bool:
    """tree-sitter reads ``(type)(expr)`` as a call when it does not know ``type``."""
    if fn.type == "call_expression":  # (T *)(uintptr_t)(p): a chain of casts
        inner = fn.child_by_field_name("function")
        return inner is not None and inner.type == "parenthesized_expression" and _is_cast(inner, src[inner.start_byte : inner.end_byte].decode("utf-8", "replace"), src)
    if fn.type == "identifier":
        return text in _TYPE_WORDS or (text.endswith("_t") and text not in ("__x86_indirect_thunk_t",))
    if fn.type != "parenthesized_expression":
        return False
    inside = text[1:-1].strip()
    head = inside.split("(", 1)[0].split()  # empty for "((x))" or "(\n(x))"
    first = head[0] if head else ""
    return first in _TYPE_WORDS or inside.endswith("*") or first.endswith("_t") and " " in inside


_CONST_RE = re.compile(r"[\s()!0-9&|=<>]*")


def constant_truth(text: str) -> bool | None:
    """The value of an integer-constant condition such as ``(!0)`` or ``(1 && 0)``, else None."""
    if not text or not _CONST_RE.fullmatch(text) or not any(c.isdigit() for c in text):
        return None
    expr = text.replace("&&", " and ").replace("||", " or ").replace("!=", " ne ").replace("!", " not ").replace(" ne ", " != ")
    if not re.fullmatch(r"[\s()0-9<>=!]*(?:(?:and|or|not)[\s()0-9<>=!]*)*", expr):
        return None
    try:
        return bool(_safe_eval(expr))
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return None


def _safe_eval(expr: str):
    import ast

    tree = ast.parse(expr.strip(), mode="eval")
    allowed = (ast.Expression, ast.BoolOp, ast.UnaryOp, ast.Compare, ast.Constant, ast.And, ast.Or, ast.Not,
               ast.Eq, ast.NotEq, ast.Lt, ast.Gt, ast.LtE, ast.GtE)
    for n in ast.walk(tree):
        if not isinstance(n, allowed) or (isinstance(n, ast.Constant) and not isinstance(n.value, int)):
            raise ValueError("not a constant condition")

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.UnaryOp):
            return not ev(n.operand)
        if isinstance(n, ast.BoolOp):
            vals = [ev(v) for v in n.values]
            return all(vals) if isinstance(n.op, ast.And) else any(vals)
        if isinstance(n, ast.Compare):
            left = ev(n.left)
            for op, right_node in zip(n.ops, n.comparators):
                right = ev(right_node)
                ok = {ast.Eq: left == right, ast.NotEq: left != right, ast.Lt: left < right, ast.Gt: left > right,
                      ast.LtE: left <= right, ast.GtE: left >= right}[type(op)]
                if not ok:
                    return False
                left = right
            return True
        raise ValueError("not a constant condition")

    return ev(tree)


def declarator_name(node: Node, src: bytes) -> str | None:
    """The identifier a declarator declares (through pointers, arrays, init, parens). ``src``: the
    parsed bytes (a slice of them, not ``Node.text``: a tree parsed from a read callback, as
    under a deadline, re-reads the text on every ``.text``, 60 times slower)."""
    cur: Node | None = node
    for _ in range(12):
        if cur is None:
            return None
        if cur.type == "identifier":
            return src[cur.start_byte : cur.end_byte].decode("utf-8", "replace")
        nxt = cur.child_by_field_name("declarator")
        if nxt is None:
            if cur.type == "parenthesized_declarator" and cur.named_child_count:
                nxt = cur.named_children[0]
            else:
                return None
        cur = nxt
    return None


def param_names(declarator: Node | None, src: bytes) -> list[str]:
    """Parameter names of the innermost function declarator under ``declarator``, in order."""
    names: list[str] = []
    cur = declarator
    while cur is not None and cur.type != "function_declarator":
        cur = cur.child_by_field_name("declarator")
    if cur is None:
        return names
    params = cur.child_by_field_name("parameters")
    for p in params.named_children if params is not None else ():
        d = p.child_by_field_name("declarator")
        if d is not None:
            n = declarator_name(d, src)
            if n and n not in names:
                names.append(n)
    return names
