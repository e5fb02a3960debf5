"""The cross-file index: every file's facts joined into name -> definitions maps, plus resolution.

Resolution (documented in docs/design.md): a call from code in file F to NAME binds to
1. definitions of NAME in F itself;
2. else definitions in headers F includes (transitively), together with non-static definitions
   elsewhere (the extern branch of an ``#ifdef`` stub in the header);
3. else every non-static definition, and static ones in headers (included through a path kannot
   could not follow).
Every candidate must be safe for the call to be safe. Macros resolve the same way, but only ever
from headers or F itself. Functions produced by definer macros (DEFINE_IDTENTRY_RAW(exc_int3) {...})
are expanded from the macro's ``#define`` found in the tree.
"""
from __future__ import annotations

import bisect
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from kannot.rules import classes as C
from kannot.facts import cpp
from kannot.build import cppcond
from kannot.build import logic as L
from kannot.build.logic import Formula
from kannot.facts.extract import FileFacts, FunctionFact, read_functions, function_ir
from kannot.facts.ir import IRBuilder
from kannot.facts.parsing import parse
from kannot.rules import DEFAULT_RULES, RuleSet

if TYPE_CHECKING:
    from kannot.build.dotconfig import KernelConfig
    from kannot.build.model import BuildModel
    from kannot.index.catalog import Catalog, Postings
    from kannot.store.loader import FactsLoader


@dataclass(eq=False)
class FuncDef:
    name: str
    path: str
    line: int
    column: int
    classes: frozenset[str]
    fact: FunctionFact | None = None  # body read lazily from the file
    events: list | None = None  # IR already built (macro-generated functions)
    generated_by: str | None = None  # the definer macro
    asm_section: str | None = None  # for assembly symbols
    condition: str = ""  # the #if conditions around the definition in its file ("" at top level)
    # a lazy index's place for it among the definitions of its name (kannot.index.lazy): the
    # order the eager index would have given; None in an eager index
    lazy_order: tuple | None = None

    @property
    def static(self) -> bool:
        return C.STATIC in self.classes

    @property
    def is_header(self) -> bool:
        return self.path.endswith(".h")


@dataclass(eq=False)
class MacroRef:
    name: str
    path: str
    macro: cpp.MacroDef
    lazy_order: tuple | None = None  # as FuncDef.lazy_order


_MEMOS = ("cond", "dead", "def_cond", "defines", "eval", "generic", "inc", "incl", "may_define", "presence", "targets", "tu_defined")


