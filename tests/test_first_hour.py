"""Issue 18: the first hour of a new user. Errors that say what is wrong (exit 2), quiet output,
a bar per long phase on a terminal, and set-up that works as the README writes it."""
from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kannot.cli.main as kcli
from conftest import BROKEN, CLEAN, FIXTURES, MINI, SUPPRESS, check, cli, copy_tree

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
EXAMPLE = REPO / "examples" / "kernel-mini"


# errors that say what is wrong -------------------------------------------------------------------


def test_outside_a_kernel_tree_without_root_is_a_usage_error(tmp_path, monkeypatch):
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "x.c").write_text("noinstr void f(void) { g(); }\n")
    monkeypatch.chdir(tmp_path)
    for argv in (("check",), ("callees", "f"), ("why", "f"), ("clean",)):
        run = cli(*argv)
        assert run.rc == 2, argv
        assert "not inside a Linux kernel tree" in run.err and "--root" in run.err
    assert not (tmp_path / ".kannot-cache").exists()  # nothing scanned, nothing written
    assert check(tmp_path / "big", "--no-cache").rc == 1  # --root on any folder stays allowed


def test_unknown_arch_on_the_command_line_and_in_the_settings(tmp_path):
    run = check(MINI, "--no-cache", "--arch", "nosuch")
    assert run.rc == 2 and "unknown arch 'nosuch'" in run.err and "x86" in run.err
    root = copy_tree(CLEAN, tmp_path)
    (root / ".kannot.toml").write_text('[check]\narch = "nosuch"\n')
    run = check(root, "--no-cache")
    assert run.rc == 2 and "unknown arch 'nosuch'" in run.err
    (root / ".kannot.toml").write_text('[check]\narhc = "x86"\n')
    run = check(root, "--no-cache")
    assert run.rc == 2 and "unknown key 'arhc'" in run.err


def test_a_missing_relative_path_says_no_such_file(monkeypatch):
    monkeypatch.chdir(MINI / "kernel")
    run = check(MINI, "--no-cache", "no_such_file.c")
    assert run.rc == 2
    assert "no_such_file.c: no such file or directory" in run.err
    assert "outside the root" not in run.err


@pytest.mark.parametrize("command", ["why", "callees"])
def test_an_unknown_function_is_exit_2_with_close_names(command):
    run = cli(command, "irqentry_entr", "--root", MINI, "--no-cache", "-j", "1")
    assert run.rc == 2
    assert "no function named 'irqentry_entr' in the tree" in run.err
    assert "did you mean irqentry_enter" in run.err


def test_settings_and_kernel_config_are_named_apart(tmp_path):
    run = check(MINI, "--no-cache", "--settings", tmp_path / "nope.toml")
    assert run.rc == 2 and "settings file" in run.err and "config file" not in run.err
    run = check(MINI, "--no-cache", "--config", tmp_path / "nope.config")
    assert run.rc == 2 and "kernel .config" in run.err


def test_explain_accepts_a_rule_name():
    by_name = cli("explain", "noinstr-call")
    assert by_name.rc == 0 and by_name.out == cli("explain", "KN001").out
    assert cli("explain", "no-such-rule").rc == 2


def test_check_version():
    with pytest.raises(SystemExit):
        kcli._parser().parse_args(["check", "--version"])
    run = cli("check", "--version")
    assert run.rc == 0


def test_unused_allow_entry_is_reported(tmp_path):
    """An [[allow]] entry that suppresses nothing is a KN007 on the settings file, as an unused
    source marker is; one for a function the check does not see is not judged."""
    root = copy_tree(SUPPRESS, tmp_path)
    settings = root / ".kannot.toml"
    settings.write_text(settings.read_text() + textwrap.dedent("""
        [[allow]]
        caller = "cfg_pair"
        callee = "no_longer_called"
        reason = "was needed before the rework"

        [[allow]]
        caller = "an_arm64_only_function"
        reason = "built for another arch"
        """))
    run = check(root, "--no-cache")
    unused = [f for f in run.findings if f["code"] == "KN007" and f["file"] == ".kannot.toml"]
    assert [(f["line"], "no_longer_called" in f["message"]) for f in unused] == [(18, True)]
    assert "suppresses nothing" in unused[0]["message"]
    # a check of some files only cannot tell: nothing said
    part = check(root, "--no-cache", "kernel/allow.c")
    assert not [f for f in part.findings if f["file"] == ".kannot.toml"]


# quiet output -----------------------------------------------------------------------------------


def _broken_tree(tmp_path: Path, n: int) -> Path:
    root = copy_tree(BROKEN, tmp_path)
    gen = root / "kernel" / "gen"
    gen.mkdir(exist_ok=True)
    for i in range(n):
        (gen / f"bad_{i}.c").write_text(f"noinstr void gen_{i}(void)\n{{\n\tint x = (;\n}}\nstruct {{ int\n")
    return root


