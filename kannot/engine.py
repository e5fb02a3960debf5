"""The one analysis every front end calls: files -> facts -> index -> rules -> findings.

    result = analyze(Options(root=Path("linux"), paths=["arch/x86/kernel"], arch="x86"))
    result.findings, result.errors

The CLI, the pre-commit hook, the LSP server and the bot formats all go through ``analyze``
(or ``build_index`` + ``check_index`` when they keep an index between runs).
"""
from __future__ import annotations

import bisect
import gc
import os
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from kannot.store.cache import FactsCache
from kannot.settings import Config
from kannot.analysis.findings import CallerResult, Finding
from kannot.store.loader import FactsLoader
from kannot.rules import UNUSED_MARKER, Rule, Site
from kannot.source.files import FileError, Listing, is_sorted, read_source, scan_tree

if TYPE_CHECKING:  # the parser and the analysis are imported when a check runs, not before
    from kannot.store import memo
    from kannot.build.model import BuildModel, LoadedModel
    from kannot.facts.extract import FileFacts
    from kannot.index.core import FuncDef, Index
    from kannot.build.dotconfig import KernelConfig

MAX_PARSE_ERRORS_LISTED = 1


@dataclass
class Options:
    root: Path
    paths: list[str] | None = None  # relative to root: files or folders whose callers are reported
    arch: str | None = None
    select: list[str] | None = None
    ignore: list[str] | None = None
    jobs: int = 0  # 0: all cores
    config: Config = field(default_factory=Config)
    overrides: dict[str, bytes] = field(default_factory=dict)  # unsaved editor buffers
    removed: set[str] = field(default_factory=set)  # files absent in this state (deleted by a diff or patch)
    progress: Callable[[int, int], None] | None = None
    # phases a person may wait on (scanning the tree, reading files, checking, the reverse map):
    # ``status.phase(name, total)`` starts one, ``status.update(done)`` moves it (the CLI's bars)
    status: "Status | None" = None
    cache_dir: Path | None = None  # None: no persistent cache
    kconfig: "KernelConfig | None" = None  # --config FILE
    only_built: bool = False  # with kconfig: skip files the Kbuild Makefiles exclude
    notices: list[str] = field(default_factory=list)  # one-line notices for stderr (cache problems)
    lazy: bool = True  # parse only the files the check needs (found by the catalog); False: every file
    write_catalog_later: bool = False  # a new catalog is stored after the check (an editor's first one)
    # the tree's walk (files with their signatures, and its error lines), when the caller made it
    # already: the two sides of a patch check share one
    walked: tuple[dict[str, tuple[int, int]], list[FileError]] | None = None
    # a patch's other side (overrides, the disk's tree stored): see analyze_affected
    affected_only: bool = False
    # --assume CONFIG_X=n and the settings' assume table: facts the solver takes (SYMBOL -> y|m|n)
    assume: dict[str, str] = field(default_factory=dict)
    # the digest of the build files the arch's model was read from (set by the run; a stored
    # result is of one state of them)
    build_digest: str | None = None

    def enabled_codes(self) -> set[str]:
        return self.config.rules.select((self.config.select or []) + (self.select or []),
                                        (self.config.ignore or []) + (self.ignore or []))


class Status:
    """What a long run is doing, for a front end to show (kannot.cli.main draws one bar per phase).
    This base shows nothing."""

    name: str | None = None  # the current phase

    def phase(self, name: str, total: int | None = None) -> None:
        self.name = name

    def reading(self, done: int, total: int) -> None:
        """Files read so far: a phase of its own before the check, not during it (a lazy check
        reads a few files now and then: its own bar keeps counting functions)."""
        if self.name in (None, "scanning the tree", "reading files"):
            self.phase("reading files", total)
            self.update(done)
        else:
            self.note(f"{done} files read")

    def note(self, text: str) -> None:
        """A detail of the current phase."""

    def update(self, done: int) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class Result:
    findings: list[Finding]
    errors: list[FileError]
    index: Index | None  # None: the findings came from a stored result
    files_analyzed: int = 0  # files parsed (a lazy index parses only what the check needs)
    files_listed: int = 0  # files of the tree (or of the editor's view of it)
    files_readable: int = 0  # of those, the ones that could be read
    reused: bool = False  # the stored findings of the last run stood (kannot.store.memo); ``index`` is None
    rechecked: list[str] | None = None  # the stored findings stood but for these files' functions
    # analyze_affected: the same functions' findings in the disk's tree, and its error lines
    disk_findings: list[Finding] | None = None
    disk_errors: list[FileError] | None = None
    functions_checked: int | None = None  # protected functions checked (a whole check: known)

    def to_json(self) -> dict:
        return {
            "version": 1,
            "findings": [f.to_json() for f in self.findings],
            "errors": [e.to_json() for e in self.errors],
        }


