"""`kannot why FUNC`: the tracer user's question, answered with the chain that forbids it."""
import json
from pathlib import Path

from kannot.cli.main import main

MINI = Path(__file__).resolve().parents[1] / "examples" / "kernel-mini"


def why(capsys, func, fmt="json"):
    rc = main(["why", func, "--root", str(MINI), "-j", "1", "--format", fmt])
    out = capsys.readouterr().out
    return rc, (json.loads(out) if fmt == "json" else out)


def test_function_reached_from_noinstr_outside_a_region_is_unsafe(capsys):
    rc, doc = why(capsys, "irq_enter")
    assert rc == 0
    assert doc["verdict"].startswith("unsafe to kprobe or trace")
    assert doc["reached_from"][0]["caller"] == "generic_handle_arch_irq"
    assert doc["reached_from"][0]["family"] == "noinstr"
    assert doc["reached_from"][0]["file"] == "kernel/irq/handle.c"
    assert doc["reached_from"][0]["line"] == 24


def test_function_called_only_inside_regions_is_safe(capsys):
    rc, doc = why(capsys, "die")  # exc_int3 calls die() between instrumentation_begin/end
    assert doc["verdict"].startswith("safe to kprobe and trace")
    assert doc["reached_from"] == []


def test_noinstr_function_is_blacklisted(capsys):
    _, doc = why(capsys, "exc_int3")
    assert doc["verdict"].startswith("cannot be kprobed")
    assert doc["class"] == ["noinstr"]


def test_always_inline_helper_has_no_symbol(capsys):
    _, doc = why(capsys, "user_mode")
    assert "__always_inline" in doc["verdict"]
    assert doc["class"] == ["always_inline"]


def test_text_output_names_the_chain(capsys):
    _, out = why(capsys, "irq_exit", fmt="text")
    assert out.splitlines()[0].startswith("irq_exit: unsafe to kprobe or trace")
    assert "kernel/irq/handle.c:28: noinstr generic_handle_arch_irq -> irq_exit" in out
