"""SQL building blocks shared by the analyses: literals, regular expressions and message templates
(the last defined with the index's log template miner, :mod:`itbench_server.snapshot.logtemplates`).

Regular expressions run in DuckDB, whose ``regexp_*`` functions use RE2: matching takes time
linear in the text, whatever the pattern. Patterns are inlined as constants so that DuckDB
compiles each once per query, not once per row.
"""

from __future__ import annotations

import re
from typing import Final

import duckdb

from itbench_server.errors import QueryError, quoted
from itbench_server.snapshot.logtemplates import TEMPLATE_RULES, message_sql, sql_literal, template_sql
from itbench_server.snapshot.snapshot import Snapshot

__all__ = [
    "TEMPLATE_RULES",
    "check_regex",
    "json_text_sql",
    "member_of_sql",
    "message_sql",
    "regex_match_sql",
    "sql_literal",
    "template_sql",
]

# What a workload's generated objects add to its name: a ReplicaSet's hash (ad-5d9f7c6b8), and
# then a pod's id (ad-5d9f7c6b8-x2x9q), a StatefulSet pod's ordinal (kafka-0), or a DaemonSet
# or Job pod's id (chaos-daemon-npdq7). Kubernetes writes these ids without vowels, which tells
# them from the words of another workload's name (frontend-proxy is not a pod of frontend).
_ID: Final = "[b-df-hj-np-tv-z0-9]"
_GENERATED_SUFFIX: Final = rf"-({_ID}{{5,10}}(-{_ID}{{5}})?|[0-9]+)$"


def member_of_sql(column: str, name: str) -> str:
    """A SQL condition: ``column`` is ``name`` or an object generated from it (its ReplicaSets and
    pods: ``ad``, ``ad-5d9f7c6b8``, ``ad-5d9f7c6b8-x2x9q``; not ``ad-proxy-5d9f7c6b8-x2x9q``)."""
    pattern = "^" + re.escape(name) + _GENERATED_SUFFIX
    return f"({column} = {sql_literal(name)} OR regexp_matches({column}, {sql_literal(pattern)}))"


def check_regex(snapshot: Snapshot, pattern: str, *, what: str = "pattern") -> None:
    """Raise ``QueryError`` with RE2's reason when ``pattern`` is not a valid RE2 expression."""
    try:
        snapshot.query("SELECT regexp_matches('', ?)", [pattern])
    except duckdb.Error as error:
        reason = str(error).split("Error: ", 1)[-1]
        if len(reason) > 300:  # RE2 quotes the offending part of the pattern, which may be all of it
            reason = reason[:300] + "…"
        raise QueryError(
            f"{what} {quoted(pattern)} is not a valid regular expression ({reason}); "
            "use RE2 syntax (no backreferences or lookaround), e.g. 'timeout|refused'"
        ) from None


def regex_match_sql(column: str, pattern: str, *, ignore_case: bool) -> str:
    """A SQL condition: ``column`` contains a match of ``pattern`` (RE2, search semantics)."""
    options = ", 'i'" if ignore_case else ""
    return f"regexp_matches({column}, {sql_literal(pattern)}{options})"


def json_text_sql(column: str, key: str) -> str:
    """The string value of the top-level ``key`` of the JSON text in ``column`` (NULL if absent)."""
    return f"json_extract_string({column}, {sql_literal('$.' + _json_key(key))})"


def _json_key(key: str) -> str:
    return '"' + key.replace('"', '\\"') + '"'
