"""The console the commands print their results (tables) on: stdout, never wrapped when piped."""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console

__all__ = ["PIPED_WIDTH", "results_console"]

PIPED_WIDTH = 10_000
"""The width results are laid out in when stdout is not a terminal: wide enough that no table row
or line is wrapped, so that grep, a file or another program reads one record per line."""


def results_console(file: TextIO | None = None) -> Console:
    """A rich console on ``file`` (stdout): the terminal's width on a terminal; when piped or
    redirected, no colour codes and a width no line reaches instead of rich's 80 columns."""
    stream = file if file is not None else sys.stdout
    if stream.isatty():
        return Console(file=stream)
    return Console(file=stream, width=PIPED_WIDTH, no_color=True, highlight=False)
