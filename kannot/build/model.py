"""The build model of one arch: Kconfig's constraints, Kbuild's files and flags, and the solver
that decides presence conditions against them.

``BuildModel`` answers the questions the analysis asks:

- :meth:`presence`: the condition under which the image contains a ``.c``/``.S`` file (False for
  files no Makefile names, or built apart);
- :meth:`satisfiable` / :meth:`decide`: can a condition hold in a configuration the arch's
  Kconfig accepts (and the user's ``--config``/``--assume`` facts)?
- :meth:`witness`: the few ``CONFIG_`` assignments that make a condition hold, including what
  those need to be settable (a symbol without a prompt is shown through what selects it).

Constraints are loaded into the solver lazily, symbol by symbol, from the symbols a question
names outward (every symbol a loaded constraint mentions is loaded too): the cone of a question
decides it, since every other symbol's constraint can be met whatever the cone's values are (it
defines that symbol from others).
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from kannot.build import cppcond, kbuild, kconfig
from kannot.build import logic as L
from kannot.build.logic import Formula
from kannot.build.sat import Sat
from kannot.store import model_blobs

MAX_WITNESS_STEPS = 64


@dataclass
class Witness:
    """A configuration fragment: ``CONFIG_X=y`` lines (``=n`` as ``# CONFIG_X is not set`` in a
    .config) and the free facts it assumes (a compiler probe, an integer comparison)."""

    values: list[tuple[str, str]] = field(default_factory=list)  # (SYMBOL without CONFIG_, y|m|n)
    assumed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"CONFIG_{s}={v}" for s, v in self.values] + [f"assuming {a}" for a in self.assumed]


def open_model(root: Path, arch: str, loaded: "LoadedModel", fixed: dict[str, str] | None = None,
               complete: bool = False, numbers: dict[str, int] | None = None,
               present: set[str] | None = None) -> BuildModel:
    """The model to check with: the tree's, or an open world for a folder that is no kernel tree."""
    return BuildModel(root, arch, loaded.tree, loaded.kbuild, fixed, open_world=not loaded.digest,
                      complete=complete, numbers=numbers, present=present, digest=loaded.digest)


