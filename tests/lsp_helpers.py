"""Shared pieces of the language-server tests: a recording pytest-lsp client and small waits.

The server under test is the real ``kannot lsp`` process over stdio (``python -m kannot lsp``).
"""
from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path

from lsprotocol import types as T
from pygls.protocol import default_converter
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

PROFILES = ["visual-studio-code", "neovim", "emacs"]
SERVER = [sys.executable, "-m", "kannot", "lsp", "-j", "1", "--no-cache"]  # the fixture tree stays as it is


def recording_client() -> LanguageClient:
    """pytest-lsp's client, also keeping every publishDiagnostics in order (``client.published``)."""
    client = LanguageClient(converter_factory=default_converter)
    client.published = []  # type: ignore[attr-defined]
    features = dict(DEFAULT_CLIENT_FEATURES)

    def publish(client: LanguageClient, params: T.PublishDiagnosticsParams):
        client.diagnostics[params.uri] = params.diagnostics
        client.published.append(params)  # type: ignore[attr-defined]

    features[T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    register_lsp_features(client, features)
    return client


def config(*extra: str, env: dict[str, str] | None = None) -> ClientServerConfig:
    return ClientServerConfig(server_command=[*SERVER, *extra], client_factory=recording_client, server_env=env)


def init_params(root: Path, profile: str, **options) -> T.InitializeParams:
    return T.InitializeParams(
        capabilities=client_capabilities(profile),
        root_uri=from_fs_path(str(root)),
        workspace_folders=[T.WorkspaceFolder(uri=from_fs_path(str(root)), name=root.name)],
        initialization_options=options or None,
    )


def uri_of(path: Path) -> str:
    return from_fs_path(str(path))


def open_doc(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = uri_of(path)
    client.text_document_did_open(T.DidOpenTextDocumentParams(text_document=T.TextDocumentItem(
        uri=uri, language_id="c", version=version, text=path.read_text() if text is None else text)))
    return uri


def replace_all(client: LanguageClient, uri: str, text: str, version: int) -> None:
    """didChange with the whole text as one change (what a client sends for a big edit)."""
    client.text_document_did_change(T.DidChangeTextDocumentParams(
        text_document=T.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[T.TextDocumentContentChangeWholeDocument(text=text)]))


async def wait_until(pred, timeout: float = 60.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def publishes(client: LanguageClient, uri: str) -> list[T.PublishDiagnosticsParams]:
    return [p for p in client.published if p.uri == uri]  # type: ignore[attr-defined]


async def diagnostics_for(client: LanguageClient, uri: str, version: int | None = None, timeout: float = 60.0) -> list[T.Diagnostic]:
    """The diagnostics of the first publish for ``uri`` (at ``version`` when given)."""
    def got():
        for p in publishes(client, uri):
            if version is None or p.version == version:
                return p
        return None
    p = await wait_until(got, timeout, f"diagnostics for {uri} version {version}")
    return list(p.diagnostics)


def apply_text_edits(text: str, edits: list[T.TextEdit]) -> str:
    """Apply LSP text edits (utf-16 positions; the fixtures are ASCII) to ``text``."""
    lines = text.split("\n")

    def offset(pos: T.Position) -> int:
        return sum(len(l) + 1 for l in lines[: pos.line]) + pos.character

    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        a, b = offset(e.range.start), offset(e.range.end)
        text = text[:a] + e.new_text + text[b:]
    return text


def copied_tree(src: Path, tmp_path: Path) -> Path:
    """A copy of the fixture tree ``src`` the test may change (its cache left out)."""
    root = tmp_path / "tree"
    shutil.copytree(src, root, ignore=shutil.ignore_patterns(".kannot-cache"))
    return root


async def start(client: LanguageClient, root: Path, profile: str = "visual-studio-code") -> None:
    """Initialize a session of ``client`` on the tree ``root`` (kept as ``client.root``)."""
    client.root = root
    await client.initialize_session(init_params(root, profile))
