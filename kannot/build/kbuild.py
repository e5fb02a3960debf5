"""Kbuild, read for one arch: which ``.c`` files the kernel image may contain, under which
condition, and with which ``-D``/``-U`` flags. Nothing is run (no ``make``, no ``$(shell)``).

The walk follows kbuild's own: from the top ``Kbuild``'s ``obj-y``/``obj-$(CONFIG_X)`` folders,
the arch Makefile's ``core-y``/``drivers-y``/``libs-y`` and ``lib/``, into each folder's
``Kbuild`` (else ``Makefile``), through ``ifdef``/``ifeq``/``ifneq`` blocks, ``include``d
makefiles, variables (``$(BITS)``), composite objects (``foo-y := a.o b.o``, ``foo-objs``,
``foo-$(CONFIG_Y) += c.o``) and ``lib-y``. A file's condition is the or of every line that names
it, each and-ed with the conditions of the folders above it; an object some other name lists
(``hyp-obj-y``, ``vobjs-y``, ``targets``) is not part of the image.

Outside the image: a folder whose Makefile replaces the compiler flags (``KBUILD_CFLAGS :=``:
the decompressor, purgatory, the real-mode trampoline, the EFI stub, arm64's nVHE hypervisor and
position-independent early code) builds a world apart, as do the vDSOs (their objects are
``vobjs-y``, never ``obj-y``). Neither callers nor candidates come from there.

Conditions are kept as ``#if``-style text (``IS_ENABLED(CONFIG_X) && defined(CONFIG_Y)``) and
read by :mod:`kannot.build.cppcond`: the model is plain data, stored in the facts cache.
"""
from __future__ import annotations

import posixpath
import re
from typing import Iterator
from dataclasses import dataclass, field
from pathlib import Path

TRUE = ""  # the condition text of "always"


@dataclass
class Flag:
    kind: str  # "D" or "U"
    name: str
    condition: str  # when it applies (besides the file being built)


@dataclass
class KbuildModel:
    arch: str
    # folder -> [(the folder whose Makefile names it, the line's condition)]
    dirs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # .c/.S file -> [(the folder whose Makefile names it, the line's condition)]: the image has
    # it (built in or as a module) when one of those folders is built and its line holds
    built: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    modular: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # ...as a module
    # -D/-U flags: a folder's (its own ccflags-y and the subdir-ccflags-y above it), a file's own
    dir_flags: dict[str, list[Flag]] = field(default_factory=dict)
    file_flags: dict[str, list[Flag]] = field(default_factory=dict)
    apart: list[str] = field(default_factory=list)  # folders built outside the image
    makefiles: list[str] = field(default_factory=list)  # every Makefile/Kbuild read
    problems: list[tuple[str, str]] = field(default_factory=list)

    def pack(self) -> tuple:
        return (self.arch, self.dirs, self.built, self.modular, _pack_flags(self.dir_flags), _pack_flags(self.file_flags),
                self.apart, self.makefiles, self.problems)

    @classmethod
    def unpack(cls, data: tuple) -> "KbuildModel":
        arch, dirs, built, modular, dflags, fflags, apart, makefiles, problems = data
        return cls(arch, dict(dirs), dict(built), dict(modular), _unpack_flags(dflags), _unpack_flags(fflags),
                   list(apart), list(makefiles), [tuple(p) for p in problems])

    def flags_of(self, rel: str) -> list[Flag]:
        """The -D/-U flags a file is compiled with (besides the ones every file gets)."""
        d = posixpath.dirname(rel)
        return [*self.dir_flags.get(d, ()), *self.file_flags.get(rel, ())]

    def is_apart(self, rel: str) -> bool:
        return any(rel == a or rel.startswith(a + "/") for a in self.apart)


# ---------------------------------------------------------------------------------------------
# conditions as text


def _pack_flags(flags: dict[str, list[Flag]]) -> dict:
    return {k: [(f.kind, f.name, f.condition) for f in v] for k, v in flags.items()}


def _unpack_flags(data: dict) -> dict[str, list[Flag]]:
    return {k: [Flag(*f) for f in v] for k, v in data.items()}


def c_and(*parts: str) -> str:
    if len(parts) == 2:
        a, b = parts
        if a == TRUE or a == b:
            return b
        if b == TRUE:
            return a
        if a == "0" or b == "0":
            return "0"
        return f"({a}) && ({b})"
    kept = [p for p in parts if p != TRUE]
    if any(p == "0" for p in kept):
        return "0"
    uniq = list(dict.fromkeys(kept))
    if not uniq:
        return TRUE
    if len(uniq) == 1:
        return uniq[0]
    return " && ".join(f"({p})" for p in uniq)


