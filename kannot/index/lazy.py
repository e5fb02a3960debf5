"""The lazy index: the same answers as :class:`~kannot.index.core.Index`, parsing only what is asked for.

An eager :class:`Index` is built from the facts of every file of the tree. This one starts empty
with the tree's :class:`~kannot.index.catalog.Catalog` and, whenever a lookup needs a name, parses the
files the catalog says may define it (``heads_of``: functions, prototypes, pointer variables,
``NOKPROBE_SYMBOL()``s, file-scope invocations; ``definers_of``: macros). Every list is kept in
the eager index's order (file order, then order in the file), so resolution picks the same
candidates. What the eager index learns from all files at once is done per name here:
- prototype classes (gcc merges attributes across declarations) and ``NOKPROBE_SYMBOL()``s in
  other files are applied when a name is first looked up (:meth:`_finish`);
- the protected functions are found from the files whose text has a protection family's words
  (the catalog's marks), plus the users of macros that expand to those words (learned here).
"""
from __future__ import annotations

import bisect
import re
from pathlib import Path
from typing import Callable, Iterable, cast

from kannot.rules import classes as C
from kannot.facts import cpp
from kannot.index.catalog import Catalog
from kannot.facts.extract import FileFacts, PrototypeFact
from kannot.index.core import IDENT_RE, FuncDef, Index, MacroRef, file_shape, generate_keys
from kannot.rules import DEFAULT_RULES, RuleSet

Loader = Callable[[list[str]], dict[str, FileFacts]]
_WORD_RE = re.compile(r"[A-Za-z_]\w*")
_GENERATED = 1  # order class of definitions made later by generate_for (after every built one)