def collect_facts(opts: Options, rels: list[str], errors: list[FileError]) -> dict[str, FileFacts]:
    """Facts of ``rels``: from the cache when the file is unchanged, else parsed in parallel."""
    loader = FactsLoader(opts, errors)
    try:
        return loader.load(rels)
    finally:
        loader.close()


def listed_with_signatures(opts: Options, errors: list[FileError]) -> Listing:
    """The files of this check, sorted, with their (size, mtime_ns) on disk ((-1, -1): none)."""
    # (one copy: changed below, before its packed form is first made)
    if opts.walked is not None:
        listed = Listing(opts.walked[0])
        errors.extend(opts.walked[1])
    else:
        listed = Listing(scan_tree(opts.root, opts.arch, errors))
    if opts.only_built and opts.kconfig is not None:
        # files the --config's Makefiles do not build are not even read (a file no Makefile
        # names stays: other .c files may include it)
        model = _build_model(opts, list(listed), None)
        for rel in [r for r in listed if r.endswith((".c", ".S")) and model.named(r)]:
            if not model.satisfiable(model.presence(rel)):
                listed.pop(rel, None)
        model.close()
    if any(rel not in listed for rel in opts.overrides):
        for rel in opts.overrides:
            listed.setdefault(rel, (-1, -1))
        listed = Listing(sorted(listed.items()))
    for rel in opts.removed:
        listed.pop(rel, None)
    return listed  # sorted: scan_tree's order


def _reader(opts: Options, errors: list[FileError]) -> Callable[[str], bytes | None]:
    lost: set[str] = set()

    def read(rel: str) -> bytes | None:
        if rel in opts.removed:
            return None
        if rel in opts.overrides:
            return opts.overrides[rel]
        data, note = read_source(opts.root, rel)
        if data is None and rel not in lost:  # gone after its facts were read: say so, once
            lost.add(rel)
            errors.append(FileError(rel, f"{note} after its facts were read; its functions were not checked"))
        return data
    return read


def build_index(opts: Options, errors: list[FileError], families: set[str] | None = None,
                listed: dict[str, tuple[int, int]] | None = None, verify: bool = True) -> Index:
    """The index ``opts`` asks for: lazy (only the files the check needs are parsed) by default,
    eager (every file parsed) with ``opts.lazy`` False. ``listed``: the tree's files with their
    signatures, when the caller has already walked it. ``verify`` False: the cache's whole-file
    check is skipped (a recheck reads a few dozen rows, and any read error is a miss)."""
    if listed is None:
        listed = listed_with_signatures(opts, errors)
    rels = list(listed)
    if not opts.lazy:
        facts = collect_facts(opts, rels, errors)
        from kannot.index.core import Index

        return Index.build(opts.root, opts.arch, facts, _reader(opts, errors), opts.kconfig,
                           _build_model(opts, rels, None), rules=opts.config.rules)
    from kannot.index.catalog import load_or_build
    from kannot.index.lazy import LazyIndex

    if families is None:
        families = families_for(opts)
    loader = FactsLoader(opts, errors, verify)
    status = opts.status
    if status is not None:
        status.phase("scanning the tree", len(rels))
    jobs = opts.jobs or os.cpu_count() or 1
    pool = model_job = loaded = None
    if jobs > 1 and opts.build_digest is None and build_digest(opts) is None:
        # the build model must be read (a cold start): in a worker, beside the catalog's scan
        # (alone, its seconds left a core idle)
        from kannot.build import model as bm
        from kannot.source import limits
        from kannot.source.workers import process_pool

        pool = process_pool(jobs, limits.configure, limits.current())
        model_job = pool.submit(bm.read_blobs, opts.root, model_arch(opts))
    try:
        catalog = load_or_build(opts.root, rels, jobs, errors, loader.cache,
                                loader.notices, overrides=opts.overrides,
                                progress=(lambda done, _total: status.update(done)) if status is not None else None,
                                sigs=(listed if isinstance(listed, Listing) else Listing(listed)).packed()[1],
                                write="later" if opts.write_catalog_later else "background", pool=pool)
        if model_job is not None:
            loaded = bm.from_blobs(model_arch(opts), model_job.result(), loader.cache, opts.notices)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    index = LazyIndex.create(opts.root, opts.arch, catalog, loader.load, _reader(opts, errors), opts.kconfig,
                             _build_model(opts, rels, loader.cache, loaded), rules=opts.config.rules)
    index.facts_loader = loader
    index.families = families
    index.catalog_generation = loader.cache.catalog_generation() if loader.cache is not None else 0
    return index


