"""docs/cli.md, generated from the parsers of ``itbench-server`` and ``itbench-eval``.

``python tests/support/cli_docs.py`` rewrites it; ``tests/test_cli_docs.py`` checks it is current.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from itbench_server.cli_support import all_parsers

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
WIDTH = 100

HEADER = """# Command-line reference

Generated from the parsers by `python tests/support/cli_docs.py`; a test fails when this file and
the parsers disagree. Every error made on purpose is one line on stderr and exit status 2; results go
to stdout and progress to stderr.

Shell completion of commands, options and paths comes with
[argcomplete](https://github.com/kislyuk/argcomplete), installed with itbench-server. Activate it
once per shell (bash or zsh; add the lines to `~/.bashrc` or `~/.zshrc` to keep it):

```sh
eval "$(register-python-argcomplete itbench-server)"
eval "$(register-python-argcomplete itbench-eval)"
```

For fish: `register-python-argcomplete --shell fish itbench-server | source` (and the same for
itbench-eval).
"""


def command_lines() -> list[argparse.ArgumentParser]:
    from itbench_eval.cli import build_parser as eval_parser
    from itbench_server.cli import build_parser as server_parser

    return [server_parser(), eval_parser()]


@contextmanager
def fixed_width(columns: int = WIDTH) -> Iterator[None]:
    """argparse wraps help at ``$COLUMNS``: fix it so that the text does not depend on the terminal."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def render() -> str:
    sections = [HEADER]
    with fixed_width():
        for top in command_lines():
            for parser in all_parsers(top):
                level = "##" if parser is top else "###"
                sections.append(f"{level} `{parser.prog}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return "\n".join(sections)


def main() -> int:
    DOCS.write_text(render(), encoding="utf-8")
    print(f"wrote {DOCS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
