"""The kernel's Kconfig, read for one arch: which option combinations exist.

Parsing: tree-sitter-kconfig (it parses every Kconfig file of 6.12 but the preprocessor macros
of ``scripts/Kconfig.include``, which are never needed here). Reading starts at the tree's
top ``Kconfig`` and follows ``source``/``rsource``/``osource``/``orsource`` with ``$(SRCARCH)``
and ``$(ARCH)`` substituted; ``menu``/``if`` blocks pass their dependencies to every entry
inside. Nothing a Kconfig file asks to run is run: a ``$(shell,...)``, ``$(cc-option,...)`` or
any other macro is an unknown value (both ways possible).

The result (:class:`KconfigTree`) is plain data (tuples, strings, dicts): it is stored in the
facts cache and turned into constraints by :func:`constraints`. Expressions are tuples:
``("s", NAME)`` symbol, ``("k", "y"|"m"|"n")`` tristate constant, ``("t", TEXT)`` string or
number, ``("?", TEXT)`` unknown (a macro), ``("!", e)``, ``("&", a, b)``, ``("|", a, b)``, and
comparisons ``("=", a, b)``, ``("!=", a, b)``, ``("<", a, b)``... The semantics follow
``scripts/kconfig/symbol.c`` (``sym_calc_value``): see :func:`constraints`.
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kannot.build import logic as L
from kannot.build.logic import Formula

Expr = tuple
YES: Expr = ("k", "y")
NO: Expr = ("k", "n")


@dataclass
class SymDef:
    """One ``config``/``menuconfig`` entry (a symbol may have several)."""

    type: str  # bool | tristate | int | hex | string | "" (type given elsewhere)
    dep: Expr  # its own ``depends on``s and those of the enclosing menus and ifs
    prompts: list[Expr] = field(default_factory=list)  # each prompt's ``if`` (YES when none)
    defaults: list[tuple[Expr, Expr]] = field(default_factory=list)  # (value, condition)
    selects: list[tuple[str, Expr]] = field(default_factory=list)
    implies: list[tuple[str, Expr]] = field(default_factory=list)
    choice: int = -1  # the choice this entry is a member of
    visible: Expr = YES  # enclosing menus' ``visible if``
    file: str = ""
    line: int = 0

    def pack(self) -> tuple:
        return (self.type, self.dep, self.prompts, self.defaults, self.selects, self.implies, self.choice,
                self.visible, self.file, self.line)


@dataclass
class ChoiceDef:
    dep: Expr
    prompts: list[Expr]
    optional: bool
    members: list[str] = field(default_factory=list)


@dataclass
class KconfigTree:
    arch: str
    symbols: dict[str, list[SymDef]] = field(default_factory=dict)
    choices: list[ChoiceDef] = field(default_factory=list)
    modules: str | None = None  # the symbol marked ``modules`` (MODULES)
    files: list[str] = field(default_factory=list)  # every Kconfig file read, relative
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file, message)

    def type_of(self, name: str) -> str:
        for d in self.symbols.get(name, ()):
            if d.type:
                return d.type
        return ""

    def pack(self) -> tuple:
        return (self.arch, {n: [d.pack() for d in ds] for n, ds in self.symbols.items()},
                [(c.dep, c.prompts, c.optional, c.members) for c in self.choices], self.modules,
                self.files, self.problems)

    @classmethod
    def unpack(cls, data: tuple) -> "KconfigTree":
        arch, syms, choices, modules, files, problems = data
        t = cls(arch)
        t.symbols = {n: [SymDef(*d) for d in ds] for n, ds in syms.items()}
        t.choices = [ChoiceDef(*c) for c in choices]
        t.modules, t.files, t.problems = modules, list(files), [tuple(p) for p in problems]
        return t


# ---------------------------------------------------------------------------------------------
# reading


def _parser():
    import tree_sitter
    import tree_sitter_kconfig

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_kconfig.language()))


def arch_variables(arch: str) -> dict[str, str]:
    """The make variables Kconfig files may name. ``ARCH`` is the arch folder's name: for x86
    both word sizes stay possible (``64BIT`` has a prompt when ARCH is ``x86``)."""
    return {"SRCARCH": arch, "ARCH": arch}


def read_tree(root: Path, arch: str) -> KconfigTree:
    """Every Kconfig entry the arch's configuration menu has."""
    reader = _Reader(root, arch)
    reader.read_file("Kconfig", YES, YES, required=True)
    return reader.tree


