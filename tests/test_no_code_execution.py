"""Issue 6, item 6: nothing kannot reads is ever evaluated or handed to a shell, and the language
server listens on loopback only. Real processes on a tree whose file names, sources, kernel config,
settings, patch and git history all carry shell and Python payloads that would create a canary
file if anything ran them."""
from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from patchrepo import git, make_repo
from robust_helpers import REPO, kannot


def _payloads(canary: Path) -> list[str]:
    c = str(canary)
    return [f"$(touch {c})", f"`touch {c}`", f"; touch {c} #", f"__import__('os').system('touch {c}')",
            f"exec(\"open('{c}','w')\")"]


def test_the_package_has_no_eval_exec_or_shell():
    """Static: no eval/exec/compile builtins, no os.system/popen, no shell=True, no pickle in kannot/."""
    bad = []
    for path in sorted((REPO / "kannot").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
                if (isinstance(f, ast.Name) and name in ("eval", "exec", "compile", "__import__")) or \
                        (owner == "os" and name in ("system", "popen", "execv", "execvp", "spawnl")) or \
                        any(k.arg == "shell" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                            for k in node.keywords):
                    bad.append(f"{path.relative_to(REPO)}:{node.lineno}")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                if any(n.split(".")[0] in ("pickle", "shelve", "dill") for n in names):
                    bad.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert bad == []


def test_payloads_in_every_input_run_nothing(tmp_path):
    canary = tmp_path / "CANARY"
    repo = make_repo(tmp_path)
    pay = _payloads(canary)
    k = repo / "kernel"
    for i, p in enumerate(pay):
        (k / f"pay{i}.c").write_text(
            f"#include <linux/kernel.h>\n#define RUN{i} {p}\n#if {p}\nint x{i};\n#endif\n"
            f"/* {p} */\nnoinstr void pay_caller_{i}(void)\n{{\n\tRUN{i};\n\tprintk(\"{p}\");\n}}\n")
    safe_name = pay[0].replace("/", "_")  # a file name cannot hold '/'
    (k / f"{safe_name}.c").write_text("noinstr void name_caller(void) { printk(\"x\"); }\n")
    (repo / ".kannot.toml").write_text(f'[[allow]]\ncaller = "{pay[2]}"\ncallee = "*"\nreason = "{pay[0]}"\n')
    dotconfig = tmp_path / "dotconfig"
    dotconfig.write_text(f"CONFIG_X86=y\nCONFIG_PAY=\"{pay[0]}\"\nCONFIG_{pay[3]}=y\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", pay[1])
    (k / "pay0.c").write_text((k / "pay0.c").read_text() + f"/* {pay[2]} */\n")
    patch = tmp_path / f"{safe_name}.patch"
    patch.write_text(f"--- a/kernel/{safe_name}.c\n+++ b/kernel/{safe_name}.c\n@@ -1 +1,2 @@\n"
                     f" noinstr void name_caller(void) {{ printk(\"x\"); }}\n+/* {pay[1]} */\n")
    runs = [
        ("check", "--root", repo, "--format", "json", "-j", "1"),
        ("check", "--root", repo, "--format", "sarif", "-j", "1", "--config", dotconfig),
        ("check", "--root", repo, "--format", "json", "-j", "1", "--diff-base", "HEAD"),
        ("check", "--root", repo, "--format", "json", "-j", "1", "--patch", patch),
        ("callees", "pay_caller_0", "--root", repo, "--format", "json"),
        ("why", "printk", "--root", repo, "--format", "json"),
    ]
    for args in runs:
        p = kannot(*args, cwd=tmp_path)
        assert p.rc in (0, 1), (args, p.err)
        assert not canary.exists(), args
    assert b"pay_caller_0" in kannot(*runs[0], cwd=tmp_path).out


def _listening_addresses(pid: int) -> set[str]:
    """Local addresses of the LISTEN sockets the process ``pid`` owns (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                out.add(cols[1])
    return out


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs /proc/net/tcp")
def test_the_language_server_listens_on_loopback_only(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for host in ("0.0.0.0", "192.0.2.1"):
        p = subprocess.run([sys.executable, "-m", "kannot", "lsp", "--tcp", f"{host}:{port}"], capture_output=True,
                           text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
        assert p.returncode == 2 and "loopback" in p.stderr, (host, p.stderr)
    proc = subprocess.Popen([sys.executable, "-m", "kannot", "lsp", "--no-cache", "--tcp", f"localhost:{port}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        addrs: set[str] = set()
        while not addrs and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            addrs = _listening_addresses(proc.pid)
        assert addrs, proc.stderr.read().decode() if proc.poll() is not None else "never listened"
        loopback = {f"0100007F:{port:04X}", f"00000000000000000000000001000000:{port:04X}"}
        assert addrs <= loopback, addrs
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # over stdio the server opens no listening socket at all
    stdio = subprocess.Popen([sys.executable, "-m", "kannot", "lsp", "--no-cache"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        time.sleep(2)
        assert stdio.poll() is None and _listening_addresses(stdio.pid) == set()
    finally:
        stdio.kill()
        stdio.wait()