class BuildModel:
    def __init__(self, root: Path, arch: str, tree: kconfig.KconfigTree, kb: kbuild.KbuildModel,
                 fixed: dict[str, str] | None = None, open_world: bool = False, complete: bool = False,
                 numbers: dict[str, int] | None = None, present: set[str] | None = None, digest: str = "") -> None:
        self.root = root
        self.arch = arch
        # a folder that is no kernel tree (no top Kconfig: a fixture, an excerpt): every CONFIG_
        # symbol is a free tristate and every file is built
        self.open_world = open_world
        self.tree = tree
        self.kbuild = kb
        self.encoder = kconfig.Encoder(tree)
        self.types = self.encoder.types
        self.fixed = dict(fixed or {})  # SYMBOL -> y|m|n from --config / --assume
        # a whole .config (--config): every option is known, absent ones n; the .config is taken
        # as consistent (conf wrote it), so no Kconfig constraint is needed to decide anything
        self.complete = complete
        self.numbers = dict(numbers or {})  # int/hex options of the .config, for comparisons
        self.present = set(self.fixed) | set(self.numbers) | set(present or ())  # options the .config sets
        self.sat = Sat()
        self._constraints: dict[str, list[Formula]] = {}
        self._cone = _Cone(self, self.sat)
        self._symbol_gen: dict[str, int] = {}  # symbol -> the solver generation that loaded its cone
        self._choice_of: dict[str, list[int]] = {}
        for i, c in enumerate(tree.choices):
            for m in c.members:
                self._choice_of.setdefault(m, []).append(i)
        self._dir_memo: dict[str, Formula] = {}
        self._presence_memo: dict[str, Formula] = {}
        self._norm_memo: dict[Formula, Formula] = {}
        self._open_memo: dict[Formula, Formula] = {}
        self._decide_memo: dict[Formula, bool | None] = {}
        # satisfiable/decide answers by the formula's stable key ("s"/"d" + key): 1, 0, 2 (depends)
        self.answers: dict[str, int] = {}
        self.new_answers = 0
        self.digest = digest
        self._fixed_unknown = [s for s in self.fixed if s not in self.types]
        # the solver's preferred value of each symbol: the arch's defconfig, else the symbol's
        # plain default, else n (witnesses then look like the configurations people build)
        self._preferred = _defconfig_values(root, arch) if not open_world else {}

    def close(self) -> None:
        self.sat.close()

    # conditions -----------------------------------------------------------------------------
    def cond(self, text: str) -> Formula:
        """A condition text (``#if`` syntax) as a normalized formula."""
        return self.read_atoms(cppcond.parse(text, self.arch)) if text else L.TRUE

    def read_atoms(self, f: Formula) -> Formula:
        """Atoms read against this arch's Kconfig (a symbol it never defines is n...), the
        user's facts left for the questions (:meth:`normalize`): a witness names them."""
        got = self._open_memo.get(f)
        if got is None:
            got = L.substitute(f, self._open_atom)
            self._open_memo[f] = got
        return got

    def normalize(self, f: Formula) -> Formula:
        """Atoms read against this arch's Kconfig: a symbol it never defines is n, ``m:`` of a
        bool is false, ``CONFIG_X_MODULE`` is ``m:X``, an int/string symbol's ``defined`` is
        unknown."""
        got = self._norm_memo.get(f)
        if got is None:
            got = L.substitute(f, self._norm_atom)
            self._norm_memo[f] = got
        return got

    def _norm_atom(self, a: str) -> Formula | None:
        got = self._open_atom(a)
        if not self.complete:
            return got
        if got is not None:
            if got.op != "a":
                return got
            a = got.args
        kind, _, sym = a.partition(":")
        if kind in ("y", "m"):
            return L.const(self.fixed.get(sym, "n") == kind)
        if kind == "c" and sym.startswith("defined(CONFIG_") and sym.endswith(")"):
            return L.const(sym[len("defined(CONFIG_"):-1] in self.present)
        return None if got is None else got

    def _open_atom(self, a: str) -> Formula | None:
        kind, _, sym = a.partition(":")
        if kind == "c":
            return self._number_test(sym)
        if self.open_world:
            if kind == "y" and sym.endswith("_MODULE"):
                return L.atom(f"m:{sym[: -len('_MODULE')]}")
            if kind in ("y", "m") and sym in self.fixed:
                v = self.fixed[sym]
                return L.const(v == kind)
            return None
        if kind == "y":
            t = self.types.get(sym)
            if t in ("bool", "tristate"):
                return None
            if t:
                return L.atom(f"c:defined(CONFIG_{sym})")
            if sym.endswith("_MODULE") and self.types.get(sym[: -len("_MODULE")]) == "tristate":
                return L.atom(f"m:{sym[: -len('_MODULE')]}")
            return L.FALSE
        if kind == "m":
            return None if self.types.get(sym) == "tristate" else L.FALSE
        return None

    def _number_test(self, text: str) -> Formula | None:
        """``CONFIG_NR_CPUS > 4`` with the .config's value of NR_CPUS."""
        m = _NUMBER_TEST_RE.fullmatch(text.strip())
        if m is None:
            return None
        sym, op, num = m.groups()
        value = self.numbers.get(sym)
        if value is None:
            return None
        try:
            n = int(num, 0)
        except ValueError:
            return None
        return L.const({"==": value == n, "!=": value != n, "<": value < n, ">": value > n,
                        "<=": value <= n, ">=": value >= n}[op])

    # presence of files ---------------------------------------------------------------------------
    def presence(self, rel: str) -> Formula:
        """When the image contains ``rel`` (headers: always, as far as Kbuild says; a ``.c``
        file no Makefile names: never; the caller handles ``.c`` files other files include)."""
        got = self._presence_memo.get(rel)
        if got is not None:
            return got
        if self.open_world or not rel.endswith((".c", ".S")):
            got = L.TRUE
        elif self.kbuild.is_apart(rel):
            got = L.FALSE
        else:
            got = L.disj(self.dir_presence(d) & self.cond(c) for d, c in self.kbuild.built.get(rel, ()))
        self._presence_memo[rel] = got
        return got

    def named(self, rel: str) -> bool:
        return self.open_world or rel in self.kbuild.built

    def dir_presence(self, d: str) -> Formula:
        got = self._dir_memo.get(d)
        if got is not None:
            return got
        if d == "":
            return L.TRUE
        self._dir_memo[d] = L.FALSE  # (a cycle of folder references adds nothing)
        got = L.disj(self.dir_presence(p) & self.cond(c) for p, c in self.kbuild.dirs.get(d, ()))
        if got.size(256) > 256:
            got = L.TRUE if self.satisfiable(got) else L.FALSE  # (never fewer files, only more)
        self._dir_memo[d] = got
        return got

    def module(self, rel: str) -> Formula:
        """When ``rel`` is compiled as a module (``MODULE`` defined)."""
        return L.disj(self.dir_presence(d) & self.cond(c) for d, c in self.kbuild.modular.get(rel, ()))

    def flag(self, rel: str, name: str) -> Formula:
        """When the Makefiles define ``name`` for ``rel`` with ``-D`` (and no later ``-U``)."""
        out = L.FALSE
        for fl in self.kbuild.flags_of(rel):
            if fl.name != name:
                continue
            c = self.cond(fl.condition)
            out = (out | c) if fl.kind == "D" else (out & ~c)
        return out

    # the solver -----------------------------------------------------------------------------------
    def _ensure(self, atoms: frozenset[str]) -> None:
        before = len(self._cone.loaded)
        self._cone.load(atoms)
        if len(self._cone.loaded) != before:
            self.sat.generation += 1
            for name in self._cone.loaded - self._symbol_gen.keys():
                self._symbol_gen[name] = self.sat.generation

    def choices_of(self, name: str) -> list[int]:
        return self._choice_of.get(name, [])

    def symbol_constraints(self, name: str) -> list[Formula]:
        """What the solver needs of one symbol: its Kconfig constraints, the user's fact."""
        got = self._constraints.get(name)
        if got is None:
            got = list(self.encoder.symbol_constraints(name)) if name in self.tree.symbols else []
            fixed = self.fixed.get(name)
            if fixed is not None and self.types.get(name) in ("bool", "tristate"):
                y, m = L.atom(f"y:{name}"), L.atom(f"m:{name}")
                got.append(y if fixed == "y" else ~y)
                if self.types.get(name) == "tristate":
                    got.append(m if fixed == "m" else ~m)
            self._constraints[name] = got
        return got

    def _preferred_value(self, name: str) -> str:
        want = self._preferred.get(name)
        if want is None:
            want = "n"
            for d in self.tree.symbols.get(name, ()):
                plain = [v for v, c in d.defaults if c == kconfig.YES]
                if plain and plain[0] in (("k", "y"), ("k", "m")):
                    want = plain[0][1]
                    break
        return want

    def _preferred_lits(self, name: str, sat: Sat | None = None) -> list[int]:
        sat = sat or self.sat
        t = self.types.get(name)
        if t not in ("bool", "tristate"):
            return []
        want = self._preferred_value(name)
        lits = [sat.var(f"y:{name}") * (1 if want == "y" else -1)]
        if t == "tristate":
            lits.append(sat.var(f"m:{name}") * (1 if want == "m" else -1))
        return lits

    def simplify(self, f: Formula) -> Formula:
        """``f`` shorter for people: simplified, and without the conjuncts the others imply in
        every configuration (``CONFIG_TRACE_BRANCH_PROFILING`` implies ``CONFIG_TRACING``)."""
        f = L.simplify(self.normalize(f))
        if f.op != "&":
            return f
        parts = sorted(f.args, key=lambda c: (-len(L.to_text(c)), L.to_text(c)))
        kept = list(parts)
        for c in parts:
            rest = L.conj(k for k in kept if k is not c)
            self._ensure((rest & ~c).atoms())
            if not self.sat.satisfiable(rest & ~c):
                kept.remove(c)
        return L.conj(kept)

    def satisfiable(self, f: Formula) -> bool:
        f = self.normalize(f)
        if f is L.TRUE:
            return True
        if f is L.FALSE:
            return False
        key = "s" + f.key()
        got = self.answers.get(key)
        if got is None:
            self._ensure(f.atoms())
            got = 1 if self._true_in_a_known_model(f) or self.sat.satisfiable(f) else 0
            self.answers[key] = got
            self.new_answers += 1
        return got == 1

    def _true_in_a_known_model(self, f: Formula) -> bool:
        """Is ``f`` true in a configuration the solver found before? Only a model found once
        every symbol ``f`` names was loaded counts (it satisfies ``f``'s whole cone)."""
        gen = max((self._symbol_gen.get(a[2:], 1 << 30) for a in f.atoms() if a[:2] in ("y:", "m:")), default=0)
        value_in = self.sat.value_in
        for model_gen, model in self.sat.models:
            if model_gen < gen:
                continue

            def value(a: str, model=model) -> bool | None:
                return value_in(model, a) if a[:2] in ("y:", "m:") else None

            if L.evaluate(f, value) is True:
                return True
        return False

    def decide(self, f: Formula) -> bool | None:
        """True in every configuration, False in none, None when it depends."""
        f = self.normalize(f)
        if f.op in "01":
            return f is L.TRUE
        got = self._decide_memo.get(f, self)
        if got is self:
            key = "d" + f.key()
            stored = self.answers.get(key)
            if stored is not None:
                got = None if stored == 2 else stored == 1
            else:
                self._ensure(f.atoms())
                if self._true_in_a_known_model(f) and self._true_in_a_known_model(~f):
                    got = None
                else:
                    got = self.sat.decide(f)
                self.answers[key] = 2 if got is None else int(got)
                self.new_answers += 1
            self._decide_memo[f] = got
        return got  # type: ignore[return-value]  # (self: the memo miss, replaced above)

    # answers kept from run to run ----------------------------------------------------------------
    def answers_key(self) -> str:
        """The stored answers' row: of this model (its build files' digest) and these facts."""
        facts = hashlib.blake2b(repr(sorted(self.fixed.items())).encode(), digest_size=8).hexdigest()
        return model_blobs.answers_key(self.arch, self.digest, facts, self.complete)

    def load_answers(self, blob: bytes | None) -> None:
        """What earlier runs learned (a condition's answer is a fact of the Kconfig and the
        facts: a warm recheck asks the solver only what no run asked before)."""
        got = model_blobs.unpack_answers(blob) if blob else None
        if got is not None:
            got.update(self.answers)
            self.answers = got

    def answers_blob(self) -> bytes | None:
        """The answers to store, when this run learned new ones."""
        return model_blobs.pack_answers(self.answers) if self.new_answers else None

    def witness(self, f: Formula) -> Witness | None:
        """A small configuration fragment in which ``f`` holds, or None when none exists.

        Each value it needs is decided in a fixed order, preferring the arch's defconfig (or the
        option's plain default, or n), by whether the solver can keep ``f`` true with it: an
        answer, not whichever model the solver happens to find, so the witness does not depend
        on what the run asked before (a recheck of two functions asks less than a whole run)."""
        if self.complete:
            return self._config_witness(f)
        f = self.normalize(f)
        if f is L.FALSE or not self.satisfiable(f):
            return None
        d = _Decider(self, f)
        keep = _reduce(f, d)
        values: dict[str, str] = {}
        self._justify(keep, d, values, f)
        assumed: list[str] = []
        for a in keep:
            if a[:2] in ("y:", "m:"):
                continue
            number = self._number_for(a, d.get(a, False))
            if number is not None:
                values[number[0]] = number[1]
                continue
            text = L.atom_text(a)
            assumed.append(text if d.get(a) else f"!({text})")
        return Witness(sorted(values.items()), sorted(set(assumed)))

    def _number_for(self, atom: str, truth: bool) -> tuple[str, str] | None:
        """An int option's value making ``CONFIG_X op N`` (atom ``c:...``) have ``truth``."""
        m = _NUMBER_TEST_RE.fullmatch(atom[2:].strip()) if atom.startswith("c:") else None
        if m is None or self.types.get(m.group(1)) not in ("int", "hex"):
            return None
        sym, op, num = m.groups()
        n = int(num, 0)
        if not truth:
            op = {"==": "!=", "!=": "==", "<": ">=", ">": "<=", "<=": ">", ">=": "<"}[op]
        value = {"==": n, "!=": n + 1, "<": n - 1, ">": n + 1, "<=": n, ">=": n}[op]
        return sym, hex(value) if self.types.get(sym) == "hex" else str(value)

    def _config_witness(self, f: Formula) -> Witness | None:
        """With a whole .config: the options of it that the condition needs, and the free
        facts it assumes; None when the condition is false in it."""
        g = self.normalize(f)
        if g is L.FALSE:
            return None
        model = self.sat.model(g)
        if model is None:
            return None
        opened = L.substitute(f, self._open_atom)
        values = {a: self.fixed.get(a[2:], "n") == a[0] for a in opened.atoms() if a[:2] in ("y:", "m:")}
        values.update(model)
        keep = _reduce(opened, values)
        out = sorted({(a[2:], self.fixed.get(a[2:], "n")) for a in keep if a[:2] in ("y:", "m:")})
        assumed = sorted({L.atom_text(a) if model.get(a) else f"!({L.atom_text(a)})" for a in keep if a[:2] not in ("y:", "m:")})
        return Witness(out, assumed)

    def _justify(self, atoms: list[str], model, values: dict[str, str], goal: Formula) -> None:
        """Add to ``values`` the symbol values ``atoms`` need, each made settable: a symbol with
        a visible prompt is set directly (with what makes its prompt visible); one without is
        shown through the select or default that gives it its value."""
        todo = sorted({a.split(":", 1)[1] for a in atoms if a[:2] in ("y:", "m:")})
        steps = 0
        while todo and steps < MAX_WITNESS_STEPS:
            steps += 1
            name = todo.pop(0)
            if name in values:
                continue
            # (m first: an option that must be on is built in where it can be, as mostly)
            module = self.types.get(name) == "tristate" and model.get(f"m:{name}")
            val = "m" if module else "y" if model.get(f"y:{name}") else "n"
            if self.fixed.get(name) == val:
                continue  # a fact the user gave: nothing to set
            prompt = self._visible_prompt(name, model)
            pref = self._preferred.get(name)
            if prompt is not None and (pref is not None and pref != val or self._default_value(name, model) != val):
                values[name] = val  # set by hand (the defconfig or the default says otherwise)
                if val != "n":
                    todo.extend(self._needed(prompt, model))
                continue
            if val == "n":
                # not set: what leaves its defaults and selects at n must be so too
                # (X86_64 is n where 64BIT is)
                hidden = self.normalize(self.encoder.hidden_value(name).ge)
                if _evaluate(hidden, model) is False:
                    todo.extend(self._needed(~hidden, model))
                continue
            reason = self._reason(name, model)
            if reason is None:
                values[name] = val  # (unexplained: said as it is)
            else:
                todo.extend(self._needed(reason, model))

    def _default_value(self, name: str, model: dict[str, bool]) -> str:
        """What ``name`` is in ``model`` when nobody sets it (its defaults, implies, selects)."""
        t = self.encoder.hidden_value(name)
        ge = _evaluate(self.normalize(t.ge), model)
        y = _evaluate(self.normalize(t.y), model)
        if self.types.get(name) == "bool":
            return "y" if ge else "n"
        return "y" if y else "m" if ge else "n"

    def _visible_prompt(self, name: str, model: dict[str, bool]) -> Formula | None:
        """The visibility condition of a prompt of ``name`` that holds in ``model``."""
        enc = self.encoder
        for d in self.tree.symbols.get(name, ()):
            for p in d.prompts:
                vis = self.normalize(enc.tri(p).ge & enc.tri(d.dep).ge & enc.tri(d.visible).ge)
                if _evaluate(vis, model):
                    return vis
            if d.choice >= 0:
                c = self.tree.choices[d.choice]
                vis = self.normalize(enc.tri(c.dep).ge & enc.tri(d.dep).ge)
                if c.prompts and _evaluate(vis, model):
                    return vis
        return None

    def _reason(self, name: str, model: dict[str, bool]) -> Formula | None:
        """What gives a prompt-less symbol its value in ``model``: a select, an imply or a default."""
        enc = self.encoder
        for kind in ("selects", "implies"):
            for src, dep, cond in enc.reverse_deps(kind).get(name, ()):
                f = self.normalize(enc.value(src).ge & enc.tri(kconfig.conjoin(dep, cond)).ge)
                if _evaluate(f, model):
                    return f
        for d in self.tree.symbols.get(name, ()):
            for value, cond in d.defaults:
                c = self.normalize(enc.tri(cond).ge & enc.tri(d.dep).ge)
                if _evaluate(c, model):
                    return self.normalize(c & enc.tri(value).ge)
        return None

    def _needed(self, f: Formula, model: dict[str, bool]) -> list[str]:
        """The symbols whose values in ``model`` a small assignment making ``f`` true needs."""
        return [a[2:] for a in _reduce(f, model) if a[:2] in ("y:", "m:")]


