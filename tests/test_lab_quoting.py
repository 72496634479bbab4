"""Scenario text in the lab scripts stays data: the scripts are parsed as PowerShell.

The parser is tree-sitter's PowerShell grammar. It knows only the ASCII quote and dash
characters, while PowerShell's own tokenizer also reads the typographic single quotes
(U+2018 to U+201B) as `'`, the typographic double quotes (U+201C to U+201E) as `"`, three
dashes as `-`, and NBSP, NEL and the Unicode separators as whitespace. `as_powershell_reads`
maps those characters to what PowerShell takes them for before parsing, one character for
one, so every token keeps its place and its text is sliced from the script as written.
Other limits of the grammar, none of which the scripts meet: a NUL inside a string is an
error to it (PowerShell reads it as text), so the property tests leave NUL out; a script of
nothing but a comment is an error to it, so every test script has statements around the
comment. `string_value` reads single-quoted literals only: no value is ever placed in a
double-quoted (expanding) string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import tree_sitter_powershell
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import nodes
from tree_sitter import Language, Node, Parser

from diagscope.lab.powershell import (
    FILTERS,
    UnfilteredValueError,
    ps_comment,
    ps_dword,
    ps_string,
)
from diagscope.lab.scripts import SCRIPTS, environment, render, write_scripts
from diagscope.scenario import LoadedScenario, Scenario, load_scenario

PARSER = Parser(Language(tree_sitter_powershell.language()))
BENIGN = load_scenario(ROOT / "scenarios" / "word-neither.yaml")
PROXY = "192.0.2.1:8080"

# PowerShell's tokenizer's special quotes and dashes (its SpecialChars), written out here
# rather than taken from the code under test, which might have them wrong.
SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
_READS_AS = {**dict.fromkeys(SINGLE_QUOTES, "'"), **dict.fromkeys("\u201c\u201d\u201e", '"'),
             **dict.fromkeys("\u2013\u2014\u2015", "-")}
_NEWLINES = "\r\n"


def as_powershell_reads(script: str) -> str:
    """The script with PowerShell's alternative characters replaced by the ASCII ones."""
    def one(c: str) -> str:
        if c in _READS_AS:
            return _READS_AS[c]
        if c not in _NEWLINES and (c in "\u00a0\u0085" or (c.isspace() and not c.isascii())):
            return " "
        return c
    return "".join(one(c) for c in script)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str  # as written in the script, before as_powershell_reads


# Nodes taken whole: the grammar builds these from one lexical token.
_ATOMS = {"comment", "verbatim_string_characters", "verbatim_here_string_characters"}


def parse(script: str) -> tuple[Node, list[Token]]:
    """The syntax tree and the tokens in order; the script must parse without errors."""
    read = as_powershell_reads(script).encode("utf-8")
    tree = PARSER.parse(read)
    assert not tree.root_node.has_error, _first_error(tree.root_node)
    tokens = []

    def char(offset: int) -> int:
        return len(read[:offset].decode("utf-8"))

    def walk(node: Node) -> None:
        if node.type in _ATOMS or not node.children:
            tokens.append(Token(node.type, script[char(node.start_byte):char(node.end_byte)]))
            return
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return tree.root_node, tokens


def _first_error(node: Node) -> str:
    for child in _descendants(node):
        if child.type == "ERROR" or child.is_missing:
            return f"parse error at {child.start_point}: {child.text!r:.80}"
    return "parse error"


def _descendants(node: Node) -> Iterator[Node]:
    for child in node.children:
        yield child
        yield from _descendants(child)


def skeleton(node: Node) -> tuple[object, ...]:
    """The tree's shape without any token's text: what the script does, not with what."""
    return (node.type, *(skeleton(c) for c in node.children))


def string_value(literal: str) -> str:
    """What PowerShell reads from a single-quoted literal: a pair of quotes is one quote."""
    assert literal[0] in SINGLE_QUOTES and literal[-1] in SINGLE_QUOTES, literal
    out, chars = [], iter(literal[1:-1])
    for c in chars:
        if c in SINGLE_QUOTES:
            c = next(chars)
            assert c in SINGLE_QUOTES, f"a lone quote inside {literal!r}"
        out.append(c)
    return "".join(out)


