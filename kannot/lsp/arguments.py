"""``kannot lsp``'s command line: apart from kannot.lsp.server, so that building the CLI's parser
does not import pygls (a second on every `kannot check`)."""
from __future__ import annotations

import argparse
from pathlib import Path

from kannot.source import limits


def lsp_arguments(p: argparse.ArgumentParser) -> None:
    """``kannot lsp``'s options."""
    p.add_argument("--tcp", metavar="HOST:PORT", help="serve one client over TCP on a loopback address (debugging); default: stdio")
    p.add_argument("--root", type=Path, help="kernel tree top (default: the client's workspace folder, walking up to the tree's top)")
    p.add_argument("--arch", help="keep only arch/NAME of the arch/ directories (default: all, or [check] arch)")
    p.add_argument("--select", action="append", default=[], help="enable codes, prefixes or families (comma-separated)")
    p.add_argument("--ignore", action="append", default=[], help="disable codes, prefixes or families")
    p.add_argument("--diagnostics", choices=["auto", "push", "pull"], default="auto", help="publish diagnostics, or let the client pull them (default: pull when the client can pull and refresh)")
    p.add_argument("-j", "--jobs", type=int, default=0, help="parallel parse jobs for the first index (default: all cores)")
    p.add_argument("--cache-dir", type=Path, help="facts cache for the first index (default: ROOT/.kannot-cache)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the facts cache")
    p.add_argument("--log-file", type=Path, help="write the server's log here")
    limits.add_arguments(p)
