"""Latency of ``kannot lsp`` as an editor sees it: didChange -> publishDiagnostics for that version.

    python bench/lsp_latency.py --tree ~/linux [--arch x86]
        [--file arch/x86/kernel/traps.c] [--edits 15] [--pause 1.0] [--burst 0] [--no-cache]
        [--header arch/x86/include/asm/debugreg.h --header-function local_db_save --header-edits 10]
        [--json OUT]

Starts the real server (``python -m kannot lsp``) over stdio with pygls' client, opens FILE right
after ``initialized`` (a cold index unless the facts cache is warm) and times:
- cold: initialized -> the first publishDiagnostics for the opened file (progress reports counted);
- warm: EDITS single edits, PAUSE seconds apart (a person typing a line and stopping), each a
  comment line inserted in the first noinstr function's body (a new version); the latency is from
  sending didChange to receiving publishDiagnostics with that version. Median, p90, min, max.
  The first edit is the first after opening (reported apart too: ``first_edit_ms``).
- with --burst N: also N bursts of 5 changes 50 ms apart; latency from the last change of the
  burst to its version's diagnostics (this one includes the ~300 ms debounce by design).
- with --header H: H is opened too (its first diagnostics waited for), then HEADER_EDITS edits of
  H, PAUSE seconds apart, each adding (then, in turn, removing) a ``dump_stack();`` line in the body
  of HEADER_FUNCTION (an always-inline helper FILE's protected functions call): the latency is
  from sending H's didChange to FILE's diagnostics published again (its findings change).

Run it twice with the same --cache-dir (empty the first time) for the cold and the warm start.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as T
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path


def _edit_line(lines: list[str]) -> int:
    """0-based line after the opening brace of the first noinstr function (else after line 1)."""
    for i, line in enumerate(lines):
        if "noinstr" in line and "(" in line and not line.lstrip().startswith(("#", "*", "/")):
            for j in range(i, min(i + 15, len(lines))):
                if lines[j].rstrip().endswith("{") or lines[j].strip() == "{":
                    return j + 1
    return 1



async def _timed_change(client, uri: str, version: int, text: str, fut, timeout: float) -> tuple[float, int]:
    """Send ``text`` as the document's new content; (ms until ``fut``'s publish, its diagnostics)."""
    t = time.perf_counter()
    client.text_document_did_change(T.DidChangeTextDocumentParams(
        text_document=T.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[T.TextDocumentContentChangeWholeDocument(text=text)]))
    got, n = await asyncio.wait_for(fut, timeout)
    return (got - t) * 1000, n

async def run(args) -> dict:
    tree = Path(args.tree).resolve()
    path = tree / args.file
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    uri = from_fs_path(str(path))
    client = LanguageClient("kannot-bench", "1")
    published: dict[int | None, float] = {}
    waiters: dict[int | None, asyncio.Future] = {}
    any_publish: list[asyncio.Future] = []  # FILE's next publication, whatever its version
    others: dict[str, list[asyncio.Future]] = {}  # another file's next publication
    progress: list[tuple[float, str]] = []

    @client.feature(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_publish(params: T.PublishDiagnosticsParams):
        if params.uri != uri:
            while others.get(params.uri):
                fut = others[params.uri].pop()
                if not fut.done():
                    fut.set_result((time.perf_counter(), len(params.diagnostics)))
            return
        now = time.perf_counter()
        published.setdefault(params.version, now)
        while any_publish:
            fut = any_publish.pop()
            if not fut.done():
                fut.set_result((now, len(params.diagnostics)))
        fut = waiters.pop(params.version, None)
        if fut is not None and not fut.done():
            fut.set_result((now, len(params.diagnostics)))

    @client.feature(T.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def on_create(params: T.WorkDoneProgressCreateParams):
        return None

    @client.feature(T.PROGRESS)
    def on_progress(params: T.ProgressParams):
        kind = params.value.get("kind") if isinstance(params.value, dict) else getattr(params.value, "kind", "")
        progress.append((time.perf_counter(), kind))

    @client.feature(T.WINDOW_LOG_MESSAGE)
    def on_log(params: T.LogMessageParams):
        if args.verbose:
            print("log:", params.message, file=sys.stderr)

    @client.feature(T.WINDOW_SHOW_MESSAGE)
    def on_show(params: T.ShowMessageParams):
        print("server says:", params.message, file=sys.stderr)

    cmd = [sys.executable, "-m", "kannot", "lsp"]
    if args.arch:
        cmd += ["--arch", args.arch]
    if args.no_cache:
        cmd += ["--no-cache"]
    elif args.cache_dir:
        cmd += ["--cache-dir", args.cache_dir]
    if args.server_log:
        cmd += ["--log-file", args.server_log]  # per-job update/check/diagnostics times
    await client.start_io(*cmd)
    caps = T.ClientCapabilities(
        window=T.WindowClientCapabilities(work_done_progress=True),
        text_document=T.TextDocumentClientCapabilities(publish_diagnostics=T.PublishDiagnosticsClientCapabilities(related_information=True, version_support=True)),
    )
    await client.initialize_async(T.InitializeParams(capabilities=caps, root_uri=from_fs_path(str(tree)), process_id=None))
    client.initialized(T.InitializedParams())
    t0 = time.perf_counter()
    loop = asyncio.get_running_loop()

    def expect(version: int) -> asyncio.Future:
        fut = loop.create_future()
        if version in published:
            fut.set_result((published[version], -1))
        else:
            waiters[version] = fut
        return fut

    first = expect(1)
    client.text_document_did_open(T.DidOpenTextDocumentParams(text_document=T.TextDocumentItem(uri=uri, language_id="c", version=1, text=text)))
    t_first, n_first = await asyncio.wait_for(first, args.cold_timeout)
    cold = t_first - t0
    ends = [t for t, k in progress if k == "end"]
    result = {"tree": tree.name, "file": args.file, "arch": args.arch, "cache": not args.no_cache,
              "cold_first_diagnostics_s": round(cold, 2), "cold_index_s": round(ends[0] - t0, 2) if ends else None,
              "progress_reports": len(progress), "findings_in_file": n_first}
    print(f"cold: first diagnostics {cold:.2f}s after initialized ({n_first} in {args.file}, {len(progress)} progress notifications)", flush=True)

    lines = text.split("\n")
    at = _edit_line(lines)
    version = 1
    lat: list[float] = []
    for i in range(args.edits):
        await asyncio.sleep(args.pause)
        version += 1
        new = lines[:at] + [f"\t/* kannot-bench edit {i} */"] + lines[at:]
        ms, n = await _timed_change(client, uri, version, "\n".join(new), expect(version), 120)
        lat.append(ms)
        if args.verbose:
            print(f"edit {i}: {lat[-1]:.0f} ms ({n} diagnostics)", flush=True)
    if lat:
        q = sorted(lat)
        result.update({"edits": len(lat), "median_ms": round(statistics.median(lat), 1), "p90_ms": round(q[int(0.9 * (len(q) - 1))], 1),
                       "min_ms": round(q[0], 1), "max_ms": round(q[-1], 1), "first_edit_ms": round(lat[0], 1),
                       "all_ms": [round(x, 1) for x in lat]})
        print(f"edits: didChange -> publishDiagnostics over {len(lat)} edits (the first after opening included): median {result['median_ms']} ms, "
              f"p90 {result['p90_ms']} ms, min {result['min_ms']} ms, max {result['max_ms']} ms, first {result['first_edit_ms']} ms", flush=True)
    blat: list[float] = []
    for i in range(args.burst):
        await asyncio.sleep(args.pause)
        for k in range(5):
            version += 1
            new = lines[:at] + [f"\t/* kannot-bench burst {i} {'x' * k} */"] + lines[at:]
            client.text_document_did_change(T.DidChangeTextDocumentParams(
                text_document=T.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[T.TextDocumentContentChangeWholeDocument(text="\n".join(new))]))
            t = time.perf_counter()
            if k < 4:
                await asyncio.sleep(0.05)
        got, _n = await asyncio.wait_for(expect(version), 120)
        blat.append((got - t) * 1000)
    if blat:
        result.update({"bursts": len(blat), "burst_median_ms": round(statistics.median(blat), 1)})
        print(f"burst: last change of 5 -> its diagnostics: median {result['burst_median_ms']} ms over {len(blat)} bursts", flush=True)
    if args.header:
        hpath = tree / args.header
        htext = hpath.read_text(encoding="utf-8", errors="surrogateescape")
        huri = from_fs_path(str(hpath))
        hlines = htext.split("\n")
        hat = next(i for i, line in enumerate(hlines) if f"{args.header_function}(" in line and not line.rstrip().endswith(";"))
        while not hlines[hat].rstrip().endswith("{"):
            hat += 1
        hver = 1
        t = time.perf_counter()
        opened = loop.create_future()
        others[huri] = [opened]
        client.text_document_did_open(T.DidOpenTextDocumentParams(text_document=T.TextDocumentItem(uri=huri, language_id="c", version=hver, text=htext)))
        got, _n = await asyncio.wait_for(opened, 600)
        result["header_open_s"] = round(got - t, 2)
        print(f"header: {args.header} opened; its first diagnostics (both files checked) after {got - t:.2f}s", flush=True)
        hlat: list[float] = []
        for i in range(args.header_edits):
            await asyncio.sleep(args.pause)
            hver += 1
            new = hlines[: hat + 1] + (["\tdump_stack();"] if i % 2 == 0 else []) + hlines[hat + 1 :]
            fut = loop.create_future()
            any_publish.append(fut)
            ms, n = await _timed_change(client, huri, hver, "\n".join(new), fut, 600)
            hlat.append(ms)
            if args.verbose:
                print(f"header edit {i}: {hlat[-1]:.0f} ms ({n} diagnostics in {args.file})", flush=True)
        if hlat:
            q = sorted(hlat)
            result.update({"header": args.header, "header_edits": len(hlat), "header_median_ms": round(statistics.median(hlat), 1),
                           "header_max_ms": round(q[-1], 1), "header_all_ms": [round(x, 1) for x in hlat]})
            print(f"header edits: {args.header} didChange -> {args.file} publishDiagnostics over {len(hlat)} edits: "
                  f"median {result['header_median_ms']} ms, max {result['header_max_ms']} ms", flush=True)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tree", required=True)
    p.add_argument("--file", default="arch/x86/kernel/traps.c")
    p.add_argument("--arch")
    p.add_argument("--edits", type=int, default=15)
    p.add_argument("--pause", type=float, default=1.0)
    p.add_argument("--burst", type=int, default=0)
    p.add_argument("--cold-timeout", type=float, default=3600)
    p.add_argument("--header", help="a header FILE includes, opened and edited after FILE's edits")
    p.add_argument("--header-function", default="local_db_save", help="the helper in --header whose body is edited")
    p.add_argument("--header-edits", type=int, default=10)
    p.add_argument("--cache-dir")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--json")
    p.add_argument("--server-log", help="the server's log (its per-job timings) goes here")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    result = asyncio.run(run(args))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