def commands(root: Node) -> list[str]:
    """The name of every command the script runs, in order."""
    return [_text(name) for node in _descendants(root) if node.type == "command"
            for name in node.children if name.type == "command_name"]


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8")


def only_inside(tokens: list[Token], kinds: set[str]) -> None:
    """Every token holding the injected command is one of `kinds` (strings, comments)."""
    for token in tokens:
        if "INJECTED" in token.text:
            assert token.kind in kinds, token


INJECTED = "Write-Host INJECTED"
HOSTILE = [
    "it's", "'", "''", "\u2018left\u2019 \u201alow\u201b", "\u2019\u2019\u2019",
    "x\u2019; Write-Host INJECTED; \u2018", "x'; Write-Host INJECTED; '",
    "$(Write-Host INJECTED)", "$()", "${env:PATH}", "$env:USERNAME", "`$x `n `",
    "ends in a backtick`", "#> Write-Host INJECTED <#", "<# x",
    "x\nWrite-Host INJECTED", "x\r\nWrite-Host INJECTED", "x\rWrite-Host INJECTED",
    "x\u2028Write-Host INJECTED", "x\u2029Write-Host INJECTED", "x\u0085Write-Host INJECTED",
    '"@\nWrite-Host INJECTED\n@"', "'@\nWrite-Host INJECTED\n@'", "@'\nx\n'@",
    "a; Write-Host INJECTED", INJECTED, "& { Write-Host INJECTED }", "| Write-Host INJECTED",
    "\u201c$(Write-Host INJECTED)\u201d", "\u2013Command Write-Host INJECTED",
    "x\u2019\nWrite-Host INJECTED #",
]
EVERYTHING = "".join(HOSTILE)

# Places a quoted value stands in the templates: an assignment, a command argument, a
# hashtable entry (collect.ps1's settings) and a path argument.
CONTEXTS = ["$Value = {}", "Set-Policy $Inet 'ProxyServer' {} 'String'",
            "$Settings = [ordered]@{{\r\n    scenario = {}\r\n}}", "Join-Path $PSScriptRoot {}"]


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("value", [*HOSTILE, EVERYTHING])
def test_a_quoted_value_is_one_string_token(value: str, context: str) -> None:
    def script(v: str) -> str:
        line = context.format(ps_string(v))
        return f"Write-Host 'before'\r\n{line}\r\nWrite-Host 'after'\r\n"

    root, tokens = parse(script(value))
    benign_root, _ = parse(script("benign"))
    assert skeleton(root) == skeleton(benign_root)
    strings = [string_value(t.text) for t in tokens if t.kind == "verbatim_string_characters"]
    assert value in strings
    assert commands(root) == commands(benign_root)
    only_inside(tokens, {"verbatim_string_characters"})


@pytest.mark.parametrize("value", [*HOSTILE, EVERYTHING])
def test_a_comment_value_stays_on_its_comment_line(value: str) -> None:
    script = f"Write-Host 'before'\r\n# scenario ({ps_comment(value)})\r\nWrite-Host 'after'\r\n"
    root, tokens = parse(script)
    assert [t.kind for t in tokens if t.kind == "comment"] == ["comment"]
    assert commands(root) == ["Write-Host", "Write-Host"]
    only_inside(tokens, {"comment"})
    assert len(script.splitlines()) == 3  # no line break of any kind was let through
    # The same text inside a block comment cannot close it early.
    block = f"Write-Host 'before'\r\n<# {ps_comment(value)} #>\r\nWrite-Host 'after'\r\n"
    assert commands(parse(block)[0]) == ["Write-Host", "Write-Host"]


_PIECES = st.sampled_from([*SINGLE_QUOTES, "\u201c", '"', "$(", ")", "`", "#>", "<#", "\r\n",
                           "\n", "\r", "\u2028", "\u0085", "@'", "'@", '"@', ";", "|", INJECTED])
_ANY_CHAR = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_TEXT = st.lists(_PIECES | _ANY_CHAR, max_size=30).map("".join)


