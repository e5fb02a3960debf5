"""``kannot lsp`` over stdio against the real server process, under three clients' capabilities.

Each test starts the server with pytest-lsp, initialises it with the capabilities recorded from
VS Code, neovim or emacs (eglot/lsp-mode: no relatedInformation, so the chain goes in the
message), opens files of the ``mini`` fixture tree and checks what comes back.
"""
from __future__ import annotations

import asyncio
import time

import pytest
import pytest_lsp
from lsprotocol import types as T
from pytest_lsp import LanguageClient

from conftest import MINI, line_of
from kannot.engine import Options, analyze
from lsp_helpers import (PROFILES, apply_text_edits, config, copied_tree, diagnostics_for, init_params, open_doc, publishes, start,
                         replace_all, uri_of, wait_until)

pytestmark = pytest.mark.asyncio


@pytest_lsp.fixture(config=config(), params=PROFILES)
async def client(lsp_client: LanguageClient, request):
    lsp_client.profile = request.param
    await lsp_client.initialize_session(init_params(MINI, request.param))
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=config())
async def vscode(lsp_client: LanguageClient):
    await lsp_client.initialize_session(init_params(MINI, "visual-studio-code"))
    yield
    await lsp_client.shutdown_session()


def _codes_lines(diags) -> set[tuple[str, int]]:
    return {(d.code, d.range.start.line + 1) for d in diags}


# diagnostics ------------------------------------------------------------------------------------

async def test_open_publishes_findings_with_version(client: LanguageClient):
    uri = open_doc(client, MINI / "kernel/inline.c", version=7)
    diags = await diagnostics_for(client, uri, version=7)
    rel = "kernel/inline.c"
    assert _codes_lines(diags) == {
        ("KN001", line_of(MINI, rel, "chain_outer(1);")),
        ("KN002", line_of(MINI, rel, "inline_with_call();")),
        ("KN002", line_of(MINI, rel, "inline_empty_stub();")),
        ("KN001", line_of(MINI, rel, "nokprobe_inline_helper();")),
    }
    for d in diags:
        assert d.source == "kannot"
        assert d.severity == T.DiagnosticSeverity.Error
    kn002 = next(d for d in diags if d.code == "KN002" and "inline_with_call" in d.message)
    # the range is on the call: `inline_with_call` at the start of the line after the tab
    assert (kn002.range.start.character, kn002.range.end.line) == (1, kn002.range.start.line)
    chain = next(d for d in diags if "chain_leaf_plain" in d.message)
    if client.profile == "emacs":
        assert chain.related_information is None
        assert "called through always-inline function 'chain_outer'" in chain.message
        assert "include/linux/chain_outer.h:" in chain.message
        assert "'chain_leaf_plain' is defined here" in chain.message
    else:
        assert "called through" not in chain.message
        rel_info = [(r.location.uri.rsplit("/", 2)[-1], r.message) for r in chain.related_information]
        assert ("chain_outer.h", "called through always-inline function 'chain_outer'") in rel_info
        assert ("chain_inner.h", "called through always-inline function 'chain_inner'") in rel_info
        callee = [r for r in chain.related_information if "defined here" in r.message]
        assert callee and callee[0].location.uri == uri_of(MINI / rel)
        assert callee[0].location.range.start.line + 1 == line_of(MINI, rel, "void chain_leaf_plain")
        # chain_leaf_plain is in chain_entry's file: gcc may inline it, and the build then calls printk
        assert any("gcc may inline 'chain_leaf_plain' into 'chain_entry'" in r.message and "printk()" in r.message
                   for r in chain.related_information)
    # no rule has a documentation URL yet: no codeDescription rather than a wrong one
    assert all(d.code_description is None for d in diags)


async def test_progress_reported_for_the_first_index(vscode: LanguageClient):
    uri = open_doc(vscode, MINI / "kernel/regions.c")
    await diagnostics_for(vscode, uri)  # the quick lazy check publishes before the index is done

    def reports_now() -> list:
        return [r for token, rs in vscode.progress_reports.items() if str(token).startswith("kannot-index") for r in rs]

    for _ in range(600):
        if reports_now() and isinstance(reports_now()[-1], T.WorkDoneProgressEnd):
            break
        await asyncio.sleep(0.1)
    reports = reports_now()
    assert isinstance(reports[0], T.WorkDoneProgressBegin)
    assert isinstance(reports[-1], T.WorkDoneProgressEnd)
    assert any(isinstance(r, T.WorkDoneProgressReport) and r.percentage == 100 for r in reports)


