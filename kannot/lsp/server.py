"""``kannot lsp``: a language server that shows kannot's findings while the code is written.

It adds no analysis of its own, and no engine of its own: the checks are a
:class:`kannot.session.Session`'s, the lazy engine ``kannot check FILES`` uses (the catalog, a lazy
index filled on demand, stored results), held in memory between edits. The open documents are
the checked paths and their texts overrides of the files' bytes. The first check of the open
files is a stored result when one stands, else a lazy check; an edit inside functions replaces
that file's facts in the session's index and checks again only the functions it can reach, with
the other functions' results kept; anything else (a new name, a changed macro, a document opened
or closed) is a whole check of the open files.

Threads: the event loop answers the client; one worker thread owns the session (checks, hover
and code-action look-ups run there in order), so nothing else ever sees it half updated. The
first check reports ``$/progress``; requests that need the index answer at once meanwhile.

Diagnostics are pushed (``textDocument/publishDiagnostics`` with the document version), or pulled
(``textDocument/diagnostic``) by clients that can pull and be told to refresh, or when the client
asks for it with ``initializationOptions: {"diagnostics": "pull"}``. Results computed for a version
that is no longer the document's are dropped.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import ipaddress
import logging
import multiprocessing
import os
import re
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from kannot.rules.classes import class_words
from kannot import __version__
from kannot.rules import classes as C
from kannot.facts import cpp
from kannot.source import limits
from kannot.lsp.arguments import lsp_arguments
from kannot.analysis.checks import Finding
from kannot.store.cache import CACHE_DIR_NAME
from kannot.settings import Config, ConfigError, find_config, load_config
from kannot.engine import Options, Result
from kannot.session import Session
from kannot.facts.extract import header_start
from kannot.index.core import Index  # (a type: make_always_inline reads any index)
from kannot.facts.parsing import parse
from kannot.rules import rule_of, select_codes
from kannot.source.files import SKIP_DIRS, SOURCE_SUFFIXES, arch_allowed, find_kernel_root, read_source

log = logging.getLogger("kannot.lsp.server")

DEBOUNCE_S = 0.3
STORE_IDLE_S = 2.0  # a whole check's cache writes wait for this long a pause in the edits
SOURCE = "kannot"
# Up to this many files the hover's `kannot why` answer is recomputed after every edit; above it an
# answer is kept until the index is rebuilt (it walks every protected function of the tree).
WHY_FRESH_FILES = 5000


# positions ----------------------------------------------------------------------------------------

def _units(s: str, encoding: str) -> int:
    if encoding == T.PositionEncodingKind.Utf8:
        return len(s.encode("utf-8"))
    if encoding == T.PositionEncodingKind.Utf32:
        return len(s)
    return len(s.encode("utf-16-le")) // 2


def to_position(lines: list[bytes], line: int, byte_col: int, encoding: str) -> T.Position:
    """kannot's 1-based line and byte column to an LSP position in the client's encoding."""
    if line < 1:
        return T.Position(line=0, character=0)
    raw = lines[line - 1] if line <= len(lines) else b""
    prefix = raw[: max(byte_col - 1, 0)].decode("utf-8", "replace")
    return T.Position(line=line - 1, character=_units(prefix, encoding))


def to_byte_offset(text: bytes, pos: T.Position, encoding: str) -> int:
    """An LSP position in ``text`` to a byte offset."""
    lines = text.split(b"\n")
    if pos.line >= len(lines):
        return len(text)
    start = sum(len(l) + 1 for l in lines[: pos.line])
    s = lines[pos.line].decode("utf-8", "replace")
    units = 0
    for i, ch in enumerate(s):
        if units >= pos.character:
            return start + len(s[:i].encode("utf-8"))
        units += _units(ch, encoding)
    return start + len(lines[pos.line])


# findings -> diagnostics -------------------------------------------------------------------------


def finding_notes(f: Finding) -> list[tuple[str, int, str]]:
    """(file, line, text) of the chain and the callee's definitions, as the text report's notes."""
    out = []
    for link in f.chain[1:]:
        if link.kind == "callee":
            continue
        what = "macro" if link.kind == "macro" else "always-inline function"
        out.append((link.file, link.line, f"called through {what} '{link.function}'"))
    for c in f.candidates:
        if len(f.candidates) > 1 or c["class"] != "noinstr":
            out.append((c["file"], c["line"], f"'{c['function']}' is defined here ({class_words(c['class'])})"))
    for n in f.notes:  # what the build calls once gcc inlines a static helper (as the text report)
        if n.kind != "defined":
            out.append((f.file, f.line, n.render()))
    if f.witness:
        out.append((f.file, f.line, f"for example with {' '.join(f.witness)}"))
    return out


def to_diagnostic(f: Finding, lines: list[bytes], encoding: str, root: Path, related: bool, code_description: bool) -> T.Diagnostic:
    rule = rule_of(f.code)
    start = to_position(lines, f.line, f.column, encoding)
    end = to_position(lines, f.end_line, f.end_column, encoding)
    if (end.line, end.character) <= (start.line, start.character):
        end = T.Position(line=start.line, character=start.character + 1)
    notes = finding_notes(f)
    message = f.message
    info = None
    if related:
        info = [
            T.DiagnosticRelatedInformation(
                location=T.Location(uri=from_fs_path(str(root / file)) or "", range=T.Range(start=T.Position(line=max(line - 1, 0), character=0), end=T.Position(line=max(line - 1, 0), character=0))),
                message=text,
            )
            for file, line, text in notes
        ] or None
    elif notes:
        message += "".join(f"\n{file}:{line}: {text}" for file, line, text in notes)
    url = getattr(rule, "url", None)
    return T.Diagnostic(
        range=T.Range(start=start, end=end),
        message=message,
        severity=T.DiagnosticSeverity.Error if rule.severity == "error" else T.DiagnosticSeverity.Warning,
        code=f.code,
        code_description=T.CodeDescription(href=url) if url and code_description else None,
        source=SOURCE,
        related_information=info,
        data={"fingerprint": f.fingerprint, "code": f.code, "callee": f.callee},
    )


# code actions (pure: bytes in, edits out) ---------------------------------------------------------

@dataclass
class Edit:
    path: str  # relative to the root
    start: int  # byte offsets in that file's text
    end: int
    text: str


_SEQUENCE_PARENTS = frozenset({"compound_statement", "case_statement", "preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef"})
_WRAPPABLE = frozenset({"expression_statement", "declaration"})


def _offset(text: bytes, line: int, col: int) -> int:
    lines = text.split(b"\n")
    return sum(len(l) + 1 for l in lines[: line - 1]) + max(col - 1, 0)


def _indent_of(text: bytes, offset: int) -> str:
    bol = text.rfind(b"\n", 0, offset) + 1
    m = re.match(rb"[ \t]*", text[bol:offset])
    return m.group(0).decode() if m else ""


def wrap_in_region(path: str, text: bytes, line: int, col: int) -> list[Edit] | None:
    """Put the statement holding the call at ``line:col`` between instrumentation_begin() and
    instrumentation_end(). None when the call is not in a plain statement (a condition, a return)."""
    tree = parse(cpp.blank_attributes(text).text)
    at = _offset(text, line, col)
    node = tree.root_node.descendant_for_byte_range(at, at)
    while node is not None and node.type not in _WRAPPABLE:
        if node.type in ("function_definition", "return_statement", "if_statement", "while_statement",
                         "for_statement", "do_statement", "switch_statement", "translation_unit"):
            return None
        node = node.parent
    if node is None or node.parent is None:
        return None
    start, end = node.start_byte, node.end_byte
    indent = _indent_of(text, start)
    line_start = text.rfind(b"\n", 0, start) + 1
    starts_line = text[line_start:start].strip() == b""
    if node.parent.type in _SEQUENCE_PARENTS and starts_line:
        return [Edit(path, start, start, f"instrumentation_begin();\n{indent}"),
                Edit(path, end, end, f"\n{indent}instrumentation_end();")]
    # the only statement of an if/else/loop/label, or sharing its line: a block in place
    return [Edit(path, start, start, "{ instrumentation_begin(); "), Edit(path, end, end, " instrumentation_end(); }")]


def allow_comment(path: str, text: bytes, line: int, code: str) -> list[Edit]:
    """``/* kannot: allow CODE ... */`` on its own line above ``line``."""
    at = _offset(text, line, 1)
    blank = re.match(rb"[ \t]*", text[at:])  # (always matches, maybe empty)
    indent = _indent_of(text, at + (len(blank.group(0)) if blank else 0))
    return [Edit(path, at, at, f"{indent}/* kannot: allow {code} TODO: say why this call is safe */\n")]


_INLINE_WORD = re.compile(rb"\b(?:inline|__inline__|__inline)\b")


def make_always_inline(index: Index, path: str, text: bytes, name: str, line: int) -> list[Edit] | None:
    """Replace the plain ``inline`` in the header of ``name`` defined at ``path:line``."""
    ff = index.files.get(path)
    fn = next((fn for fn in (ff.functions if ff else ()) if fn.name == name and fn.line == line), None)
    if fn is None:
        return None
    name_at = _offset(text, fn.line, fn.column)
    if text[name_at : name_at + len(name)] != name.encode():
        return None  # the index is older than the text
    hs = header_start(text, name_at)
    m = None
    for m in _INLINE_WORD.finditer(text, hs, name_at):
        pass
    if m is None:
        return None
    return [Edit(path, m.start(), m.end(), "__always_inline")]


def apply_edits(text: bytes, edits: list[Edit]) -> bytes:
    """The text after ``edits`` (tests and the server's own checks use it)."""
    for e in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[: e.start] + e.text.encode() + text[e.end :]
    return text


# server -------------------------------------------------------------------------------------------

@dataclass
class Doc:
    uri: str
    rel: str
    version: int
    text: bytes


@dataclass
class Published:
    version: int | None
    findings: list[Finding]
    diagnostics: list[T.Diagnostic]
    key: str


@dataclass
class Settings:
    root: Path | None = None
    arch: str | None = None
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    diagnostics: str = "auto"  # auto | push | pull
    jobs: int = 0
    cache_dir: Path | None = None  # None: ROOT/.kannot-cache
    no_cache: bool = False


class KannotServer(LanguageServer):
    def __init__(self, settings: Settings | None = None):
        super().__init__("kannot", __version__, text_document_sync_kind=T.TextDocumentSyncKind.Incremental)
        self.settings = settings or Settings()
        self.root: Path | None = None
        self.config = Config()
        self.config_error: tuple[Path, str] | None = None
        self.config_uri: str | None = None
        self.session: Session | None = None  # the engine's lazy session (kannot.session.Session)
        self.index_state = "not started"  # not started | building (the first check) | ready | failed
        self.progress_pct = 0
        self.docs: dict[str, Doc] = {}  # rel -> open document
        self.results: dict[str, Published] = {}
        self.applied: dict[str, bytes] = {}  # the texts of the open files the session was given
        self.applied_version: dict[str, int | None] = {}
        self._progress_token: str | None = None  # until the first check is done
        self._report: Callable[[int, int], None] | None = None
        self._stale: str | None = None  # "settings" | "build": the worker renews the session first
        self._store_timer: asyncio.TimerHandle | None = None
        self._dirty: dict[str, tuple[bytes | None, int | None]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._last_change: dict[str, float] = {}
        self._runner: asyncio.Task | None = None
        self._results_changed: asyncio.Condition | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kannot-index")
        self._why_cache: dict[str, dict] = {}
        self.generation = 0
        self.pull = False
        self.encoding: str = T.PositionEncodingKind.Utf16
        self.related = False
        self.code_description = False
        self._register()

    # set-up ---------------------------------------------------------------------------------------
    def _register(self) -> None:
        def f(name, options=None):
            return lambda method: self.feature(name, options)(_plain(method))
        f(T.INITIALIZE)(self.on_initialize)
        f(T.INITIALIZED)(self.on_initialized)
        f(T.SHUTDOWN)(self.on_shutdown)
        f(T.TEXT_DOCUMENT_DID_OPEN)(self.on_open)
        f(T.TEXT_DOCUMENT_DID_CHANGE)(self.on_change)
        f(T.TEXT_DOCUMENT_DID_SAVE, T.SaveOptions(include_text=False))(self.on_save)
        f(T.TEXT_DOCUMENT_DID_CLOSE)(self.on_close)
        f(T.TEXT_DOCUMENT_HOVER)(self.on_hover)
        f(T.TEXT_DOCUMENT_CODE_ACTION, T.CodeActionOptions(code_action_kinds=[T.CodeActionKind.QuickFix]))(self.on_code_action)
        self.command("kannot.status")(_plain(self.cmd_status))
        self.command("kannot.why")(_plain(self.cmd_why))

    def on_initialize(self, params: T.InitializeParams) -> None:
        opts = params.initialization_options if isinstance(params.initialization_options, dict) else {}
        for key in ("arch", "diagnostics"):
            if isinstance(opts.get(key), str):
                setattr(self.settings, key, opts[key])
        for key in ("select", "ignore"):
            if isinstance(opts.get(key), list):
                setattr(self.settings, key, [str(v) for v in opts[key]])
        root = self.settings.root
        if root is None:
            uri = params.root_uri
            if params.workspace_folders:
                uri = params.workspace_folders[0].uri
            path = to_fs_path(uri) if uri else params.root_path
            root = Path(path) if path else Path.cwd()
        self.root = find_kernel_root(Path(root))
        caps = params.capabilities
        td = caps.text_document
        pd = td.publish_diagnostics if td else None
        self.related = bool(pd and pd.related_information)
        self.code_description = bool(pd and pd.code_description_support)
        general = caps.general
        offered = list(general.position_encodings or []) if general else []
        self.encoding = T.PositionEncodingKind.Utf16
        # pygls picks the encoding the same way; utf-16 unless the client offers otherwise
        if offered and T.PositionEncodingKind.Utf16 not in offered:
            self.encoding = offered[0]
        can_pull = bool(td and td.diagnostic)
        can_refresh = bool(caps.workspace and caps.workspace.diagnostics and caps.workspace.diagnostics.refresh_support)
        mode = self.settings.diagnostics
        self.pull = mode == "pull" or (mode == "auto" and can_pull and can_refresh)
        self.refresh = can_refresh
        if self.pull:
            self.feature(T.TEXT_DOCUMENT_DIAGNOSTIC, T.DiagnosticOptions(inter_file_dependencies=True, workspace_diagnostics=False, identifier=SOURCE))(_plain(self.on_pull))
        self._load_config()

    async def on_initialized(self, params: T.InitializedParams) -> None:
        self._results_changed = asyncio.Condition()
        enc = self.workspace.position_encoding
        if enc:
            self.encoding = enc
        if self.config_error is not None:
            self._report_config_error()
        asyncio.ensure_future(self._build())

    def on_shutdown(self, *args) -> None:
        for t in self._timers.values():
            t.cancel()
        if self._store_timer is not None:
            self._store_timer.cancel()
        if self.session is not None:
            self._worker.submit(self.session.close)  # commits what it parsed to the facts cache
        self._worker.shutdown(wait=False)

    def _load_config(self, text: str | None = None) -> None:
        assert self.root is not None
        path = find_config(self.root)
        self.config_error = None
        try:
            if text is not None and path is not None:
                self.config = _load_config_text(path, text)
            else:
                self.config = load_config(path)
        except ConfigError as exc:
            self.config = load_config(None)  # default settings (kannot's own families only)
            self.config_error = (path, str(exc)) if path is not None else None
        self.config_uri = from_fs_path(str(path)) if path is not None else None
        if self.config.arch and not self.settings.arch:
            self.settings.arch = self.config.arch

    def _report_config_error(self) -> None:
        if self.config_uri is None:
            return
        if self.config_error is None:
            self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=self.config_uri, diagnostics=[]))
            return
        path, msg = self.config_error
        self.window_show_message(T.ShowMessageParams(type=T.MessageType.Error, message=f"kannot: {msg} (using default settings until it is fixed)"))
        m = re.search(r"at line (\d+), column (\d+)", msg)
        line, col = (int(m.group(1)) - 1, int(m.group(2)) - 1) if m else (0, 0)
        diag = T.Diagnostic(range=T.Range(start=T.Position(line=line, character=col), end=T.Position(line=line, character=col + 1)),
                            message=msg, severity=T.DiagnosticSeverity.Error, source=SOURCE, code="config")
        self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=self.config_uri, diagnostics=[diag]))

    def options(self, paths: list[str] | None = None) -> Options:
        assert self.root is not None
        if not self.settings.arch:  # the kernel's conventions, as `kannot check` without --arch
            from kannot.build.arches import default_arch

            self.settings.arch = default_arch(self.root)
        return Options(root=self.root, paths=paths, arch=self.settings.arch, select=self.settings.select,
                       ignore=self.settings.ignore, jobs=self.settings.jobs, config=self.config,
                       assume=dict(self.config.assume))

    # the session ----------------------------------------------------------------------------------
    async def _build(self) -> None:
        """Start the engine's session; the first check of the open files ends the progress."""
        loop = asyncio.get_running_loop()
        assert self.root is not None
        if self.settings.root is None and not _is_kernel_tree(self.root):
            # a home directory or an unrelated project: reading every .c/.h under it helps nobody
            self.index_state = "failed"
            self.window_show_message(T.ShowMessageParams(type=T.MessageType.Warning, message=(
                f"kannot: {self.root} is not a kernel tree (no Kbuild, arch/ and include/linux/ at its top "
                "or above); open the tree's top folder, or start the server with --root")))
            return
        token = f"kannot-index-{os.getpid()}"
        progress = False
        caps = self.client_capabilities
        if caps.window and caps.window.work_done_progress:
            try:
                await asyncio.wait_for(self.work_done_progress.create_async(token), 10)
                progress = True
            except Exception as exc:  # a client that refuses: no progress bar, same checks
                log.info("no progress token: %s", exc)
        if progress:
            self.work_done_progress.begin(token, T.WorkDoneProgressBegin(title="kannot: indexing the kernel tree", message=str(self.root), percentage=0, cancellable=False))
            self._progress_token = token
        self.index_state = "building"
        state = {"last": -1}

        def report(done: int, total: int) -> None:  # in the worker (or its pool's callback)
            pct = done * 100 // max(total, 1)
            if pct != state["last"]:
                state["last"] = pct
                self.progress_pct = pct
                if progress and self._progress_token == token:  # (the first check's; later ones show none)
                    def send() -> None:
                        if self._progress_token == token:
                            self.work_done_progress.report(
                                token, T.WorkDoneProgressReport(message=f"{done}/{total} files", percentage=pct))

                    loop.call_soon_threadsafe(send)

        self._report = report
        self.session = self._new_session()
        for rel, doc in self.docs.items():
            self._dirty.setdefault(rel, (doc.text, doc.version))
        if not self._dirty:
            self._ready("no file open yet")
        self._kick()

    def _new_session(self) -> Session:
        opts = self.options()
        opts.progress = self._report
        if not self.settings.no_cache:
            assert self.root is not None
            opts.cache_dir = (self.settings.cache_dir or _shared_cache_dir(self.config) or self.root / CACHE_DIR_NAME).resolve()
        return Session(opts)

    def _ready(self, msg: str) -> None:
        """The first check is done (or there was none to make): requests get answers."""
        if self.index_state != "building":
            return
        self.index_state = "ready"
        if self._progress_token is not None:
            self.work_done_progress.report(self._progress_token, T.WorkDoneProgressReport(message="done", percentage=100))
            self.work_done_progress.end(self._progress_token, T.WorkDoneProgressEnd(message=msg))
            self._progress_token = None
        self.window_log_message(T.LogMessageParams(type=T.MessageType.Info, message=f"kannot: {self.root}: {msg}"))

    def _read(self, rel: str) -> bytes | None:
        if rel in self.applied:
            return self.applied[rel]
        assert self.root is not None
        data, _note = read_source(self.root, rel)
        return data

    def _index(self) -> Index | None:
        """Worker: the session's lazy index (made now when the last check was a stored result)."""
        if self.session is None:
            return None
        if self.session.index is None:
            self.session.prepare()
            _freeze()
        return self.session.index

    # documents ------------------------------------------------------------------------------------
    def _rel(self, uri: str) -> str | None:
        """The document's path under the root, or None for files kannot does not read."""
        if self.root is None:
            return None
        path = to_fs_path(uri)
        if not path:
            return None
        try:
            rel = Path(os.path.realpath(path)).relative_to(os.path.realpath(self.root)).as_posix()
        except ValueError:
            return None
        if not rel.endswith(SOURCE_SUFFIXES) or rel.split("/", 1)[0] in SKIP_DIRS:
            return None
        if any(part.startswith(".") for part in rel.split("/")) or not arch_allowed(rel, self.settings.arch):
            return None
        return rel

    def _is_build_file(self, uri: str) -> bool:
        path = to_fs_path(uri)
        if not path or self.root is None:
            return False
        name = os.path.basename(path)
        if not (name.startswith("Kconfig") or name in ("Makefile", "Kbuild")):
            return False
        try:
            Path(os.path.realpath(path)).relative_to(os.path.realpath(self.root))
        except ValueError:
            return False
        return True

    def _rebuild_for_build_files(self) -> None:
        self._stale = self._stale or "build"  # the worker reads the build model again
        for rel, doc in self.docs.items():
            self._dirty.setdefault(rel, (doc.text, doc.version))
        self.results.clear()
        self._kick()

    def _is_config(self, uri: str) -> bool:
        return self.config_uri is not None and uri == self.config_uri

    def on_open(self, params: T.DidOpenTextDocumentParams) -> None:
        td = params.text_document
        if self._is_config(td.uri):
            self._config_changed(td.text)
            return
        rel = self._rel(td.uri)
        if rel is None:
            self.window_log_message(T.LogMessageParams(type=T.MessageType.Log, message=f"kannot: {td.uri} is outside the kernel tree {self.root} or not C; not analysed"))
            return
        self.docs[rel] = Doc(td.uri, rel, td.version, td.text.encode("utf-8", "surrogateescape"))
        self._last_change[rel] = asyncio.get_running_loop().time()
        self._schedule(rel, 0)

    def on_change(self, params: T.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if self._is_config(uri):
            return
        rel = self._rel(uri)
        if rel is None or rel not in self.docs:
            return
        doc = self.docs[rel]
        doc.version = params.text_document.version
        doc.text = self.workspace.get_text_document(uri).source.encode("utf-8", "surrogateescape")
        # the first change after a pause is checked at once; a burst of typing waits for a
        # DEBOUNCE_S pause (results of versions superseded meanwhile are dropped)
        now = asyncio.get_running_loop().time()
        quiet = now - self._last_change.get(rel, float("-inf")) >= DEBOUNCE_S and rel not in self._timers
        self._last_change[rel] = now
        self._schedule(rel, 0 if quiet else DEBOUNCE_S)

    def on_save(self, params: T.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        if self._is_config(uri):
            self._config_changed(None)
            return
        if self._is_build_file(uri) and self.index_state != "building":
            # a Kconfig file or Makefile: which files exist, and under which options, changed
            log.info("%s saved: the build model is read again", uri)
            self._rebuild_for_build_files()
            return
        rel = self._rel(uri)
        if rel is not None and rel in self.docs:
            self._schedule(rel, 0)

    def on_close(self, params: T.DidCloseTextDocumentParams) -> None:
        rel = self._rel(params.text_document.uri)
        if rel is None or rel not in self.docs:
            return
        doc = self.docs.pop(rel)
        t = self._timers.pop(rel, None)
        if t is not None:
            t.cancel()
        self.results.pop(rel, None)
        self._dirty[rel] = (None, None)  # back to the file on disk
        if not self.pull:
            self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=doc.uri, diagnostics=[]))
        self._kick()

    def _config_changed(self, text: str | None) -> None:
        self._load_config(text)
        self._report_config_error()
        self._stale = "settings"  # the worker starts a session with the new settings
        for rel, doc in self.docs.items():
            self._dirty.setdefault(rel, (doc.text, doc.version))
        self.results.clear()
        self._kick()

    def _schedule(self, rel: str, delay: float) -> None:
        t = self._timers.pop(rel, None)
        if t is not None:
            t.cancel()
        if delay <= 0:
            self._mark(rel)
        else:
            self._timers[rel] = asyncio.get_running_loop().call_later(delay, self._mark, rel)

    def _mark(self, rel: str) -> None:
        self._timers.pop(rel, None)
        doc = self.docs.get(rel)
        if doc is None:
            return
        self._dirty[rel] = (doc.text, doc.version)
        self._kick()

    def _kick(self) -> None:
        if self.session is None or self.index_state == "failed" or self._runner is not None or not self._dirty:
            return
        self._runner = asyncio.ensure_future(self._run_jobs())

    async def _run_jobs(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._dirty:
                changes, self._dirty = self._dirty, {}
                for rel, (data, _version) in changes.items():
                    if data is None or rel not in self.docs:
                        self.applied.pop(rel, None)
                    else:
                        self.applied[rel] = data
                buffers = {rel: self.applied[rel] for rel in self.docs if rel in self.applied}

                def early(res: dict[str, Published], changes=changes) -> None:  # on the loop
                    self._set_versions(changes)
                    self._publish(res, changes)

                try:
                    res = await loop.run_in_executor(self._worker, self._job, buffers, early, loop)
                except Exception as exc:
                    log.exception("analysis failed")
                    self.window_log_message(T.LogMessageParams(type=T.MessageType.Error, message=f"kannot: analysis failed: {type(exc).__name__}: {exc}"))
                    if self.index_state == "building":
                        self.index_state = "failed"
                        self.window_show_message(T.ShowMessageParams(type=T.MessageType.Error, message=f"kannot: checking {self.root} failed: {type(exc).__name__}: {exc}"))
                        if self._progress_token is not None:
                            self.work_done_progress.end(self._progress_token, T.WorkDoneProgressEnd(message="failed"))
                            self._progress_token = None
                    continue
                self._set_versions(changes)
                self._publish(res, changes)
                for n in self._notices():
                    self.window_log_message(T.LogMessageParams(type=T.MessageType.Warning, message=f"kannot: {n}"))
                if buffers:
                    self._ready(f"{len(buffers)} open file(s) checked")
                if not self._dirty and self.session is not None and self.session.index is None:
                    # the first result was a stored one: the index the next edit needs, now
                    await loop.run_in_executor(self._worker, self._index)
        finally:
            self._runner = None
        if self._dirty:
            self._kick()
        elif self.session is not None and self.session.pending is not None:
            self._store_when_idle()

    def _store_when_idle(self) -> None:
        """The last whole check's cache writes, once no edit came for STORE_IDLE_S."""
        if self._store_timer is not None:
            self._store_timer.cancel()

        def due() -> None:
            self._store_timer = None
            if self._runner is not None or self._dirty or self._timers:
                self._store_when_idle()  # typing: later
                return
            session = self.session
            if session is not None and session.pending is not None:
                self._worker.submit(session.store)

        self._store_timer = asyncio.get_running_loop().call_later(STORE_IDLE_S, due)

    def _set_versions(self, changes: dict) -> None:
        for rel, (_data, version) in changes.items():
            if version is not None:
                self.applied_version[rel] = version

    def _notices(self) -> list[str]:
        if self.session is None:
            return []
        notices = self.session.opts.notices
        out, notices[:] = list(notices), []
        return out

    def _job(self, buffers: dict[str, bytes], early: Callable[[dict[str, Published]], None],
             loop: asyncio.AbstractEventLoop) -> dict[str, Published]:
        """Worker: check the open files with their buffers, make their diagnostics."""
        if self.index_state == "building":
            delay = float(os.environ.get("KANNOT_LSP_TEST_BUILD_DELAY") or 0)  # tests: a slow first check
            if delay > 0:
                time.sleep(delay)
        t0, cpu0 = time.perf_counter(), time.thread_time()
        stale, self._stale = self._stale, None
        if stale == "build" and self.session is not None:
            self.session.invalidate()
        elif stale == "settings" and self.session is not None:
            self.session.close()
            self.session = self._new_session()
        session = self.session
        assert session is not None
        check = sorted(buffers)
        if not check:
            return {}

        def ready(result: Result) -> None:  # a whole check's result, before the cache is written
            got = self._published(buffers, result)
            loop.call_soon_threadsafe(early, got)

        result = session.check(buffers, check, early=ready)
        if session.last == "whole":
            _freeze()
        if session.index is None or len(getattr(session.index, "catalog", session.index).files) <= WHY_FRESH_FILES:
            self._why_cache.clear()  # small trees: `why` is cheap, answers follow every edit
        self.generation += 1
        out = self._published(buffers, result)
        log.info("job: %d open, %s: %.0f ms (worker CPU %.0f ms)", len(check), session.last,
                 (time.perf_counter() - t0) * 1000, (time.thread_time() - cpu0) * 1000)
        return out

    def _published(self, buffers: dict[str, bytes], result: Result) -> dict[str, Published]:
        assert self.root is not None
        by_file: dict[str, list[Finding]] = {rel: [] for rel in buffers}
        for f in result.findings:
            if f.file in by_file:
                by_file[f.file].append(f)
        out: dict[str, Published] = {}
        for rel, fs in by_file.items():
            lines = buffers[rel].split(b"\n")
            diags = [to_diagnostic(f, lines, self.encoding, self.root, self.related, self.code_description) for f in fs]
            key = hashlib.sha256(repr([(d.code, d.range, d.message, d.related_information) for d in diags]).encode()).hexdigest()[:16]
            out[rel] = Published(None, fs, diags, key)
        return out

    def _publish(self, res: dict[str, Published], changes: dict) -> None:
        changed_elsewhere = False
        for rel, pub in res.items():
            doc = self.docs.get(rel)
            if doc is None:
                continue
            version = self.applied_version.get(rel)
            if version != doc.version:
                continue  # superseded: a newer version of the text is on its way
            pub.version = version
            old = self.results.get(rel)
            if old is not None and old.version == version and old.key == pub.key:
                continue  # published already (a whole check's early result)
            self.results[rel] = pub
            mine = rel in changes
            if not mine and old is not None and old.key == pub.key:
                continue
            if not mine:
                changed_elsewhere = True
            if not self.pull:
                self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=doc.uri, diagnostics=pub.diagnostics, version=version))
        if self.pull and changed_elsewhere and self.refresh:
            self.workspace_diagnostic_refresh(None)
        if self._results_changed is not None:
            asyncio.ensure_future(self._notify())

    async def _notify(self) -> None:
        assert self._results_changed is not None
        async with self._results_changed:
            self._results_changed.notify_all()

    async def _current(self, rel: str) -> Published | None:
        """The results for the document's current version, once they exist."""
        assert self._results_changed is not None
        while True:
            doc = self.docs.get(rel)
            if doc is None or self.index_state == "failed":
                return None
            pub = self.results.get(rel)
            if pub is not None and pub.version == doc.version:
                return pub
            if rel in self._timers:  # a pull does not wait for the debounce
                self._timers.pop(rel).cancel()
                self._mark(rel)
            async with self._results_changed:
                await self._results_changed.wait()

    # pull diagnostics -----------------------------------------------------------------------------
    async def on_pull(self, params: T.DocumentDiagnosticParams):
        rel = self._rel(params.text_document.uri)
        if rel is None or rel not in self.docs:
            return T.RelatedFullDocumentDiagnosticReport(items=[])
        pub = await self._current(rel)
        if pub is None:
            return T.RelatedFullDocumentDiagnosticReport(items=[])
        result_id = f"{pub.version}:{pub.key}"
        if params.previous_result_id == result_id:
            return T.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
        return T.RelatedFullDocumentDiagnosticReport(items=pub.diagnostics, result_id=result_id)

    # hover ----------------------------------------------------------------------------------------
    async def on_hover(self, params: T.HoverParams) -> T.Hover | None:
        rel = self._rel(params.text_document.uri)
        if rel is None or rel not in self.docs:
            return None
        doc = self.docs[rel]
        word, rng = _word_at(doc.text, params.position, self.encoding)
        if not word:
            return None
        if self.index_state == "failed":
            return None
        if self.index_state != "ready":
            text = f"kannot: indexing the tree ({self.progress_pct}%); protection classes are shown when it is done"
            return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown, value=text), range=rng)
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(self._worker, self._hover_job, word, rel)
        if answer is None:
            return None
        return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown, value=answer), range=rng)

    def _hover_job(self, name: str, rel: str) -> str | None:
        index = self._index()
        if index is None:
            return None
        named = index.defs_named(name)
        defs = [d for d in named if d.asm_section is None] or named
        if not defs:
            return None
        resolved = index.funcs_for(name, rel) or defs
        lines = [f"**{name}** — kannot protection class: " + ", ".join(f"`{c}`" for c in sorted({C.describe(d.classes) for d in resolved}))]
        for d in resolved[:6]:
            lines.append(f"- `{C.describe(d.classes)}` {d.path}:{d.line}" + (f" (from `{d.generated_by}`)" if d.generated_by else ""))
        if len(resolved) > 6:
            lines.append(f"- ... {len(resolved) - 6} more definitions")
        big = len(getattr(index, "catalog", index).files) > WHY_FRESH_FILES
        answer = self._why(name, compute=not big)
        if answer is None and big:
            lines.append("")
            lines.append(f"Whether protected code reaches it: run the `kannot.why` command on `{name}` "
                         f"(`kannot why {name}` in a terminal); on a whole tree it walks every protected function "
                         "(a minute or more), so hover does not start it on its own")
        if answer is not None:
            lines.append("")
            lines.append(answer["verdict"])
            for r in answer.get("reached_from", [])[:5]:
                via = " → ".join([r["caller"], *r.get("via", []), name])
                lines.append(f"- {r['family']} `{via}` ({r['file']}:{r['line']})")
            more = len(answer.get("reached_from", [])) - 5
            if more > 0:
                lines.append(f"- ... and {more} more (`kannot why {name}`)")
        return "\n".join(lines)

    def _why(self, name: str, compute: bool = True) -> dict | None:
        from kannot.why import why

        index = self._index()
        if index is None:
            return None
        got = self._why_cache.get(name)
        if got is None and compute:
            got = self._why_cache[name] = why(index, name)
        return got

    async def cmd_why(self, *args) -> dict | None:
        """``kannot.why NAME``: the reverse question; later hovers on NAME show the answer."""
        if not args or not isinstance(args[0], str) or self.index_state != "ready":
            return None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, self._why, args[0])

    # code actions ---------------------------------------------------------------------------------
    async def on_code_action(self, params: T.CodeActionParams) -> list[T.CodeAction] | None:
        rel = self._rel(params.text_document.uri)
        if rel is None or rel not in self.docs or self.index_state != "ready":
            return None
        doc = self.docs[rel]
        pub = self.results.get(rel)
        if pub is None or pub.version != doc.version:
            return None  # findings of an older text: their positions may be off
        lo, hi = params.range.start.line + 1, params.range.end.line + 1
        wanted = [f for f in pub.findings if f.line <= hi and f.end_line >= lo]
        if not wanted:
            return None
        loop = asyncio.get_running_loop()
        docs = {r: (d.uri, d.text) for r, d in self.docs.items()}
        return await loop.run_in_executor(self._worker, self._actions_job, rel, doc.text, wanted, pub, docs)

    def _actions_job(self, rel: str, text: bytes, findings: list[Finding], pub: Published, docs: dict[str, tuple[str, bytes]]) -> list[T.CodeAction]:
        out: list[T.CodeAction] = []
        diag_of = {id(f): d for f, d in zip(pub.findings, pub.diagnostics)}
        for f in findings:
            diag = diag_of.get(id(f))
            diags = [diag] if diag is not None else None
            if f.code in self.config.rules.region_codes:  # a call a region can cover
                edits = wrap_in_region(rel, text, f.line, f.column)
                if edits:
                    what = f"'{f.callee}()'" if f.callee else "the call"
                    out.append(self._action(f"Wrap {what} in instrumentation_begin()/instrumentation_end()", edits, diags, docs, preferred=f.code == "KN001"))
            if f.code == "KN002" and f.callee:
                edits = []
                for c in f.candidates:
                    if c["class"] != "inline":
                        continue
                    ctext = docs[c["file"]][1] if c["file"] in docs else self._read(c["file"])
                    if ctext is None:
                        continue
                    index = self._index()
                    if index is None:
                        continue
                    if hasattr(index, "ensure_files"):
                        index.ensure_files([c["file"]])
                    got = make_always_inline(index, c["file"], ctext, f.callee, c["line"])
                    if got:
                        edits += got
                if edits:
                    out.append(self._action(f"Make '{f.callee}' __always_inline", edits, diags, docs, preferred=True))
            if f.code != "KN007":
                out.append(self._action(f"Allow this call: add '/* kannot: allow {f.code} ... */' above", allow_comment(rel, text, f.line, f.code), diags, docs))
        return out

    def _action(self, title: str, edits: list[Edit], diags, docs: dict[str, tuple[str, bytes]], preferred: bool = False) -> T.CodeAction:
        assert self.root is not None
        changes: dict[str, list[T.TextEdit]] = {}
        for e in edits:
            if e.path in docs:
                uri, text = docs[e.path]
            else:
                uri, text = from_fs_path(str(self.root / e.path)) or "", self._read(e.path) or b""
            rng = T.Range(start=_pos_of(text, e.start, self.encoding), end=_pos_of(text, e.end, self.encoding))
            changes.setdefault(uri, []).append(T.TextEdit(range=rng, new_text=e.text))
        return T.CodeAction(title=title, kind=T.CodeActionKind.QuickFix, diagnostics=diags, is_preferred=preferred or None,
                            edit=T.WorkspaceEdit(changes=changes))

    # status (tests, debugging) --------------------------------------------------------------------
    def cmd_status(self, *args) -> dict:
        return {
            "root": str(self.root),
            "index": self.index_state,
            "files": len(self.session.index.files) if self.session is not None and self.session.index is not None else 0,
            "open": sorted(self.docs),
            "rebuilds": max(self.session.whole_checks - 1, 0) if self.session is not None else 0,  # whole checks after the first
            "rechecks": self.session.rechecks if self.session is not None else 0,
            "pull": self.pull,
            "encoding": str(self.encoding),
        }


