"""The exceptions of ``itbench_server``.

    ItbenchError                 base of everything raised on purpose
    ├── SnapshotError            a scenario directory cannot be read
    │   ├── NotAScenarioError    the directory holds none of the expected files
    │   └── SnapshotFileError    one file is unreadable (names the file, and the line if known)
    ├── IndexBuildError          the DuckDB index could not be built or opened
    ├── QueryError               an analysis query was given arguments it cannot answer
    │   ├── EntityNotFoundError  no object has that name
    │   ├── AmbiguousEntityError several objects match a short name (carries the candidates)
    │   └── SelectorError        a label or field selector cannot be parsed (kube.selectors)
    ├── GeneratorError           the synthetic incident generator was given bad options
    ├── SubmissionFormatError    a submission file is not a diagnosis (diagnosis; also a ValueError)
    └── ApiError                 the recorded cluster's API answers a Kubernetes Status (kube.api)

The MCP layer turns ``QueryError`` (model-fixable) into ``ToolError``; the CLI turns any
``ItbenchError`` into a one-line message and a non-zero exit. A message that echoes a value the
caller gave shows it with :func:`quoted`, so that a huge argument gives a short error.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ECHO_LENGTH",
    "AmbiguousEntityError",
    "EntityNotFoundError",
    "GeneratorError",
    "IndexBuildError",
    "ItbenchError",
    "NotAScenarioError",
    "QueryError",
    "SnapshotError",
    "SnapshotFileError",
    "quoted",
]

ECHO_LENGTH = 200
"""The most characters of a caller's value an error message repeats."""


def quoted(value: str, limit: int = ECHO_LENGTH) -> str:
    """``value`` as ``repr`` shows it, cut to its first ``limit`` characters with its length when longer.

    ``quoted("ad")`` is ``'ad'``; a 10 MB regular expression gives its first 200 characters then
    ``… (10485760 characters)``.
    """
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"


class ItbenchError(Exception):
    """Base class of every error this package raises on purpose."""


class SnapshotError(ItbenchError):
    """A scenario directory cannot be read."""


class NotAScenarioError(SnapshotError):
    """The directory is missing or holds none of the files of a scenario."""


class SnapshotFileError(SnapshotError):
    """One file of a scenario is unreadable."""

    def __init__(self, path: Path | str, reason: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {reason}")


class IndexBuildError(ItbenchError):
    """The index of a scenario could not be built or opened."""


class QueryError(ItbenchError):
    """An analysis query got arguments it cannot answer; the message says how to fix them."""


class EntityNotFoundError(QueryError):
    """No recorded object has the requested name."""


class AmbiguousEntityError(QueryError):
    """A short name matches several objects."""

    def __init__(self, message: str, candidates: list[str]) -> None:
        self.candidates = candidates
        super().__init__(message)


class GeneratorError(ItbenchError):
    """The synthetic incident generator was given options it cannot honour."""
