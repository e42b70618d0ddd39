"""The bounds of tool arguments: what a caller may send, documented in every input schema.

Every string argument of a tool declares a ``max_length`` (JSON schema ``maxLength``) from this
module, every list argument a most number of items; an argument over its bound is refused with
a validation error that names it. :data:`MAX_ARGUMENT_CHARS` is the ceiling for any string in any
tool's arguments, checked before validation by ``argument_guard_middleware``
(:mod:`itbench_server.mcp.calls`), so that a tool without its own bound is covered too.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DURATION_CHARS",
    "KEYS_CHARS",
    "MAX_ARGUMENT_CHARS",
    "MAX_LABELS",
    "MAX_OFFSET",
    "NAME_CHARS",
    "PATTERN_CHARS",
    "TIME_CHARS",
    "VALUE_CHARS",
]

MAX_ARGUMENT_CHARS: Final = 20_000
"""The most characters of any one string in a call's arguments, whatever the tool."""

NAME_CHARS: Final = 512
"""A name: a service, pod, container, namespace, kind, alert, trace id or namespace/Kind/name."""

TIME_CHARS: Final = 64
"""A time: RFC 3339 or relative (since, until, pivot)."""

DURATION_CHARS: Final = 32
"""A duration such as 30s or 1h30m (step)."""

PATTERN_CHARS: Final = 1_000
"""A regular expression (RE2)."""

KEYS_CHARS: Final = 1_000
"""A comma-separated list of keys or kinds (by, kind)."""

VALUE_CHARS: Final = 1_000
"""A label value."""

MAX_LABELS: Final = 20
"""The most label filters one metrics call may give."""

MAX_OFFSET: Final = 1_000_000_000
"""The largest offset a paged result accepts."""