def c_or(parts: list[str]) -> str:
    if any(p == TRUE for p in parts):
        return TRUE
    uniq = [p for p in dict.fromkeys(parts) if p != "0"]
    if not uniq:
        return "0"
    if len(uniq) == 1:
        return uniq[0]
    return " || ".join(f"({p})" for p in uniq)


def c_not(p: str) -> str:
    if p == TRUE:
        return "0"
    if p == "0":
        return TRUE
    return f"!({p})"




# ---------------------------------------------------------------------------------------------
# makefile text


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out = []
    buf = ""
    start = 0
    for no, line in enumerate(text.splitlines(), 1):
        if not buf:
            start = no
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        out.append((start, _strip_comment(buf + line)))
        buf = ""
    if buf:
        out.append((start, _strip_comment(buf)))
    return out


def _strip_comment(line: str) -> str:
    i = line.find("#")
    while i >= 0:
        if i == 0 or line[i - 1] != "\\":
            return line[:i]
        i = line.find("#", i + 1)
    return line


_ASSIGN_OPS = ("::=", ":=", "+=", "?=", "=")
_VAR_RE = re.compile(r"\$\(([A-Za-z0-9_.\-]+)(?::([^=)]*)=([^)]*))?\)|\$([A-Za-z@<^])")
_CONFIG_KEY_RE = re.compile(r"([\w.\-]+)-\$\((CONFIG_\w+)\)")
_NOT_COMPOSITE = ("ccflags", "subdir", "asflags", "ldflags", "KBUILD", "always", "extra", "targets", "hostprogs",
                  "userprogs", "CFLAGS", "AFLAGS", "LDFLAGS", "OBJECT_FILES", "KASAN", "KCSAN", "KMSAN", "UBSAN", "KCOV",
                  "GCOV", "cflags", "aflags", "clean", "header", "quiet", "cmd", "rule")
_OBJ_LISTS = ("obj", "lib")


class _Env:
    """Make variables: name -> [(value text, condition)]."""

    def __init__(self, parent: "_Env | None" = None) -> None:
        self.vars: dict[str, list[tuple[str, str]]] = {}
        self.parent = parent

    def get(self, name: str) -> list[tuple[str, str]] | None:
        got = self.vars.get(name)
        if got is None and self.parent is not None:
            return self.parent.get(name)
        return got

    def assign(self, name: str, op: str, value: str, cond: str) -> None:
        if op == "+=":
            base = self.get(name) or []
            self.vars[name] = list(base) + [(value, cond)]
        elif op == "?=":
            if self.get(name) is None:
                self.vars[name] = [(value, cond)]
        else:  # := = ::=
            old = self.get(name) or []
            kept = [(v, c_and(c, c_not(cond))) for v, c in old] if cond != TRUE else []
            self.vars[name] = [(value, cond)] + [(v, c) for v, c in kept if c != "0"]


