"""SQL building blocks shared by the analyses: literals, regular expressions and message templates.

Regular expressions run in DuckDB, whose ``regexp_*`` functions use RE2: matching takes time
linear in the text, whatever the pattern. Patterns are inlined as constants so that DuckDB
compiles each once per query, not once per row.
"""

from __future__ import annotations

import re
from typing import Final

import duckdb

from itbench_server.errors import QueryError, quoted
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

# A character no log holds (Unicode private use), put before a host:port pair and its port so
# that the rules after it leave them alone, and taken out at the end: the address a message names
# (``ECONNREFUSED 10.96.103.36:8080``, ``http://quote:8081/getquote``) is often the decisive fact,
# so it is kept.
_KEEP: Final = "\ue000"

# Variable parts of a message, replaced in this order (earlier rules protect their matches from
# later ones): timestamps, UUIDs, host:port pairs (kept: marked with _KEEP, which the IP and number
# rules do not follow), hex numbers and long hex ids, IPv4 addresses without a port, quoted text,
# and numbers that do not sit inside a word or a dotted name (``took 35ms`` -> ``took <NUM>ms``;
# ``x2x9q`` and ``v1.2.3`` are kept).
TEMPLATE_RULES: Final[tuple[tuple[str, str], ...]] = (
    (r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?([.,]\d+)?(Z|[+-]\d\d:?\d\d)?", "<TIME>"),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<UUID>"),
    (
        r"\b(\d{1,3}(?:\.\d{1,3}){3}|[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*):(\d{1,5})\b",
        rf"{_KEEP}\1:{_KEEP}\2",
    ),
    (r"\b(?:0[xX][0-9a-fA-F]+|[0-9a-fA-F]{8,})\b", "<HEX>"),
    (rf"(^|[^\w.{_KEEP}])\d{{1,3}}\.\d{{1,3}}\.\d{{1,3}}\.\d{{1,3}}\b", r"\1<IP>"),
    (r'"[^"]*"', '"<*>"'),
    (r"(^|[^A-Za-z0-9])'[^']*'", r"\1'<*>'"),  # not from an apostrophe: can't ... 'x'
    (rf"(^|[^A-Za-z0-9_<.{_KEEP}])-?\d+(\.\d+)?", r"\1<NUM>"),
)


def sql_literal(text: str) -> str:
    """``text`` as a SQL string constant."""
    return "'" + text.replace("'", "''") + "'"


# Structured (JSON) log bodies are templated by their message fields, not their whole text.
_JSON_MESSAGE_KEYS: Final = ("msg", "message", "err.message", "error.message", "error", "exception")


def message_sql(expression: str) -> str:
    """A SQL expression giving the message of a log body: a JSON object body is represented by its
    message fields (``msg``, ``message``, ``err.message``...) joined with `` | ``, when it has any;
    any other body is itself."""
    fields = ", ".join(
        f"json_extract_string({expression}, {sql_literal('$.' + '.'.join(_json_key(part) for part in key.split('.')))})"
        for key in _JSON_MESSAGE_KEYS
    )
    return (
        f"CASE WHEN starts_with(ltrim({expression}), '{{') AND json_valid({expression})"
        f" THEN coalesce(nullif(concat_ws(' | ', {fields}), ''), {expression}) ELSE {expression} END"
    )


def template_sql(expression: str) -> str:
    """A SQL expression giving the template of the text ``expression``: variable parts masked."""
    for pattern, replacement in TEMPLATE_RULES:
        expression = f"regexp_replace({expression}, {sql_literal(pattern)}, {sql_literal(replacement)}, 'g')"
    return f"replace({expression}, {sql_literal(_KEEP)}, '')"


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