def _build_model(opts: Options, rels: list[str], cache, loaded: "LoadedModel | None" = None) -> "BuildModel":
    """The arch's build model (kannot.build.model), with the user's --config and --assume facts
    and what earlier runs' solvers learned. ``loaded``: the model's files, when the caller has
    them (else read, or taken from the cache)."""
    from kannot.build import model as bm

    numbers = {}
    if opts.kconfig is not None:
        for k, v in opts.kconfig.values.items():
            try:
                numbers[k[len("CONFIG_"):]] = int(v, 0)
            except ValueError:
                pass
    present = {k[len("CONFIG_"):] for k in opts.kconfig.values} if opts.kconfig is not None else set()
    own_cache = None
    if cache is None and opts.cache_dir is not None:
        own_cache = cache = FactsCache.open(opts.cache_dir, opts.notices, verify=False)
    try:
        files = {r for r in rels if r.endswith((".c", ".S"))} if rels else None
        if loaded is None:
            loaded = bm.load(opts.root, model_arch(opts), files, cache, opts.notices)
        opts.build_digest = loaded.digest
        model = bm.open_model(opts.root, model_arch(opts), loaded, fixed_values(opts, loaded.tree),
                              complete=opts.kconfig is not None, numbers=numbers, present=present)
        if cache is not None and loaded.digest:
            model.load_answers(cache.get_result(model.answers_key()))
    finally:
        if own_cache is not None:
            own_cache.commit(opts.notices)
            own_cache.close()
    return model


def model_arch(opts: Options) -> str:
    """The arch whose Kconfig and Kbuild the check reads."""
    if opts.arch:
        return opts.arch
    from kannot.build.arches import default_arch

    return default_arch(opts.root, opts.kconfig, opts.paths)


def fixed_values(opts: Options, tree) -> dict[str, str]:
    """SYMBOL -> y|m|n the solver takes as given: every bool and tristate of a --config (absent
    ones are n), then the --assume facts."""
    out: dict[str, str] = {}
    if opts.kconfig is not None:  # (an option the .config does not set is n)
        for k, v in opts.kconfig.values.items():
            if v in ("y", "m"):
                out[k[len("CONFIG_"):]] = v
    out.update(opts.assume)
    return out


def build_digest(opts: Options) -> str | None:
    """The digest of the build files of the arch's stored model when none changed (a stored
    result's key needs it); None when the model must be read again."""
    from kannot.build import model as bm

    if not bm.is_kernel_tree(opts.root):
        return ""  # no Kconfig, no Makefiles to read: nothing stored
    if opts.cache_dir is None:
        return None
    cache = FactsCache.open(opts.cache_dir, opts.notices, verify=False)
    if cache is None:
        return None
    try:
        return bm.stored_digest(opts.root, model_arch(opts), cache)
    finally:
        cache.close()


def one_line_per_problem(notices: list[str]) -> list[str]:
    """Notices without repeats: one line per cache (its first problem says it), one per text."""
    out: list[str] = []
    caches: set[str] = set()
    for n in notices:
        if n in out:
            continue
        if n.startswith("cache ") and ": " in n:
            where = n.split(": ", 1)[0]
            if where in caches:
                continue
            caches.add(where)
        out.append(n)
    return out


def ensure_build_digest(opts: Options, defer: bool = False) -> bool:
    """Set ``opts.build_digest``: from the stored model when its build files did not change,
    else by reading (and storing) the model now. ``defer``: a model that must be read is left
    to :func:`build_index` (which reads it beside the catalog's scan), and False is returned."""
    if opts.build_digest is not None:
        return True
    opts.build_digest = build_digest(opts)
    if opts.build_digest is None:
        if defer:
            return False
        _build_model(opts, [], None)
    return True


def families_for(opts: Options) -> set[str]:
    rules = opts.config.rules
    return {rules.rules[c].family for c in opts.enabled_codes() if c in rules.rules}


# rules --------------------------------------------------------------------------------------------

def path_filter(paths: list[str] | None) -> Callable[[str], bool]:
    """Is a file one of ``paths`` or under one of them (no paths: every file is)? Made once per
    list: a set and a tuple of folder prefixes (a patch's base side asks about every file of
    the tree against thousands of paths)."""
    stripped = [p.rstrip("/") for p in paths or ()]
    if not stripped or any(p in ("", ".") for p in stripped):
        return lambda rel: True
    exact = frozenset(stripped)
    folders = tuple(p + "/" for p in stripped)
    return lambda rel: rel in exact or rel.startswith(folders)


def protected_functions(index: Index, paths: list[str] | None,
                        only: set[tuple[str, str]] | None = None) -> Iterable[FuncDef]:
    """The protected functions under ``paths`` (every one without), in check order; with
    ``only``, those whose (file, name) is there."""
    found = _protected_under(index, paths, only)
    return found if only is None else (d for d in found if (d.path, d.name) in only)


