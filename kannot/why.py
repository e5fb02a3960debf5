"""The reverse question, ``kannot why FUNC``: which protected contexts reach FUNC with
instrumentation off, and may a kprobe or a tracer go there?

A context reaches FUNC when a protected function's summary (after inlining always-inline helpers
and macros) has a call to it, or passes through it as a helper, outside an instrumentation region
(noinstr family) or at all (nokprobe/notrace families: they have no regions).

Two ways to the same answer:
- :func:`why` walks every protected function for one name (the language server's hover);
- :func:`answer` (the CLI) builds the whole reverse map once, stores it beside the check results
  (one row per name, with the dependencies of :mod:`kannot.store.memo`), and answers later questions
  about any function from that row while nothing the map depends on changed.
"""
from __future__ import annotations

import marshal
from collections import defaultdict
from typing import TYPE_CHECKING, Iterable

from kannot.analysis.analyzer import Analyzer
from kannot.analysis.checks import families_of
from kannot.analysis.findings import Link
from kannot.engine import build_index, close_index, listed_with_signatures, protected_functions
from kannot.rules import classes as C
from kannot.rules import DEFAULT_RULES, RuleSet
from kannot.source.files import FileError
from kannot.store import memo

if TYPE_CHECKING:
    from kannot.engine import Options, Status
    from kannot.index.core import FuncDef, Index

FAMILIES = DEFAULT_RULES.family_names  # kannot's own: noinstr, nokprobe, notrace
# a reached leaf: (caller, family, file, line, chain as Link tuples, the names on its way)
Reach = tuple


def why(index: "Index", name: str) -> dict:
    """The answer for ``name``, walking every protected function of ``index``."""
    analyzer = Analyzer(index)
    own = own_info(index, name)
    reached = [r for d, fams in _protected(index) if d.name != name
               for r in _reaches(analyzer, d, fams, index.rules) if name in r[5]]
    return _answer(name, own, reached, index.rules)


def why_map(index: "Index", status: "Status | None" = None) -> tuple[dict[str, list[Reach]], dict[str, tuple]]:
    """Every name any protected context reaches, with the reaching leaves; and the own classes
    of those names and of the protected functions. ``status``: told how far it got."""
    analyzer = Analyzer(index)
    reach: dict[str, list[Reach]] = defaultdict(list)
    protected: set[str] = set()
    if status is not None:
        status.phase("mapping what protected functions reach")
    for d, fams in _protected(index):
        protected.add(d.name)
        if status is not None:
            status.update(len(protected))
        for r in _reaches(analyzer, d, fams, index.rules):
            for n in set(r[5]):
                if n != d.name:  # a function is not its own context
                    reach[n].append(r)
    own = {n: own_info(index, n) for n in sorted(set(reach) | protected)}
    return dict(reach), own


def own_info(index: "Index", name: str) -> tuple[list[str], bool, bool]:
    """(its classes as words, has a definition, every definition is __always_inline)"""
    defs = [d for d in index.defs_named(name) if d.asm_section is None] or index.defs_named(name)
    own = sorted({C.describe(d.classes) for d in defs}) or ["unknown"]
    return own, bool(defs), all(C.ALWAYS_INLINE in d.classes for d in defs)


def _protected(index: "Index") -> Iterable[tuple["FuncDef", list[str]]]:
    if index.catalog is not None:
        index.families = set(index.rules.family_names)
    for d in list(protected_functions(index, None)):
        fams = families_of(d, index.rules)
        if fams:
            yield d, fams


def _reaches(analyzer, d: "FuncDef", fams: list[str], rules: RuleSet) -> Iterable[Reach]:
    fam = fams[0]
    family = rules.named(fam)
    for leaf in analyzer.analyze_function(d).leaves:
        names = [l.function for l in leaf.chain[1:]] + ([leaf.callee] if leaf.callee else [])
        if not names:
            continue
        if family.regions and leaf.rel > 0:
            continue  # inside instrumentation_begin()/end(): instrumentation allowed
        if not family.transitive and any(l.kind == "always_inline" for l in leaf.chain[1:]):
            continue  # a family of direct calls: a helper's calls are not its own
        chain = [(l.function, l.file, l.line, l.kind, l.condition) for l in leaf.chain]
        yield (d.name, fam, d.path, leaf.pos[0], chain, names)


