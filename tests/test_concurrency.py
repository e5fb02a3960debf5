"""Issue 6, item 4: two ``kannot check`` processes and a ``kannot lsp`` process share one facts
cache at the same time (cold, then with every file touched so that all three write at once).
Each prints what a lone run prints, the language server publishes what the lone run found, and
the database is sound and complete afterwards (PRAGMA integrity_check, every file a lone run
stores is there, every row decodes to the facts a fresh read gives)."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kannot.store.cache import decode
from kannot.facts.extract import extract_facts
from kannot.source.files import read_source
from robust_helpers import REPO, generated_tree, kannot

OPEN = "kernel/inline.c"


class LspProcess:
    """A real ``kannot lsp`` process over stdio, driven with plain JSON-RPC."""

    def __init__(self, root: Path, cache: Path):
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen([sys.executable, "-m", "kannot", "lsp", "-j", "2", "--root", str(root),
                                      "--cache-dir", str(cache)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.messages: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.root = root

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                k, _, v = line.decode().partition(":")
                headers[k.strip().lower()] = v.strip()
            self.messages.append(json.loads(out.read(int(headers["content-length"]))))

    def send(self, method: str, params: dict, id: int | None = None) -> None:
        msg = {"jsonrpc": "2.0", "method": method, "params": params}
        if id is not None:
            msg["id"] = id
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def start(self) -> None:
        uri = self.root.as_uri()
        self.send("initialize", {"processId": os.getpid(), "rootUri": uri, "capabilities": {},
                                 "workspaceFolders": [{"uri": uri, "name": "tree"}]}, id=1)
        self.send("initialized", {})
        path = self.root / OPEN
        self.send("textDocument/didOpen", {"textDocument": {"uri": path.as_uri(), "languageId": "c", "version": 1,
                                                            "text": path.read_text()}})

    def diagnostics(self, timeout: float = 300) -> set[tuple[str, int]]:
        uri = (self.root / OPEN).as_uri()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for m in list(self.messages):
                if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri:
                    return {(d["code"], d["range"]["start"]["line"] + 1) for d in m["params"]["diagnostics"]}
            assert self.proc.poll() is None, self.proc.stderr.read().decode()
            time.sleep(0.05)
        raise AssertionError("no diagnostics from the language server")

    def stop(self) -> str:
        try:
            self.send("shutdown", {}, id=2)
            self.send("exit", {})
            self.proc.wait(timeout=60)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        return self.proc.stderr.read().decode("utf-8", "replace")

    def log_messages(self) -> list[str]:
        return [m["params"]["message"] for m in self.messages if m.get("method") == "window/logMessage"]


def _check_process(root: Path, cache: Path, jobs: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "kannot", "check", "--root", str(root), "--format", "json",
                             "-j", jobs, "--cache-dir", str(cache)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return generated_tree(tmp_path_factory.mktemp("concurrency") / "tree", extra_files=300)


@pytest.fixture(scope="module")
def lone(tree):
    p = kannot("check", "--root", tree, "--format", "json", "-j", "1", "--no-cache")
    assert p.rc == 1, p.err
    return p.out


def _lone_diagnostics(lone: bytes) -> set[tuple[str, int]]:
    return {(f["code"], f["line"]) for f in json.loads(lone)["findings"] if f["file"] == OPEN}


def _round(tree: Path, cache: Path, lone: bytes) -> None:
    lsp = LspProcess(tree, cache)
    a = _check_process(tree, cache, "2")
    b = _check_process(tree, cache, "1")
    lsp.start()
    try:
        out_a, err_a = a.communicate(timeout=600)
        out_b, err_b = b.communicate(timeout=600)
        diags = lsp.diagnostics()
    finally:
        lsp_err = lsp.stop()
    assert a.returncode == 1 and out_a == lone, err_a.decode()
    assert b.returncode == 1 and out_b == lone, err_b.decode()
    assert diags == _lone_diagnostics(lone) and diags
    # a concurrent run may wait for another's write, but never finds the cache unusable
    for err in (err_a.decode(), err_b.decode(), lsp_err, "\n".join(lsp.log_messages())):
        assert "cache" not in err or "written by kannot" in err, err


def _rows(db: Path) -> dict[str, bytes]:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return dict(con.execute("SELECT path, blob FROM facts").fetchall())
    finally:
        con.close()


@pytest.fixture(scope="module")
def stored_alone(tree, tmp_path_factory) -> set[str]:
    """The files whose facts a lone run stores (a lazy check parses only what it needs)."""
    cache = tmp_path_factory.mktemp("alone")
    assert kannot("check", "--root", tree, "--format", "json", "-j", "1", "--cache-dir", cache).rc == 1
    return set(_rows(cache / "facts.sqlite"))


def _assert_sound_and_complete(tree: Path, db: Path, stored_alone: set[str]) -> None:
    rows = _rows(db)
    # (the files of the arch the runs check: x86, the default on this kind of host)
    sources = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.suffix in (".c", ".h", ".S") and p.is_file()
                     and not (str(p.relative_to(tree)).startswith("arch/") and not str(p.relative_to(tree)).startswith("arch/x86/")))
    assert stored_alone <= set(rows) <= set(sources)  # no lost facts, none of a file not listed
    for rel, blob in rows.items():  # and none garbled: each equals a fresh read of the file
        facts, _notes = decode(blob)
        data, _note = read_source(tree, rel)
        assert facts == extract_facts(rel, data), rel


def test_two_cli_runs_and_a_language_server_share_one_cache(tree, lone, stored_alone, tmp_path):
    cache = tmp_path / "shared"
    _round(tree, cache, lone)  # cold: all three create and fill the database at once
    _assert_sound_and_complete(tree, cache / "facts.sqlite", stored_alone)
    now = time.time()
    for p in tree.rglob("*.c"):  # new mtimes, same bytes: every process rewrites every row
        os.utime(p, (now + 5, now + 5))
    _round(tree, cache, lone)
    _assert_sound_and_complete(tree, cache / "facts.sqlite", stored_alone)
    warm = kannot("check", "--root", tree, "--format", "json", "-j", "1", "--cache-dir", cache)
    assert warm.out == lone and warm.err == ""
