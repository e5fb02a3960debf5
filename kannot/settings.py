""".kannot.toml: out-of-tree settings, found by walking up from the root.

    [[allow]]                      # a caller/callee pair that is fine, with the reason
    caller = "exc_nmi"
    callee = "default_do_nmi"      # "*" for any callee; omit for indirect calls
    code = "KN001"                 # optional: any code when omitted
    reason = "runs inside the region nmi_enter() opens"

    [check]
    select = ["KN101"]             # like --select / --ignore
    ignore = []
    arch = "x86"                   # or "all"
    cache_dir = "~/.cache/kannot"  # the facts cache (relative: to this file's folder); else
                                   # $KANNOT_CACHE_DIR, else ROOT/.kannot-cache

    [assume]                       # options this team never builds: facts for the solver
    CONFIG_PROFILE_ANNOTATED_BRANCHES = "n"

    [[family]]                     # a protection family of the tree's own (kannot.rules.base)
    name = "myvendor"
    words = ["__myvendor_text"]    # #define __myvendor_text __section(".myvendor.text")
    sections = [".myvendor.text"]
    transitive = false             # calls inside __always_inline helpers are not its own
    [[family.rule]]
    code = "KNX01"                 # 2-4 capitals and 2-4 digits, not KN and three digits
    kind = "call"                  # call | indirect-call | unresolved
    message = "{label} function '{caller}' calls '{callee}()', which is not in .myvendor.text"
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kannot.facts import cpp
from kannot.rules import DEFAULT_RULES, FamilyError, RuleSet, register

CONFIG_NAME = ".kannot.toml"


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class AllowPair:
    caller: str
    callee: str | None
    code: str | None
    reason: str


@dataclass
class Config:
    path: Path | None = None
    allow: list[AllowPair] = field(default_factory=list)
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    arch: str | None = None
    assume: dict[str, str] = field(default_factory=dict)  # SYMBOL (no CONFIG_) -> y | m | n
    cache_dir: Path | None = None  # [check] cache_dir, resolved against the file's folder
    rules: RuleSet = DEFAULT_RULES  # kannot's rules and families, with the [[family]] entries'

    def allows(self, code: str, caller: str, callee: str | None) -> AllowPair | None:
        for a in self.allow:
            if a.caller not in (caller, "*"):
                continue
            if a.code is not None and a.code != code:
                continue
            if a.callee == "*" or a.callee == callee:
                return a
        return None


def parse_assumption(text: str) -> tuple[str, str]:
    """``CONFIG_X=n`` (or y, m) as (X, value)."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip().strip('"')
    if not sep or not key.startswith("CONFIG_") or len(key) <= len("CONFIG_") or value not in ("y", "m", "n"):
        raise ValueError(f"{text!r}: expected CONFIG_NAME=y, =m or =n")
    return key[len("CONFIG_"):], value


def find_config(root: Path) -> Path | None:
    for cand in (root, *root.parents):
        p = cand / CONFIG_NAME
        if p.is_file():
            return p
    return None


def load_config(path: Path | None) -> Config:
    """The settings of ``path`` (None: none); their families are registered for the process
    (kannot.rules.register), replacing those of settings read before."""
    if path is None:
        _use(DEFAULT_RULES)
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    cfg = Config(path=path)
    allow = data.get("allow", [])
    if not isinstance(allow, list):
        raise ConfigError(f"{path}: 'allow' must be an array of tables ([[allow]])")
    for i, entry in enumerate(allow):
        if not isinstance(entry, dict) or not isinstance(entry.get("caller"), str):
            raise ConfigError(f"{path}: allow entry {i + 1} needs a 'caller' string")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"{path}: allow entry {i + 1} ({entry['caller']}) needs a 'reason'")
        callee = entry.get("callee")
        code = entry.get("code")
        if callee is not None and not isinstance(callee, str) or code is not None and not isinstance(code, str):
            raise ConfigError(f"{path}: allow entry {i + 1}: 'callee' and 'code' must be strings")
        cfg.allow.append(AllowPair(entry["caller"], callee, code.upper() if code else None, reason.strip()))
    unknown = sorted(set(data) - {"allow", "check", "assume", "family"})
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} (known: allow, check, assume, family)")
    if "family" in data:
        try:
            cfg.rules = DEFAULT_RULES.with_families(data["family"], str(path))
        except FamilyError as exc:
            raise ConfigError(str(exc)) from None
    check = data.get("check", {})
    if not isinstance(check, dict):
        raise ConfigError(f"{path}: [check] must be a table")
    bad = sorted(set(check) - {"select", "ignore", "arch", "cache_dir"})
    if bad:
        raise ConfigError(f"{path}: unknown key {bad[0]!r} in [check] (known: select, ignore, arch, cache_dir)")
    assume = data.get("assume", {})
    if not isinstance(assume, dict):
        raise ConfigError(f"{path}: [assume] must be a table of CONFIG_NAME = \"y\" | \"m\" | \"n\"")
    for key, value in assume.items():
        try:
            sym, val = parse_assumption(f"{key}={value}" if isinstance(value, str) else f"{key}=?")
        except ValueError as exc:
            raise ConfigError(f"{path}: [assume] {exc}") from None
        cfg.assume[sym] = val
    for key in ("select", "ignore"):
        val = check.get(key, [])
        if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
            raise ConfigError(f"{path}: check.{key} must be a list of strings")
        setattr(cfg, key, list(val))
    arch = check.get("arch")
    if arch is not None and not isinstance(arch, str):
        raise ConfigError(f"{path}: check.arch must be a string")
    cfg.arch = arch
    cache_dir = check.get("cache_dir")
    if cache_dir is not None:
        if not isinstance(cache_dir, str) or not cache_dir.strip():
            raise ConfigError(f"{path}: check.cache_dir must be a folder name")
        cfg.cache_dir = (Path(path).parent / Path(cache_dir).expanduser()).resolve()
    _use(cfg.rules)  # a finding's code names its rule in every format; the words are blanked
    return cfg


def _use(rules: RuleSet) -> None:
    """The families of the settings just read, for this process: their codes known to every
    report (kannot.rules.register), their words blanked before parsing (kannot.facts.cpp)."""
    register(rules)
    cpp.set_extra_blank_words(w for fam in rules.user for w in fam.words)
