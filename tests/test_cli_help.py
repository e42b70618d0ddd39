"""The help of both command lines: every command described, every argument explained with its
default, and docs/cli.md generated from the parsers."""

from __future__ import annotations

import argparse

import pytest
from cli_docs import DOCS, command_lines, render

from itbench_server.cli_support import all_parsers

PARSERS = [parser for top in command_lines() for parser in all_parsers(top)]


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        action
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._VersionAction | argparse._SubParsersAction)
    ]


def _shown_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = parser._get_formatter()
    return formatter._expand_help(action) if action.help else ""


@pytest.mark.parametrize("parser", PARSERS, ids=[parser.prog for parser in PARSERS])
def test_every_command_has_a_description(parser: argparse.ArgumentParser) -> None:
    assert (parser.description or "").strip(), f"{parser.prog} has no description"


@pytest.mark.parametrize("parser", PARSERS, ids=[parser.prog for parser in PARSERS])
def test_every_argument_says_what_it_does(parser: argparse.ArgumentParser) -> None:
    silent = [action.dest for action in _arguments(parser) if not (action.help or "").strip()]
    assert silent == [], f"{parser.prog}: no help for {silent}"


@pytest.mark.parametrize("parser", PARSERS, ids=[parser.prog for parser in PARSERS])
def test_every_option_states_its_default(parser: argparse.ArgumentParser) -> None:
    unstated = [
        action.option_strings[-1]
        for action in _arguments(parser)
        if action.option_strings
        and action.nargs != 0  # a flag: off unless given
        and not action.required
        and "default" not in _shown_help(parser, action).lower()
    ]
    assert unstated == [], f"{parser.prog}: no default stated for {unstated}"


@pytest.mark.parametrize("parser", PARSERS, ids=[parser.prog for parser in PARSERS])
def test_cache_dir_states_where_the_cache_is_by_default(parser: argparse.ArgumentParser) -> None:
    for action in _arguments(parser):
        if "--cache-dir" in action.option_strings:
            assert "~/.cache/itbench-server" in _shown_help(parser, action)


def test_docs_cli_md_is_generated_from_the_parsers() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(), (
        "docs/cli.md is out of date: run python tests/support/cli_docs.py"
    )