async def test_change_is_debounced_and_versioned(client: LanguageClient):
    path = MINI / "kernel/regions.c"
    text = path.read_text()
    uri = open_doc(client, path)
    first = await diagnostics_for(client, uri, version=1)
    assert ("KN001", line_of(MINI, "kernel/regions.c", "plain_before();")) in _codes_lines(first)
    # three quick edits: the first may be checked at once (after a pause), the one in the middle
    # of the burst never is, the last is, after the debounce; versions only go up
    fixed = text.replace("\tplain_before();\n\tinstrumentation_begin();", "\tinstrumentation_begin();\n\tplain_before();", 1)
    assert fixed != text
    replace_all(client, uri, text + "\n", 2)
    replace_all(client, uri, text + "\n\n", 3)
    replace_all(client, uri, fixed, 4)
    last = await diagnostics_for(client, uri, version=4)
    versions = [p.version for p in publishes(client, uri)]
    assert versions in ([1, 4], [1, 2, 4]), versions
    assert ("KN001", line_of(MINI, "kernel/regions.c", "plain_before();")) not in _codes_lines(last)
    assert len(last) == len(first) - 1


async def test_unsaved_buffer_is_analysed_from_its_text(vscode: LanguageClient):
    path = MINI / "kernel/plain.c"
    text = path.read_text() + "\nnoinstr void typed_just_now(void)\n{\n\tplain_after();\n}\n"
    uri = open_doc(vscode, path, text=text)
    diags = await diagnostics_for(vscode, uri)
    line = text.split("\n").index("\tplain_after();") + 1
    assert ("KN001", line) in _codes_lines(diags)
    assert (MINI / "kernel/plain.c").read_text() != text  # nothing was written


async def test_other_open_file_republished_when_a_callee_changes(client: LanguageClient):
    caller = open_doc(client, MINI / "kernel/annotations.c")
    before = await diagnostics_for(client, caller, version=1)
    assert sum(1 for d in before if "instrumentable_work" in d.message) >= 8
    plain = MINI / "kernel/plain.c"
    callee = open_doc(client, plain)
    await diagnostics_for(client, callee, version=1)
    n = len(publishes(client, caller))
    # the callee becomes noinstr: the caller's findings about it go, without touching the caller
    replace_all(client, callee, plain.read_text().replace("void instrumentable_work(void)", "noinstr void instrumentable_work(void)"), 2)
    await diagnostics_for(client, callee, version=2)
    await wait_until(lambda: len(publishes(client, caller)) > n, 30, "republish of annotations.c")
    after = publishes(client, caller)[-1]
    assert after.version == 1
    assert not any("instrumentable_work" in d.message for d in after.diagnostics)


async def test_close_clears_and_reverts_to_disk(vscode: LanguageClient):
    path = MINI / "kernel/regions.c"
    uri = open_doc(vscode, path)
    assert await diagnostics_for(vscode, uri)
    vscode.text_document_did_close(T.DidCloseTextDocumentParams(text_document=T.TextDocumentIdentifier(uri=uri)))
    await wait_until(lambda: not publishes(vscode, uri)[-1].diagnostics, 10, "empty diagnostics after close")


async def test_files_outside_the_root_are_ignored(vscode: LanguageClient, tmp_path):
    outside = tmp_path / "elsewhere.c"
    outside.write_text("noinstr void f(void) { g(); }\n")
    uri = open_doc(vscode, outside)
    inside = open_doc(vscode, MINI / "kernel/regions.c")
    await diagnostics_for(vscode, inside)
    hover = await vscode.text_document_hover_async(T.HoverParams(text_document=T.TextDocumentIdentifier(uri=uri), position=T.Position(line=0, character=14)))
    assert hover is None
    assert publishes(vscode, uri) == []
    assert not [m for m in vscode.messages if m.type == T.MessageType.Error]


# pull diagnostics -------------------------------------------------------------------------------

@pytest_lsp.fixture(config=config())
async def puller(lsp_client: LanguageClient):
    result = await lsp_client.initialize_session(init_params(MINI, "neovim", diagnostics="pull"))
    lsp_client.server_caps = result.capabilities
    yield
    await lsp_client.shutdown_session()