@dataclass
class Index:
    root: Path
    arch: str | None
    files: dict[str, FileFacts]
    read: Callable[[str], bytes | None]  # raw bytes of a file (for lazy IR)
    kconfig: "KernelConfig | None" = None  # --config: dead #if branches disappear
    model: "BuildModel | None" = None  # the arch's Kconfig and Kbuild (kannot.build.model)
    funcs: dict[str, list[FuncDef]] = field(default_factory=dict)
    macros: dict[str, list[MacroRef]] = field(default_factory=dict)
    macro_names: set[str] = field(default_factory=set)
    proto_classes: dict[str, frozenset[str]] = field(default_factory=dict)
    pointer_vars: set[str] = field(default_factory=set)
    _closure: dict[tuple, frozenset[str]] = field(default_factory=dict)
    _alias: dict[str, frozenset[str] | None] = field(default_factory=dict)
    _ir: dict[int, list] = field(default_factory=dict)
    _src: dict[str, bytes | None] = field(default_factory=dict)
    _invocations_by_arg: dict[str, list[tuple[str, tuple[str, str, int, int]]]] = field(default_factory=dict)
    _defined_names: "set[str] | Postings" = field(default_factory=set)  # (a lazy index's: the catalog's)
    _expanded: set = field(default_factory=set)
    tried: set[str] = field(default_factory=set)
    # the IR of macro expansions, a pure function of their text: kept across checks on one index
    # (the language server checks the same files again after every edit)
    expansion_ir: dict[bytes, list] = field(default_factory=dict)
    # a run's lazy index (kannot.index.lazy): its catalog, the loader of files' facts, the
    # families it looks for and the catalog generation it read; None/0 for an eager index
    catalog: "Catalog | None" = None
    facts_loader: "FactsLoader | None" = None
    families: set[str] | None = None
    catalog_generation: int = 0
    # memos of derived answers (dropped or updated when a file is replaced)
    # memos of derived answers, one dict per question (kept while the index lives)
    _memo: dict[str, dict] = field(default_factory=lambda: {name: {} for name in _MEMOS}, repr=False)
    _by_path: Any = field(default=None, repr=False)  # built on first use
    _c_includers: Any = field(default=None, repr=False)  # built on first use
    _kn007_files: Any = field(default=None, repr=False)  # built on first use
    # the families whose words and sections give a definition its classes (kannot's own, and
    # those of the tree's .kannot.toml)
    rules: RuleSet = DEFAULT_RULES

    # building ---------------------------------------------------------------------------------
    @classmethod
    def build(cls, root: Path, arch: str | None, files: dict[str, FileFacts], read: Callable[[str], bytes | None],
              kconfig: "KernelConfig | None" = None, model: "BuildModel | None" = None,
              rules: RuleSet = DEFAULT_RULES) -> "Index":
        # in path order whatever order the facts came in (cache hits first, then parsed files;
        # an editor's new file last): candidate lists and chains follow this order
        files = dict(sorted(files.items()))
        idx = cls(root=root, arch=arch, files=files, read=read, kconfig=kconfig, model=model, rules=rules)
        # every name any file #defines, before any condition is judged (macro_known needs them all)
        defined: set[str] = set()
        for facts in files.values():
            defined.update(m.name for m in facts.macros)
            defined.update(facts.macro_names)
        idx._defined_names = defined
        for path, facts in files.items():
            for m in facts.macros:
                if idx.dead(m.condition):
                    continue
                idx.macros.setdefault(m.name, []).append(MacroRef(m.name, path, m))
            idx.macro_names.update(facts.macro_names)
            idx.pointer_vars.update(facts.pointer_vars)
        # gcc merges attributes across declarations: a prototype in a kernel header applies to
        # every definition of the name; one in a .c file or a host-tool header only to its file.
        for path, facts in files.items():
            if path.startswith("include/") or "/include/" in path:
                for p in facts.prototypes:
                    cl = idx.classes_of(p.words) - {C.STATIC, C.INLINE, C.ALWAYS_INLINE}
                    if cl:
                        idx.proto_classes[p.name] = idx.proto_classes.get(p.name, frozenset()) | cl
        for path, facts in files.items():
            idx._add_file_defs(path, facts, idx._add)  # (a .c file's own prototypes: there)
            for inv in facts.invocations:
                # expanded lazily, when a call names a function nothing else defines
                for arg in cpp.split_args(inv[1])[:2]:
                    if IDENT_RE.fullmatch(arg):
                        idx._invocations_by_arg.setdefault(arg, []).append((path, inv))
        # NOKPROBE_SYMBOL(f) naming a function defined elsewhere (a header's static inline)
        for path, facts in files.items():
            for name in facts.nokprobe:
                defs = idx.funcs.get(name, [])
                if defs and not any(d.path == path for d in defs):
                    for d in defs:
                        d.classes = d.classes | idx.rules.invoked_classes
        return idx

    def dead(self, condition: str) -> bool:
        """True when no configuration of the arch has ``condition`` (its Kconfig, the
        user's --config or --assume facts), or it needs a feature macro
        (``#ifdef arch_atomic_add_return_relaxed``) that no file of the tree can define."""
        if not condition:
            return False
        memo = self._memo["dead"]
        got = memo.get(condition)
        if got is None:
            known = self._memo["eval"].get(condition, self)
            if known is not self:
                got = known is False
            else:  # (one solver question, not evaluate's two)
                got = not self.model.satisfiable(self.cond_of(condition)) if self.model is not None else False
            memo[condition] = got
        return got

    def evaluate(self, condition: str) -> bool | None:
        """True when ``condition`` holds in every configuration, False in none, else None
        (a macro that is not a ``CONFIG_`` symbol counts as possible both ways here)."""
        memo = self._memo["eval"]
        if condition in memo:
            return memo[condition]
        value = self.model.decide(self.cond_of(condition)) if self.model is not None else None
        memo[condition] = value
        return value

    def macro_known(self, name: str) -> bool | None:
        """Can ``name`` be #defined? False for a lower-case feature macro no file defines;
        None for anything that may come from the compiler or the command line."""
        if not name or name.startswith("_") or not name[0].islower():
            return None  # __x86_64__, __KERNEL__, MODULE, DISABLE_BRANCH_PROFILING, guards
        if name in self._defined_names:
            return None  # defined somewhere: depends on that file's own conditions
        return False

    # presence conditions (kannot.build) -------------------------------------------------------
    def cond_of(self, text: str) -> Formula:
        """An ``#if`` condition text as a formula, read against the arch's Kconfig; a feature
        macro no file defines is false."""
        if not text:
            return L.TRUE
        memo = self._memo["cond"]
        got = memo.get(text)
        if got is None:
            arch = self.model.arch if self.model is not None else (self.arch or "")
            f = cppcond.parse(text, arch)
            f = L.substitute(f, self._undefinable)
            got = self.model.read_atoms(f) if self.model is not None else f
            memo[text] = got
        return got

    def _undefinable(self, atom: str) -> Formula | None:
        if atom.startswith("d:") and self.macro_known(atom[2:]) is False:
            return L.FALSE
        return None

    def file_presence(self, path: str) -> Formula:
        """When the image has ``path``: its Makefiles' condition; a ``.c`` file no Makefile names
        but other ``.c`` files include is there with them; headers always."""
        if self.model is None or not path.endswith((".c", ".S")):
            return L.TRUE
        memo = self._memo["presence"]
        got = memo.get(path)
        if got is not None:
            return got
        memo[path] = L.FALSE  # (a cycle of .c files including each other adds nothing)
        if self.model.named(path) or self.model.kbuild.is_apart(path):
            got = self.model.presence(path)
        else:
            got = L.disj(self.file_presence(p) for p in self.c_includers(path))
        memo[path] = got
        return got

    def c_includers(self, path: str) -> list[str]:
        """The ``.c`` files whose ``#include`` lines name ``path`` (a ``.c`` file)."""
        rev = self._c_includers
        if rev is None:
            rev = {}
            for p in self._all_paths():
                if not p.endswith(".c"):
                    continue
                for kind, inc, _c in self._includes_of(p):
                    if inc.endswith(".c"):
                        for t in self.resolve_include(p, kind, inc):
                            rev.setdefault(t, []).append(p)
            self._c_includers = rev
        return rev.get(path, [])

    def _all_paths(self) -> list[str]:
        return list(self.files)

    def def_cond(self, d: FuncDef) -> Formula:
        """When definition ``d`` exists: its file is in the image and its #if conditions hold."""
        memo = self._memo["def_cond"]
        got = memo.get(id(d))
        if got is None:
            got = self.file_presence(d.path) & self.cond_of(d.condition)
            memo[id(d)] = got
        return got

    def candidate_cond(self, ctx: str, arches: tuple[str, ...] | None, d: FuncDef | MacroRef) -> Formula:
        """When a call from file ``ctx`` can reach definition ``d`` (a function or a macro): in
        ``ctx`` itself, its #if conditions; in a header ``ctx`` includes, also the conditions of
        the #include lines on the way; elsewhere, its file's presence."""
        if isinstance(d, MacroRef):
            own, line = self.cond_of(d.macro.condition), d.macro.line
        else:
            own, line = self.cond_of(d.condition), d.line
            if C.WEAK in d.classes:  # the linker keeps a strong definition where one is built
                strong = [s for s in self.funcs.get(d.name, ()) if C.WEAK not in s.classes and s.asm_section is None
                          and not s.path.endswith(".h")]
                if strong:
                    own = own & L.neg(L.disj(self.def_cond(s) for s in strong))
        mine = f"d:{d.name}"
        if mine in own.atoms():
            # ``#ifndef NAME`` around NAME's own definition (a default the arch may override):
            # whether some other definition of NAME came first
            other = L.atom(f"e:{d.name}@{d.path}:{line}")
            own = L.substitute(own, lambda a: other if a == mine else None)
        if d.path == ctx:
            return own
        if d.path.endswith(".h"):
            # when the translation unit includes that header (decided for the unit: a macro's
            # header may reach it by one path and the unit by another)
            return own & L.atom(f"i:{d.path}")
        return own & self.file_presence(d.path)

    def tu_includes(self, tu: str, header: str) -> Formula:
        """When the translation unit of ``tu`` includes ``header``: the conditions of the
        #include lines on the way; a header kannot sees no way to is taken as included (its
        path may go through a generated header), except an asm-generic one where the arch has
        its own (``<asm/x.h>`` is never it)."""
        got = self.include_conds(tu).get(header)
        if got is not None:
            return got
        if header.startswith("include/asm-generic/") and self._arch_has_own(header, None):
            return L.FALSE
        return L.TRUE

    def _arch_has_own(self, generic: str, arches: tuple[str, ...] | None) -> bool:
        name = generic[len("include/asm-generic/"):]
        dirs = arches or tuple(self._arch_dirs(""))
        return bool(dirs) and all(self._exists(f"arch/{a}/include/asm/{name}") for a in dirs)

    def include_conds(self, path: str, arches: tuple[str, ...] | None = None) -> dict[str, Formula]:
        """Every file ``path`` includes (itself and the headers every translation unit gets
        from the command line included), with the condition of its #include lines on the way."""
        if arches is None or path.startswith("arch/"):
            arches = tuple(self._arch_dirs(path))
        memo = self._memo["incl"]
        key = (path, arches)
        got = memo.get(key)
        if got is not None:
            return got
        conds: dict[str, Formula] = {path: L.TRUE}
        for implicit in IMPLICIT_INCLUDES:
            if implicit != path and self._exists(implicit):
                conds[implicit] = L.TRUE
        # first what is included on every path (most headers, reached by unconditional lines):
        # the conditional paths to them need not be or-ed up
        work = list(conds)
        while work:
            p = work.pop()
            for kind, inc, ctext in self._includes_of(p):
                if ctext and self.cond_of(ctext) is not L.TRUE:
                    continue
                for t in self.resolve_include(p, kind, inc, list(arches)):
                    if t not in conds:
                        conds[t] = L.TRUE
                        work.append(t)
        work = list(conds)
        while work:
            p = work.pop()
            cp = conds[p]
            for kind, inc, ctext in self._includes_of(p):
                e = self.cond_of(ctext)
                new = cp & e if ctext else cp
                if new is L.FALSE:
                    continue
                for t in self.resolve_include(p, kind, inc, list(arches)):
                    old = conds.get(t)
                    if old is None:
                        conds[t] = new
                    elif old is L.TRUE or new is old:
                        continue
                    else:
                        merged = old | new
                        if merged is old:
                            continue
                        conds[t] = merged if merged.size(256) <= 256 else L.TRUE  # (more, never fewer)
                    work.append(t)
        memo[key] = conds
        return conds

    def tu_defined(self, tu: str, name: str, depth: int = 0, exclude: tuple[str, int] | None = None) -> Formula:
        """When macro ``name`` is defined in the translation unit of ``tu``: by its Makefile's
        ``-D`` flags, by ``MODULE`` for a module, or by a ``#define`` in ``tu`` or a file it
        includes (under that line's conditions and those of the #include lines on the way). A
        default definition (``#ifndef NAME`` / ``#define NAME``) counts only where no other does,
        which is what its condition says once ``defined(NAME)`` is read as false inside it."""
        memo = self._memo["tu_defined"]
        key = (tu, name, exclude)
        got = memo.get(key)
        if got is not None:
            return got
        memo[key] = L.atom(f"d:{name}")  # (a definition that needs itself: left open)
        out = L.FALSE
        if self.model is not None:
            out = self.model.flag(tu, name)
            if name == "MODULE":
                out = out | self.model.module(tu)
        for path, incl in self.include_conds(tu).items():
            for line, ctext in self.defines_in(path).get(name, ()):
                if exclude is not None and path == exclude[0] and _tests_name(ctext, name):
                    continue  # the default's own #define (``#ifndef X`` / ``X()`` / ``#define X X``)
                c = L.substitute(self.cond_of(ctext), lambda a: L.FALSE if a == f"d:{name}" else None)
                out = out | (incl & c)
        if depth < 3 and any(a[:2] in ("d:", "e:", "i:") for a in out.atoms()):
            out = self.resolve_in_tu(tu, out, depth + 1)
        memo[key] = out
        return out

    def resolve_in_tu(self, tu: str, f: Formula, depth: int = 0) -> Formula:
        """``f`` with every ``defined(NAME)`` atom replaced by when the translation unit of
        ``tu`` defines NAME."""
        if not any(a[:2] in ("d:", "e:", "i:") for a in f.atoms()):
            return f
        return L.substitute(f, lambda a: self._tu_atom(tu, a, depth))

    def _tu_atom(self, tu: str, atom: str, depth: int) -> Formula | None:
        if atom.startswith("d:"):
            return self.tu_defined(tu, atom[2:], depth)
        if atom.startswith("i:"):
            return self.tu_includes(tu, atom[2:])
        if atom.startswith("e:"):
            name, _, where = atom[2:].partition("@")
            path, _, line = where.rpartition(":")
            return self.tu_defined(tu, name, depth, (path, int(line)))
        return None

    def defines_in(self, path: str) -> dict[str, list[tuple[int, str]]]:
        """Every ``#define`` of ``path`` by name: its line and the #if conditions around it."""
        memo = self._memo["defines"]
        got = memo.get(path)
        if got is None:
            got = {}
            src = self.read(path)
            if src is not None and b"define" in src:
                points = cpp.condition_points(src) if b"#if" in src else []
                line, pos = 1, 0
                for m in _ANY_DEFINE_RE.finditer(src):
                    i = _bisect_points(points, m.start())
                    line += src.count(b"\n", pos, m.start())
                    pos = m.start()
                    got.setdefault(m.group(1).decode(), []).append((line, points[i][1] if i >= 0 else ""))
            memo[path] = got
        return got

    def _add(self, d: FuncDef) -> None:
        self.funcs.setdefault(d.name, []).append(d)
        by_path = self._by_path
        if by_path is not None:
            by_path.setdefault(d.path, []).append(d)

    def classes_of(self, words) -> frozenset[str]:
        return self.rules.classes_of(words, self.alias_classes)

    def alias_classes(self, word: str) -> frozenset[str] | None:
        """Classes of an object-like macro whose body is only annotations (learned, not listed)."""
        if word in self._alias:
            return self._alias[word]
        self._alias[word] = None  # recursion guard
        result: set[str] = set()
        found = False
        for ref in self.macros.get(word, ()):
            m = ref.macro
            if m.function_like:
                continue
            words = cpp.header_words(m.body.encode())
            known = [w for w in words if w in self.rules.word_classes or w.startswith("section:") or w in C.NEUTRAL_WORDS]
            if not words or len(known) < len([w for w in words if not w.startswith("section:")]) * 0.5:
                continue
            cl = self.classes_of(words)
            if cl:
                found = True
                result |= cl
        value = frozenset(result) if found else None
        self._alias[word] = value
        return value

    def is_function_macro(self, name: str) -> bool:
        return name in self.macro_names or any(not r.macro.function_like for r in self.macros.get(name, ()))

    # definer macros ---------------------------------------------------------------------------
    def expand_definer(self, path: str, fn: FunctionFact) -> list[FuncDef] | None:
        """Functions produced by ``MACRO(args) { body }``, or None when MACRO defines none."""
        results: list[FuncDef] = []
        seen: set[tuple[str, frozenset[str]]] = set()
        for ref in self.macros_for(fn.head_macro or "", path):
            text = self._expand_trailing(ref.macro, cpp.split_args(fn.head_args or ""), path)
            if text is None:
                continue
            for d in self._functions_from_text(text, path, fn, ref.name):
                key = (d.name, d.classes)
                if key not in seen:
                    seen.add(key)
                    results.append(d)
        return results or None

    def _expand_trailing(self, macro: cpp.MacroDef, args: list[str], path: str, depth: int = 0) -> str | None:
        """Expand until the text ends in a function header whose name is no macro."""
        text = cpp.expand(macro, args) if macro.function_like else macro.body + "(" + ", ".join(args) + ")"
        for _ in range(8):
            stripped = text.rstrip().rstrip(";").rstrip()
            if not stripped.endswith(")"):
                return None
            src = stripped.encode()
            open_pos = _matching_open(src)
            if open_pos <= 0:
                return None
            m = re.search(rb"([A-Za-z_]\w*)\s*$", src[:open_pos])
            if m is None:
                return None
            name = m.group(1).decode()
            if name in cpp.BLANK_CALL_WORDS:
                return None
            refs = [r for r in self.macros_for(name, path) if r.macro is not macro] if self.is_function_macro(name) else []
            if not refs:
                return text if depth < 8 else None
            inner_args = cpp.split_args(src[open_pos + 1 : -1].decode())
            sub = refs[0].macro
            inner = cpp.expand(sub, inner_args) if sub.function_like else sub.body + "(" + ", ".join(inner_args) + ")"
            text = stripped[: m.start()] + inner
            macro = sub
        return None

    def _functions_from_text(self, text: str, path: str, fn: FunctionFact, macro_name: str) -> list[FuncDef]:
        src = text.encode() + b"\n{ }"
        blanked = cpp.blank_attributes(src)
        tree = parse(blanked.text)
        facts = read_functions(src, tree.root_node)
        if not facts:
            return []
        user = max(facts, key=lambda f: f.body_start)
        out = []
        pos = (fn.line, fn.column, fn.line, fn.column + len(fn.head_macro or ""))
        for f in facts:
            cl = self.classes_of(f.words) | self.proto_classes.get(f.name, frozenset())
            if f is user:
                user_fact = FunctionFact(f.name, fn.line, fn.column, fn.end_line, f.words, fn.body_start, fn.body_end, None, None, f.params,
                                         fn.condition, fn.digest)
                out.append(FuncDef(f.name, path, fn.line, fn.column, cl, fact=user_fact, generated_by=macro_name,
                                   condition=fn.condition))
            else:
                builder = IRBuilder(blanked.text)
                builder.locals |= set(f.params)
                node_tree = parse(blanked.text[: f.body_end])
                events: list = []
                body = _find_body(node_tree.root_node, f.body_start)
                if body is not None:
                    builder.stmt(body, events)
                out.append(FuncDef(f.name, path, fn.line, fn.column, cl, events=relocate(events, pos), generated_by=macro_name,
                                   condition=fn.condition))
        return out

    def may_define(self, name: str, depth: int = 0) -> bool:
        """Can an invocation of macro ``name`` at file scope produce a function definition?"""
        memo = self._memo["may_define"]
        if name in memo:
            return memo[name]
        memo[name] = False
        result = False
        if depth < 8:
            for ref in self.macros.get(name, ()):
                body = ref.macro.body
                if "{" in body:
                    result = True
                    break
                if IDENT_RE.fullmatch(body) and self.may_define(body, depth + 1):
                    result = True
                    break
                head = _LEADING_CALL_RE.match(body)
                if head and head.group(1) != name and self.may_define(head.group(1), depth + 1):
                    result = True
                    break
        memo[name] = result
        return result

    def expand_invocation(self, path: str, name: str, args: str, line: int, col: int, depth: int = 0) -> list[FuncDef]:
        """Functions defined by a file-scope ``NAME(args);`` (tracepoints, accessor generators)."""
        if depth > 6:
            return []
        refs = self.macros_for(name, path)
        alias = [r for r in refs if not r.macro.function_like and IDENT_RE.fullmatch(r.macro.body)]
        if alias and alias[0].macro.body != name:  # #define TRACE_EVENT_RCU TRACE_EVENT
            return self.expand_invocation(path, alias[0].macro.body, args, line, col, depth + 1)
        if not self.may_define(name):
            return []
        refs = [r for r in refs if r.macro.function_like]
        if not refs:
            return []
        macro = refs[0].macro
        text = cpp.expand(macro, cpp.split_args(args))
        src = text.encode() + b";"
        blanked = cpp.blank_attributes(src)
        tree = parse(blanked.text)
        out: list[FuncDef] = []
        pos = (line, col, line, col + len(name))
        from kannot.facts.extract import invocations as _invocations
        for f in read_functions(src, tree.root_node):
            if f.head_macro:
                continue
            body = _find_body(tree.root_node, f.body_start)
            events: list = []
            if body is not None:
                builder = IRBuilder(blanked.text)
                builder.locals |= set(f.params)
                builder.stmt(body, events)
            cl = self.classes_of(f.words) | self.proto_classes.get(f.name, frozenset())
            out.append(FuncDef(f.name, path, line, col, cl, events=relocate(events, pos), generated_by=name))
        for inner, inner_args, _l, _c in _invocations(src, tree.root_node):
            out += self.expand_invocation(path, inner, inner_args, line, col, depth + 1)
        return out

    # resolution -------------------------------------------------------------------------------
    def generate_for(self, name: str) -> None:
        """Expand the file-scope invocations that may define ``name`` (``trace_##event``)."""
        if name in self.tried:
            return
        self.tried.add(name)
        for key in generate_keys(name):
            for path, inv in self._invocations_by_arg.get(key, ()):
                if id(inv) in self._expanded:
                    continue
                self._expanded.add(id(inv))
                for g in self.expand_invocation(path, *inv):
                    self._add(g)

    def funcs_for(self, name: str, ctx: str, arches: tuple[str, ...] | None = None,
                  generated: bool = True) -> list[FuncDef]:
        """The definitions a call of ``name`` from file ``ctx`` may reach. ``generated=False``:
        without searching the functions that file-scope macro invocations generate (a search of
        every invocation whose argument is a part of the name: costly, and pointless for a name
        that is a macro where it is called)."""
        defs = self.funcs.get(name)
        if not defs and generated:
            self.generate_for(name)
            defs = self.funcs.get(name)
        if not defs:
            return []
        defs = _prefer_arch(defs)
        same = [d for d in defs if d.path == ctx]
        if same and all(d.static and not d.condition for d in same):
            return same  # a static function of the file itself shadows every other
        if len(defs) == 1:
            return defs
        # every other definition the call may bind to in some configuration: the presence
        # conditions decide (a header's stub under one #if branch never hides the real function
        # in a .c file under the other, a __weak default counts where no strong one is built)
        closure = self.include_closure(ctx, arches)
        included = [d for d in defs if d.path in closure and d not in same]
        if included:
            rest = [d for d in defs if not d.static and d.path not in closure and d not in same]
        else:
            rest = [d for d in defs if (not d.static or d.is_header) and d not in same]
        return (same + included + rest) or defs

    def macros_for(self, name: str, ctx: str, arches: tuple[str, ...] | None = None) -> list[MacroRef]:
        refs = self.macros.get(name)
        if not refs:
            return []
        refs = _prefer_arch(refs)
        same = [r for r in refs if r.path == ctx]
        if same:
            return same
        if len({r.path for r in refs}) == 1:
            return refs if refs[0].path.endswith(".h") else []  # one header: no closure needed
        closure = self.include_closure(ctx, arches)
        included = [r for r in refs if r.path in closure]
        if included:
            return included
        return [r for r in refs if r.path.endswith(".h")]

    def include_closure(self, path: str, arches: tuple[str, ...] | None = None) -> frozenset[str]:
        """Files ``path`` includes, transitively; ``arches``: the translation unit's arch, whose
        <asm/...> headers a generic header gets when compiled for it."""
        if arches is None or path.startswith("arch/"):
            arches = tuple(self._arch_dirs(path))
        key = (path, arches)
        got = self._closure.get(key)
        if got is not None:
            return got
        seen = {path}
        todo = [path]
        while todo:
            for target in self._include_targets(todo.pop(), arches):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        result = frozenset(seen)
        self._closure[key] = result
        return result

    def _include_targets(self, path: str, arches: tuple[str, ...]) -> list[str]:
        """The files ``path``'s ``#include`` lines resolve to, kept per file: a closure walks
        the same headers for every file that includes them."""
        memo = self._memo["targets"]
        key = (path, arches)
        got = memo.get(key)
        if got is None:
            got = [t for kind, inc, _c in self._includes_of(path) for t in self.resolve_include(path, kind, inc, list(arches))]
            memo[key] = got
        return got

    def resolve_include(self, from_path: str, kind: str, inc: str, arch_dirs: list[str] | None = None) -> list[str]:
        if arch_dirs is None or from_path.startswith("arch/"):
            arch_dirs = self._arch_dirs(from_path)
        key = (posixpath.dirname(from_path) if kind == '"' else "", kind, inc, tuple(arch_dirs))
        memo = self._memo["inc"]
        got = memo.get(key)
        if got is None:
            got = memo[key] = self._resolve_include(from_path, kind, inc, arch_dirs)
        return got

    def _resolve_include(self, from_path: str, kind: str, inc: str, arch_dirs: list[str]) -> list[str]:
        """The file the compiler reads for ``#include <inc>`` (or ``"inc"``) in ``from_path``:
        the first hit of the kernel's search path, per arch (-I arch/A/include, its generated
        folder, include, the uapi ones); ``<asm/x.h>`` that the arch does not have is the
        asm-generic header its Kbuild's ``generic-y``/``mandatory-y`` wrap."""
        if kind == '"':
            p = posixpath.normpath(posixpath.join(posixpath.dirname(from_path), inc))
            if self._exists(p):
                return [p]
        out: list[str] = []
        for a in arch_dirs or [""]:
            bases = ([f"arch/{a}/include"] if a else []) + ["include"] + ([f"arch/{a}/include/uapi"] if a else []) + ["include/uapi"]
            hit = next((f"{b}/{inc}" for b in bases if self._exists(f"{b}/{inc}")), None)
            if hit is None and inc.startswith("asm/") and a:
                name = inc[4:]
                if name in self._generic_headers(a, "") and self._exists("include/asm-generic/" + name):
                    hit = "include/asm-generic/" + name
                elif name in self._generic_headers(a, "uapi/") and self._exists("include/uapi/asm-generic/" + name):
                    hit = "include/uapi/asm-generic/" + name
            if hit is None and inc.startswith("asm/") and not a:
                hit = "include/asm-generic/" + inc[4:] if self._exists("include/asm-generic/" + inc[4:]) else None
            if hit is not None and hit not in out:
                out.append(hit)
        return out

    def _generic_headers(self, arch: str, uapi: str) -> frozenset[str]:
        """The asm headers arch ``arch`` takes from asm-generic: its ``generic-y`` lines and the
        ``mandatory-y`` ones of include/asm-generic/Kbuild it does not have itself."""
        memo = self._memo["generic"]
        key = (arch, uapi)
        got = memo.get(key)
        if got is None:
            names: set[str] = set()
            for kb, word in ((f"arch/{arch}/include/{uapi}asm/Kbuild", "generic-y"),
                             (f"include/{uapi}asm-generic/Kbuild", "mandatory-y")):
                try:
                    text = (self.root / kb).read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                for line in text.splitlines():
                    m = _KBUILD_HEADER_RE.match(line)
                    if m and m.group(1) == word:
                        names.add(m.group(2))
            got = frozenset(names)
            memo[key] = got
        return got

    def _exists(self, path: str) -> bool:
        return path in self.files

    def _includes_of(self, path: str) -> list[tuple[str, str, str]]:
        facts = self.files.get(path)
        return facts.includes if facts is not None else []

    def has_macro(self, name: str) -> bool:
        return name in self.macros

    def is_pointer_var(self, name: str) -> bool:
        return name in self.pointer_vars

    def defs_named(self, name: str) -> list[FuncDef]:
        """Every definition of ``name`` (for queries: callees, why, hover)."""
        return self.funcs.get(name, [])

    def _arch_dirs(self, from_path: str) -> list[str]:
        if from_path.startswith("arch/"):
            return [from_path.split("/")[1]]
        if self.arch:
            return [self.arch]
        return self._all_arches()

    def _all_arches(self) -> list[str]:
        if not hasattr(self, "_arches"):
            self._arches = sorted({p.split("/")[1] for p in self.files if p.startswith("arch/") and p.count("/") >= 2})
        return self._arches

    # bodies -----------------------------------------------------------------------------------
    def events_of(self, d: FuncDef) -> list:
        if d.events is not None:
            return d.events
        key = id(d)
        got = self._ir.get(key)
        if got is not None:
            return got
        src = self.source(d.path)
        events = function_ir(src, d.fact) if src is not None and d.fact is not None else []
        self._ir[key] = events
        return events

    def bound_events_of(self, d: FuncDef, bound: tuple[tuple[str, str], ...]) -> list:
        """``d``'s events with parameters bound to what one call site passes (not kept: the
        analysis memoises the summary per binding)."""
        src = self.source(d.path)
        return function_ir(src, d.fact, bound) if src is not None and d.fact is not None else []

    def source(self, path: str) -> bytes | None:
        if path not in self._src:
            if len(self._src) > 64:
                self._src.pop(next(iter(self._src)))
            self._src[path] = self.read(path)
        return self._src[path]

    def defs_in(self, path: str) -> list[FuncDef]:
        """The definitions in file ``path`` (functions, generated ones, assembly symbols)."""
        return list(self._defs_by_path().get(path, ()))

    def _defs_by_path(self) -> dict[str, list[FuncDef]]:
        if self._by_path is None:
            by_path: dict[str, list[FuncDef]] = {}
            for defs in self.funcs.values():
                for d in defs:
                    by_path.setdefault(d.path, []).append(d)
            self._by_path = by_path
        return self._by_path

    def _add_file_defs(self, path: str, facts: FileFacts, add: Callable[[FuncDef], None]) -> None:
        """The definitions of one file (functions, definer expansions, assembly symbols), with the
        classes of the kernel headers' prototypes and of the file's own."""
        local: dict[str, frozenset[str]] = {}
        if not (path.startswith("include/") or "/include/" in path):
            for p in facts.prototypes:
                cl = self.classes_of(p.words) - {C.STATIC, C.INLINE, C.ALWAYS_INLINE}
                if cl:
                    local[p.name] = local.get(p.name, frozenset()) | cl
        nokprobe = set(facts.nokprobe)
        for fn in facts.functions:
            if self.dead(fn.condition):
                continue
            if fn.head_macro and self.is_function_macro(fn.head_macro):
                generated = self.expand_definer(path, fn)
                if generated is not None:
                    for g in generated:
                        add(g)
                    continue
            cl = self.classes_of(fn.words) | self.proto_classes.get(fn.name, frozenset())
            cl |= local.get(fn.name, frozenset())
            if fn.name in nokprobe:
                cl |= self.rules.invoked_classes
            add(FuncDef(fn.name, path, fn.line, fn.column, cl, fact=fn, condition=fn.condition))
        for name, line, section in facts.asm_symbols:
            cl = self.rules.asm_classes(section)
            add(FuncDef(name, path, line, 1, cl, events=[], asm_section=section))