class Reader:
    def __init__(self, root: Path, arch: str, files: set[str] | None = None) -> None:
        self.root = root
        self.files = files
        self.arch = arch
        self.model = KbuildModel(arch)
        self.globals = _Env()
        for k, v in (("SRCARCH", arch), ("ARCH", arch), ("srctree", "."), ("objtree", ".")):
            self.globals.assign(k, ":=", v, TRUE)
        self.built: dict[str, list[tuple[str, str]]] = {}
        self.modular: dict[str, list[tuple[str, str]]] = {}
        self.file_flags: dict[str, list[Flag]] = {}
        self.dir_flags: dict[str, list[Flag]] = {}
        self.dirs_done: set[str] = set()
        self.subdir_flags: dict[str, list[Flag]] = {}

    # --- expansion -----------------------------------------------------------------------------
    def expand(self, text: str, env: _Env, depth: int = 0) -> list[tuple[str, str]]:
        """The possible values of ``text`` with their conditions (several when a variable was
        assigned under ``ifeq``s). Unknown functions expand to nothing."""
        if "$" not in text or depth > 8:
            return [(text, TRUE)]
        results: list[tuple[str, str]] = [("", TRUE)]
        pos = 0
        while pos < len(text):
            j = text.find("$", pos)
            if j < 0:
                results = [(r + text[pos:], c) for r, c in results]
                break
            results = [(r + text[pos:j], c) for r, c in results]
            if text.startswith("$(", j):
                close = _close_paren(text, j + 1)
                if close < 0:
                    results = [(r + text[j:], c) for r, c in results]
                    break
                inner = text[j + 2 : close]
                vals = self._expand_ref(inner, env, depth)
                results = [(r + v, c_and(c, vc)) for r, c in results for v, vc in vals][:64]
                pos = close + 1
            else:
                pos = j + 2  # $@, $< and friends: rule text, never an object name
        return [(r, c) for r, c in results if c != "0"]

    def words(self, text: str, env: _Env) -> list[tuple[str, str]]:
        """The words of a list, each with the condition it is there under (expanded word by
        word: ``a.o head_$(BITS).o`` gives ``a.o`` always, not once per value of BITS)."""
        out: list[tuple[str, str]] = []
        for chunk in _split_words(text):
            for v, vc in self.expand(chunk, env):
                out.extend((w, vc) for w in v.split())
        merged: dict[str, list[str]] = {}
        for w, c in out:
            merged.setdefault(w, []).append(c)
        return [(w, c_or(cs)) for w, cs in merged.items()]

    def _expand_ref(self, inner: str, env: _Env, depth: int) -> list[tuple[str, str]]:
        head, _, rest = inner.partition(" ")
        if head in ("addprefix", "addsuffix", "subst", "patsubst", "if", "filter-out", "filter", "strip", "sort"):
            args = _split_args(rest)
            ex = [self.expand(a, env, depth + 1) for a in args]
            if head in ("addprefix", "addsuffix") and len(ex) == 2:
                out = []
                for (p, pc) in ex[0]:
                    for (lst, lc) in ex[1]:
                        words = lst.split()
                        out.append((" ".join(p + w if head == "addprefix" else w + p for w in words), c_and(pc, lc)))
                return out
            if head == "subst" and len(ex) == 3:
                return [(t.replace(a, b), c_and(ac, bc, tc)) for a, ac in ex[0] for b, bc in ex[1] for t, tc in ex[2]]
            if head == "patsubst" and len(ex) == 3:
                return [(" ".join(_patsubst(a, b, w) for w in t.split()), c_and(ac, bc, tc))
                        for a, ac in ex[0] for b, bc in ex[1] for t, tc in ex[2]]
            if head == "if" and len(ex) >= 2:
                out = []
                for v, vc in ex[0]:
                    branch = ex[1] if v.strip() else (ex[2] if len(ex) > 2 else [("", TRUE)])
                    out.extend((b, c_and(vc, bc)) for b, bc in branch)
                return out
            if head in ("strip", "sort") and ex:
                return [(" ".join(v.split()), c) for v, c in ex[0]]
            if head in ("filter-out", "filter") and len(ex) == 2:
                out = []
                for pat, pc in ex[0]:
                    pats = pat.split()
                    for lst, lc in ex[1]:
                        words = [w for w in lst.split() if any(_pattern_match(p, w) for p in pats) == (head == "filter")]
                        out.append((" ".join(words), c_and(pc, lc)))
                return out
            return [("", TRUE)]
        if " " in inner or "," in inner:
            return [("", TRUE)]  # $(call ...), $(shell ...), $(wildcard ...): never run, unknown
        name, colon, subst = inner.partition(":")
        if name.startswith("CONFIG_"):
            sym = name
            if colon and subst == "m=y":
                return [("y", f"IS_ENABLED({sym})"), ("", f"!IS_ENABLED({sym})")]
            return [("y", f"defined({sym})"), ("m", f"defined({sym}_MODULE)"), ("", f"!IS_ENABLED({sym})")]
        got = env.get(name)
        if got is None:
            return [("", TRUE)]
        out = []
        for v, c in got:
            for ev, ec in self.expand(v, env, depth + 1):
                out.append((ev, c_and(c, ec)))
        return out[:64]

    # --- makefiles ---------------------------------------------------------------------------
    def read_makefile(self, rel: str, env: _Env, cond: str, on_line) -> bool:
        """Read ``rel`` line by line under ``cond``; ``on_line(name, op, value, cond)`` gets
        each assignment. False when the file cannot be read."""
        try:
            text = (self.root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        self.model.makefiles.append(rel)
        stack: list[tuple[str, str]] = []  # (condition of this branch, negation of earlier ones)

        def here() -> str:
            return c_and(cond, *(s[0] for s in stack))

        in_recipe = False
        for _no, line in _logical_lines(text):
            s = line.strip()
            if not s:
                continue
            if line.startswith("\t") and in_recipe:
                continue  # a rule's recipe
            word = s.split(None, 1)[0]
            if word in ("ifdef", "ifndef", "ifeq", "ifneq"):
                c = self._condition(s, env)
                stack.append((c, c_not(c)))
                continue
            if word == "else":
                if stack:
                    prev = stack[-1][1]
                    rest = s[4:].strip()
                    if rest.split(None, 1)[:1] and rest.split(None, 1)[0] in ("ifdef", "ifndef", "ifeq", "ifneq"):
                        c = self._condition(rest, env)
                        stack[-1] = (c_and(prev, c), c_and(prev, c_not(c)))
                    else:
                        stack[-1] = (prev, prev)
                continue
            if word == "endif":
                if stack:
                    stack.pop()
                continue
            if word in ("include", "-include", "sinclude"):
                for target, tc in self.expand(s.split(None, 1)[1] if " " in s else "", env):
                    for t in target.split():
                        t = posixpath.normpath(t)
                        if t.startswith("/") or t.startswith(".."):
                            continue
                        self.read_makefile(t, env, c_and(here(), tc), on_line)
                continue
            got = _assignment(s)
            if got is None:
                in_recipe = ":" in _outside_parens(s)  # a rule: tab-indented lines after it are its recipe
                continue
            in_recipe = False
            name, op, value = got
            if name.startswith(("define ", "export ", "override ")):
                name = name.split(None, 1)[1] if " " in name else name
            on_line(name, op, value, here())
        return True

    def _condition(self, line: str, env: _Env) -> str:
        kw, _, rest = line.partition(" ")
        rest = rest.strip()
        if kw in ("ifdef", "ifndef"):
            var = rest.strip()
            vals = env.get(var)
            if var.startswith("CONFIG_"):
                c = f"IS_ENABLED({var})"
            elif vals is None:
                c = "0"  # never assigned
            elif all(v.strip() and cc == TRUE for v, cc in vals):
                c = TRUE
            else:
                c = _unknown(line)
            return c if kw == "ifdef" else c_not(c)
        args = _ifeq_args(rest)
        if args is None:
            return _unknown(line)
        a, b = args
        eq = self._equal(a, b, env, line)
        return eq if kw == "ifeq" else c_not(eq)

    def _equal(self, a: str, b: str, env: _Env, line: str) -> str:
        if "$(shell" in a or "$(shell" in b or "$(call" in a or "$(call" in b or "cc-option" in a + b:
            return _unknown(line)
        va, vb = self.expand(a, env), self.expand(b, env)
        parts = []
        for x, xc in va:
            for y, yc in vb:
                if x.strip() == y.strip():
                    parts.append(c_and(xc, yc))
        return c_or(parts) if parts else "0"

    # --- the walk --------------------------------------------------------------------------------
    def run(self) -> KbuildModel:
        arch_mk = f"arch/{self.arch}/Makefile"
        lists: dict[str, list[tuple[str, str]]] = {}

        def on_arch_line(name: str, op: str, value: str, cond: str) -> None:
            for key, kc, _m in self._keys(name, self.globals):
                self.globals.assign(key, op, value, c_and(cond, kc))
                for prefix in ("core", "drivers", "libs"):
                    if key == f"{prefix}-y":
                        lists.setdefault(prefix, []).append((value, c_and(cond, kc)))
                if key in ("KBUILD_CFLAGS", "KBUILD_CPPFLAGS"):
                    for fl in _dflags(value, c_and(cond, kc)):
                        self.subdir_flags.setdefault("", []).append(fl)

        self.globals.assign("libs-y", ":=", "lib/", TRUE)
        lists["libs"] = [("lib/", TRUE)]
        self.read_makefile(arch_mk, self.globals, TRUE, on_arch_line)
        roots: list[tuple[str, str]] = []
        for prefix in ("core", "drivers", "libs"):
            for value, cond in lists.get(prefix, []):
                for v, vc in self.expand(value, self.globals):
                    roots.extend((w, c_and(cond, vc)) for w in v.split() if w.endswith("/"))
        self.visit_dir("", None, TRUE, extra=roots)
        m = self.model
        m.built = dict(sorted(self.built.items()))
        m.modular = dict(sorted(self.modular.items()))
        m.dir_flags = {k: v for k, v in sorted(self.dir_flags.items()) if v}
        m.file_flags = {k: v for k, v in sorted(self.file_flags.items()) if v}
        m.apart = sorted(set(m.apart))
        return m

    def visit_dir(self, d: str, parent: str | None, cond: str, extra: list[tuple[str, str]] | None = None) -> None:
        """Record that ``parent``'s Makefile names folder ``d`` under ``cond``; read ``d``'s
        own Makefile the first time."""
        if cond == "0":
            return
        if parent is not None:
            self.model.dirs.setdefault(d, []).append((parent, cond))
        if d in self.dirs_done:
            return
        self.dirs_done.add(d)
        prefix = d + "/" if d else ""
        mk = None
        for name in ("Kbuild", "Makefile"):
            if (self.root / (prefix + name)).is_file():
                mk = prefix + name
                break
        if mk is None:
            return
        env = _Env(self.globals)
        env.assign("src", ":=", d or ".", TRUE)
        env.assign("obj", ":=", d or ".", TRUE)
        assigns: list[tuple[str, str, str, str]] = []

        def on_line(name: str, op: str, value: str, c: str) -> None:
            assigns.append((name, op, value, c))
            for key, kc, _m in self._keys(name, env):
                env.assign(key, op, value, c_and(c, kc))

        self.read_makefile(mk, env, TRUE, on_line)
        if d and any(n == "KBUILD_CFLAGS" and op in (":=", "=") for n, op, _v, _c in assigns):
            self.model.apart.append(d)
            return
        # flags of this folder: ccflags-y for its files, subdir-ccflags-y for it and below
        local_flags: list[Flag] = []
        sub_flags = list(self.subdir_flags.get(posixpath.dirname(d) if d else "", [])) if d else list(self.subdir_flags.get("", []))
        per_object: dict[str, list[Flag]] = {}
        items: list[tuple[str, str, str]] = []  # (item, condition, condition as a module)
        composites: dict[str, list[tuple[str, str]]] = {}
        for name, op, value, c in assigns:
            for key, kc, mc in self._keys(name, env):
                cc = c_and(c, kc)
                base, _, kind = key.rpartition("-")
                if key == "ccflags-y" or key == "EXTRA_CFLAGS":
                    local_flags.extend(_dflags_expanded(self, value, env, cc))
                elif key == "subdir-ccflags-y":
                    sub_flags.extend(_dflags_expanded(self, value, env, cc))
                elif key.startswith("CFLAGS_") and key.endswith(".o"):
                    per_object.setdefault(key[len("CFLAGS_"):], []).extend(_dflags_expanded(self, value, env, cc))
                elif base in _OBJ_LISTS and kind in ("y", "m"):
                    module = c_and(c, mc) if mc != "0" else (cc if kind == "m" else "0")
                    for w, wc in self.words(value, env):
                        items.append((w, c_and(cc, wc), c_and(module, wc) if module != "0" else "0"))
                elif base and kind in ("y", "objs") and not base.startswith(_NOT_COMPOSITE):
                    for w, wc in self.words(value, env):
                        if w.endswith(".o"):
                            composites.setdefault(base + ".o", []).append((w, c_and(cc, wc)))
        self.subdir_flags[d] = sub_flags
        if sub_flags or local_flags:
            self.dir_flags[d] = sub_flags + local_flags
        for w, c in extra or ():
            items.append((w, c, "0"))
        for item, c, module in items:
            if c == "0":
                continue
            if item.endswith("/"):
                sub = posixpath.normpath(prefix + item.rstrip("/"))
                if not sub.startswith(".."):
                    self.visit_dir(sub, d, c)
                continue
            if not item.endswith(".o"):
                continue
            parts = composites.get(item)
            if parts:
                for part, pc in parts:
                    self._add_object(d, part, c_and(c, pc), c_and(module, pc) if module != "0" else "0",
                                     per_object.get(part, []) + per_object.get(item, []))
            else:
                self._add_object(d, item, c, module, per_object.get(item, []))

    def _exists(self, rel: str) -> bool:
        if self.files is not None:
            return rel in self.files
        return (self.root / rel).is_file()

    def _add_object(self, d: str, obj: str, cond: str, module: str, own: list[Flag]) -> None:
        stem = posixpath.normpath((d + "/" if d else "") + obj[:-2])
        if stem.startswith(".."):
            return
        for ext in (".c", ".S"):
            rel = stem + ext
            if self._exists(rel):
                self.built.setdefault(rel, []).append((d, cond))
                if module != "0":
                    self.modular.setdefault(rel, []).append((d, module))
                if own:
                    self.file_flags.setdefault(rel, []).extend(own)
                return

    def _keys(self, name: str, env: _Env) -> list[tuple[str, str, str]]:
        """(key, condition, condition as a module): a left-hand side with its ``$(CONFIG_X)``
        and variables expanded. ``obj-$(CONFIG_X)`` is ``obj-y`` when X is y or m (a module
        when m); ``ccflags-$(CONFIG_X)`` is ``ccflags-y`` only when X is y."""
        if "$" not in name:
            return [(name, TRUE, "0")]
        m = _CONFIG_KEY_RE.fullmatch(name)
        if m is not None:
            base, sym = m.group(1), m.group(2)
            if base in _OBJ_LISTS or not base.startswith(_NOT_COMPOSITE):
                return [(base + "-y", f"IS_ENABLED({sym})", f"IS_MODULE({sym})")]
        return [(k, c, "0") for k, c in self.expand(name, env) if k and "$" not in k]


def _outside_parens(text: str) -> str:
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _assignment(line: str) -> tuple[str, str, str] | None:
    """(name, operator, value) of ``NAME OP VALUE``, the operator found outside ``$(...)``."""
    for i, ch, depth in _paren_depths(line, 0):
        if depth or ch in "()":
            continue
        if ch == "=":
            return line[:i].strip(), "=", line[i + 1 :].strip()
        for op in _ASSIGN_OPS[:-1]:
            if line.startswith(op, i):
                name = line[:i].strip()
                return (name, op, line[i + len(op) :].strip()) if name else None
        if ch == ":":
            return None  # a rule (``a: b``); ``:=`` was taken above
    return None


def _unknown(line: str) -> str:
    return "__kbuild_unknown(" + re.sub(r"[^A-Za-z0-9_]", "_", line)[:80] + ")"


def _paren_depths(text: str, start: int) -> Iterator[tuple[int, str, int]]:
    """(offset, character, parenthesis depth after it) from ``start`` on."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        depth += (ch == "(") - (ch == ")")
        yield i, ch, depth


def _close_paren(text: str, open_pos: int) -> int:
    return next((i for i, ch, depth in _paren_depths(text, open_pos) if ch == ")" and depth == 0), -1)


def _split_words(text: str) -> list[str]:
    """Whitespace-separated words, a ``$(...)`` with spaces inside kept whole."""
    return [w for w in _split_top(text, str.isspace) if w]


def _split_args(text: str) -> list[str]:
    """A make function's arguments: split at top-level commas, kept as written."""
    return _split_top(text, lambda ch: ch == ",")


def _split_top(text: str, is_sep) -> list[str]:
    """``text`` split at the characters ``is_sep`` accepts outside parentheses."""
    out: list[str]
    cur: list[str]
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if depth == 0 and is_sep(ch):
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return out


def _pattern_match(pat: str, word: str) -> bool:
    if "%" not in pat:
        return pat == word
    a, _, b = pat.partition("%")
    return word.startswith(a) and word.endswith(b) and len(word) >= len(a) + len(b)


def _patsubst(pat: str, rep: str, word: str) -> str:
    pat, rep = pat.strip(), rep.strip()
    if not _pattern_match(pat, word):
        return word
    if "%" not in pat:
        return rep
    a, _, b = pat.partition("%")
    stem = word[len(a) : len(word) - len(b) if b else len(word)]
    return rep.replace("%", stem, 1)


def _ifeq_args(rest: str) -> tuple[str, str] | None:
    rest = rest.strip()
    if rest.startswith("("):
        close = _close_paren(rest, 0)
        if close < 0:
            return None
        args = _split_args(rest[1:close])
        if len(args) != 2:
            return None
        return args[0].strip(), args[1].strip()
    m = re.match(r"""(['"])(.*?)\1\s+(['"])(.*?)\3""", rest)
    if m:
        return m.group(2), m.group(4)
    return None


_DFLAG_RE = re.compile(r"(?:^|\s)-([DU])\s*([A-Za-z_]\w*)")


def _dflags(value: str, cond: str) -> list[Flag]:
    return [Flag(m.group(1), m.group(2), cond) for m in _DFLAG_RE.finditer(value)]


def _dflags_expanded(reader: Reader, value: str, env: _Env, cond: str) -> list[Flag]:
    out = []
    for v, vc in reader.expand(value, env):
        out.extend(_dflags(v, c_and(cond, vc)))
    return out


def read_model(root: Path, arch: str, files: set[str] | None = None) -> KbuildModel:
    """``files``: the tree's source files, when the caller has listed them (saves a stat per
    object name)."""
    return Reader(root, arch, files).run()