class _Reader:
    def __init__(self, root: Path, arch: str) -> None:
        self.root = root
        self.vars = arch_variables(arch)
        self.tree = KconfigTree(arch)
        self.parser = _parser()
        self.src = b""
        self.file = ""
        self.seen: set[str] = set()
        self.choice_stack: list[int] = []

    # files ------------------------------------------------------------------------------------
    def read_file(self, rel: str, dep: Expr, visible: Expr, required: bool) -> None:
        if rel in self.seen:  # kconfig itself refuses recursive inclusion
            return
        path = self.root / rel
        try:
            src = path.read_bytes()
        except OSError as exc:
            if required:
                self.tree.problems.append((rel, f"cannot read: {exc.strerror or exc}"))
            return
        self.seen.add(rel)
        self.tree.files.append(rel)
        saved = (self.src, self.file)
        self.src, self.file = src, rel
        try:
            tree = self.parser.parse(src)
            root = tree.root_node
            if root.has_error:
                self.tree.problems.append((rel, "could not fully parse; entries outside the damage were read"))
            self.entries(root, dep, visible)
        finally:
            self.src, self.file = saved

    def _source(self, node, dep: Expr, visible: Expr) -> None:
        kw = node.children[0].type if node.children else "source"
        strings = [c for c in node.children if c.type == "string"]
        if not strings:
            return
        target = self._expand(self.string_of(strings[0]))
        if target is None:
            self.tree.problems.append((self.file, f"source path with an unknown macro: {self.text(strings[0])}"))
            return
        if kw in ("rsource", "orsource"):
            target = os.path.normpath(os.path.join(os.path.dirname(self.file), target))
        optional = kw in ("osource", "orsource")
        if any(ch in target for ch in "*?["):
            for hit in sorted(glob.glob(str(self.root / target))):
                self.read_file(os.path.relpath(hit, self.root).replace(os.sep, "/"), dep, visible, False)
            return
        self.read_file(target, dep, visible, required=not optional)

    # entries ----------------------------------------------------------------------------------
    def entries(self, node, dep: Expr, visible: Expr) -> None:
        for child in node.named_children:
            t = child.type
            if t in ("config", "menuconfig"):
                self.config(child, dep, visible)
            elif t == "source":
                self._source(child, dep, visible)
            elif t == "if":
                cond = child.child_by_field_name("condition")
                inner = conjoin(dep, self.expr(cond)) if cond is not None else dep
                self.entries(child, inner, visible)
            elif t == "menu":
                mdep = dep
                mvis = visible
                for c in child.named_children:
                    if c.type == "dependencies":
                        mdep = conjoin(mdep, self._first_expr(c))
                    elif c.type == "limiting_menu_display":
                        mvis = conjoin(mvis, self._first_expr(c))
                self.entries(child, mdep, mvis)
            elif t == "choice":
                self.choice(child, dep, visible)
            elif t == "ERROR":
                self.entries(child, dep, visible)  # what tree-sitter recovered inside it

    def choice(self, node, dep: Expr, visible: Expr) -> None:
        cdep = dep
        prompts: list[Expr] = []
        optional = False
        for c in node.children:
            if c.type == "dependencies":
                cdep = conjoin(cdep, self._first_expr(c))
            elif c.type == "input_prompt":
                prompts.append(self._cond_of(c))
            elif c.type == "optional":
                optional = True
        prompts = [conjoin(p, visible) for p in prompts]
        idx = len(self.tree.choices)
        self.tree.choices.append(ChoiceDef(cdep, prompts, optional))
        self.choice_stack.append(idx)
        try:
            self.entries(node, cdep, visible)
        finally:
            self.choice_stack.pop()

    def config(self, node, dep: Expr, visible: Expr) -> None:
        name_node = node.child_by_field_name("name")
        if name_node is None:
            return
        name = self.text(name_node).strip()
        d = SymDef("", dep, file=self.file, line=node.start_point[0] + 1, visible=visible)
        own_deps: list[Expr] = []
        for c in node.named_children:
            t = c.type
            if t == "type_definition":
                d.type = c.children[0].type
                if any(k.type == "string" for k in c.children):
                    d.prompts.append(self._cond_of(c))
            elif t == "type_definition_default":
                d.type = "bool" if c.children[0].type == "def_bool" else "tristate"
                d.defaults.append((self._first_expr(c), self._cond_of(c)))
            elif t == "input_prompt":
                d.prompts.append(self._cond_of(c))
            elif t == "dependencies":
                own_deps.append(self._first_expr(c))
            elif t == "default_value":
                d.defaults.append((self._first_expr(c), self._cond_of(c)))
            elif t == "reverse_dependencies":
                target = self._target(c)
                if target:
                    d.selects.append((target, self._cond_of(c)))
            elif t == "weak_reverse_dependencies":
                target = self._target(c)
                if target:
                    d.implies.append((target, self._cond_of(c)))
        for k in node.children:
            if k.type == "modules":
                self.tree.modules = name
        for e in own_deps:
            d.dep = conjoin(d.dep, e)
        if self.choice_stack:
            d.choice = self.choice_stack[-1]
            members = self.tree.choices[d.choice].members
            if name not in members:
                members.append(name)
        self.tree.symbols.setdefault(name, []).append(d)

    # expressions ------------------------------------------------------------------------------
    def text(self, node) -> str:
        return self.src[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def string_of(self, node) -> str:
        t = self.text(node)
        return t[1:-1] if len(t) >= 2 and t[0] in "\"'" and t[-1] == t[0] else t

    def _expand(self, text: str) -> str | None:
        """``text`` with the known make variables substituted; None if another macro is left."""
        out = text
        for k, v in self.vars.items():
            out = out.replace(f"$({k})", v)
        return None if "$(" in out else out

    def _target(self, node) -> str | None:
        for c in node.named_children:
            if c.type in ("name", "symbol"):
                return self.text(c).strip()
        return None

    def _cond_of(self, node) -> Expr:
        for c in node.named_children:
            if c.type == "conditional_clause":
                return self._first_expr(c)
        return YES

    _NOT_EXPR = frozenset({"conditional_clause", "name", "string_content", "comment"})

    def _first_expr(self, node) -> Expr:
        """The expression of a property node (after its keyword)."""
        for c in node.named_children:
            if c.type in _EXPR_TYPES:
                return self.expr(c)
        return YES

    def expr(self, node) -> Expr:
        t = node.type
        s: str | None  # (a symbol's text, or a string's expansion: None when it cannot be expanded)
        if t == "symbol":
            s = self.text(node).strip()
            if s in ("y", "m", "n"):
                return ("k", s)
            if _NUMBER_RE.fullmatch(s):
                return ("t", s)
            return ("s", s)
        if t == "name":
            return self.expr(node.named_children[0]) if node.named_children else YES
        if t == "string":
            s = self._expand(self.string_of(node))
            if s is None:
                return ("?", self.text(node))
            if s in ("y", "m", "n"):
                return ("k", s)
            return ("t", s)
        if t == "macro_variable":
            s = self._expand(self.text(node))
            if s is None:
                return ("?", self.text(node))
            return ("k", s) if s in ("y", "m", "n") else ("t", s)
        if t == "parenthesized_expression":
            inner = [c for c in node.named_children if c.type in _EXPR_TYPES]
            return self.expr(inner[0]) if inner else YES
        if t == "unary_expression":
            inner = [c for c in node.named_children if c.type in _EXPR_TYPES]
            return ("!", self.expr(inner[0])) if inner else YES
        if t == "binary_expression":
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            op = node.child_by_field_name("operator")
            if left is None or right is None or op is None:
                return ("?", self.text(node))
            o = self.text(op)
            a, b = self.expr(left), self.expr(right)
            if o == "&&":
                return ("&", a, b)
            if o == "||":
                return ("|", a, b)
            return (o, a, b)
        return ("?", self.text(node))


_NUMBER_RE = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|[0-9]+)")
_EXPR_TYPES = frozenset({"symbol", "string", "macro_variable", "parenthesized_expression", "unary_expression",
                         "binary_expression", "name"})