class LazyIndex(Index):
    """An :class:`Index` whose files are parsed on demand (see the module docstring)."""

    # set by create()
    catalog: Catalog  # (never None here)
    loader: Loader
    _file_set: set[str]
    _heads_done: set[str]
    _defines_done: set[str]
    _finished: set[str]
    _nokprobe_files: dict[str, set[str]]
    _pending: list[str]
    _words_loaded: set[str]
    _words_seen: set[str]  # words whose definers a load already asked for
    _gen_seq: int
    _prepared: set[str]
    _protos_pending: list[PrototypeFact]
    _flushing: bool
    _draining: bool
    _protected_words: set[str]
    non_generating: set[str]
    known: KnownAnswers | None

    @classmethod
    def create(cls, root: Path, arch: str | None, catalog: Catalog, loader: Loader,
               read: Callable[[str], bytes | None], kconfig=None, model=None, rules: RuleSet = DEFAULT_RULES) -> "LazyIndex":
        idx = cls(root=root, arch=arch, files={}, read=read, kconfig=kconfig, model=model, rules=rules)
        idx.catalog = catalog
        idx.loader = loader
        idx._defined_names = catalog.defined_names()
        idx._file_set = set(catalog.files)
        idx._heads_done = set()
        idx._defines_done = set()
        idx._finished = set()
        idx._nokprobe_files = {}
        idx._pending = []
        idx._words_loaded = set()
        idx._words_seen = set()
        idx._gen_seq = 0
        idx._prepared = set()
        idx._protos_pending = []
        idx._flushing = False
        idx._draining = False
        idx._protected_words = set()
        idx.non_generating = set()
        idx.known = None
        return idx

    # loading ------------------------------------------------------------------------------------
    def ensure_files(self, rels: Iterable[str]) -> None:
        files = self.files
        if isinstance(rels, list) and all(r in files for r in rels):
            return
        # (only the tree's files: a lookup made without a file of its own asks for "")
        new = sorted({r for r in rels if r not in files and r in self._file_set and r not in self.catalog.unreadable})
        if not new:
            return
        for r in new:
            self.files[r] = _PLACEHOLDER  # claimed: a nested lookup does not load it twice
        got = self.loader(new)
        for r in new:
            facts = got.get(r)
            if facts is None:
                self.files.pop(r, None)
                self.catalog.unreadable.add(r)
                continue
            self._register(r, facts)
        self._pending.extend(r for r in new if r in self.files)
        self._drain()

    def _need_heads(self, name: str) -> None:
        if name not in self._heads_done:
            self._heads_done.add(name)
            self.ensure_files(self._heads_of(name))

    def _need_defines(self, name: str) -> None:
        if name not in self._defines_done:
            self._defines_done.add(name)
            self.ensure_files(self._definers_of(name))

    def _heads_of(self, name: str) -> list[str]:
        """The files that may define or declare ``name``: those a stored result found doing so
        (:attr:`known`), else the catalog's (a superset: a word before a parenthesis)."""
        got = self.known.heads(name) if self.known is not None else None
        if got is None:
            return self.catalog.heads_of(name)
        self.catalog.asked_heads.add(name)
        return got

    def _definers_of(self, name: str, record: bool = True) -> list[str]:
        """The files that may ``#define name`` (see :meth:`_heads_of`)."""
        got = self.known.defines(name) if self.known is not None else None
        if got is None:
            return self.catalog.definers_of(name, record)
        if record:
            self.catalog.asked_defines.add(name)
        return got

    def _rank(self, path: str) -> int:
        return self.catalog.rank.get(path, len(self.catalog.files))

    def _register(self, path: str, facts: FileFacts) -> None:
        """What Index.build takes from a file before any definition is made."""
        self.files[path] = facts
        rank = self._rank(path)
        for i, m in enumerate(facts.macros):
            if self.dead(m.condition):
                continue
            ref = MacroRef(m.name, path, m)
            ref.lazy_order = (rank, i)
            _insert(self.macros.setdefault(m.name, []), ref)
            self._alias.pop(m.name, None)
            self._memo["may_define"].pop(m.name, None)
        self.macro_names.update(facts.macro_names)
        self.pointer_vars.update(facts.pointer_vars)
        if path.startswith("include/") or "/include/" in path:
            # their classes may need other files (aliases): judged in _flush_protos, not here,
            # so that loading never nests loading
            self._protos_pending.extend(facts.prototypes)
        for i, inv in enumerate(facts.invocations):
            for arg in cpp.split_args(inv[1])[:2]:
                if IDENT_RE.fullmatch(arg):
                    lst = self._invocations_by_arg.setdefault(arg, [])
                    bisect.insort(lst, (path, inv), key=self._invocation_order)
        for name in facts.nokprobe:
            self._nokprobe_files.setdefault(name, set()).add(path)
            self._finished.discard(name)

    def _invocation_order(self, item: tuple[str, tuple[str, str, int, int]]) -> tuple[int, int, int]:
        """An invocation's place among those of its argument: the eager index's (file, then place)."""
        return (self._rank(item[0]), item[1][2], item[1][3])

    def _flush_protos(self) -> None:
        """Classes of the kernel-header prototypes registered so far (gcc merges them into
        every definition). Iterative: what their aliases load is handled by the same loop."""
        if self._flushing:
            return
        self._flushing = True
        try:
            while self._protos_pending:
                p = self._protos_pending.pop()
                cl = self.classes_of(p.words) - {C.STATIC, C.INLINE, C.ALWAYS_INLINE}
                if cl:
                    self.proto_classes[p.name] = self.proto_classes.get(p.name, frozenset()) | cl
                    self._finished.discard(p.name)
        finally:
            self._flushing = False

    def _drain(self) -> None:
        """Make the definitions of the registered files. Never nested: a lookup made while a
        definition is being made (an alias, a definer macro) only registers what it loads."""
        if self._draining:
            return
        self._draining = True
        try:
            self._drain_loop()
        finally:
            self._draining = False
        self._flush_protos()

    def _drain_loop(self) -> None:
        while self._pending:
            self._load_word_definers(self._pending)
            path = self._pending.pop()
            facts = self.files.get(path)
            if facts is None or facts is _PLACEHOLDER:
                continue
            rank = self._rank(path)
            seq = [0]

            def add(d: FuncDef, rank=rank, seq=seq) -> None:
                d.lazy_order = (0, rank, seq[0])
                seq[0] += 1
                self._add(d)

            self._add_file_defs(path, facts, add)

    def _load_word_definers(self, paths: list[str]) -> None:
        """Making a file's definitions asks, word by word, for the classes of every word of its
        function heads and prototypes, which loads the files that ``#define`` the word: one
        small load after another. Load them for all the registered files at once instead (in
        parallel). Only an optimisation: the lookups themselves record what they ask."""
        words: set[str] = set()
        for path in paths:
            if path in self._words_loaded:
                continue
            self._words_loaded.add(path)
            facts = self.files.get(path)
            if facts is None or facts is _PLACEHOLDER:
                continue
            for fn in facts.functions:
                words.update(fn.words)
            for proto in facts.prototypes:
                words.update(proto.words)
        words -= self._words_seen  # (the same types and annotations head most files)
        self._words_seen |= words
        want: set[str] = set()
        for w in words:
            if w in self.rules.word_classes or w in self._alias or w in self._defines_done or w.startswith("section:"):
                continue
            want.update(self._definers_of(w, record=False))
        want = {rel for rel in want if rel not in self.files}  # (not difference_update: it walks self.files)
        if want:
            self.ensure_files(sorted(want))

    def _add(self, d: FuncDef) -> None:
        if d.lazy_order is None:
            self._gen_seq += 1
            d.lazy_order = (_GENERATED, self._gen_seq, 0)
        _insert(self.funcs.setdefault(d.name, []), d)
        self._finished.discard(d.name)
        by_path = self._by_path
        if by_path is not None:
            by_path.setdefault(d.path, []).append(d)

    def _finish(self, name: str) -> None:
        """Prototype classes and NOKPROBE_SYMBOL()s elsewhere, as Index.build applies them."""
        self._need_heads(name)
        self._drain()
        self._flush_protos()
        if name in self._finished:
            return
        self._finished.add(name)
        defs = self.funcs.get(name)
        if not defs:
            return
        proto = self.proto_classes.get(name, frozenset())
        # (every definition of a lazy index has its lazy_order: _add and _drain_loop give it)
        built = [d for d in defs if cast(tuple, d.lazy_order)[0] == 0]
        elsewhere = any(not any(d.path == q for d in built) for q in self._nokprobe_files.get(name, ()))
        for d in defs:
            if d.asm_section is not None:
                continue
            cl = d.classes | proto if d.generated_by is not None or d.fact is not None else d.classes
            if elsewhere and cast(tuple, d.lazy_order)[0] == 0 and built:
                cl |= self.rules.invoked_classes
            d.classes = cl

    # an editor's edit ---------------------------------------------------------------------------
    def replace_file(self, path: str, facts: FileFacts) -> bool:
        """Put ``facts`` in place of the loaded ``path``'s facts when the edit stayed in its own
        definitions (the same :func:`~kannot.index.core.file_shape`: macros, prototypes,
        includes, invocations...): its definitions are made again, at their places in each list,
        and their names finished again. False otherwise (not loaded, another shape, or functions
        generated from its invocations): the caller makes a new index."""
        old = self.files.get(path)
        if old is None or old is _PLACEHOLDER or file_shape(old) != file_shape(facts):
            return False
        mine = self.defs_in(path)
        if any(cast(tuple, d.lazy_order)[0] != 0 for d in mine):
            return False
        self.files[path] = facts
        self._src.pop(path, None)
        for m_old, m_new in zip(old.macros, facts.macros):  # the same macros on other lines
            refs = self.macros.get(m_old.name, [])
            for i, r in enumerate(refs):
                if r.macro is m_old:
                    ref = MacroRef(m_new.name, path, m_new)
                    ref.lazy_order = r.lazy_order
                    refs[i] = ref
                    break
        moved = {id(a): b for a, b in zip(old.invocations, facts.invocations)}
        for inv in old.invocations:
            for arg in cpp.split_args(inv[1])[:2]:
                lst = self._invocations_by_arg.get(arg)
                if lst:
                    lst[:] = [(p, moved.get(id(i), i)) if p == path else (p, i) for p, i in lst]
        self._expanded -= set(moved)
        conds = self._memo["def_cond"]
        names = {d.name for d in mine}
        for d in mine:
            self._ir.pop(id(d), None)
            conds.pop(id(d), None)
        for name in names:
            defs = self.funcs.get(name, [])
            defs[:] = [d for d in defs if d.path != path]
        self._defs_by_path()[path] = []
        rank, seq = self._rank(path), [0]

        def add(d: FuncDef) -> None:
            d.lazy_order = (0, rank, seq[0])
            seq[0] += 1
            self._add(d)
            names.add(d.name)

        self._add_file_defs(path, facts, add)
        for name in names:
            if not self.funcs.get(name):
                self.funcs.pop(name, None)
            self._finished.discard(name)  # prototypes and NOKPROBE_SYMBOL()s elsewhere again
        return True

    # lookups: each makes sure the files that can answer are loaded -----------------------------
    def funcs_for(self, name: str, ctx: str, arches: tuple[str, ...] | None = None,
                  generated: bool = True) -> list[FuncDef]:
        self._finish(name)
        if generated and not self.funcs.get(name):
            self._prepare_generate(name)
        return super().funcs_for(name, ctx, arches, generated)

    def defs_named(self, name: str) -> list[FuncDef]:
        self._finish(name)
        if not self.funcs.get(name):
            self._prepare_generate(name)
            self.generate_for(name)
            self._finish_generated(name)
        return self.funcs.get(name, [])

    def _prepare_generate(self, name: str) -> None:
        if name in self.tried or name in self._prepared:
            return
        self._prepared.add(name)
        for key in generate_keys(name):
            # only invocations of macros that can define a function matter (not MODULE_DEVICE_TABLE(of, ...))
            files = sorted({p for p, macro in self.catalog.invokers_of(key) if p not in self.files and self._may_generate(macro)})
            self.ensure_files(files)

    def _may_generate(self, macro: str, depth: int = 0) -> bool:
        """Can ``MACRO(...)`` at file scope define a function? (expand_invocation's test,
        following ``#define TRACE_EVENT_RCU TRACE_EVENT`` aliases the same way)"""
        refs = self.macros_for(macro, "")
        alias = [r for r in refs if not r.macro.function_like and IDENT_RE.fullmatch(r.macro.body)]
        if alias and alias[0].macro.body != macro and depth < 6:
            got = self._may_generate(alias[0].macro.body, depth + 1)
        else:
            # a whole definition, or the head of one that pastes its name
            # (``DEFINE_FREDENTRY_RAW(exc_nmi) { ... }`` defines fred_exc_nmi)
            got = self.may_define(macro) or any(r.macro.function_like and "##" in r.macro.body for r in refs)
        if not got:
            self.non_generating.add(macro)  # its invocations never matter (a stored result's dependency)
        return got

    def generate_for(self, name: str) -> None:
        self._prepare_generate(name)
        super().generate_for(name)

    def _finish_generated(self, name: str) -> None:
        self._finished.discard(name)
        self._finish(name)

    def macros_for(self, name: str, ctx: str, arches: tuple[str, ...] | None = None) -> list[MacroRef]:
        if name not in self._defines_done:
            near = self._near_macros(name, ctx, arches)
            if near is not None:
                return near
            self._need_defines(name)
        return super().macros_for(name, ctx, arches)

    def _near_macros(self, name: str, ctx: str, arches) -> list[MacroRef] | None:
        """For a macro many files define (``pr_fmt``): when the file itself or the headers it
        includes define it, the eager index answers with those, whatever the other files hold;
        None when that shortcut does not decide."""
        paths = self._definers_of(name)
        if len(paths) <= 4:
            return None
        if any(p.startswith("include/asm-generic/") for p in paths) and any(p.startswith("arch/") for p in paths):
            return None  # _prefer_arch looks at every definition
        self.ensure_files([ctx])
        same = [r for r in self.macros.get(name, ()) if r.path == ctx]
        if same:
            return same
        closure = self.include_closure(ctx, arches)
        near = [p for p in paths if p in closure]
        if not near or not all(p.endswith(".h") for p in near):
            return None
        self.ensure_files(near)
        refs = [r for r in self.macros.get(name, ()) if r.path in closure]
        return refs or None

    def macro_known(self, name: str) -> bool | None:
        self.catalog.asked_defines.add(name)  # the answer depends on which files #define it
        return super().macro_known(name)

    def has_macro(self, name: str) -> bool:
        return self._any_definer(name, lambda: name in self.macros)

    def is_pointer_var(self, name: str) -> bool:
        self._need_heads(name)
        return name in self.pointer_vars

    def is_function_macro(self, name: str) -> bool:
        return self._any_definer(name, lambda: Index.is_function_macro(self, name))

    def _any_definer(self, name: str, test: Callable[[], bool]) -> bool:
        """A yes/no that any one file can make true: load the definers a few at a time."""
        if name in self._defines_done or test():
            return test()
        paths = [p for p in self._definers_of(name) if p not in self.files]
        for i in range(0, len(paths), 4):
            self.ensure_files(paths[i : i + 4])
            if test():
                return True
        self._defines_done.add(name)
        return test()

    def alias_classes(self, word: str) -> frozenset[str] | None:
        if word not in self._alias:
            self._need_defines(word)
        return super().alias_classes(word)

    def may_define(self, name: str, depth: int = 0) -> bool:
        self._need_defines(name)
        return super().may_define(name, depth)

    def _all_arches(self) -> list[str]:
        if not hasattr(self, "_arches"):
            self._arches = sorted({p.split("/")[1] for p in self.catalog.files if p.startswith("arch/") and p.count("/") >= 2})
        return self._arches

    def _includes_of(self, path: str) -> list[tuple[str, str, str]]:
        facts = self.files.get(path)
        if facts is not None and facts is not _PLACEHOLDER:
            return facts.includes  # an editor's unsaved buffer may differ from the disk
        return self.catalog.includes_of(path)

    def _exists(self, path: str) -> bool:
        return path in self._file_set or path in self.files

    def _all_paths(self) -> list[str]:
        return self.catalog.files

    # the protected functions ---------------------------------------------------------------------
    def protected_candidates(self, families: set[str]) -> None:
        """Load every file that may define a protected function of ``families``: the files with
        the families' words, then the users of macros whose bodies carry those words (learned
        from the loaded macros until nothing new appears), then prototypes and NOKPROBE_SYMBOL()s
        naming functions defined elsewhere."""
        from kannot.facts.text import family_bits

        bits = family_bits(families)
        # the words that make a function protected, per family, as they appear in a macro body
        fams = [f for f in self.rules.families if f.name in families]
        words = set().union(*(f.macro_words for f in fams))
        self.ensure_files(self.catalog.marked(bits))
        for fam in fams:
            if not fam.scan:  # a family of .kannot.toml: the files with its words on column-0
                for w in sorted(fam.words):  # lines, and those #defining them
                    self._need_heads(w)
                    self._need_defines(w)
        learned: set[str] = set(words)
        seen_macros: set[int] = set()
        while True:
            new: set[str] = set()
            for refs in list(self.macros.values()):
                for ref in refs:
                    if id(ref) in seen_macros:
                        continue
                    seen_macros.add(id(ref))
                    body = ref.macro.body
                    if ref.name not in learned and any(w in learned for w in _WORD_RE.findall(body)):
                        new.add(ref.name)
            if not new:
                break
            learned |= new
            for w in sorted(new):
                self._need_heads(w)
        self._protected_words = learned
        # prototypes carrying a protection, NOKPROBE_SYMBOL()s: their names' definitions
        names = set()
        for path, facts in list(self.files.items()):
            if facts is _PLACEHOLDER:
                continue
            names.update(facts.nokprobe)
            if path.startswith("include/") or "/include/" in path:
                names.update(p.name for p in facts.prototypes if p.name in self.proto_classes)
        for n in sorted(names):
            self._finish(n)
        if self._kn007_files is None:
            from kannot.facts.text import ALLOW_BIT
            self.ensure_files(self.catalog.marked(ALLOW_BIT))