_NUMBER_TEST_RE = re.compile(r"CONFIG_(\w+)\s*(==|!=|<=|>=|<|>)\s*(-?(?:0[xX][0-9a-fA-F]+|\d+))")


class _Cone:
    """A solver holding the constraints of the symbols questions named, and of every symbol
    those constraints name in turn (see the module docstring)."""

    def __init__(self, model: BuildModel, sat: Sat) -> None:
        self.model = model
        self.sat = sat
        self.loaded: set[str] = set()
        self.choices: set[int] = set()

    def load(self, atoms: frozenset[str]) -> None:
        m = self.model
        if m.open_world:
            for a in sorted(atoms):  # a tristate is y or m, not both
                if a.startswith("m:") and a not in self.loaded:
                    self.loaded.add(a)
                    self.sat.add(~(L.atom("y:" + a[2:]) & L.atom(a)))
            return
        todo = sorted(a[2:] for a in atoms if a[:2] in ("y:", "m:"))
        while todo:
            name = todo.pop()
            if name in self.loaded:
                continue
            self.loaded.add(name)
            cs = m.symbol_constraints(name)
            for ci in m.choices_of(name):
                if ci not in self.choices:
                    self.choices.add(ci)
                    cs = cs + m.encoder.choice_constraints(m.tree.choices[ci])
            lits = m._preferred_lits(name, self.sat)
            if lits:
                self.sat.prefer(lits)
            for c in cs:
                self.sat.add(c)
                todo.extend(sorted(a[2:] for a in c.atoms() if a[:2] in ("y:", "m:")))