def _protected_under(index: Index, paths: list[str] | None, only: set[tuple[str, str]] | None) -> Iterable[FuncDef]:
    """protected_functions; ``only`` spares a lazy check of a few files the other names' lookups."""
    from kannot.analysis.checks import families_of
    from kannot.index.lazy import LazyIndex

    wanted = path_filter(paths)
    if isinstance(index, LazyIndex):
        few = _few_files(index, paths)
        if few is not None:
            # a check of a few files (an editor's buffer, a pre-commit of staged files, `check
            # FILE`): their own definitions are all the protected functions there can be; each
            # name is finished (prototypes, NOKPROBE_SYMBOL()s elsewhere) before it is judged
            index.ensure_files(few)
            mine = [d for r in few for d in index.defs_in(r) if only is None or (d.path, d.name) in only]
            for name in sorted({d.name for d in mine}):
                index.defs_named(name)
            protected = [d for d in mine if families_of(d, index.rules)]
        else:
            # every file that can hold a protected function is loaded first; their classes are final
            index.protected_candidates(index.families if index.families is not None else set(index.rules.family_names))
            protected = [d for defs in index.funcs.values() for d in defs if families_of(d, index.rules) and wanted(d.path)]
        names = sorted({d.name for d in protected})
        for name in names:
            for d in list(index.defs_named(name)):
                if wanted(d.path):
                    yield d
        return
    if paths and all(p in index.files for p in paths) and hasattr(index, "defs_in"):
        # files only (the editor's open files): their definitions, without a walk of every name
        mine_ids = {id(d) for p in paths for d in index.defs_in(p)}
        for name in sorted({d.name for p in paths for d in index.defs_in(p)}):
            yield from [d for d in index.funcs.get(name, ()) if id(d) in mine_ids]
        return
    for name in sorted(index.funcs):
        for d in index.funcs[name]:
            if wanted(d.path):
                yield d


FEW_FILES_MAX = 64  # a check of at most this many files loads them, not every marked file of the tree


def _few_files(index, paths: list[str] | None) -> list[str] | None:
    """The files under ``paths`` when they are few, else None (a whole-tree or big-folder check)."""
    if not paths:
        return None
    wanted = path_filter(paths)
    every = index.catalog.files
    if any(p.rstrip("/") in ("", ".") for p in paths):
        return None  # the whole tree
    if is_sorted(every):
        # sorted: each path's files are one run of the list, found by bisection (a recheck
        # names its few files; the filter over 50,000 paths cost it 0.04 s)
        found: set[str] = set()
        for p in (p.rstrip("/") for p in paths):
            i = bisect.bisect_left(every, p)
            while i < len(every) and every[i].startswith(p) and len(found) <= FEW_FILES_MAX:
                if wanted(every[i]):
                    found.add(every[i])
                i += 1
        candidates = sorted(found)
    else:
        candidates = [r for r in every if wanted(r)]
    files = [r for r in candidates if r not in index.catalog.unreadable]
    return files if len(files) <= FEW_FILES_MAX else None


def check_functions(index: Index, opts: Options, only: set[tuple[str, str]] | None = None) -> list[CallerResult]:
    """Check each protected function of ``opts.paths`` (all without paths), in order; with
    ``only``, those of them whose (file, name) is there."""
    from kannot.analysis.analyzer import Analyzer, ExpansionBudget
    from kannot.analysis.checks import Checker

    enabled = opts.enabled_codes()
    analyzer = Analyzer(index)
    checker = Checker(index, analyzer, enabled)
    out: list[CallerResult] = []
    place: dict[str, int] = {}
    if opts.status is not None:
        opts.status.phase("checking protected functions")
    for d in protected_functions(index, opts.paths, only):
        if opts.status is not None:
            opts.status.update(len(out))
        found: list[Finding] = []
        problems: list[str] = []
        try:
            found = checker.check_function(d)
        except RecursionError:
            problems.append(f"skipped function '{d.name}': expansion nested too deep")
        except ExpansionBudget as exc:
            problems.append(f"skipped function '{d.name}': {exc}")
        except Exception as exc:  # noqa: BLE001 - one odd function never loses the run
            problems.append(f"skipped function '{d.name}': internal error: {type(exc).__name__}: {exc}")
        defs = index.defs_named(d.name)
        at = next((i for i, x in enumerate(defs) if x is d), place.get(d.name, -1) + 1)
        place[d.name] = at
        out.append(CallerResult((d.name, at), d.path, found, problems,
                                analyzer.names_by_def.get(id(d), frozenset({d.name}))))
    return out


