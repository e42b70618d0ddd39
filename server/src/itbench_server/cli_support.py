"""What the command lines share: checks that turn bad values and unwritable paths into one-line
errors before the work starts, the Ctrl-C handler of the stdio server, help that states every
default, and shell completion."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from itbench_server.errors import ItbenchError

__all__ = [
    "CACHE_DIR_DEFAULT",
    "CACHE_DIR_HELP",
    "EXIT_INTERRUPTED",
    "DefaultsHelpFormatter",
    "all_parsers",
    "check_port",
    "check_writable_file",
    "enable_completion",
    "os_error_line",
    "stop_at_once_on_interrupt",
    "use_defaults_help",
]

EXIT_INTERRUPTED = 130


def check_port(port: int, option: str = "--port") -> None:
    """Raises ItbenchError (one line) unless ``port`` is a TCP port, 0 to 65535 (0: a free one)."""
    if not 0 <= port <= 65535:
        raise ItbenchError(f"{option} {port}: not a port number (0 to 65535)")


def check_writable_file(path: Path, option: str, *, create: bool = True) -> None:
    """Make sure ``path`` can be written (creating its directory), before any work starts.

    With ``create`` the file is created if missing (readable by its owner only), as an append-only
    log is; without it only its directory is made and checked, so that no empty file stands for a
    result not yet written.

    Raises:
        ItbenchError: one line naming the option and why, e.g. its directory cannot be created.
    """
    try:
        if path.is_dir():
            raise ItbenchError(f"{option} {path}: is a directory; give a file")
        blocking = next((parent for parent in path.parents if parent.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise ItbenchError(f"{option} {path}: cannot write there: {blocking} is not a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        if create:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        elif not os.access(path.parent, os.W_OK):
            raise ItbenchError(f"{option} {path}: cannot write there: Permission denied")
    except OSError as error:
        raise ItbenchError(f"{option} {path}: cannot write there: {error.strerror or error}") from None


def os_error_line(error: OSError) -> str:
    """One line for an operating-system error the commands did not foresee."""
    where = f"{error.filename}: " if error.filename is not None else ""
    return f"{where}{error.strerror or error}"


@contextmanager
def stop_at_once_on_interrupt(name: str) -> Iterator[None]:
    """Within the block, Ctrl-C (SIGINT) and SIGTERM end the process at once, with exit status 130.

    The MCP stdio transport reads stdin in a worker thread that no cancellation reaches: a normal
    shutdown would wait for that thread, that is for the next line of input. Every result and
    audit record is flushed when written, so there is nothing left to save.
    """

    def stop(signum: int, _frame: FrameType | None) -> None:
        what = "interrupted" if signum == signal.SIGINT else "terminated"
        try:
            sys.stderr.write(f"{name}: {what}; stopped\n")
            sys.stderr.flush()
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        os._exit(EXIT_INTERRUPTED)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


CACHE_DIR_DEFAULT = (
    "default: $ITBENCH_CACHE_DIR, else $XDG_CACHE_HOME/itbench-server, else ~/.cache/itbench-server"
)
CACHE_DIR_HELP = f"where indexes are kept ({CACHE_DIR_DEFAULT})"


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that states every option's default: ``(default: X)`` is added to a help that names none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "default" in text.lower()
            or not action.option_strings
            or action.default is None
            or action.default is False
            or action.default == argparse.SUPPRESS
            or isinstance(action, argparse._StoreConstAction | argparse._StoreTrueAction)
        ):
            return text
        return f"{text} (default: %(default)s)"


def all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every subcommand's parser below it, depth first, in the order they were added."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += all_parsers(sub)
    return found


def use_defaults_help(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give ``parser`` and all its subcommands :class:`DefaultsHelpFormatter`; returns ``parser``."""
    for each in all_parsers(parser):
        each.formatter_class = DefaultsHelpFormatter
    return parser


def enable_completion(parser: argparse.ArgumentParser) -> None:
    """Shell completion with argcomplete: when the shell asks (``$_ARGCOMPLETE`` set), print the
    completions and exit; otherwise, or without argcomplete installed, do nothing.

    Activate it once per shell: ``eval "$(register-python-argcomplete itbench-server)"``.
    """
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)
