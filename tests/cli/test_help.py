"""`--help` tells the truth: each command its own exit codes; the README's CLI synopsis
lists every option each command has, and no option it lacks."""

from __future__ import annotations

import argparse
import re

import pytest

from sla_runner.cli import build_parser, run
from tests.support.paths import ROOT

EXIT_CODES = {
    "run": {0, 1, 2, 3, 4, 130},
    "demo": {0, 1, 2, 3, 4, 130},
    "capacity": {0, 1, 2, 3, 4, 130},
    "merge": {0, 1, 2, 3, 4, 130},
    "k8s": {0, 2, 3, 130},
    "compare": {0, 1, 2, 3, 130},
    "report": {0, 2, 3, 130},
    "validate": {0, 2, 130},
    "plan": {0, 2, 130},
    "diff": {0, 1, 2, 130},
    "migrate": {0, 2, 130},
    "schema": {0, 2, 130},  # Ctrl-C is 130 everywhere
    "demo-service": {0, 2, 3, 130},
}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help" and action.help != argparse.SUPPRESS
    }


@pytest.mark.parametrize("command", sorted(EXIT_CODES))
def test_each_command_prints_its_own_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([command, "--help"]) == 0
    out = capsys.readouterr().out
    table = out.split("\nexit codes:\n", 1)[1]
    codes = {int(m[1]) for m in re.finditer(r"^  (\d+) ", table, re.MULTILINE)}
    assert codes == EXIT_CODES[command]


def test_every_command_has_its_exit_codes_listed_here() -> None:
    assert set(_subcommands()) == set(EXIT_CODES)


def _readme_synopsis() -> dict[str, set[str]]:
    """``sla-runner COMMAND …`` lines of the README's CLI block (with their continuation
    lines) → the ``--options`` they name."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("\n## CLI\n", 1)[1].split("```\n", 2)[1]
    synopsis: dict[str, set[str]] = {}
    command = ""
    for line in block.splitlines():
        if line.startswith("sla-runner "):
            command = line.split()[1]
            synopsis.setdefault(command, set())
        elif not line.strip().startswith("["):
            continue  # a description line
        options = re.split(r"\s{3,}", line.strip())[0]  # not the description after it
        synopsis[command] |= set(re.findall(r"(--[a-z][a-z-]*)", options))
    return synopsis


def test_the_readme_synopsis_lists_every_option_of_every_command() -> None:
    synopsis = _readme_synopsis()
    top = synopsis.pop("--version", set()) | synopsis.pop("--help", set())
    options = {name: _options(parser) for name, parser in _subcommands().items()}
    assert synopsis == options
    assert _options(build_parser()) <= top


def test_help_nits(capsys: pytest.CaptureFixture[str]) -> None:
    """The exit-3 row names what README lists; demo --reports says what it is; an unknown
    option prints the subcommand's usage, not the top-level one."""
    for argv in (["--help"], ["run", "--help"]):
        assert run(argv) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "TLS handshake or WebSocket upgrade refused" in out
    assert run(["demo", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--reports DIR the directory to write junit.xml and verdict.json in" in out
    assert run(["validate", "--nope", "x.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: sla-runner validate ")
    assert "error: unrecognized arguments: --nope" in err


def test_capacity_says_which_ctrl_c_quits_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    """The first Ctrl-C stops the step and reports what was measured (exit 3): only a
    second one quits at once (130)."""
    assert run(["capacity", "--help"]) == 0
    table = capsys.readouterr().out.split("\nexit codes:\n", 1)[1]
    line = " ".join(table.split("  130  ", 1)[1].split())
    assert line.startswith("a second Ctrl-C (the first stops the step under way;")
