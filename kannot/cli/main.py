"""Command line: ``kannot check``, ``kannot callees``, ``kannot explain``.

Exit codes: 0 no findings, 1 findings, 2 usage or fatal error.
"""
from __future__ import annotations

import argparse
import os
import json
import sys
from pathlib import Path

from kannot import __version__
from kannot.source import limits
from kannot.settings import ConfigError, find_config, load_config, parse_assumption
from kannot.patch import flow as patchflow
from kannot.callees import callees_of
from kannot.engine import Options, Status, analyze, build_index, close_index, cyclic_gc_paused
from kannot.why import answer as why_answer
from kannot.report.json import format_json
from kannot.lsp.arguments import lsp_arguments
from kannot.report.text import format_errors, format_text, nothing_read
from kannot.rules import RuleSet
from kannot.store.cache import CACHE_DIR_NAME
from kannot.build.dotconfig import KernelConfig
from kannot.source.files import FileError, kernel_root_above

EXIT_CLEAN, EXIT_FINDINGS, EXIT_FATAL = 0, 1, 2


class UsageError(Exception):
    pass


def _codes(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kannot", description="Find unprotected calls out of noinstr, notrace and NOKPROBE kernel functions, from source.")
    p.add_argument("--version", action="version", version=f"kannot {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser, formats: tuple[str, ...] = ("text", "json")) -> None:
        sp.add_argument("--root", type=Path, help="kernel tree top (default: walk up from the current directory)")
        sp.add_argument("--arch", help="the arch whose Kconfig and Kbuild decide what exists, NAME or 'all' "
                        "(default: the .config's arch, else the host's; paths all under arch/NAME: NAME)")
        sp.add_argument("--format", choices=list(formats), default="text",
                        help="stdout format: " + ", ".join(formats) if len(formats) > 2 else None)
        sp.add_argument("-j", "--jobs", type=int, default=0, help="parallel parse jobs (default: all cores)")
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress, no file errors on stderr")
        sp.add_argument("--show-errors", action="store_true",
                        help="list every file kannot could not fully read on stderr (default: those of the findings' files, and a count)")
        sp.add_argument("--settings", type=Path, help="kannot settings file (default: .kannot.toml found upwards from the root)")
        sp.add_argument("--config", dest="kconfig", type=Path, metavar="DOTCONFIG",
                        help="a kernel .config: #if branches dead in it disappear (default arch: the config's)")
        sp.add_argument("--only-built", action="store_true",
                        help="with --config: do not even read the files its Kbuild Makefiles do not build")
        sp.add_argument("--assume", action="append", default=[], metavar="CONFIG_X=n",
                        help="take an option's value as given (repeatable): a finding that needs another value goes away")
        sp.add_argument("--cache-dir", type=Path, help="facts cache (default: $KANNOT_CACHE_DIR, else [check] cache_dir "
                        "of .kannot.toml, else ROOT/.kannot-cache)")
        sp.add_argument("--no-cache", action="store_true", help="neither read nor write the facts cache")
        sp.add_argument("--eager", action="store_true",
                        help="parse every file instead of only those the check needs (same results, slower; for comparisons)")
        limits.add_arguments(sp)  # --max-file-size, --file-time-limit

    c = sub.add_parser("check", help="report unprotected calls")
    c.add_argument("--version", action="version", version=f"kannot {__version__}")
    c.add_argument("paths", nargs="*", help="files or folders whose functions are reported (default: the root)")
    common(c, tuple(patchflow.FORMATS))
    c.add_argument("--select", type=_codes, action="extend", default=[], help="enable codes, prefixes or families (KN101, nokprobe, ALL)")
    c.add_argument("--ignore", type=_codes, action="extend", default=[], help="disable codes, prefixes or families")
    patchflow.add_check_arguments(c)  # --diff-base, --patch, baselines, more formats, --output-FORMAT

    ce = sub.add_parser("callees", help="what FUNC calls after inlining, with chains and verdicts")
    ce.add_argument("function")
    common(ce)

    w = sub.add_parser("why", help="may I kprobe or trace FUNC? which protected code reaches it, and how")
    w.add_argument("function")
    common(w)

    cl = sub.add_parser("clean", help="remove the facts cache")
    cl.add_argument("--root", type=Path)
    cl.add_argument("--cache-dir", type=Path)

    e = sub.add_parser("explain", help="print a rule's rationale and fix ('families': how to define your own)")
    e.add_argument("code", nargs="?", help="rule code or name, or 'families' (omit to list all rules)")
    e.add_argument("--root", type=Path, help="the tree whose .kannot.toml may define families of its own "
                   "(default: walk up from the current directory)")
    e.add_argument("--settings", type=Path, help="kannot settings file (default: .kannot.toml found upwards from the root)")

    ls = sub.add_parser("lsp", help="language server for editors (stdio; --tcp for debugging)")
    lsp_arguments(ls)
    return p


def _stable_streams() -> None:
    """stdout is always UTF-8, whatever the locale (LC_ALL=C with PYTHONUTF8=0 would make it
    ASCII, and one non-ASCII name would lose the whole report): bots diff these bytes. stderr keeps
    the locale's encoding for people but can no longer fail on a character."""
    for stream, encoding in ((sys.stdout, "utf-8"), (sys.stderr, None)):
        reconfigure = getattr(stream, "reconfigure", None)  # absent on tests' StringIO
        if reconfigure is None:
            continue
        try:
            if encoding is not None and (stream.encoding or "").lower().replace("-", "") != "utf8":
                reconfigure(encoding=encoding, errors="backslashreplace")
            else:
                reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # already written to, or not reconfigurable
            pass


def main(argv: list[str] | None = None) -> int:
    _stable_streams()
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_FATAL if exc.code not in (0, None) else EXIT_CLEAN
    if args.command == "lsp":
        return _run(args)  # a long-lived process: the collector runs, paused only while it checks
    with cyclic_gc_paused():
        code = _run(args)
    if argv is None:
        _leave(code)
    return code


def _leave(code: int) -> None:
    """The end of a command-line run (``argv`` None: the process's own arguments): the answer
    is printed and the cache committed, so exit without freeing the millions of small objects
    a check leaves (a tenth of a warm recheck). Not when another thread still runs (it would
    be cut off), nor when a stream cannot be flushed (the normal exit says why)."""
    import threading

    if threading.active_count() != 1:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def _run(args) -> int:
    try:
        if args.command == "explain":
            return cmd_explain(args)
        if args.command == "lsp":
            return cmd_lsp(args)
        if args.command == "clean":
            return cmd_clean(args)
        opts = _options(args)
        if args.command == "check":
            return cmd_check(args, opts)
        if args.command == "why":
            return cmd_why(args, opts)
        return cmd_callees(args, opts)
    except (UsageError, ConfigError, ValueError) as exc:
        print(f"kannot: error: {exc}", file=sys.stderr)
        return EXIT_FATAL
    except OSError as exc:  # an unwritable cache folder for `clean`, a settings file that is a folder...
        if isinstance(exc, BrokenPipeError):
            return _reader_left()
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"kannot: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FATAL
    except KeyboardInterrupt:
        print("kannot: interrupted", file=sys.stderr)
        return EXIT_FATAL
    except Exception as exc:  # noqa: BLE001 - a bug: exit 2, not the 1 of "findings", and one line
        print(f"kannot: internal error: {type(exc).__name__}: {exc} (a bug: please report it with the command and "
              f"`kannot --version` {__version__}, as README.md's 'Reporting bugs' says)", file=sys.stderr)
        return EXIT_FATAL


def _reader_left() -> int:
    """`kannot check | head`: the reader left; stop quietly, as grep does."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError:
        pass
    return EXIT_FATAL


def _options(args) -> Options:
    limits.configure(limits.from_args(args))
    root = args.root
    if root is None:
        root = kernel_root_above(Path.cwd())
        if root is None:  # never scan (and cache) whatever folder the command was typed in
            raise UsageError(f"not inside a Linux kernel tree (no Kbuild, arch/ and include/linux in {Path.cwd()} "
                             "or above); pass --root")
    if not root.is_dir():
        raise UsageError(f"root {root} is not a directory")
    root = root.resolve()
    cfg_path = args.settings if args.settings is not None else find_config(root)
    if args.settings is not None and not args.settings.is_file():
        raise UsageError(f"settings file {args.settings} not found (--settings is kannot's .kannot.toml; "
                         "--config is the kernel's .config)")
    cfg = load_config(cfg_path)
    paths = None
    if getattr(args, "paths", None):
        paths = []
        for p in args.paths:
            full = (Path.cwd() / p).resolve() if not Path(p).is_absolute() else Path(p).resolve()
            if not full.exists() and not Path(p).is_absolute() and (root / p).exists():
                full = (root / p).resolve()  # a path relative to --root
            if not full.exists():
                raise UsageError(f"{p}: no such file or directory")
            try:
                rel = full.relative_to(root).as_posix()
            except ValueError:
                raise UsageError(f"{p} is outside the root {root}")
            paths.append("" if rel == "." else rel)
    opts = Options(root=root, paths=paths, arch=args.arch or cfg.arch, jobs=args.jobs, config=cfg,
                   select=getattr(args, "select", None), ignore=getattr(args, "ignore", None),
                   lazy=not getattr(args, "eager", False))
    opts.assume = dict(cfg.assume)
    for text in getattr(args, "assume", None) or ():
        sym, val = parse_assumption(text)
        opts.assume[sym] = val
    if getattr(args, "kconfig", None) is not None:
        if not args.kconfig.is_file():
            raise UsageError(f"kernel .config {args.kconfig} not found (--config is the kernel's .config; "
                             "kannot's own settings file is --settings)")
        opts.kconfig = KernelConfig.load(args.kconfig)
        opts.only_built = bool(getattr(args, "only_built", False))
    if getattr(args, "only_built", False) and opts.kconfig is None:
        raise UsageError("--only-built needs --config DOTCONFIG")
    _choose_arch(args, opts)
    if not args.no_cache:
        opts.cache_dir = cache_dir_of(args, root, cfg)
    opts.enabled_codes()  # validates --select/--ignore early
    if not args.quiet and sys.stderr.isatty() and getattr(args, "format", "text") in ("text", "concise"):
        opts.status = BarStatus()  # people at a terminal; never with a machine format
    return opts


def cache_dir_of(args, root: Path, cfg=None) -> Path:
    """--cache-dir, else $KANNOT_CACHE_DIR, else the settings' cache_dir, else ROOT/.kannot-cache:
    a pre-commit hook, an editor and the user's own runs can share one cache."""
    if getattr(args, "cache_dir", None) is not None:
        return args.cache_dir.resolve()
    env = os.environ.get("KANNOT_CACHE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    if cfg is not None and cfg.cache_dir is not None:
        return cfg.cache_dir
    return (root / CACHE_DIR_NAME).resolve()


def _choose_arch(args, opts: Options) -> None:
    """--arch NAME must be an arch of the tree; without it, the kernel's conventions choose
    one (said once on stderr); 'all' is every arch in turn (``kannot check``)."""
    from kannot.build.arches import arch_reason, default_arch, tree_arches
    from kannot.build.model import is_kernel_tree

    known = tree_arches(opts.root) or _arch_folders(opts.root)
    if opts.arch == "all":
        if args.command != "check":
            raise UsageError("--arch all is for `kannot check`; name one arch here")
        if not known:
            raise UsageError("--arch all: the tree has no arch/ folders")
        return
    if opts.arch is not None:
        if known and opts.arch not in known:
            raise UsageError(f"unknown arch {opts.arch!r}: this tree has {', '.join(known)} (or 'all')")
        return
    if opts.kconfig is not None and opts.kconfig.arch and (not known or opts.kconfig.arch in known):
        opts.arch = opts.kconfig.arch
        return
    opts.arch = default_arch(opts.root, opts.kconfig, opts.paths)
    if known and opts.arch not in known:
        raise UsageError(f"no --arch given and the default ({opts.arch}, {arch_reason(opts.root, opts.kconfig, opts.paths)}) "
                         f"is not an arch of this tree: pass --arch ({', '.join(known)} or all)")
    if is_kernel_tree(opts.root) and getattr(args, "format", "text") != "checkpatch":
        # (a notice: said with the others once the run has started, never before a usage error)
        opts.notices.append(f"checking for arch {opts.arch} ({arch_reason(opts.root, opts.kconfig, opts.paths)}); "
                            f"--arch NAME or --arch all for others")


def _arch_folders(root: Path) -> list[str]:
    try:
        return sorted(p.name for p in (root / "arch").iterdir() if p.is_dir())
    except OSError:
        return []


class BarStatus(Status):
    """One tqdm bar per phase on stderr, shown once the phase has lasted a second."""

    def __init__(self, stream=None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.name: str | None = None
        self.bar = None

    def phase(self, name: str, total: int | None = None) -> None:
        if name == self.name and self.bar is not None:
            if total is not None and total != self.bar.total:
                self.bar.total = total  # a phase whose work grows (the lazy reads)
                self.bar.refresh()
            return
        self.close()
        from tqdm import tqdm

        self.name = name
        self.bar = tqdm(total=total, desc=f"kannot: {name}", unit="file" if "function" not in name else "fn",
                        leave=False, file=self.stream, delay=1.0, dynamic_ncols=True)

    def update(self, done: int) -> None:
        if self.bar is not None and done > self.bar.n:
            self.bar.update(done - self.bar.n)

    def note(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar = None
        self.name = None


def _say_notices(args, opts: Options) -> None:
    if not args.quiet:
        for n in opts.notices:
            print(f"kannot: {n}", file=sys.stderr)


def cmd_clean(args) -> int:
    root = args.root or kernel_root_above(Path.cwd())
    if root is None and args.cache_dir is None:
        raise UsageError(f"not inside a Linux kernel tree (no Kbuild, arch/ and include/linux in {Path.cwd()} "
                         "or above); pass --root or --cache-dir")
    root = (root or Path.cwd()).resolve()
    cache_dir = cache_dir_of(args, root, load_config(find_config(root)))
    if not (cache_dir / "facts.sqlite").exists() and not cache_dir.exists():
        print(f"kannot: no cache at {cache_dir}")
        return EXIT_CLEAN
    from kannot.store.cache import cache_side_files

    for path in [cache_dir / n for n in ("facts.sqlite", "facts.sqlite-wal", "facts.sqlite-shm")] + cache_side_files(cache_dir):
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    try:
        cache_dir.rmdir()
    except OSError:
        pass  # other files in it: leave the folder
    print(f"kannot: removed the cache at {cache_dir}")
    return EXIT_CLEAN


def cmd_check(args, opts: Options) -> int:
    if opts.arch == "all":
        if patchflow.wants(args):
            raise UsageError("--arch all checks whole trees; with --patch/--diff-base/--baseline name one arch")
        result = analyze_every_arch(opts)
    elif patchflow.wants(args):
        return patchflow.cmd_check(args, opts)
    else:
        result = analyze(opts)
    if opts.status is not None:
        opts.status.close()
    _say_notices(args, opts)
    if args.format == "json":
        sys.stdout.write(format_json(result.findings, result.errors))
    else:
        sys.stdout.write(format_text(result.findings, result.errors))
        if not args.quiet:
            sys.stderr.write(format_errors(result.errors, result.findings, args.show_errors))
            if not result.findings and result.files_readable:
                print(f"kannot: no findings ({clean_what(result)})", file=sys.stderr)
    if not result.files_readable:
        print(f"kannot: error: {nothing_read(result.errors) if result.files_listed else 'no C files found under the root'}", file=sys.stderr)
        return EXIT_FATAL
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


def clean_what(result) -> str:
    if result.functions_checked is not None:
        return f"{result.functions_checked} protected function(s) checked"
    if result.reused:
        return "nothing changed since the stored result"
    return "the edited files' protected functions checked again"


def analyze_every_arch(opts: Options):
    """``--arch all``: every arch of the tree in turn (each run drops what it built before the
    next); a finding real on several arches is said once, with their names."""
    from dataclasses import replace

    from kannot.build.arches import tree_arches
    from kannot.analysis.checks import assign_fingerprints
    from kannot.analysis.findings import Finding

    arches = tree_arches(opts.root) or _arch_folders(opts.root)
    merged: dict[tuple, Finding] = {}
    errors: dict[tuple[str, str], FileError] = {}
    last = None
    checked: int | None = 0
    for arch in arches:
        one = replace(opts, arch=arch, notices=[], build_digest=None)
        result = analyze(one)
        checked = None if checked is None or result.functions_checked is None else checked + result.functions_checked
        opts.notices.extend(n for n in one.notices if n not in opts.notices)
        for f in result.findings:
            key = (f.code, f.file, f.line, f.column, f.caller, f.callee, f.detail)
            kept = merged.get(key)
            if kept is None:
                f.arches = [arch]
                merged[key] = f
            else:
                kept.arches.append(arch)
        for e in result.errors:
            errors.setdefault((e.file, e.message), e)
        last = replace(result, index=None)
        del result
        drop_arch_state()
    findings = sorted(merged.values(), key=lambda f: (f.file, f.line, f.column, f.code, f.callee or "", f.message))
    assign_fingerprints(findings)
    assert last is not None
    return replace(last, findings=findings, errors=sorted(errors.values(), key=lambda e: (e.file, e.message)), index=None,
                   functions_checked=checked)


def drop_arch_state() -> None:
    """What one arch's check built and no other needs: its interned formulas and parsed
    conditions, and its index (cyclic, and the collector is paused during a run)."""
    import gc

    from kannot.build import cppcond, logic

    logic.reset()
    cppcond.reset()
    gc.collect()


def cmd_callees(args, opts: Options) -> int:
    errors: list[FileError] = []
    index = build_index(opts, errors)
    try:
        if not index.defs_named(args.function):
            raise UsageError(no_function(index, args.function))
        callees = callees_of(index, args.function)
    finally:
        close_index(index)
        if opts.status is not None:
            opts.status.close()
    if args.format == "json":
        print(json.dumps({"function": args.function, "callees": callees}, indent=2))
        return EXIT_CLEAN
    # one line per distinct callee, path and condition (an #ifdef'd body reaches the same call
    # on several paths; each line says when)
    lines: dict[tuple, list[int]] = {}
    for c in callees:
        via = " -> ".join(l["function"] for l in c["chain"][1:] if l["kind"] in ("always_inline", "macro"))
        key = (c["definition"]["file"], c["callee"] or c["text"], c["verdict"], via, c["condition"], " ".join(c["witness"]))
        lines.setdefault(key, [])
        if c["line"] not in lines[key]:
            lines[key].append(c["line"])
    for (file, name, verdict, via, cond, witness), at in lines.items():
        print(f"{file}:{','.join(map(str, at))}: {name}: {verdict}" + (f"  (via {via})" if via else "")
              + (f"  [only when {cond}; for example {witness}]" if cond and witness else f"  [only when {cond}]" if cond else ""))
    return EXIT_CLEAN


def no_function(index, name: str) -> str:
    """'no function named NAME in the tree', with close names as git suggests commands."""
    import difflib

    catalog = index.catalog  # a lazy index knows every head by its catalog
    names = list(catalog.heads_index.as_dict()) if catalog is not None else list(index.funcs)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.75)
    return f"no function named '{name}' in the tree" + (f"; did you mean {', '.join(close)}?" if close else "")


def cmd_why(args, opts: Options) -> int:
    answer = why_answer(opts, args.function)
    if opts.status is not None:
        opts.status.close()
    if answer["verdict"].startswith("unknown: no definition"):
        index = build_index(opts, [])
        try:
            raise UsageError(no_function(index, args.function))
        finally:
            close_index(index)
    if args.format == "json":
        print(json.dumps(answer, indent=2))
        return EXIT_CLEAN
    print(f"{args.function}: {answer['verdict']}")
    for r in answer["reached_from"][:20]:
        via = " -> ".join([r["caller"], *r["via"], args.function])
        print(f"  {r['file']}:{r['line']}: {r['family']} {via}")
    if len(answer["reached_from"]) > 20:
        print(f"  ... and {len(answer['reached_from']) - 20} more (--format json lists all)")
    return EXIT_CLEAN


def cmd_lsp(args) -> int:
    try:
        from kannot.lsp.server import run
    except ImportError as exc:
        raise UsageError(f"kannot lsp needs pygls 2 and lsprotocol ({exc}); install them with: pip install 'kannot[lsp]'")
    return run(args)


def cmd_explain(args) -> int:
    rules = _explain_rules(args)
    if not args.code:
        for code, r in sorted(rules.rules.items()):
            state = "on " if r.default_enabled else "off"
            print(f"{code}  {state}  {r.family:9} {r.name:24} {r.summary}")
        return EXIT_CLEAN
    if args.code.lower() in ("families", "family"):
        print(explain_families(rules))
        return EXIT_CLEAN
    rule = rules.lookup(args.code)
    if rule is None:
        raise UsageError(f"unknown rule {args.code!r} (a code such as KN001 or a name such as noinstr-call); "
                         "`kannot explain` lists them")
    print(rule.explain())
    return EXIT_CLEAN


def _explain_rules(args) -> RuleSet:
    """kannot's rules, with those of the families the settings define (found from --root, else
    from the current directory)."""
    if args.settings is not None:
        if not args.settings.is_file():
            raise UsageError(f"settings file {args.settings} not found")
        return load_config(args.settings).rules
    start = (args.root or Path.cwd()).resolve()
    return load_config(find_config(start)).rules


def explain_families(rules: RuleSet) -> str:
    """``kannot explain families``: the families of this check, and how to define one."""
    lines = ["Protection families (kannot/rules/families.toml; a tree's own from .kannot.toml):", ""]
    width = max(len(", ".join(f.codes)) for f in rules.families) + 1
    for fam in rules.families:
        how = "regions count" if fam.regions else "no regions"
        reach = "calls of always-inline helpers count" if fam.transitive else "direct calls only"
        words = ", ".join(sorted(fam.words) + [f"section {s}" for s in sorted(fam.sections)] + [f"{i}(f)" for i in sorted(fam.invocations)])
        origin = "" if fam.builtin else "  (.kannot.toml)"
        lines.append(f"  {fam.name:10} {', '.join(fam.codes):{width}} {how}; {reach}{origin}")
        lines.append(f"  {'':10} marked by: {words}")
    lines += ["", FAMILY_HELP]
    return "\n".join(lines)


FAMILY_HELP = """\
A family of your own: functions carrying a mark must call only functions carrying it (or another
class you name in 'safe'). Add to .kannot.toml:

    [[family]]
    name = "myvendor"                 # lower-case; also a --select/--ignore token
    words = ["__myvendor_text"]       # the annotation words that mark a function (required;
                                      # blanked before parsing, like kannot's own)
    sections = [".myvendor.text"]     # section names that mark it too, in the files kannot reads
                                      # for the words (every file with --eager)
    safe = ["myvendor"]               # classes a callee may have (default: the family's own;
                                      # kannot's: noinstr, notrace, inline, always_inline, kprobes...)
    transitive = false                # true: calls inside __always_inline helpers count as its own
    regions = false                   # true: calls inside instrumentation_begin()/end() are fine
    severity = "error"                # or "warning" (each rule may say otherwise)
    default_enabled = true            # false: only with --select myvendor

    [[family.rule]]
    code = "KNX01"                    # 2-4 capitals and 2-4 digits; KN and three digits are kannot's
    kind = "call"                     # call | indirect-call | unresolved
    name = "myvendor-call"            # optional; --select/--ignore take it too
    message = "{label} function '{caller}' calls '{callee}()'{via}, which is not in .myvendor.text"
    summary = "..."                   # optional, with rationale and fix: `kannot explain KNX01`

Message fields: {label} {family} {caller} {callee} {via} {text}. The codes work everywhere kannot's
do: --select/--ignore, /* kannot: allow KNX01 <reason> */, [[allow]] code, every report format and
the editor's diagnostics. A bad key, code or clash is a one-line error (exit 2)."""


if __name__ == "__main__":
    sys.exit(main())