def test_file_problems_are_one_summary_line_unless_asked(tmp_path):
    root = _broken_tree(tmp_path, 30)
    text = check(root, "--no-cache", "-j", "1", fmt="text")
    assert text.rc in (0, 1)
    lines = text.err.strip().splitlines()
    assert len(lines) <= 5, lines
    assert any("more file(s) not fully read" in l and "--show-errors" in l for l in lines)
    full = check(root, "--no-cache", "-j", "1", "--show-errors", fmt="text")
    assert sum("kernel/gen/bad_" in l for l in full.err.splitlines()) == 30
    js = check(root, "--no-cache", "-j", "1")
    assert sum(e["file"].startswith("kernel/gen/bad_") for e in js.errors) == 30


def test_a_clean_run_says_so_on_stderr():
    run = check(CLEAN, "--no-cache", fmt="text")
    assert run.rc == 0 and run.out == ""
    assert re.fullmatch(r"kannot: no findings \(\d+ protected function\(s\) checked\)\n", run.err.splitlines(True)[-1])
    assert check(CLEAN, "--no-cache").err == ""  # JSON: stdout only


def test_github_format_names_the_class_in_words():
    run = check(MINI, "--no-cache", "kernel/inline.c", fmt="github")
    assert "(none)" not in run.out
    assert "not noinstr, traceable" in run.out


def test_callees_one_line_per_callee_and_path_with_its_condition():
    run = cli("callees", "spin_user", "--root", FIXTURES / "buildtree", "--arch", "x86", "--no-cache")
    assert run.rc == 0
    lines = run.out.strip().splitlines()
    assert len(lines) == len(set(lines))
    assert any("up_lock_work" in l and "[only when !CONFIG_DEBUG_SPINLOCK && !CONFIG_SMP; for example CONFIG_SMP=n]" in l
               for l in lines), lines


# progress --------------------------------------------------------------------------------------


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Recorder(kcli.Status):
    phases: list[str] = []

    def __init__(self, stream=None):
        pass

    def phase(self, name, total=None):
        super().phase(name, total)
        if not _Recorder.phases or _Recorder.phases[-1] != name:
            _Recorder.phases.append(name)


def _on_a_tty(monkeypatch, *argv) -> list[str]:
    _Recorder.phases = []
    monkeypatch.setattr(kcli, "BarStatus", _Recorder)
    monkeypatch.setattr(sys, "stderr", _TTY())
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    kcli.main([str(a) for a in argv])
    return list(_Recorder.phases)


def test_every_long_phase_has_a_bar_on_a_terminal(monkeypatch, tmp_path):
    got = _on_a_tty(monkeypatch, "check", "--root", MINI, "--cache-dir", tmp_path / "c", "-j", "1")
    # (a lazy check reads its files while it checks: the check's bar counts them too)
    assert got == ["scanning the tree", "checking protected functions"]
    got = _on_a_tty(monkeypatch, "check", "--root", MINI, "--no-cache", "--eager", "-j", "1")
    assert got == ["reading files", "checking protected functions"]
    got = _on_a_tty(monkeypatch, "why", "printk", "--root", MINI, "--cache-dir", tmp_path / "c", "-j", "1")
    assert "mapping what protected functions reach" in got
    # machine formats never draw one
    assert _on_a_tty(monkeypatch, "check", "--root", MINI, "--no-cache", "--format", "json") == []


def test_the_bar_shows_after_a_second():
    import time

    out = _TTY()
    bar = kcli.BarStatus(out)
    bar.phase("scanning the tree", 10)
    bar.update(1)
    time.sleep(1.05)
    bar.update(5)
    bar.phase("reading files", 4)  # short: never drawn
    bar.update(4)
    bar.close()
    assert "kannot: scanning the tree" in out.getvalue() and "5/10" in out.getvalue()
    assert "reading files" not in out.getvalue()


# the cache can be shared --------------------------------------------------------------------------


def test_cache_dir_from_the_environment_and_the_settings(tmp_path, monkeypatch):
    root = copy_tree(CLEAN, tmp_path)
    shutil.rmtree(root / ".kannot-cache", ignore_errors=True)
    monkeypatch.setenv("KANNOT_CACHE_DIR", str(tmp_path / "env-cache"))
    assert check(root).rc == 0
    assert (tmp_path / "env-cache" / "facts.sqlite").exists()
    monkeypatch.delenv("KANNOT_CACHE_DIR")
    (root / ".kannot.toml").write_text('[check]\ncache_dir = "../shared-cache"\n')
    assert check(root).rc == 0
    assert (tmp_path / "shared-cache" / "facts.sqlite").exists()
    assert not (root / ".kannot-cache").exists()