def defconfig_path(root: Path, arch: str) -> Path | None:
    """The arch's default configuration file (what `make defconfig` starts from)."""
    configs = root / "arch" / arch / "configs"
    for name in ("x86_64_defconfig" if arch == "x86" else "", "defconfig"):
        if name and (configs / name).is_file():
            return configs / name
    return None


def _defconfig_values(root: Path, arch: str) -> dict[str, str]:
    path = defconfig_path(root, arch)
    out: dict[str, str] = {}
    if path is None:
        return out
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("CONFIG_") and "=" in line:
            k, _, v = line.partition("=")
            out[k[len("CONFIG_"):]] = v if v in ("y", "m") else "n"
        elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
            out[line[len("# CONFIG_"): -len(" is not set")]] = "n"
    return out


class _Decider:
    """A configuration decided value by value, on demand, for a witness of ``goal``: each value
    is the preferred one if some configuration keeps ``goal`` and the values decided before
    with it, else the other. (A model the solver found says so for free when it agrees.)"""

    def __init__(self, model: BuildModel, goal: Formula) -> None:
        self.m = model
        self.goal = goal
        self.values: dict[str, bool] = {}
        self.lits: list[int] = []
        self._found: list[int] | None = None  # a model of goal and lits, while the solver is unchanged
        self._found_gen = -1

    def get(self, atom: str, default: bool | None = None) -> bool:
        got = self.values.get(atom)
        if got is not None:
            return got
        m = self.m
        m._ensure(frozenset((atom,)))
        want = self._preferred(atom)
        sat = m.sat
        lit = sat.var(atom) * (1 if want else -1)
        agree = (self._found is not None and self._found_gen == sat.generation
                 and sat.value_in(self._found, atom) is want)
        if not agree:
            found = sat.raw_model(self.goal, tuple(self.lits) + (lit,))
            if found is None:
                want, lit = not want, -lit
            else:
                self._found, self._found_gen = found, sat.generation
        self.values[atom] = want
        self.lits.append(lit)
        return want

    def _preferred(self, atom: str) -> bool:
        kind, _, name = atom.partition(":")
        if kind in ("y", "m"):
            return self.m._preferred_value(name) == kind
        return True  # a free fact (a compiler's feature): assumed available

    def decide_all(self, atoms) -> None:
        for a in sorted(atoms):
            self.get(a)