def check_index(index: Index, opts: Options, errors: list[FileError],
                callers: list[CallerResult] | None = None) -> list[Finding]:
    """The findings of ``opts`` on ``index``. ``callers``: filled with the per-function results."""
    checked = check_functions(index, opts)
    if callers is not None:
        callers.extend(checked)

    def allows_of(rel: str):
        facts = index.files.get(rel)
        return facts.allows if facts is not None else ()

    if opts.paths and all(p in index.files for p in opts.paths):
        allow_files = sorted(set(opts.paths))
    else:
        allow_files = sorted(index.files)
    return finish(checked, allows_of, allow_files, opts, errors)


def finish(checked: list[CallerResult], allows_of, allow_files: list[str], opts: Options,
           errors: list[FileError]) -> list[Finding]:
    """The tree-wide steps on per-function results: dedupe, suppressions (``allows_of(file)``:
    its ``kannot: allow`` comments), unused markers of ``allow_files``, order, fingerprints."""
    from kannot.analysis.checks import assign_fingerprints

    enabled = opts.enabled_codes()
    raw: list[Finding] = []
    for c in checked:
        raw += c.findings
        errors.extend(FileError(c.path, m) for m in c.errors)
    findings = _dedupe(raw)
    findings = apply_suppressions(findings, allows_of, allow_files, opts, enabled,
                                  checked_callers={c.order[0] for c in checked})
    findings.sort(key=lambda f: (f.file, f.line, f.column, f.code, f.callee or "", f.message))
    assign_fingerprints(findings)
    return findings


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen = set()
    out = []
    for f in findings:
        key = (f.code, f.file, f.line, f.column, f.caller, f.callee, f.detail)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out


def apply_suppressions(findings: list[Finding], allows_of, allow_files: list[str], opts: Options,
                       enabled: set[str], checked_callers: set[str] | None = None) -> list[Finding]:
    """Drop what allow comments and the settings' [[allow]] entries suppress; report (KN007)
    comments that suppress nothing, and [[allow]] entries that suppress nothing in a check of
    the whole tree (``checked_callers``: the protected functions checked; an entry for a
    function this arch does not build is not judged)."""
    kept: list[Finding] = []
    used: set[tuple[str, int, str]] = set()
    used_pairs: set[int] = set()
    for f in findings:
        allowed = False
        # a marker at the call site, or at the call inside an always-inline helper on the chain
        sites = [(f.file, f.line)] + [(l.file, l.line) for l in f.chain[1:] if l.kind == "always_inline"]
        for file, line in sites:
            for a in allows_of(file):
                if a.line in (line, line - 1) and f.code in a.codes:
                    used.add((file, a.line, f.code))
                    allowed = True
        if not allowed and (pair := opts.config.allows(f.code, f.caller, f.callee)) is not None:
            used_pairs.add(id(pair))
            allowed = True
        if not allowed:
            kept.append(f)
    rules = opts.config.rules
    marker = rules.rule_for("marker", UNUSED_MARKER)
    if marker is not None and marker.code in enabled:
        from kannot.analysis.analyzer import Link
        wanted = path_filter(opts.paths)
        for rel in allow_files:
            if not wanted(rel):
                continue
            for a in allows_of(rel):
                for code in a.codes:
                    if code in enabled and code in rules.rules and (rel, a.line, code) not in used:
                        kept.append(Finding(marker.code, rel, a.line, 1, a.line, 1, "", None,
                            marker.message_of(Site("", "", text=code, variant="comment")),
                            [Link("", rel, a.line)], detail=code))
                    elif code not in rules.rules:
                        kept.append(Finding(marker.code, rel, a.line, 1, a.line, 1, "", None,
                            marker.message_of(Site("", "", text=code, variant="unknown")), [Link("", rel, a.line)], detail=code))
        if opts.paths is None and not opts.affected_only and checked_callers is not None:
            kept += _unused_allow_entries(opts, used_pairs, checked_callers, marker)
    return kept