def _answer(name: str, own: tuple[list[str], bool, bool], reached: list[Reach], rules: RuleSet = DEFAULT_RULES) -> dict:
    """The JSON answer: reaching contexts (first per caller and line, noinstr first) and a verdict
    (the first family's that reaches it: kannot's own in order, then the settings' own)."""
    order = {f: i for i, f in enumerate(rules.family_names)}
    classes, has_defs, all_always_inline = own
    rows = [{"caller": caller, "family": fam, "file": file, "line": line,
             "via": [n for n in names if n != name], "chain": [Link(*l).to_json() for l in chain]}
            for caller, fam, file, line, chain, names in reached]
    rows.sort(key=lambda r: (order.get(r["family"], len(order)), r["file"], r["line"], r["caller"]))
    seen = set()
    unique = []
    for r in rows:
        key = (r["caller"], r["family"], r["file"], r["line"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    blacklisted = [c for c in classes if c in ("noinstr", "cpuidle", "nokprobe")]
    first = {fam: next((r for r in unique if r["family"] == fam), None) for fam in rules.family_names}
    # (a family of .kannot.toml has nothing to say about a function it allows: one of its own)
    reaching = [(fam, r) for fam, r in ((rules.named(f), r) for f, r in first.items() if r is not None)
                if fam.builtin or not fam.safe & set(classes)]
    if not has_defs:
        verdict = f"unknown: no definition of '{name}' in the tree"
    elif all_always_inline:
        inlined_into = first.get("noinstr")
        where = f"; inlined into noinstr '{inlined_into['caller']}'" if inlined_into else ""
        verdict = f"cannot be kprobed or traced on its own: '{name}' is __always_inline (no symbol of its own){where}"
    elif blacklisted:
        verdict = f"cannot be kprobed: '{name}' is itself {blacklisted[0]} (on the kprobe blacklist)"
    elif reaching:
        fam, r = reaching[0]  # each family's verdict: its `why` (kannot/rules/families.toml)
        via = " -> ".join([r["caller"], *r["via"], name])
        verdict = fam.why.format(caller=r["caller"], via=via, file=r["file"], line=r["line"], name=name)
    else:
        verdict = f"safe to kprobe and trace: no noinstr, NOKPROBE or notrace context reaches '{name}' without a region"
    return {"function": name, "class": classes, "verdict": verdict, "reached_from": unique}


# the CLI: a stored reverse map -------------------------------------------------------------------

def answer(opts: "Options", name: str) -> dict:
    """``kannot why NAME`` for the tree of ``opts``: from the stored reverse map when nothing it
    depends on changed, else by building (and storing) the map."""

    errors: list[FileError] = []
    looked = None
    rules = opts.config.rules
    if opts.lazy and opts.cache_dir is not None and not opts.overrides and not opts.removed:
        listing_errors: list[FileError] = []
        listed = listed_with_signatures(opts, listing_errors)
        looked = memo.lookup(opts, "why:" + memo.result_key(opts, set(rules.family_names), paths=False), listed,
                             listing_errors, row_name=name)
        if looked.record is not None and looked.row is not None:
            own, reached = marshal.loads(looked.row)
            return _answer(name, own, reached, rules)
        if looked.record is not None:
            # no protected context reaches it (else it would have a row): only its classes are missing
            index = build_index(opts, [], families=set(rules.family_names), listed=looked.listed)
            try:
                return _answer(name, own_info(index, name), [], rules)
            finally:
                close_index(index)
        errors.extend(looked.listing_errors)
    index = build_index(opts, errors, families=set(rules.family_names), listed=looked.listed if looked is not None else None)
    try:
        reach, own = why_map(index, opts.status)
        got = _answer(name, own[name] if name in own else own_info(index, name), reach.get(name, []), rules)
    finally:
        close_index(index)
    if looked is not None:
        rows = [(n, marshal.dumps((own[n], reach.get(n, [])))) for n in own]
        memo.save(opts, looked, index, [], [], (0, 0, 0), rows=rows)
    return got