class KnownAnswers:
    """What a whole check learned about the names it looked up, for a recheck to load less.

    The catalog's answer to "which files may define NAME" is a cheap text scan's superset: 124
    files of 6.12 have ``IS_ENABLED(`` on a column-0 line, none defines a function of that name,
    and the definitions of each file loaded ask for the words of its heads in turn (a recheck
    of one function of traps.c parsed 238 files). Once a check has loaded every file the
    catalog named for NAME, the loaded ones that define or declare it (:func:`heads_names`,
    :func:`defines_names`) are all a later lookup needs: the stored result stands only while
    no other file's catalog entry gains NAME (kannot.store.memo voids it), and the files a recheck
    examines as edits are loaded before any lookup."""

    __slots__ = ("_heads", "_defines", "_files")

    def __init__(self, heads, defines, files: list[str]):
        # (kannot.index.catalog.Postings: name -> [-1, ranks...], kannot.store.memo.Record.known)
        self._heads, self._defines, self._files = heads, defines, files  # (files by rank)

    def heads(self, name: str) -> list[str] | None:
        return self._files_of(self._heads, name)

    def defines(self, name: str) -> list[str] | None:
        return self._files_of(self._defines, name)

    def _files_of(self, answers, name: str) -> list[str] | None:
        got = answers.get(name)
        return None if got is None else [self._files[i] for i in got[1:]]