def _unused_allow_entries(opts: Options, used: set[int], checked_callers: set[str], marker: Rule) -> list[Finding]:
    from kannot.analysis.analyzer import Link

    cfg = opts.config
    if cfg.path is None or not cfg.allow:
        return []
    try:
        rel = Path(cfg.path).resolve().relative_to(opts.root).as_posix()
    except ValueError:
        rel = str(cfg.path)
    try:
        text = Path(cfg.path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        text = []
    heads = [i + 1 for i, line in enumerate(text) if line.strip().startswith("[[allow]]")]
    out = []
    for i, a in enumerate(cfg.allow):
        if id(a) in used or (a.caller != "*" and a.caller not in checked_callers):
            continue
        line = heads[i] if i < len(heads) else 1
        what = f"caller '{a.caller}'" + (f", callee '{a.callee}'" if a.callee else "") + (f", code {a.code}" if a.code else "")
        out.append(Finding(marker.code, rel, line, 1, line, 1, "", None,
                           marker.message_of(Site("", "", text=what, variant="entry")), [Link("", rel, line)],
                           detail=f"allow {a.caller} {a.callee or ''} {a.code or ''}".strip()))
    return out


@contextmanager
def cyclic_gc_paused():
    """Python's cyclic collector off for a check: the facts, indexes and summaries are millions
    of small acyclic objects (reference counting frees them), and the collector's passes over them
    were 12% of a cold whole-tree run (42.8 s -> 37.7 s on 6.12, same peak memory). Worker
    processes forked meanwhile inherit the setting."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def analyze(opts: Options, before_close: Callable[[Result], None] | None = None) -> Result:
    """Check the tree as ``opts`` says. With a cache, a lazy run first asks :mod:`kannot.store.memo`
    whether the last run's findings still stand (nothing they depend on changed).
    ``before_close``: given the result as soon as it is known, before the cache is written."""
    with cyclic_gc_paused():
        result = _analyze(opts, before_close)
    assert result is not None  # (None only for analyze_affected's runs)
    return result


def analyze_affected(opts: Options) -> Result | None:
    """For a patch's other side (``opts.overrides``: the files the patch changes) against a
    stored result of the tree on disk, when nothing on disk changed since: the findings of
    only the functions the change can affect, in this state (``findings``) and on disk
    (``disk_findings``); every other function's findings are the same in both. A finding of a
    function is affected when the function was checked again, or when it lies in, or goes
    through an always-inline helper's call in, a file that was edited or checked again (where
    a marker may suppress it). None when there is no such stored result, or more than a
    recheck would be needed (the caller checks both sides)."""
    with cyclic_gc_paused():
        return _analyze(replace(opts, affected_only=True), None)


def _analyze(opts: Options, before_close: Callable[[Result], None] | None) -> Result | None:
    from kannot.store import memo

    errors: list[FileError] = []
    looked = None
    index = None
    if opts.lazy and opts.cache_dir is not None and not opts.removed:
        ready = ensure_build_digest(opts, defer=not (opts.affected_only or opts.only_built))
        # (with overrides, the record of the disk's tree, each differing override an edit of it)
        listing_errors: list[FileError] = []
        listed = listed_with_signatures(opts, listing_errors)
        if not ready:
            # the model must be read: build_index reads it beside the catalog's scan; nothing
            # stored can stand (a stored result's key has the model's digest), so the lookup
            # comes after, for the store
            index = build_index(opts, errors, listed=listed)
        looked = memo.lookup(opts, memo.result_key(opts, families_for(opts)), listed, listing_errors, partial=True)
        if index is not None:
            looked.record = None
        if opts.affected_only:
            rec = looked.record
            if rec is None or rec.disk_changed:
                return None  # nothing stored, or the disk changed too: both sides are checked
            if not rec.edited:  # the overrides are as on disk
                disk_errors = [FileError(f, m) for f, m in rec.errors]
                return Result([], disk_errors, None, *rec.counts, reused=True, disk_findings=[],
                              disk_errors=disk_errors)
        if looked.record is not None and not looked.record.edited:
            try:
                findings, errors = looked.record.result_parts()
                return Result(findings, errors, None, *looked.record.counts, reused=True)
            except (ValueError, EOFError, TypeError):  # a damaged record: the check runs
                looked.record, errors = None, []
        errors.extend(looked.listing_errors)
        if looked.record is not None:
            light = _recheck_without_index(opts, looked, errors)
            if light is not None:
                result, store = light
                if before_close is not None:
                    before_close(result)
                store()  # (only closes when there are overrides: a record is of the disk's tree)
                opts.notices[:] = one_line_per_problem(opts.notices)
                return result
    elif opts.affected_only:
        return None
    # (a stored result that stands but for some edits: the recheck reads few rows; the whole
    # file's check, 0.1 s on 6.12, is for the runs that read the cache at large)
    if index is None:
        index = build_index(opts, errors, listed=looked.listed if looked is not None else None,
                            verify=looked is None or looked.record is None)
    try:
        rechecked = recheck(opts, looked, index, errors) if looked is not None and looked.record else None
        if rechecked is None and opts.affected_only:
            return None
        if rechecked is not None:
            result, store = rechecked
        else:  # the whole check (also when a recheck found that more may have changed)
            callers: list[CallerResult] = []
            findings = check_index(index, opts, errors, callers)
            errors = sorted(set(errors), key=lambda e: (e.file, e.message))
            catalog = index.catalog
            if catalog is not None:
                n_listed, readable = len(catalog.files), len(catalog.files) - len(catalog.unreadable)
            else:
                n_listed = readable = len(index.files)
            result = Result(findings, errors, index, len(index.files), n_listed, readable,
                            functions_checked=len(callers))

            def store() -> None:
                assert looked is not None  # (called only when there is a lookup: below)
                memo.save(opts, looked, index, result.findings, result.errors,
                          (result.files_analyzed, result.files_listed, result.files_readable),
                          callers=memo.StoredCallers.pack(callers), allows=stored_allows(index.files, index.files))
        if before_close is not None:
            before_close(result)
    finally:
        close_index(index)
    if looked is not None and not opts.overrides:  # a record is of the disk's tree
        store()
    opts.notices[:] = one_line_per_problem(opts.notices)
    return result


def stored_allows(files: dict[str, FileFacts], rels) -> dict[str, list[tuple]]:
    """The ``kannot: allow`` comments of ``rels`` (of ``files``) that have some, as stored."""
    out = {}
    for rel in rels:
        facts = files.get(rel)
        if facts is not None and facts.allows:
            out[rel] = [(a.line, tuple(a.codes), a.reason) for a in facts.allows]
    return out


def recheck(opts: Options, looked, index: Index, errors: list[FileError]) -> tuple[Result, Callable[[], None]] | None:
    """A stored result whose parsed files changed only inside functions (``record.edited``):
    check again, on ``index``, the functions of the edited files whose definition changed and
    the functions whose check looked up a name whose definition changed (kannot.store.lineshift: a
    definition that only moved to other lines is not changed; the stored positions in it are
    carried to the new lines). Every other function's stored result stands. Returns the result
    and how to store it; None when more than that may have changed (the caller runs the whole
    check on the same index)."""
    from kannot.store import lineshift, memo

    from kannot.index.lazy import KnownAnswers, LazyIndex

    rec = looked.record
    edited = rec.edited
    try:
        stored = rec.callers()
        tried = rec.tried()
        known = rec.known()
    except (ValueError, EOFError, TypeError, KeyError):
        return None
    assert isinstance(index, LazyIndex)  # (a stored result is looked up for lazy runs only)
    if known is not None:
        heads, defines = known
        index.known = KnownAnswers(heads, defines, index.catalog.files)  # (before any lookup)
    index.ensure_files(sorted(edited))
    compared = _compared_edits(rec, index.files)
    if compared is None:
        return None
    changed: set[str] = set()
    own: set[tuple[str, str]] = set()  # the edited files' functions whose definitions changed
    maps = {rel: lmap for rel, (_new, _c, lmap) in compared.items()}
    for rel, (new, mine, lmap) in compared.items():
        defs = index.defs_in(rel)
        for d in defs:  # by the names callers ask (a head macro may paste a prefix on)
            if lmap is None or lineshift.def_changed(d, new, mine):
                own.add((rel, d.name))
                mine.add(d.name)
        now = {(rel, d.name) for d in defs}
        own.update(k for k in stored.keys if k[0] == rel and k not in now)  # gone, or no longer protected
        changed |= mine
    try:
        askers = stored.askers(changed)
        stuck = stored.carry(maps)
    except (IndexError, ValueError, TypeError):  # a damaged record
        return None
    # (a check of some paths reports only their callers: an edited file elsewhere is not one)
    wanted = path_filter(opts.paths)
    again = {k for k in own | askers | stuck if wanted(k[0])}
    files = sorted({rel for rel, _name in again})
    if len(files) > FEW_FILES_MAX:
        return None
    # what the whole check searched in vain among generated functions stays so: the edits
    # changed no file-scope invocation (a search reads every invocation naming a part of the name)
    index.tried.update(tried)
    checked = check_functions(index, replace(opts, paths=files), only=again) if again else []

    def store(findings, errors_, callers, allows_) -> None:
        memo.save(opts, looked, index, findings, errors_, rec.counts, callers=callers, allows=allows_, base=rec)

    return _merged_result(opts, rec, stored, checked, again, index.files, errors, index, store)


def _recheck_without_index(opts: Options, looked, errors: list[FileError]) -> tuple[Result, Callable[[], None]] | None:
    """The common edit, in which every definition of the edited files is the same text as
    before (moved or not: a comment, a blank line, an edit between functions) and no stored
    position is lost: the stored results stand with their lines carried (kannot.store.lineshift),
    and no index (no catalog) is needed, only the edited files' new facts. None otherwise."""
    from kannot.store import memo

    rec = looked.record
    try:
        stored = rec.callers()
    except (ValueError, EOFError, TypeError, KeyError):
        return None
    # (a few rows read, any read error a miss, and two written: the whole-file check is for
    # runs that read the cache at large)
    loader = FactsLoader(opts, errors, verify=False)
    try:
        files = loader.load(sorted(rec.edited))
        carried = _carried(rec, stored, files)
    except BaseException:
        loader.close()
        raise
    got = None
    if carried is not None:
        got = _merged_result(opts, rec, stored, [], set(), files, errors, None,
                             lambda *parts: memo.save_edited(opts, looked, loader, *parts))
    if got is None:
        loader.close()  # (the edited files' rows are written: the fuller recheck reads them)
        return None
    result, store = got

    def store_and_close() -> None:  # one connection for the facts and the record
        try:
            store()
        finally:
            loader.close()

    return result, store_and_close