async def test_pull_diagnostics(puller: LanguageClient):
    assert puller.server_caps.diagnostic_provider is not None
    path = MINI / "kernel/indirect.c"
    uri = open_doc(puller, path)
    report = await asyncio.wait_for(puller.text_document_diagnostic_async(T.DocumentDiagnosticParams(text_document=T.TextDocumentIdentifier(uri=uri))), 60)
    assert report.kind == "full"
    lines = {(d.code, d.range.start.line + 1) for d in report.items}
    assert ("KN003", line_of(MINI, "kernel/indirect.c", "ops->fn(x);")) in lines
    same = await puller.text_document_diagnostic_async(T.DocumentDiagnosticParams(text_document=T.TextDocumentIdentifier(uri=uri), previous_result_id=report.result_id))
    assert same.kind == "unchanged"
    # an edit, pulled at once (no debounce wait): the new version's findings
    text = path.read_text().replace("\tops->fn(x);\n", "\tinstrumentation_begin();\n\tops->fn(x);\n\tinstrumentation_end();\n", 1)
    replace_all(puller, uri, text, 2)
    after = await puller.text_document_diagnostic_async(T.DocumentDiagnosticParams(text_document=T.TextDocumentIdentifier(uri=uri), previous_result_id=report.result_id))
    assert after.kind == "full"
    assert len(after.items) == len(report.items) - 1
    assert publishes(puller, uri) == []  # pull mode: nothing pushed


# hover ------------------------------------------------------------------------------------------

async def _hover(client: LanguageClient, path, text: str, nth: int = 1) -> str | None:
    rel = path.relative_to(MINI).as_posix()
    line = line_of(MINI, rel, text, nth)
    col = path.read_text().split("\n")[line - 1].index(text) + 1
    uri = uri_of(path)
    h = await client.text_document_hover_async(T.HoverParams(text_document=T.TextDocumentIdentifier(uri=uri), position=T.Position(line=line - 1, character=col)))
    return h.contents.value if h is not None else None


async def test_hover_shows_class_and_who_reaches_it(client: LanguageClient):
    path = MINI / "kernel/annotations.c"
    uri = open_doc(client, path)
    await diagnostics_for(client, uri)
    plain = await _hover(client, path, "instrumentable_work")
    assert "`none`" in plain
    assert "unsafe to kprobe or trace: reached from noinstr" in plain
    protected = await _hover(client, path, "annot_leading")
    assert "`noinstr`" in protected
    idle = await _hover(client, path, "annot_cpuidle")
    assert "`cpuidle`" in idle
    inl = MINI / "kernel/inline.c"
    open_doc(client, inl)
    await diagnostics_for(client, uri_of(inl))
    assert "`inline`" in await _hover(client, inl, "inline_with_call")
    assert "`always_inline`" in await _hover(client, inl, "nokprobe_inline_helper")
    assert await _hover(client, path, "void") is None


# code actions -----------------------------------------------------------------------------------

async def _actions(client: LanguageClient, uri: str, line: int) -> list[T.CodeAction]:
    got = await client.text_document_code_action_async(T.CodeActionParams(
        text_document=T.TextDocumentIdentifier(uri=uri),
        range=T.Range(start=T.Position(line=line - 1, character=0), end=T.Position(line=line - 1, character=0)),
        context=T.CodeActionContext(diagnostics=[])))
    return list(got or [])


def _reanalyse(edit: T.WorkspaceEdit, paths: list[str]) -> list:
    """Apply the action's edit to the files' texts and run the engine on them, as the CLI would."""
    overrides = {}
    for uri, edits in edit.changes.items():
        rel = next(p for p in paths if uri.endswith(p))
        overrides[rel] = apply_text_edits((MINI / rel).read_text(), list(edits)).encode()
    for rel in overrides:
        assert rel in paths
    return analyze(Options(root=MINI, jobs=1, overrides=overrides)).findings, overrides