def generate_keys(name: str) -> set[str]:
    """The invocation arguments that may produce ``name`` by pasting (``trace_##event``)."""
    parts = name.split("_")
    keys = {name}
    for i in range(len(parts)):
        for j in range(i + 1, len(parts) + 1):
            keys.add("_".join(parts[i:j]))
    # a short argument pasted inside a word: BUILDIO(b, b, u8) makes __inb and __outb
    last = parts[-1]
    if 1 < len(last) <= 6:
        keys.update(last[k:] for k in range(len(last) - 2, len(last)))
    keys.discard("")
    return keys


def file_shape(f: FileFacts) -> tuple:
    """What of a file's facts reaches beyond its own definitions, without line numbers."""
    return (
        [(m.name, m.params, m.body, m.condition) for m in f.macros],
        list(f.macro_names),
        [(p.name, p.words) for p in f.prototypes],
        list(f.pointer_vars),
        list(f.includes),
        list(f.nokprobe),
        [(n, s) for n, _l, s in f.asm_symbols],
        [(n, a) for n, a, _l, _c in f.invocations],
    )


# Included into every translation unit by the kernel's command line (-include)
IMPLICIT_INCLUDES = ("include/linux/compiler-version.h", "include/linux/kconfig.h", "include/linux/compiler_types.h")
_KBUILD_HEADER_RE = re.compile(r"\s*([a-z]+-y)\s*\+?=\s*([\w./-]+\.h)")
_ANY_DEFINE_RE = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_][A-Za-z0-9_]*)", re.M)