def known_answers(index: LazyIndex) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(heads, defines): for each name whose files ``index`` loaded all of (per the catalog, or
    per the :class:`KnownAnswers` it was given), the loaded files that define or declare it."""
    heads: dict[str, set[str]] = {n: set() for n in index._heads_done}
    defines: dict[str, set[str]] = {n: set() for n in index._defines_done}
    for path, facts in index.files.items():
        if facts is _PLACEHOLDER:
            continue
        for n in heads_names(facts):
            got = heads.get(n)
            if got is not None:
                got.add(path)
        for n in defines_names(facts):
            got = defines.get(n)
            if got is not None:
                got.add(path)
    for n, got in heads.items():  # (functions a head macro generates under a pasted name)
        got.update(d.path for d in index.funcs.get(n, ()) if d.path in index.files)
    return heads, defines


def heads_names(facts: FileFacts) -> set[str]:
    """The names ``facts`` gives the index something for (functions, prototypes, pointer
    variables, NOKPROBE_SYMBOL()s, assembly symbols, file-scope invocations' arguments)."""
    names = {fn.name for fn in facts.functions}
    names.update(p.name for p in facts.prototypes)
    names.update(facts.pointer_vars)
    names.update(facts.nokprobe)
    names.update(n for n, _line, _section in facts.asm_symbols)
    for inv in facts.invocations:
        names.update(a for a in cpp.split_args(inv[1])[:2] if IDENT_RE.fullmatch(a))
    return names


def defines_names(facts: FileFacts) -> set[str]:
    """The names ``facts`` has a ``#define`` of (any condition: a dead one is judged at load)."""
    return {m.name for m in facts.macros} | set(facts.macro_names)


class _Placeholder(FileFacts):
    pass


_PLACEHOLDER = _Placeholder(path="")


def _insert(lst: list, item) -> None:
    """Keep ``lst`` in the eager index's order (``lazy_order``): appends unless it belongs earlier."""
    if not lst or lst[-1].lazy_order <= item.lazy_order:
        lst.append(item)
    else:
        bisect.insort(lst, item, key=lambda x: x.lazy_order)