@pytest.mark.parametrize("rel, text, code", [
    ("kernel/regions.c", "plain_before();", "KN001"),
    ("kernel/indirect.c", "ops->fn(x);", "KN003"),
    ("kernel/inline.c", "inline_with_call();", "KN002"),
])
async def test_wrap_in_region_action_fixes_the_finding(vscode: LanguageClient, rel, text, code):
    uri = open_doc(vscode, MINI / rel)
    diags = await diagnostics_for(vscode, uri)
    line = line_of(MINI, rel, text)
    assert (code, line) in _codes_lines(diags)
    wrap = [a for a in await _actions(vscode, uri, line) if a.title.startswith("Wrap")]
    assert len(wrap) == 1
    findings, texts = _reanalyse(wrap[0].edit, [rel])
    new = texts[rel].decode()
    assert "instrumentation_begin();\n\t" + text + "\n\tinstrumentation_end();" in new
    mine = [f for f in findings if f.file == rel]
    assert not [f for f in mine if f.code == code and f.line == line + 1]
    regions = lambda fs: sorted(f.caller for f in fs if f.file == rel and f.code in ("KN005", "KN006"))  # noqa: E731
    assert regions(mine) == regions(analyze(Options(root=MINI, jobs=1)).findings)  # no unbalanced region made


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_wrap_in_region_braces_a_lone_if_body():
    from kannot.lsp.server import apply_edits, wrap_in_region
    src = b"noinstr void f(int x)\n{\n\tif (x)\n\t\tplain_after();\n}\n"
    edits = wrap_in_region("kernel/x.c", src, 4, 3)
    out = apply_edits(src, edits)
    assert out == b"noinstr void f(int x)\n{\n\tif (x)\n\t\t{ instrumentation_begin(); plain_after(); instrumentation_end(); }\n}\n"
    assert wrap_in_region("kernel/x.c", b"noinstr int f(void)\n{\n\treturn plain_check();\n}\n", 3, 9) is None


async def test_always_inline_action_edits_the_callee_file(vscode: LanguageClient):
    rel = "kernel/inline.c"
    uri = open_doc(vscode, MINI / rel)
    await diagnostics_for(vscode, uri)
    line = line_of(MINI, rel, "inline_with_call();")
    act = [a for a in await _actions(vscode, uri, line) if "__always_inline" in a.title]
    assert len(act) == 1 and act[0].is_preferred
    assert list(act[0].edit.changes) == [uri_of(MINI / "include/linux/inline_helpers.h")]
    findings, texts = _reanalyse(act[0].edit, ["include/linux/inline_helpers.h"])
    assert "static __always_inline void inline_with_call(void)" in texts["include/linux/inline_helpers.h"].decode()
    assert not [f for f in findings if f.code == "KN002" and f.caller == "inline_caller"]
    # the body is now part of the caller: its call is what remains to fix
    assert [f for f in findings if f.code == "KN001" and f.caller == "inline_caller" and f.callee == "instrumentable_work"]


@pytest.mark.parametrize("rel, text, code", [
    ("kernel/regions.c", "plain_after();", "KN001"),
    ("kernel/unresolved.c", "no_such_function_anywhere", "KN004"),
    ("kernel/regions.c", "return 1;", "KN006"),
])
async def test_allow_comment_action_suppresses_the_finding(vscode: LanguageClient, rel, text, code):
    uri = open_doc(vscode, MINI / rel)
    diags = await diagnostics_for(vscode, uri)
    line = next(d.range.start.line + 1 for d in diags if d.code == code and text in (MINI / rel).read_text().split("\n")[d.range.start.line])
    allow = [a for a in await _actions(vscode, uri, line) if a.title.startswith("Allow")]
    assert allow, [a.title for a in await _actions(vscode, uri, line)]
    findings, texts = _reanalyse(allow[0].edit, [rel])
    assert f"/* kannot: allow {code} " in texts[rel].decode().split("\n")[line - 1]
    mine = [f for f in findings if f.file == rel]
    assert not [f for f in mine if f.code == code and f.line == line + 1]
    assert not [f for f in mine if f.code == "KN007"]


async def test_code_action_applied_through_the_server(vscode: LanguageClient):
    """The edit goes back as a didChange, and the next publish no longer has the finding."""
    rel = "kernel/regions.c"
    path = MINI / rel
    uri = open_doc(vscode, path)
    before = await diagnostics_for(vscode, uri, version=1)
    line = line_of(MINI, rel, "plain_before();")
    wrap = next(a for a in await _actions(vscode, uri, line) if a.title.startswith("Wrap"))
    replace_all(vscode, uri, apply_text_edits(path.read_text(), list(wrap.edit.changes[uri])), 2)
    after = await diagnostics_for(vscode, uri, version=2)
    assert len(after) == len(before) - 1
    assert not any("plain_before" in d.message for d in after)


# settings ---------------------------------------------------------------------------------------