def _freeze() -> None:
    """The session's new index lives until the next whole check: the collections the event loop's
    allocations trigger need not walk its millions of objects (one took a second mid-edit)."""
    gc.freeze()


def _is_kernel_tree(root: Path) -> bool:
    return (root / "Kbuild").is_file() and (root / "arch").is_dir() and (root / "include" / "linux").is_dir()


def _plain(method: Callable[..., Any]) -> Callable[..., Any]:
    """A bound method as a plain function (pygls tags its handlers with attributes)."""
    handler: Callable[..., Any]
    if asyncio.iscoroutinefunction(method):
        async def coroutine(*args: Any) -> Any:
            return await method(*args)
        handler = coroutine
    else:
        def plain(*args: Any) -> Any:
            return method(*args)
        handler = plain
    handler.__name__ = method.__name__
    return handler


def _load_config_text(path: Path, text: str) -> Config:
    """load_config() on an unsaved .kannot.toml buffer."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / path.name
        p.write_text(text, encoding="utf-8")
        cfg = load_config(p)
    cfg.path = path
    return cfg


def _pos_of(text: bytes, offset: int, encoding: str) -> T.Position:
    line = text.count(b"\n", 0, offset)
    bol = text.rfind(b"\n", 0, offset) + 1
    return T.Position(line=line, character=_units(text[bol:offset].decode("utf-8", "replace"), encoding))


_IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


def _word_at(text: bytes, pos: T.Position, encoding: str) -> tuple[str | None, T.Range | None]:
    at = to_byte_offset(text, pos, encoding)
    bol = text.rfind(b"\n", 0, at) + 1
    eol = text.find(b"\n", at)
    eol = len(text) if eol < 0 else eol
    for m in _IDENT.finditer(text, bol, eol):
        if m.start() <= at <= m.end():
            return m.group(0).decode(), T.Range(start=_pos_of(text, m.start(), encoding), end=_pos_of(text, m.end(), encoding))
    return None, None


# entry point --------------------------------------------------------------------------------------

def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def parse_tcp(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--tcp wants HOST:PORT, not {value!r}")
    host = host.strip("[]") or "127.0.0.1"
    try:
        addrs = {ai[4][0] for ai in socket.getaddrinfo(host, int(port), proto=socket.IPPROTO_TCP)}
    except socket.gaierror as exc:
        raise ValueError(f"--tcp: cannot resolve {host!r}: {exc}") from exc
    if not addrs or not all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addrs):
        raise ValueError(f"--tcp serves on loopback addresses only (127.0.0.1, ::1, localhost), not {host!r}")
    return host, int(port)


def run(args: argparse.Namespace) -> int:
    """``kannot lsp``: serve until the client says exit. Returns the exit code."""
    select, ignore = _split(args.select), _split(args.ignore)
    # unknown codes are a usage error before any client connects (a tree's own families' codes
    # are known from the settings found from --root, else from the current directory)
    rules = None
    start = args.root if args.root is not None else Path.cwd()
    if start.is_dir():
        found = find_config(start.resolve())
        if found is not None:
            try:
                rules = load_config(found).rules
            except ConfigError:
                rules = None  # said to the client, as a diagnostic of the settings file
    select_codes(select, ignore, rules)
    tcp = parse_tcp(args.tcp) if args.tcp else None
    limits.configure(limits.from_args(args))
    if args.root is not None and not args.root.is_dir():
        raise ValueError(f"root {args.root} is not a directory")
    logging.basicConfig(level=logging.INFO if args.log_file else logging.WARNING,
                        filename=str(args.log_file) if args.log_file else None,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.log_file:
        logging.getLogger("pygls").setLevel(logging.ERROR)
    try:
        multiprocessing.set_start_method("forkserver", force=True)  # parse workers: no fork of a threaded server
    except ValueError:
        pass
    settings = Settings(root=args.root.resolve() if args.root else None, arch=args.arch, select=select, ignore=ignore,
                        diagnostics=args.diagnostics, jobs=args.jobs, cache_dir=args.cache_dir, no_cache=args.no_cache)
    server = KannotServer(settings)
    if tcp is not None:
        server.start_tcp(*tcp)
        return 0
    # The protocol owns the real stdout; anything else printed (by a library, a parse worker)
    # goes to stderr instead of corrupting the stream.
    proto_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    server.start_io(sys.stdin.buffer, proto_out)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kannot lsp")
    lsp_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())


def _shared_cache_dir(config: Config) -> Path | None:
    """$KANNOT_CACHE_DIR, else the settings' cache_dir: the cache the CLI and hooks use too."""
    env = os.environ.get("KANNOT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return config.cache_dir