def _evaluate(f: Formula, model) -> bool | None:
    """``f`` in ``model`` (a dict, absent atoms false, or a :class:`_Decider`, which decides the
    atoms in their sorted order first: the order decisions are made in must be the same in every
    run)."""
    if isinstance(model, _Decider):
        model.decide_all(f.atoms())
    return L.evaluate(f, lambda a: model.get(a, False))


def _reduce(f: Formula, model) -> list[str]:
    """A small set of ``f``'s atoms whose values in ``model`` make ``f`` true on their own
    (others unknown): each atom is dropped in turn while ``f`` stays decided."""
    atoms = sorted(f.atoms())
    if isinstance(model, _Decider):
        model.decide_all(atoms)
    keep = dict.fromkeys(atoms)
    for a in atoms:
        trial = [b for b in keep if b != a]
        vals = {b: model.get(b, False) for b in trial}
        if L.evaluate(f, vals.get) is True:
            keep.pop(a)
    return list(keep)


# ---------------------------------------------------------------------------------------------
# loading, with a stored copy


def _signature(root: Path, rels: list[str]) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for rel in rels:
        try:
            st = os.stat(root / rel)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{rel}\0-\n".encode())
    return h.digest()


@dataclass
class LoadedModel:
    tree: kconfig.KconfigTree
    kbuild: kbuild.KbuildModel
    digest: str  # of every Kconfig file and Makefile read (names, sizes, mtimes)