def _compared_edits(rec, files: dict[str, FileFacts]) -> dict[str, tuple] | None:
    """Each edited file: (its new facts, the names whose definitions changed, where its
    unchanged lines went) by kannot.store.lineshift.compare; None when a file's shape changed (its
    macros, prototypes, includes... reach further than its functions) or it could not be read."""
    from kannot.store import lineshift
    from kannot.index.core import file_shape

    out: dict[str, tuple] = {}
    for rel, (old, names) in rec.edited.items():
        new = files.get(rel)
        if new is None or file_shape(new) != file_shape(old):
            return None
        out[rel] = (new, *lineshift.compare(old, new, names))
    return out


def _carried(rec, stored, files: dict[str, FileFacts]) -> bool | None:
    """True when every definition of the edited files is as it was, on its old lines or
    others, and every stored position in them was carried to its new line; else None."""
    compared = _compared_edits(rec, files)
    if compared is None or any(changed or lmap is None for _new, changed, lmap in compared.values()):
        return None
    try:
        return True if not stored.carry({rel: lmap for rel, (_new, _c, lmap) in compared.items()}) else None
    except (IndexError, ValueError, TypeError):
        return None


def _merged_result(opts: Options, rec: "memo.Record", stored, checked: list[CallerResult], again: set[tuple[str, str]],
                   files: dict[str, FileFacts], errors: list[FileError], index: Index | None,
                   store: Callable) -> tuple[Result, Callable[[], None]] | None:
    """A recheck's result: the stored per-function results with those ``again`` swapped for
    ``checked``, through the tree-wide steps; the edited files' markers and reading notes are
    taken from their new ``files`` facts. Returns it and how to store it."""

    edited = rec.edited
    try:
        allows = rec.allows()
    except (ValueError, EOFError, TypeError, KeyError):
        return None
    disk_allows = dict(allows)
    only = affected = None
    if opts.affected_only:  # the functions whose findings may differ between the two states
        affected = {rel for rel, _n in again} | set(edited)
        uncarried = stored.uncarried if stored.uncarried is not None else stored.entries
        only = stored.touching(affected, uncarried) | again  # (carrying moves lines, not files)
    merged, packed = stored.merged(checked, again, only)
    for rel in edited:
        allows.pop(rel, None)
    allows.update(stored_allows(files, edited))
    kept = [FileError(f, m) for f, m in rec.errors if f not in edited and not _skip_of(f, m, again)]
    mine_errors = kept + [e for e in errors if e.file in edited]
    findings = finish(merged, _allows_of(allows), _allow_files(allows, affected), opts, mine_errors)
    mine_errors = sorted(set(mine_errors), key=lambda e: (e.file, e.message))
    result = Result(findings, mine_errors, index, *rec.counts, rechecked=sorted({rel for rel, _n in again}))
    if only is not None:
        result.disk_findings = finish(stored.results(uncarried, only), _allows_of(disk_allows),
                                      _allow_files(disk_allows, affected), opts, [])
        result.disk_errors = [FileError(f, m) for f, m in rec.errors]
    return result, lambda: store(findings, mine_errors, packed(), allows) if not opts.overrides else None


