"""``kannot lsp`` on a tree whose .kannot.toml defines a family of its own (tests/fixtures/family):
its codes are diagnostics like kannot's own, and an edit of the settings' family is followed."""
from __future__ import annotations


import pytest
import pytest_lsp
from lsprotocol import types as T
from pytest_lsp import LanguageClient

from conftest import FIXTURES, line_of
from lsp_helpers import config, copied_tree, diagnostics_for, open_doc, publishes, start, uri_of, wait_until

pytestmark = pytest.mark.asyncio

FAMILY = FIXTURES / "family"
SRC = "kernel/vendor/fastpath.c"


@pytest.fixture
def family_tree(tmp_path):
    root = copied_tree(FAMILY, tmp_path)
    return root


@pytest_lsp.fixture(config=config())
async def vendor(lsp_client: LanguageClient, family_tree):
    await start(lsp_client, family_tree)
    yield
    await lsp_client.shutdown_session()


async def test_family_codes_are_diagnostics(vendor: LanguageClient):
    root = vendor.root
    uri = open_doc(vendor, root / SRC)
    diags = await diagnostics_for(vendor, uri)
    got = {(d.code, d.range.start.line + 1, d.severity) for d in diags}
    error = T.DiagnosticSeverity.Error
    assert got == {
        ("KNX01", line_of(root, SRC, "plain_helper();", 2), error),
        ("KNX02", line_of(root, SRC, "vendor_hook();"), error),
        ("KNX01", line_of(root, SRC, "plain_helper();", 3), error),
        ("KN001", line_of(root, SRC, "plain_helper();", 5), error),
    }
    knx01 = next(d for d in diags if d.code == "KNX01")
    assert knx01.source == "kannot"
    assert knx01.message.startswith("__myvendor_text function 'vendor_entry' calls 'plain_helper()', which is not in .myvendor.text")
    # no region can cover the family's calls: only kannot's own calls get the wrap action
    line = line_of(root, SRC, "vendor_hook();")
    actions = await vendor.text_document_code_action_async(T.CodeActionParams(
        text_document=T.TextDocumentIdentifier(uri=uri),
        range=T.Range(start=T.Position(line=line - 1, character=0), end=T.Position(line=line - 1, character=0)),
        context=T.CodeActionContext(diagnostics=[])))
    titles = [a.title for a in actions or []]
    assert not [t for t in titles if t.startswith("Wrap")]
    assert any("KNX02" in t for t in titles), titles  # the allow-comment action names the code


async def test_family_settings_edit_is_followed(vendor: LanguageClient):
    root = vendor.root
    uri = open_doc(vendor, root / SRC)
    diags = await diagnostics_for(vendor, uri)
    assert "KNX01" in {d.code for d in diags}
    toml = root / ".kannot.toml"
    toml.write_text(toml.read_text().replace('code = "KNX01"', 'code = "VND07"'))
    cfg_uri = uri_of(toml)
    vendor.text_document_did_save(T.DidSaveTextDocumentParams(text_document=T.TextDocumentIdentifier(uri=cfg_uri)))

    def renamed():
        return {d.code for d in publishes(vendor, uri)[-1].diagnostics} == {"VND07", "KNX02", "KN001", "KN007"}

    try:
        await wait_until(renamed, 60, "diagnostics with the renamed code")
    except AssertionError:
        raise AssertionError([(d.code, d.message) for d in publishes(vendor, uri)[-1].diagnostics]) from None
    last = publishes(vendor, uri)[-1].diagnostics
    # the allow comment still names the old code: it suppresses nothing now, and names no rule
    assert [d.message for d in last if d.code == "KN007"] == ["'kannot: allow KNX01' names no kannot rule"]
