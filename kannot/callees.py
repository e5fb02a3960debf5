"""``kannot callees FUNC``: what a function calls after inlining, each callee with its chain,
condition and verdict (the CLI's query; kannot.why asks the reverse)."""
from __future__ import annotations

from kannot.analysis.analyzer import Analyzer
from kannot.analysis.checks import Checker
from kannot.analysis.inlining import MAX_INLINE_DEPTH, may_inline
from kannot.index.core import Index
from kannot.rules import Family
from kannot.rules import classes as C

def callees_of(index: Index, name: str, gcc_inlined: bool = True) -> list[dict]:
    """What FUNC ends up calling after inlining, with chains and verdicts (``kannot callees``).

    With ``gcc_inlined``, the calls inside the functions gcc may inline into FUNC
    (:func:`kannot.analysis.inlining.may_inline`: same file, or a header's static inline) are listed
    too, with ``inlined_from`` naming the helpers: objtool sees them as FUNC's own calls when
    gcc inlines, and the helper's call when it does not; the map lists both.
    """
    analyzer = Analyzer(index)
    checker = Checker(index, analyzer, set(index.rules.rules))
    out: list[dict] = []
    for d in index.defs_named(name):
        if d.asm_section is not None:
            continue
        _callees_into(out, analyzer, checker, d, d, (), set(), MAX_INLINE_DEPTH if gcc_inlined else 0)
    return out


def _callees_into(out, analyzer, checker, top, d, through: tuple, seen: set, budget: int) -> None:
    from kannot.analysis.checks import families_of

    own = [checker.rules.family(f) for f in families_of(top, checker.rules)]
    family = next((f for f in own if not f.builtin), None)  # a family of .kannot.toml judges its own
    summ = analyzer.analyze_function(d)
    for leaf in sorted(summ.leaves, key=lambda l: (l.pos, l.callee or l.text)):
        if leaf.kind == "end":
            continue
        when = checker.when(top, leaf)
        if when is None:
            continue  # no configuration makes this call
        chain = [l.to_json() for l in leaf.chain]
        verdict = _verdict(checker, leaf) if family is None else _family_verdict(family, leaf, bool(through))
        out.append({
            "condition": when[0],
            "witness": when[1],
            "definition": {"file": top.path, "line": top.line, "class": C.describe(top.classes)},
            "callee": leaf.callee,
            "kind": leaf.kind,
            "text": leaf.text,
            "line": leaf.pos[0],
            "in_region": leaf.rel > 0,
            "chain": chain,
            "candidates": [{"function": c.name, "file": c.path, "line": c.line, "class": C.describe(c.classes)}
                           for c in leaf.candidates],
            "verdict": verdict + (f" (inside {' -> '.join(through)}, which gcc may inline)" if through else ""),
            **({"inlined_from": list(through)} if through else {}),
        })
        if budget <= 0 or leaf.kind != "call":
            continue
        for c in leaf.candidates:
            if may_inline(top.path, c) and id(c) not in seen:
                seen.add(id(c))
                _callees_into(out, analyzer, checker, top, c, through + (c.name,), seen, budget - 1)


def _family_verdict(family: Family, leaf, through: bool) -> str:
    """The verdict on a call of a function of a .kannot.toml family, by that family's data."""
    region = " (in instrumentation region)" if family.regions and leaf.rel > 0 else ""
    helper = not family.transitive and (through or any(l.kind == "always_inline" for l in leaf.chain[1:]))
    own = f" (made by an always-inline helper: not judged, {family.name} is checked on direct calls)" if helper else ""
    if leaf.kind == "static_call":
        return "safe: static_call/ubsan (accepted by objtool)"
    if leaf.kind == "icall":
        return "indirect" + region + own
    if leaf.kind == "unresolved":
        return "unresolved" + region + own
    if all(family.is_safe(c.classes) for c in leaf.candidates):
        return f"safe: {family.name}" + own
    return f"not {family.name}" + region + own


def _verdict(checker: Checker, leaf) -> str:
    if 'asm("call ' in leaf.text:
        return "inline asm call: " + _plain_verdict(checker, leaf)
    return _plain_verdict(checker, leaf)


def _plain_verdict(checker: Checker, leaf) -> str:
    if leaf.kind == "static_call":
        return "safe: static_call/ubsan (accepted by objtool)"
    if leaf.kind == "icall":
        return "indirect" + (" (in instrumentation region)" if leaf.rel > 0 else "")
    if leaf.kind == "unresolved":
        return "unresolved" + (" (in instrumentation region)" if leaf.rel > 0 else "")
    noinstr = checker.rules.named("noinstr")  # the objtool view: is the callee noinstr?
    unsafe = [c for c in leaf.candidates if not noinstr.is_safe(c.classes)]
    if not unsafe:
        return "safe: noinstr"
    region = " (in instrumentation region)" if leaf.rel > 0 else ""
    if all(C.INLINE in c.classes for c in unsafe):
        empty = ", body makes no call" if all(checker.is_empty(c) for c in unsafe) else ""
        return f"inline (may be out-of-lined{empty})" + region
    return "instrumentable" + region