@settings(max_examples=300, deadline=None, database=None)  # nothing kept in the checkout
@given(_TEXT)
def test_any_text_quotes_to_exactly_itself(value: str) -> None:
    root, tokens = parse(f"$Value = {ps_string(value)}\r\nWrite-Host 'after'\r\n")
    strings = [t for t in tokens if t.kind == "verbatim_string_characters"]
    assert [string_value(t.text) for t in strings] == [value, "after"]
    assert commands(root) == ["Write-Host"]


@settings(max_examples=300, deadline=None, database=None)
@given(_TEXT)
def test_any_text_stays_in_its_comment(value: str) -> None:
    script = f"Write-Host 'before'\r\n# {ps_comment(value)}\r\nWrite-Host 'after'\r\n"
    root, tokens = parse(script)
    assert [t.kind for t in tokens].count("comment") == 1
    assert commands(root) == ["Write-Host", "Write-Host"]


def test_the_filters() -> None:
    assert ps_string("it's $(x) `n") == "'it''s $(x) `n'"
    assert ps_string("\u2018a\u2019\u201a\u201b") == (
        "'\u2018\u2018a\u2019\u2019\u201a\u201a\u201b\u201b'")
    assert ps_string(3) == "'3'" and ps_string("") == "''"
    assert ps_comment("x\nWrite-Host INJECTED") == "x\\nWrite-Host INJECTED"
    assert ps_comment("a\r\nb\u0085c\u2028d\u2029e\tf") == "a\\r\\nb\\u0085c\\u2028d\\u2029e\\tf"
    assert ps_comment("##>> and #>") == "## >> and # >"
    assert ps_comment("right-to-left \u202e override") == "right-to-left \\u202e override"
    assert ps_dword(0) == "0" and ps_dword(3) == "3" and ps_dword(0xFFFFFFFF) == "4294967295"
    for not_a_dword in ("3", "3; Write-Host INJECTED", True, -1, 2**32, 3.0, None):
        with pytest.raises(ValueError):
            ps_dword(not_a_dword)
    for not_text in (None, True, 1.5, ["a"], b"a"):
        with pytest.raises(TypeError):
            ps_string(not_text)
        with pytest.raises(TypeError):
            ps_comment(not_text)


@pytest.mark.parametrize("source", [
    "Write-Host {{ v }}",
    "Write-Host '{{ v }}'",
    "Write-Host {{ v|ps_string ~ '; x' }}",
    "Write-Host {{ v|ps_string|upper }}",
    "Write-Host {{ 'constant' }}",
    "{% set w %}{{ v|ps_string }}{% endset %}Write-Host {{ w }}",
])
def test_a_value_without_the_filter_does_not_render(source: str) -> None:
    with pytest.raises(UnfilteredValueError):
        environment().from_string(source).render(v=INJECTED)


def test_every_expression_in_the_templates_ends_in_a_filter() -> None:
    # The finalize hook only sees branches that run; this reads every branch of every
    # template, and also checks every filter the templates name belongs to lab.powershell.
    env = environment()
    for name in SCRIPTS:
        source = env.loader.get_source(env, f"{name}.j2")[0]  # type: ignore[union-attr]
        outputs = [child for out in env.parse(source).find_all(nodes.Output)
                   for child in out.nodes if not isinstance(child, nodes.TemplateData)]
        assert outputs, name
        for expr in outputs:
            assert isinstance(expr, nodes.Filter) and expr.name in FILTERS, (name, expr)
        assert {f.name for f in env.parse(source).find_all(nodes.Filter)} <= set(FILTERS)