def _allows_of(allows: dict[str, list[tuple]]) -> Callable[[str], list]:
    from kannot.facts.extract import AllowComment

    return lambda rel: [AllowComment(*a) for a in allows.get(rel, ())]


def _allow_files(allows: dict[str, list[tuple]], within: set[str] | None) -> list[str]:
    """The files whose unused markers are reported (KN007): all with markers, or those ``within``."""
    return sorted(rel for rel in allows if within is None or rel in within)


def _skip_of(rel: str, message: str, again: set[tuple[str, str]]) -> bool:
    """Is ``message`` a "skipped function" line about one of the functions checked ``again``?"""
    if not message.startswith("skipped function '"):
        return False
    name = message[len("skipped function '"):].partition("'")[0]
    return (rel, name) in again


def close_index(index: Index) -> None:
    """Commit what a lazy index parsed to the facts cache (and stop its worker pool)."""
    loader = index.facts_loader
    model = index.model
    if loader is not None and loader.cache is not None and model is not None and model.digest:
        blob = model.answers_blob()  # what the solver learned, for the next runs
        if blob is not None and loader.cache_writable:
            loader.cache.put_result(model.answers_key(), blob, loader.notices)
    if loader is not None:
        loader.close()
        if loader.written_generation is not None:  # written while the check ran
            index.catalog_generation = loader.written_generation