@pytest.fixture
def bad_config_tree(tmp_path):
    root = copied_tree(MINI, tmp_path)
    (root / ".kannot.toml").write_text("[[allow]]\ncaller = \"exc_nmi\"\ncallee = = \"x\"\n")
    return root


@pytest_lsp.fixture(config=config())
async def bad_config(lsp_client: LanguageClient, bad_config_tree):
    await start(lsp_client, bad_config_tree)
    yield
    await lsp_client.shutdown_session()


async def test_bad_config_is_a_message_and_a_diagnostic(bad_config: LanguageClient):
    root = bad_config.root
    cfg_uri = uri_of(root / ".kannot.toml")
    diags = await diagnostics_for(bad_config, cfg_uri)
    assert diags[0].severity == T.DiagnosticSeverity.Error and "invalid TOML" in diags[0].message
    assert diags[0].range.start.line == 2
    assert any(m.type == T.MessageType.Error and ".kannot.toml" in m.message for m in bad_config.messages)
    # the server goes on with default settings
    uri = open_doc(bad_config, root / "kernel/regions.c")
    assert await diagnostics_for(bad_config, uri)
    # fixed and saved: the diagnostic goes away
    (root / ".kannot.toml").write_text("[check]\nselect = [\"KN101\"]\n")
    bad_config.text_document_did_save(T.DidSaveTextDocumentParams(text_document=T.TextDocumentIdentifier(uri=cfg_uri)))
    await wait_until(lambda: not publishes(bad_config, cfg_uri)[-1].diagnostics, 30, "cleared config diagnostic")


# responsiveness ---------------------------------------------------------------------------------

@pytest_lsp.fixture(config=config(env={"KANNOT_LSP_TEST_BUILD_DELAY": "3"}))
async def slow_index(lsp_client: LanguageClient):
    await lsp_client.initialize_session(init_params(MINI, "neovim"))
    yield
    await lsp_client.shutdown_session()


async def test_requests_answered_while_the_index_builds(slow_index: LanguageClient):
    path = MINI / "kernel/annotations.c"
    uri = open_doc(slow_index, path)
    t0 = time.monotonic()
    text = await _hover(slow_index, path, "instrumentable_work")
    assert time.monotonic() - t0 < 2.5
    assert "indexing" in text
    assert await slow_index.text_document_code_action_async(T.CodeActionParams(
        text_document=T.TextDocumentIdentifier(uri=uri), range=T.Range(start=T.Position(line=0, character=0), end=T.Position(line=0, character=0)),
        context=T.CodeActionContext(diagnostics=[]))) is None
    assert publishes(slow_index, uri) == []
    assert await diagnostics_for(slow_index, uri)  # once the index is there


# superseded results -----------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_results_for_a_superseded_version_are_dropped():
    """In-process: a check that finishes after the document moved on publishes nothing for it."""
    from kannot.lsp.server import Doc, KannotServer, Published

    server = KannotServer()
    sent = []
    server.text_document_publish_diagnostics = sent.append
    rel = "kernel/regions.c"
    server.docs[rel] = Doc("file:///x/kernel/regions.c", rel, 3, b"")
    server.applied_version[rel] = 2  # the check ran on version 2; version 3 arrived meanwhile
    server._publish({rel: Published(None, [], [], "k")}, {rel: (b"", 2)})
    assert sent == [] and rel not in server.results
    server.applied_version[rel] = 3
    server._publish({rel: Published(None, [], [], "k")}, {rel: (b"", 3)})
    assert [p.version for p in sent] == [3]


@pytest_lsp.fixture(config=config())
async def not_a_tree(lsp_client: LanguageClient, tmp_path):
    (tmp_path / "main.c").write_text("noinstr void f(void) { g(); }\n")
    await start(lsp_client, tmp_path, "emacs")
    yield
    await lsp_client.shutdown_session()


async def test_a_folder_that_is_no_kernel_tree_is_not_indexed(not_a_tree: LanguageClient):
    await wait_until(lambda: not_a_tree.messages, 30, "a message")
    assert "is not a kernel tree" in not_a_tree.messages[0].message
    uri = open_doc(not_a_tree, not_a_tree.root / "main.c")
    hover = await not_a_tree.text_document_hover_async(T.HoverParams(text_document=T.TextDocumentIdentifier(uri=uri), position=T.Position(line=0, character=14)))
    assert hover is None
    assert publishes(not_a_tree, uri) == []