def _hostile_scenario(tmp_path: Path) -> tuple[LoadedScenario, dict[str, str]]:
    """A scenario file, under a hostile file name, with a hostile value in every free text."""
    fields = {name: f"{name.upper()}-MARK {EVERYTHING}" for name in
              ("title", "description", "notes", "version", "channel", "step", "canary")}
    fields["step"] += " {doc}"
    data = {
        "id": "hostile-1", "title": fields["title"], "description": fields["description"],
        "products": ["office", "windows"],
        "build": {"office_version": fields["version"], "channel": fields["channel"],
                  "notes": fields["notes"]},
        "settings": {"office_level": "neither", "windows_level": "security",
                     "connected_experiences": {"all": True, "analyze_content": False,
                                               "download_content": False,
                                               "optional_connected": False}},
        "steps": [{"text": fields["step"], "plants": ["doc"]}],
        "canaries": [{"label": "doc", "value": fields["canary"], "kind": "document-title"}],
    }
    path = tmp_path / "x'; Write-Host INJECTED #\u2019 $(Write-Host INJECTED)\n#>.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML, escapes included
    loaded = load_scenario(path)
    assert loaded.scenario.title == fields["title"]  # every character survived the file
    assert loaded.scenario.steps[0].text == fields["step"]
    return loaded, fields


def test_hostile_scenario_text_never_becomes_code(tmp_path: Path) -> None:
    loaded, fields = _hostile_scenario(tmp_path)
    hostile, benign = render(loaded, PROXY), render(BENIGN, PROXY)
    for name in SCRIPTS:
        root, tokens = parse(hostile[name])
        benign_root, _ = parse(benign[name])
        # Same statements, commands and arguments as for an ordinary scenario: every
        # hostile value sits inside one token.
        assert skeleton(root) == skeleton(benign_root), name
        assert commands(root) == commands(benign_root), name
        only_inside(tokens, {"comment"})
        # Only the header comment carries the title, on its one line.
        header = hostile[name].split("\r\n")[1]
        if name != "teardown.ps1":
            assert ps_comment(fields["title"]) in header
        # Steps, notes and canary values are not part of any script.
        for field in ("description", "notes", "version", "channel", "step", "canary"):
            assert f"{field.upper()}-MARK" not in hostile[name], (name, field)


def test_a_hostile_id_is_quoted_too() -> None:
    # The scenario model only admits ids of letters, digits, dots, dashes and underscores;
    # the quoting does not rely on that.
    with pytest.raises(ValueError):
        Scenario.model_validate({**BENIGN.scenario.model_dump(), "id": "x'; " + INJECTED})
    evil = BENIGN.scenario.model_copy(update={"id": EVERYTHING, "title": EVERYTHING})
    scripts = render(LoadedScenario(evil, "evil\n" + INJECTED + ".yaml", EVERYTHING), PROXY)
    benign = render(BENIGN, PROXY)
    for name in SCRIPTS:
        root, tokens = parse(scripts[name])
        assert skeleton(root) == skeleton(parse(benign[name])[0]), name
        only_inside(tokens, {"comment", "verbatim_string_characters"})
    _, tokens = parse(scripts["collect.ps1"])
    assert EVERYTHING in [string_value(t.text) for t in tokens
                          if t.kind == "verbatim_string_characters"]


def test_the_proxy_is_checked_and_quoted_once() -> None:
    for proxy in ("192.0.2.1:8080'; Write-Host INJECTED; '", "$(Write-Host INJECTED):1",
                  "host:80\nWrite-Host INJECTED", "host"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            render(BENIGN, proxy)
    setup = render(BENIGN, PROXY)["setup.ps1"]
    assert re.search(r"^Set-Policy \$Inet 'ProxyServer' \$Proxy 'String'\r$", setup, re.M)
    assert "$Proxy = '192.0.2.1:8080'\r\n" in setup


def test_written_scripts_carry_a_byte_order_mark(tmp_path: Path) -> None:
    # Windows PowerShell 5.1 reads a script without one in the ANSI code page, where the
    # UTF-8 bytes of "Ē" (C4 92) are "Ä’": a quote that would end the string.
    evil = BENIGN.scenario.model_copy(update={"title": "\u0112; " + INJECTED})
    written = write_scripts(LoadedScenario(evil, "s.yaml", "0" * 64), PROXY, tmp_path, None)
    for path in written:
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf"), path.name
        assert data[3:].decode("utf-8") == render(LoadedScenario(evil, "s.yaml", "0" * 64),
                                                  PROXY)[path.name]