def is_kernel_tree(root: Path) -> bool:
    return (root / "Kconfig").is_file() and (root / "arch").is_dir()


def load(root: Path, arch: str, files: set[str] | None = None, cache=None, notices: list[str] | None = None) -> LoadedModel:
    """The arch's Kconfig tree and Kbuild model: from the cache when none of the files they were
    read from changed, else read (and stored). A folder that is no kernel tree has empty ones."""
    if not is_kernel_tree(root):
        return LoadedModel(kconfig.KconfigTree(arch), kbuild.KbuildModel(arch), "")
    if cache is not None:
        digest = stored_digest(root, arch, cache)
        blob = cache.get_result(model_blobs.keys(arch)[0]) if digest is not None else None
        if blob is not None and digest is not None:  # (a blob is read only with a digest)
            try:
                return LoadedModel(*model_blobs.unpack_model(blob), digest)
            except (ValueError, EOFError, TypeError):
                pass
    tree, kb, sig, read = _read(root, arch, files)
    if cache is not None:
        model_blobs.store(arch, model_blobs.pack(tree, kb, sig, read), cache, notices)
    return LoadedModel(tree, kb, sig.hex())


def _read(root: Path, arch: str, files: set[str] | None) -> tuple[kconfig.KconfigTree, kbuild.KbuildModel, bytes, list[str]]:
    """The arch's model read from the tree, with the signature of the files read and their names."""
    tree = kconfig.read_tree(root, arch)
    kb = kbuild.read_model(root, arch, files)
    read = tree.files + kb.makefiles
    return tree, kb, _signature(root, read), read