async def test_why_command(vscode: LanguageClient):
    uri = open_doc(vscode, MINI / "kernel/annotations.c")
    await diagnostics_for(vscode, uri)
    answer = await vscode.workspace_execute_command_async(T.ExecuteCommandParams(command="kannot.why", arguments=["instrumentable_work"]))
    assert answer["verdict"].startswith("unsafe to kprobe or trace")
    assert any(r["caller"] == "annot_leading" for r in answer["reached_from"])


# --tcp ------------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_tcp_serves_on_loopback_only(tmp_path):
    import json
    import socket
    import subprocess
    import sys

    from kannot.lsp.server import parse_tcp

    assert parse_tcp("127.0.0.1:2087") == ("127.0.0.1", 2087)
    assert parse_tcp("localhost:2087")[1] == 2087
    for bad in ("0.0.0.0:2087", "192.168.1.1:2087", "2087", "localhost:port"):
        with pytest.raises(ValueError):
            parse_tcp(bad)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "kannot", "lsp", "--no-cache", "-j", "1", "--tcp", f"127.0.0.1:{port}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() is not None else "no listener"
                time.sleep(0.1)
        with conn:
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                               "params": {"processId": None, "rootUri": uri_of(MINI), "capabilities": {}}}).encode()
            conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            conn.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(data.split(b"Content-Length: ")[1].split(b"\r\n")[0]):
                chunk = conn.recv(65536)
                assert chunk, data
                data += chunk
            reply = json.loads(data.split(b"\r\n\r\n", 1)[1])
            assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"] == "kannot"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def test_an_edit_inside_a_function_is_a_recheck(vscode: LanguageClient):
    """The first diagnostics come from the lazy engine's check of the open file; an edit inside a
    function checks again only what it can reach (no whole check), a new #define a whole one."""
    path = MINI / "kernel/regions.c"
    text = path.read_text()
    uri = open_doc(vscode, path)
    first = await diagnostics_for(vscode, uri, version=1)
    assert ("KN001", line_of(MINI, "kernel/regions.c", "plain_before();")) in _codes_lines(first)
    fixed = text.replace("\tplain_before();\n\tinstrumentation_begin();", "\tinstrumentation_begin();\n\tplain_before();", 1)
    replace_all(vscode, uri, fixed, 2)
    second = await diagnostics_for(vscode, uri, version=2)
    assert ("KN001", line_of(MINI, "kernel/regions.c", "plain_before();")) not in _codes_lines(second)
    assert len(second) == len(first) - 1
    status = await vscode.workspace_execute_command_async(T.ExecuteCommandParams(command="kannot.status", arguments=[]))
    assert (status["rebuilds"], status["rechecks"]) == (0, 1), status
    await asyncio.sleep(0.5)  # (past the debounce: checked at once)
    replace_all(vscode, uri, fixed.replace("#include <linux/kernel.h>", "#include <linux/kernel.h>\n#define KANNOT_NEW(x) plain_check(x)", 1), 3)
    assert len(await diagnostics_for(vscode, uri, version=3)) == len(second)
    status = await vscode.workspace_execute_command_async(T.ExecuteCommandParams(command="kannot.status", arguments=[]))
    assert status["rebuilds"] == 1, status


# the build model ----------------------------------------------------------------------------------

@pytest.fixture
def build_tree(tmp_path):
    from conftest import FIXTURES

    root = copied_tree(FIXTURES / "buildtree", tmp_path)
    return root


@pytest_lsp.fixture(config=config("--arch", "x86"))
async def build_client(lsp_client: LanguageClient, build_tree):
    await start(lsp_client, build_tree)
    yield
    await lsp_client.shutdown_session()


async def test_a_saved_makefile_changes_the_diagnostics(build_client: LanguageClient):
    """Saving a Makefile or Kconfig file makes the model again: a file its Makefile stops
    building loses its diagnostics."""
    root = build_client.root
    uri = open_doc(build_client, root / "kernel/branch.c")
    assert [d.code for d in await diagnostics_for(build_client, uri)] == ["KN001"]
    mk = root / "kernel/Makefile"
    mk.write_text(mk.read_text().replace(" branch.o", ""))
    build_client.text_document_did_save(T.DidSaveTextDocumentParams(text_document=T.TextDocumentIdentifier(uri=uri_of(mk))))
    await wait_until(lambda: not publishes(build_client, uri)[-1].diagnostics, 60, "diagnostics gone with branch.o")
