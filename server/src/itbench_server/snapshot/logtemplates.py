"""Log templates, mined once at index time: every log record's message with its variable parts
masked, so that ``search_logs`` ``mode=patterns`` groups small integers instead of masking
every distinct body on each call.

Two tables beside ``logs`` (not part of the ``run_sql`` contract, :data:`TABLE_DDL`):

* ``log_templates (template_id INTEGER, template VARCHAR)``: each distinct template once;
* ``log_row_templates (template_id INTEGER)``: one row per ``logs`` row, in the same order, so
  that ``logs POSITIONAL JOIN log_row_templates`` gives every record its template.

The masking is done in DuckDB by :func:`template_sql` over :func:`message_sql`, once per
distinct body (the first :data:`DISTINCT_CUT` characters).
"""

from __future__ import annotations

from typing import Final

import duckdb

__all__ = [
    "DISTINCT_CUT",
    "TEMPLATE_CUT",
    "TEMPLATE_RULES",
    "message_sql",
    "mine_log_templates",
    "sql_literal",
    "template_sql",
]

TEMPLATE_CUT: Final = 300
"""Messages are cut to this length before they are turned into templates."""

DISTINCT_CUT: Final = 4000
"""Bodies are compared (and JSON bodies parsed) on this many characters at most."""

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

# Structured (JSON) log bodies are templated by their message fields, not their whole text.
_JSON_MESSAGE_KEYS: Final = ("msg", "message", "err.message", "error.message", "error", "exception")


def sql_literal(text: str) -> str:
    """``text`` as a SQL string constant."""
    return "'" + text.replace("'", "''") + "'"


def _json_path(key: str) -> str:
    """The JSON path of a dotted key, each part quoted: ``err.message`` -> ``$."err"."message"``."""
    return "$." + ".".join('"' + part.replace('"', '\\"') + '"' for part in key.split("."))


def message_sql(expression: str) -> str:
    """A SQL expression giving the message of a log body: a JSON object body is represented by its
    message fields (``msg``, ``message``, ``err.message``...) joined with `` | ``, when it has any;
    any other body is itself."""
    fields = ", ".join(
        f"json_extract_string({expression}, {sql_literal(_json_path(key))})" for key in _JSON_MESSAGE_KEYS
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


def mine_log_templates(db: duckdb.DuckDBPyConnection) -> None:
    """Create ``log_templates`` and ``log_row_templates`` from the filled ``logs`` table."""
    template = template_sql(f"left({message_sql('body_key')}, {TEMPLATE_CUT})")
    db.execute(
        f"""
        CREATE TEMP TABLE body_templates AS
        SELECT body_key, {template} AS template
        FROM (SELECT DISTINCT left(body, {DISTINCT_CUT}) AS body_key FROM logs)
        """
    )
    db.execute(
        """
        CREATE TABLE log_templates AS
        SELECT (row_number() OVER (ORDER BY template NULLS FIRST))::INTEGER AS template_id, template
        FROM (SELECT DISTINCT template FROM body_templates)
        """
    )
    # One row per logs row in the logs table's order (rowid), which POSITIONAL JOIN relies on:
    # the ORDER BY is kept by the insert as long as preserve_insertion_order is on (the default).
    db.execute("SET preserve_insertion_order = true")
    db.execute(
        f"""
        CREATE TABLE log_row_templates AS
        SELECT t.template_id
        FROM (SELECT rowid AS row_number, left(body, {DISTINCT_CUT}) AS body_key FROM logs) AS l
        LEFT JOIN body_templates AS b ON b.body_key IS NOT DISTINCT FROM l.body_key
        LEFT JOIN log_templates AS t ON t.template IS NOT DISTINCT FROM b.template
        ORDER BY l.row_number
        """
    )
    db.execute("DROP TABLE body_templates")
    logs_rows, template_rows = db.execute(
        "SELECT (SELECT count(*) FROM logs), (SELECT count(*) FROM log_row_templates)"
    ).fetchone()  # type: ignore[misc]
    if logs_rows != template_rows:  # a broken invariant, not bad input: never serve misaligned rows
        raise RuntimeError(f"log templates: {template_rows} rows for {logs_rows} log records")