def _tests_name(condition: str, name: str) -> bool:
    """Does the #if ``condition`` test whether ``name`` is defined?"""
    return name in condition and re.search(r"\bdefined\s*\(?\s*" + re.escape(name) + r"\b", condition) is not None


def _bisect_points(points: list[tuple[int, str]], offset: int) -> int:
    return bisect.bisect_left(points, (offset, "")) - 1


_LEADING_CALL_RE = re.compile(r"\s*([A-Za-z_]\w*)\s*\(")
IDENT_RE = re.compile(r"[A-Za-z_]\w*")


def _prefer_arch(items: list) -> list:
    """An arch's own definition overrides the include/asm-generic fallback (which sits behind
    ``#ifndef arch_foo`` guards), so the generic one is not a candidate next to it."""
    if len(items) < 2:
        return items
    has_arch = any(i.path.startswith("arch/") for i in items)
    if not has_arch:
        return items
    kept = [i for i in items if not i.path.startswith("include/asm-generic/")]
    return kept or items


def _matching_open(src: bytes) -> int:
    depth = 0
    for i in range(len(src) - 1, -1, -1):
        c = src[i]
        if c == 0x29:
            depth += 1
        elif c == 0x28:
            depth -= 1
            if depth == 0:
                return i
    return -1


def _find_body(node, start: int):
    if node.type == "compound_statement" and node.start_byte == start:
        return node
    for child in node.children:
        if child.start_byte <= start < child.end_byte or child.start_byte == start:
            found = _find_body(child, start)
            if found is not None:
                return found
    return None


def relocate(events: list, pos: tuple) -> list:
    """Give every event of a macro-generated body the position of the macro's use."""
    out: list[tuple] = []
    for ev in events:
        k = ev[0]
        if k == "call":
            out.append((k, ev[1], ev[2], pos, relocate(ev[4], pos), ev[5]))
        elif k == "icall":
            out.append((k, ev[1], pos, relocate(ev[3], pos)))
        elif k == "if":
            out.append((k, relocate(ev[1], pos), relocate(ev[2], pos), relocate(ev[3], pos)))
        elif k == "pp":
            out.append((k, [(c, relocate(e, pos)) for c, e in ev[1]], ev[2]))
        elif k == "loop":
            out.append((k, relocate(ev[1], pos), relocate(ev[2], pos)))
        elif k == "switch":
            out.append((k, relocate(ev[1], pos), [relocate(c, pos) for c in ev[2]], ev[3]))
        elif k == "return":
            out.append((k, relocate(ev[1], pos), pos))
        else:
            out.append(ev)
    return out
