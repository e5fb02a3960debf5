"""Protection classes: what an annotation word means for instrumentation (docs/semantics.md 1).

A function's classes come from the words of its header, of its prototypes (gcc merges attributes
across declarations), of NOKPROBE_SYMBOL() lines, and of learned aliases (an object-like macro
whose body is only annotations, such as riscv's ``#define __trap_section noinstr``).
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

NOINSTR = "noinstr"  # objtool's noinstr world: noinstr, __cpuidle, .noinstr/.entry/.cpuidle.text
CPUIDLE = "cpuidle"
NOTRACE = "notrace"
INLINE = "inline"  # the kernel's inline: a hint, implies notrace
ALWAYS_INLINE = "always_inline"
KPROBES = "kprobes"  # __kprobes: .kprobes.text, blacklisted
NOKPROBE = "nokprobe"  # NOKPROBE_SYMBOL(f)
NORETURN = "noreturn"
STATIC = "static"
NOINLINE = "noinline"
WEAK = "weak"  # __weak: a default any strong definition replaces at link time
KNOWN_CLASSES = frozenset({NOINSTR, CPUIDLE, NOTRACE, INLINE, ALWAYS_INLINE, KPROBES, NOKPROBE, NORETURN, STATIC,
                           NOINLINE, WEAK})

# The words of the language and of the compiler, whatever the families: inlining, linkage,
# noreturn. The protection families' own words and sections (noinstr, __kprobes, .entry.text...)
# are data: kannot/rules/families.toml, read by kannot.rules (RuleSet.word_classes adds them).
LANGUAGE_WORDS: dict[str, frozenset[str]] = {
    "__notrace_funcgraph": frozenset(),
    "inline": frozenset({INLINE, NOTRACE}),
    "__inline__": frozenset({INLINE, NOTRACE}),
    "__inline": frozenset({INLINE, NOTRACE}),
    "__always_inline": frozenset({ALWAYS_INLINE, INLINE, NOTRACE}),
    "always_inline": frozenset({ALWAYS_INLINE, INLINE, NOTRACE}),
    "__always_inline__": frozenset({ALWAYS_INLINE, INLINE, NOTRACE}),
    "nokprobe_inline": frozenset({ALWAYS_INLINE, INLINE, NOTRACE, NOKPROBE}),
    "__no_sanitize_or_inline": frozenset({ALWAYS_INLINE, INLINE, NOTRACE}),
    "__no_kasan_or_inline": frozenset({ALWAYS_INLINE, INLINE, NOTRACE}),
    "__noreturn": frozenset({NORETURN}),
    "noreturn": frozenset({NORETURN}),
    "__noreturn__": frozenset({NORETURN}),
    "_Noreturn": frozenset({NORETURN}),
    "static": frozenset({STATIC}),
    "__weak": frozenset({WEAK}),
    "weak": frozenset({WEAK}),
    "noinline": frozenset({NOINLINE}),
    "__noinline__": frozenset({NOINLINE}),
    "noinline_for_stack": frozenset({NOINLINE}),
}

# Words that may appear in an alias body without making it something other than an annotation.
NEUTRAL_WORDS = frozenset(
    """__attribute__ __attribute __visible asmlinkage __no_kcsan __no_sanitize_address
    __no_sanitize_thread __no_sanitize_undefined __no_sanitize_coverage __no_sanitize_memory
    __no_profile __signed_wrap __maybe_unused __used __section __noinstr_section section
    __disable_sanitizer_instrumentation __no_sanitize_or_inline no_instrument_function
    __no_instrument_function__ __gnu_inline __inline_maybe_unused __cold __noclone __nocfi
    externally_visible used unused __unused__ __used__ cold hot""".split()
)


def classes_of(words: Iterable[str], alias_classes: Callable[[str], frozenset[str] | None] | None,
               table: Mapping[str, frozenset[str]],
               section_prefixes: Iterable[tuple[str, frozenset[str]]] = ()) -> frozenset[str]:
    """Union of classes of ``words`` by ``table`` (word, or ``section:NAME``, -> classes: a
    RuleSet's word_classes) and the section name prefixes; ``alias_classes(word)`` resolves
    learned aliases."""
    out: set[str] = set()
    for w in words:
        c = table.get(w)
        if c is None and w.startswith("section:"):
            sec = w[len("section:"):]
            c = next((cl for prefix, cl in section_prefixes if sec.startswith(prefix)), None)
        if c is None and alias_classes is not None:
            c = alias_classes(w)
        if c:
            out |= c
    if NOINLINE in out:
        out -= {INLINE, ALWAYS_INLINE}
    return frozenset(out)


def class_words(cls: str) -> str:
    """A class of :func:`describe` in words for messages (every report format says the same)."""
    return {"none": "not noinstr, traceable", "inline": "plain inline"}.get(cls, cls)


def describe(classes: frozenset[str]) -> str:
    """The protection class as shown to users (hover, callees, why)."""
    if NOINSTR in classes:
        return "cpuidle" if CPUIDLE in classes else "noinstr"
    if ALWAYS_INLINE in classes:
        return "always_inline"
    if KPROBES in classes or NOKPROBE in classes:
        return "nokprobe"
    own = sorted(classes - KNOWN_CLASSES)  # a family of .kannot.toml: its class is its name
    if own:
        return own[0]
    if INLINE in classes:
        return "inline"
    if NOTRACE in classes:
        return "notrace"
    return "none"