def conjoin(a: Expr, b: Expr) -> Expr:
    if a == YES:
        return b
    if b == YES:
        return a
    return ("&", a, b)


# ---------------------------------------------------------------------------------------------
# constraints


class _Tri:
    """A tristate value as two formulas: ``ge`` (at least m) and ``y`` (exactly y)."""

    __slots__ = ("ge", "y")

    def __init__(self, ge: Formula, y: Formula) -> None:
        self.ge, self.y = ge, y


TRI_Y = _Tri(L.TRUE, L.TRUE)
TRI_M = _Tri(L.TRUE, L.FALSE)
TRI_N = _Tri(L.FALSE, L.FALSE)


class Encoder:
    """Kconfig expressions and symbols as formulas over ``y:SYM``/``m:SYM`` atoms."""

    def __init__(self, tree: KconfigTree) -> None:
        self.tree = tree
        self.types = {n: tree.type_of(n) for n in tree.symbols}
        self.modules = L.atom(f"y:{tree.modules}") if tree.modules else L.FALSE

    def value(self, name: str) -> _Tri:
        t = self.types.get(name)
        if t == "bool":
            a = L.atom(f"y:{name}")
            return _Tri(a, a)
        if t == "tristate":
            y = L.atom(f"y:{name}")
            return _Tri(y | L.atom(f"m:{name}"), y)
        if t in ("int", "hex", "string"):
            # a non-empty value counts as y where a bool is expected (rare): unknown
            a = L.atom(f"c:{name}!=n")
            return _Tri(a, a)
        return TRI_N  # a symbol this arch's Kconfig never defines is n

    def tri(self, e: Expr) -> _Tri:
        k = e[0]
        if k == "k":
            return TRI_Y if e[1] == "y" else TRI_M if e[1] == "m" else TRI_N
        if k == "s":
            return self.value(e[1])
        if k == "!":
            a = self.tri(e[1])
            return _Tri(~a.y, ~a.ge)
        if k == "&":
            a, b = self.tri(e[1]), self.tri(e[2])
            return _Tri(a.ge & b.ge, a.y & b.y)
        if k == "|":
            a, b = self.tri(e[1]), self.tri(e[2])
            return _Tri(a.ge | b.ge, a.y | b.y)
        if k in ("=", "!="):
            eq = self._equal(e[1], e[2])
            f = eq if k == "=" else ~eq
            return _Tri(f, f)
        if k in ("<", ">", "<=", ">="):
            f = self._compare(k, e[1], e[2])
            return _Tri(f, f)
        if k == "t":  # a bare string or number where a tristate is expected
            return TRI_N
        f = L.atom("c:" + _show(e))
        return _Tri(f, f)

    def _equal(self, a: Expr, b: Expr) -> Formula:
        ka, kb = a[0], b[0]
        if ka in ("k", "t") and kb in ("k", "t"):
            return L.const(a[1] == b[1])
        tristates = ("bool", "tristate")
        if all(x[0] == "k" or (x[0] == "s" and self.types.get(x[1]) in tristates) or (x[0] == "s" and x[1] not in self.types)
               for x in (a, b)):
            ta, tb = self.tri(a), self.tri(b)
            return L.iff(ta.ge, tb.ge) & L.iff(ta.y, tb.y)
        return L.atom("c:" + _show(("=", a, b)))

    def _compare(self, op: str, a: Expr, b: Expr) -> Formula:
        if a[0] == "t" and b[0] == "t":
            try:
                x, y = int(a[1], 0), int(b[1], 0)
            except ValueError:
                return L.atom("c:" + _show((op, a, b)))
            return L.const({"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op])
        return L.atom("c:" + _show((op, a, b)))

    # symbols ----------------------------------------------------------------------------------
    def symbol_constraints(self, name: str) -> list[Formula]:
        defs = self.tree.symbols[name]
        t = self.types.get(name)
        if t not in ("bool", "tristate"):
            return []
        out: list[Formula] = []
        me = self.value(name)
        if t == "tristate":
            m = L.atom(f"m:{name}")
            out.append(~(L.atom(f"y:{name}") & m))
            out.append(L.implies(m, self.modules))
        # direct dependency: the or of each definition's
        dir_dep = _Tri(L.disj(self.tri(d.dep).ge for d in defs), L.disj(self.tri(d.dep).y for d in defs))
        # visibility: each prompt's condition, menus' 'visible if', the definition's dependencies
        vis_ge, vis_y = [], []
        for d in defs:
            dd = self.tri(d.dep)
            vv = self.tri(d.visible)
            for p in d.prompts:
                pp = self.tri(p)
                vis_ge.append(pp.ge & dd.ge & vv.ge)
                vis_y.append(pp.y & dd.y & vv.y)
        vis = _Tri(L.disj(vis_ge), L.disj(vis_y))
        if t == "bool":
            vis = _Tri(vis.ge, vis.ge)  # a bool shown under an m condition can be y
        else:
            vis = _Tri(vis.ge, vis.y | (vis.ge & ~self.modules))
        rev = self._reverse(name, "selects")
        if any(d.choice >= 0 for d in defs):
            # a choice member: the choice picks it (see choice_constraints); it still needs its
            # own dependencies and is forced by a select
            out.append(L.implies(me.ge, vis.ge | rev.ge))
            out.append(L.implies(rev.ge, me.ge))
            return out
        inv = self.hidden_value(name, dir_dep, rev)
        inv_ge, inv_y = inv.ge, inv.y
        hidden = ~vis.ge
        if t == "bool":
            out.append(L.implies(hidden, L.iff(me.ge, inv_ge)))
        else:
            out.append(L.implies(hidden, L.iff(me.ge, inv_ge)))
            out.append(L.implies(hidden, L.iff(me.y, inv_y | (inv_ge & ~self.modules))))
        # shown: the user picks a value up to the visibility; selects raise it
        out.append(L.implies(vis.ge & rev.ge, me.ge))
        if t == "tristate":
            out.append(L.implies(vis.ge & rev.y, me.y))
            out.append(L.implies(vis.ge & me.y, vis.y | rev.y))
        return out

    def hidden_value(self, name: str, dir_dep: "_Tri | None" = None, rev: "_Tri | None" = None) -> _Tri:
        """The value ``name`` takes when the user does not set it: the first default whose
        condition holds (limited by that condition and its definition's menus), raised by
        ``imply`` within its dependencies, raised by selects."""
        defs = self.tree.symbols.get(name, ())
        if dir_dep is None:
            dir_dep = _Tri(L.disj(self.tri(d.dep).ge for d in defs), L.disj(self.tri(d.dep).y for d in defs))
        if rev is None:
            rev = self._reverse(name, "selects")
        val_ge: Formula = L.FALSE
        val_y: Formula = L.FALSE
        for d in reversed(defs):
            dd = self.tri(d.dep)
            for value, cond in reversed(d.defaults):
                v, c = self.tri(value), self.tri(cond)
                c_ge, c_y = c.ge & dd.ge, c.y & dd.y
                val_ge = L.ite(c_ge, v.ge & c_ge, val_ge)
                val_y = L.ite(c_ge, v.y & c_y, val_y)
        imp = self._reverse(name, "implies")
        if imp.ge is not L.FALSE:
            val_ge = (val_ge | imp.ge) & dir_dep.ge
            val_y = (val_y | imp.y) & dir_dep.y
        return _Tri(val_ge | rev.ge, val_y | rev.y)

    def _reverse(self, name: str, kind: str) -> _Tri:
        ge, y = [], []
        for src, dd_expr, cond in self.reverse_deps(kind).get(name, ()):
            s = self.value(src)
            c = self.tri(conjoin(dd_expr, cond))
            ge.append(s.ge & c.ge)
            y.append(s.y & c.y)
        return _Tri(L.disj(ge), L.disj(y))

    def reverse_deps(self, kind: str) -> dict[str, list[tuple[str, Expr, Expr]]]:
        cache = self.__dict__.setdefault("_rev", {})
        got = cache.get(kind)
        if got is None:
            got = {}
            for src, defs in self.tree.symbols.items():
                for d in defs:
                    for target, cond in getattr(d, kind):
                        got.setdefault(target, []).append((src, d.dep, cond))
            cache[kind] = got
        return got

    def choice_constraints(self, c: ChoiceDef) -> list[Formula]:
        members = [L.atom(f"y:{m}") for m in c.members if self.types.get(m) in ("bool", "tristate")]
        if not members:
            return []
        out = []
        dep = self.tri(c.dep).ge
        for i, a in enumerate(members):
            out.append(L.implies(a, dep))
            for b in members[i + 1 :]:
                out.append(~(a & b))
        if not c.optional:
            out.append(L.implies(dep, L.disj(members)))
        return out

    def all_constraints(self) -> list[Formula]:
        out: list[Formula] = []
        for name in sorted(self.tree.symbols):
            out.extend(self.symbol_constraints(name))
        for c in self.tree.choices:
            out.extend(self.choice_constraints(c))
        return out

    def dependency(self, name: str) -> Formula:
        """When ``name`` can be y or m through its own menus and dependencies (not a select)."""
        defs = self.tree.symbols.get(name, ())
        return L.disj(self.tri(d.dep).ge for d in defs)


def _show(e: Any) -> str:
    k = e[0]
    if k in ("s", "t", "?"):
        return str(e[1])
    if k == "k":
        return e[1]
    if k == "!":
        return "!" + _show(e[1])
    op = {"&": "&&", "|": "||"}.get(k, k)
    return f"({_show(e[1])}{op}{_show(e[2])})"


def constraints(tree: KconfigTree) -> list[Formula]:
    """Every constraint the arch's Kconfig puts on its symbols, as formulas over ``y:``/``m:``
    atoms. For each bool or tristate symbol (``sym_calc_value``):

    - its value is at least its reverse dependency (``select S if C`` in X: ``X && C``) and at
      most the larger of its visibility (prompts' conditions and dependencies) and that;
    - when no prompt is visible, it is the first default whose condition holds (limited by that
      condition), raised by ``imply`` within its dependencies, raised by selects: a symbol
      without a prompt is decided by the others (``def_bool y`` with ``depends on X`` is X);
    - a bool is y where its computed value is m; m needs MODULES;
    - exactly one member of a visible choice is y, none of a choice whose dependencies fail.
    int, hex and string symbols are not modelled: comparisons on them are unknown.
    """
    return Encoder(tree).all_constraints()