def read_blobs(root: Path, arch: str) -> model_blobs.ModelBlobs:
    """A kernel tree's model for ``arch`` as :func:`load` stores it: (the Kconfig tree and
    Kbuild model, the signature of the files they were read from). Made in a worker process by
    a cold start, beside the catalog's scan (kannot.engine.build_index)."""
    return model_blobs.pack(*_read(root, arch, None))


def from_blobs(arch: str, blobs: model_blobs.ModelBlobs, cache=None, notices: list[str] | None = None) -> LoadedModel:
    """The model :func:`read_blobs` made, stored in ``cache`` (when given) as :func:`load` would."""
    tree, kb = model_blobs.unpack_model(blobs.model)
    sig, _read = model_blobs.unpack_sig(blobs.sig)
    if cache is not None:
        model_blobs.store(arch, blobs, cache, notices)
    return LoadedModel(tree, kb, sig.hex())


def stored_digest(root: Path, arch: str, cache) -> str | None:
    """The digest of the stored model's inputs (every Kconfig file and Makefile it read, with
    their sizes and mtimes) when none of them changed since; None when it must be read again.
    A few thousand stat calls: what a warm run pays to know the build files did not change."""
    if cache is None or not is_kernel_tree(root):
        return "" if not is_kernel_tree(root) else None
    blob = cache.get_result(model_blobs.keys(arch)[1])
    if blob is None:
        return None
    try:
        sig, read = model_blobs.unpack_sig(blob)
    except (ValueError, EOFError, TypeError):
        return None
    return sig.hex() if _signature(root, read) == sig else None