# the README as written ---------------------------------------------------------------------------


def _readme_commands() -> list[list[str]]:
    out = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.splitlines():
            for part in re.split(r"&&|\|", line.split(" #")[0]):  # `pip install . && kannot check ...`
                part = part.strip()
                if part.startswith("kannot "):
                    out.append(shlex.split(part, comments=True)[1:])
    return out


def test_every_readme_command_line_parses():
    commands = _readme_commands()
    assert len(commands) >= 10
    parser = kcli._parser()
    for argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"README command `kannot {' '.join(argv)}` does not parse ({exc})")


def test_readme_check_commands_run_on_the_example_tree(tmp_path):
    """Each `kannot check` line of the README, on examples/kernel-mini (~/linux replaced), with the
    options a small tree cannot take (a .config, a git base, a patch file) left out."""
    ran = 0
    for argv in _readme_commands():
        if argv[0] != "check" or any(a in argv for a in ("--config", "--diff-base", "--patch")):
            continue
        argv = [str(EXAMPLE) if a in ("~/linux", "examples/kernel-mini") else a for a in argv]
        paths = [a for a in argv[1:] if "/" in a and not a.startswith(("-", str(EXAMPLE)))]
        if any(not (EXAMPLE / p).exists() for p in paths) or ("--arch" in argv and argv[argv.index("--arch") + 1] != "x86"):
            continue  # folders or arches the small tree does not have (the argument parse is checked above)
        if "--root" not in argv:
            argv += ["--root", str(EXAMPLE)]
        run = cli(*argv, "--cache-dir", tmp_path / "c", "-j", "1")
        assert run.rc in (0, 1), (argv, run.err)
        ran += 1
    assert ran >= 3


def test_readme_precommit_block_is_valid_and_local():
    import yaml

    block = re.search(r"### pre-commit.*?```yaml\n(.*?)```", README, re.S).group(1)
    cfg = yaml.safe_load(block)
    (repo,) = cfg["repos"]
    assert repo["repo"] == "local"
    (hook,) = repo["hooks"]
    assert hook["entry"].startswith("kannot check --diff-base HEAD")
    assert "example.org" not in README and "example.org" not in (REPO / "examples/github-actions/kannot.yml").read_text()


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_vscode_extension_starts_kannot_lsp(tmp_path):
    """examples/vscode/extension.js with stand-ins for the two modules VS Code provides: it
    starts `kannot lsp --arch ARCH EXTRA...` for C files, with the settings' values."""
    ext = REPO / "examples" / "vscode"
    pkg = json.loads((ext / "package.json").read_text())
    assert pkg["main"] == "./extension.js" and "onLanguage:c" in pkg["activationEvents"]
    assert set(pkg["contributes"]["configuration"]["properties"]) == {"kannot.command", "kannot.arch", "kannot.extraArgs"}
    mods = tmp_path / "node_modules"
    (mods / "vscode").mkdir(parents=True)
    (mods / "vscode" / "index.js").write_text(textwrap.dedent("""
        const values = {command: "/opt/kannot/bin/kannot", arch: "arm64", extraArgs: ["--select", "KN101"]};
        module.exports = {
          workspace: {
            getConfiguration: () => ({get: (k, d) => (k in values ? values[k] : d)}),
            createFileSystemWatcher: (glob) => ({glob}),
          },
        };
        """))
    (mods / "vscode-languageclient").mkdir()
    (mods / "vscode-languageclient" / "node.js").write_text(textwrap.dedent("""
        class LanguageClient {
          constructor(id, name, server, client) { LanguageClient.made = {id, server, client}; }
          start() { return Promise.resolve(); }
          stop() {}
        }
        module.exports = {LanguageClient};
        """))
    script = tmp_path / "run.js"
    script.write_text(textwrap.dedent(f"""
        const ext = require({json.dumps(str(ext / "extension.js"))});
        const subs = [];
        ext.activate({{subscriptions: subs}});
        const {{LanguageClient}} = require("vscode-languageclient/node");
        console.log(JSON.stringify(LanguageClient.made));
        """))
    env = {"NODE_PATH": str(mods), "PATH": "/usr/bin:/bin"}
    got = subprocess.run([NODE, str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert got.returncode == 0, got.stderr
    made = json.loads(got.stdout)
    assert made["server"]["run"] == {"command": "/opt/kannot/bin/kannot", "args": ["lsp", "--arch", "arm64", "--select", "KN101"]}
    assert {"scheme": "file", "language": "c"} in made["client"]["documentSelector"]
