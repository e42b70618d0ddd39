"""Log search: matching lines, log templates with counts, and counts per service or minute.

All filtering, matching and grouping runs in DuckDB; only the rows shown come back. A regular
expression over most of the logs is narrowed first by a literal prefilter: the text it needs
(:func:`~itbench_server.snapshot.regexliterals.required_literals`) is looked up in the bodies file
beside the index (:mod:`itbench_server.snapshot.logbodies`), and RE2 reads only the lines that
hold it. RE2 still decides every match, so the results are the same with and without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import dropwhile
from typing import Any, Final, Literal

import duckdb

from itbench_server.analysis.minutes import minutes_between, onset_of
from itbench_server.analysis.sqltext import check_regex, member_of_sql, regex_match_sql
from itbench_server.analysis.timeparse import format_time
from itbench_server.errors import QueryError, quoted
from itbench_server.snapshot.logbodies import log_bodies
from itbench_server.snapshot.logtemplates import DISTINCT_CUT, TEMPLATE_CUT
from itbench_server.snapshot.regexliterals import required_literals
from itbench_server.snapshot.snapshot import Snapshot

__all__ = [
    "BODY_CUT",
    "DISTINCT_CUT",
    "EXAMPLE_CUT",
    "PREFILTER_MIN_ROWS",
    "PREFILTER_MIN_SHARE",
    "SEVERITY_LEVELS",
    "SEVERITY_NUMBER_SQL",
    "TEMPLATE_CUT",
    "LogCount",
    "LogLine",
    "LogLines",
    "LogScope",
    "LogTemplate",
    "ServiceMinutes",
    "check_log_filters",
    "log_counts",
    "log_templates",
    "render_counts",
    "render_lines",
    "render_service_minutes",
    "render_templates",
    "search_lines",
    "service_minutes",
    "severity_threshold",
]

BODY_CUT: Final = 500
"""Longest log body shown; longer ones are cut with a note."""

# Lowest severity_number of each level (OpenTelemetry's log data model).
SEVERITY_LEVELS: Final[dict[str, int]] = {
    "TRACE": 1,
    "DEBUG": 5,
    "INFO": 9,
    "WARN": 13,
    "ERROR": 17,
    "FATAL": 21,
}
_SEVERITY_ALIASES: Final = {
    "WARNING": "WARN",
    "ERR": "ERROR",
    "CRITICAL": "FATAL",
    "CRIT": "FATAL",
    "PANIC": "FATAL",
}

CountBy = Literal["service", "pod", "minute", "severity", "service_minute"]


@dataclass(frozen=True)
class LogScope:
    """Which log records a search looks at."""

    since: datetime
    until: datetime
    service: str | None = None
    pod: str | None = None
    container: str | None = None
    min_severity: str | None = None
    pattern: str | None = None
    exclude: str | None = None
    ignore_case: bool = False


@dataclass(frozen=True)
class LogLine:
    ts: datetime
    service: str
    pod: str
    severity: str
    body: str


@dataclass(frozen=True)
class LogLines:
    in_scope: int
    """Records in the time window and filters, before the pattern."""
    matched: int
    offset: int
    lines: list[LogLine] = field(default_factory=list)


@dataclass(frozen=True)
class LogTemplate:
    service: str
    template: str
    count: int
    first_seen: datetime
    last_seen: datetime
    severity: str
    example: str


@dataclass(frozen=True)
class LogCount:
    key: str
    total: int
    warnings: int
    errors: int


def severity_threshold(level: str) -> int:
    """The lowest severity_number of ``level`` (``warn``, ``error``...); QueryError if unknown."""
    normalized = level.strip().upper()
    normalized = _SEVERITY_ALIASES.get(normalized, normalized)
    if normalized not in SEVERITY_LEVELS:
        raise QueryError(
            f"min_severity {quoted(level)} is not a level; use one of {', '.join(SEVERITY_LEVELS)}"
        )
    return SEVERITY_LEVELS[normalized]


# The severity_number of a record, from its text when the number is absent.
SEVERITY_NUMBER_SQL: Final = (
    "coalesce(nullif(severity_number, 0), CASE upper(severity) "
    + " ".join(f"WHEN '{name}' THEN {number}" for name, number in SEVERITY_LEVELS.items())
    + " ELSE 0 END)"
)


def _scope_sql(snapshot: Snapshot, scope: LogScope, *, exclude: bool = True) -> tuple[str, list[object]]:
    """The WHERE clause (without the pattern; without ``exclude`` if told) and its parameters."""
    conditions = ["ts BETWEEN ? AND ?"]
    parameters: list[object] = [scope.since, scope.until]
    if scope.service:
        conditions.append("lower(service) = lower(?)")
        parameters.append(scope.service)
    if scope.pod:
        conditions.append(member_of_sql("pod", scope.pod))
    if scope.container:
        conditions.append("container = ?")
        parameters.append(scope.container)
    if scope.min_severity:
        conditions.append(f"{SEVERITY_NUMBER_SQL} >= {severity_threshold(scope.min_severity)}")
    if scope.exclude and exclude:
        check_regex(snapshot, scope.exclude, what="exclude")
        conditions.append("NOT " + regex_match_sql("body", scope.exclude, ignore_case=scope.ignore_case))
    return " AND ".join(conditions), parameters


PREFILTER_MIN_ROWS: Final = 10_000
PREFILTER_MIN_SHARE: Final = 1 / 3
"""The prefilter reads every body and every row (it cannot skip the rows out of scope): it is used
when the lines in scope (before the pattern) are at least this many and this share of all lines.
On the 1 GB incident it costs about a third of RE2 over every line (docs/benchmarks.md)."""

_FLAGS_VIEW: Final = "log_prefilter"


@dataclass(frozen=True)
class _Search:
    """How one search reads the logs: its cursor, the WHERE clause without the pattern, the
    pattern's condition and, when prefiltered, the view of candidate flags to join."""

    cursor: duckdb.DuckDBPyConnection
    where: str
    parameters: list[object]
    match: str
    prefiltered: bool
    body: str = "body"
    """The column of the body of a matching row (when prefiltered: the candidates' bodies, read
    from the bodies file, so that DuckDB does not read every row's body from the index)."""

    def source(self, tables: str = "logs") -> str:
        """``tables`` (logs, or logs positionally joined with row-aligned tables), with the flags."""
        return f"{tables} POSITIONAL JOIN {_FLAGS_VIEW}" if self.prefiltered else tables

    def query(self, sql: str, parameters: list[object] | None = None) -> list[tuple[Any, ...]]:
        return self.cursor.execute(sql, parameters if parameters is not None else self.parameters).fetchall()


@contextlib.contextmanager
def _searching(snapshot: Snapshot, scope: LogScope, *, prefilter: bool | None) -> Iterator[_Search]:
    """The search of ``scope`` (``prefilter``: None decides by the scope's size, True and False force it)."""
    where, parameters = _scope_sql(snapshot, scope)
    if not scope.pattern:
        with snapshot.cursor() as cursor:
            yield _Search(cursor, where, parameters, "TRUE", prefiltered=False)
        return
    check_regex(snapshot, scope.pattern)
    with snapshot.cursor() as cursor:
        prefiltered = _prefiltered(snapshot, scope, cursor, prefilter)
        if prefiltered is None:
            match = regex_match_sql("body", scope.pattern, ignore_case=scope.ignore_case)
            yield _Search(cursor, where, parameters, match, prefiltered=False)
            return
        flags, bodies = prefiltered
        cursor.register(_FLAGS_VIEW, {"candidate": flags, "candidate_body": bodies})
        match = regex_match_sql("candidate_body", scope.pattern, ignore_case=scope.ignore_case)
        try:
            yield _Search(
                cursor, where, parameters, f"candidate AND {match}", prefiltered=True, body="candidate_body"
            )
        finally:
            cursor.unregister(_FLAGS_VIEW)


def _prefiltered(
    snapshot: Snapshot, scope: LogScope, cursor: duckdb.DuckDBPyConnection, prefilter: bool | None
) -> tuple[Any, Any] | None:
    """One flag per logs row (False where the row cannot match the pattern) and the flagged rows'
    bodies; None: search without the prefilter."""
    assert scope.pattern is not None
    need = required_literals(scope.pattern, ignore_case=scope.ignore_case)
    if need is None or prefilter is False:
        return None
    if prefilter is None and not _worth_prefiltering(snapshot, scope, cursor):
        return None
    bodies = log_bodies(snapshot)
    flags = bodies.candidates(need) if bodies is not None else None
    if bodies is None or flags is None:
        return None
    return flags, bodies.bodies_of(flags)


def _worth_prefiltering(snapshot: Snapshot, scope: LogScope, cursor: duckdb.DuckDBPyConnection) -> bool:
    where, parameters = _scope_sql(snapshot, scope, exclude=False)
    in_scope, total = cursor.execute(
        f"SELECT count(*) FILTER (WHERE {where}), count(*) FROM logs", parameters
    ).fetchall()[0]
    return in_scope >= PREFILTER_MIN_ROWS and in_scope >= PREFILTER_MIN_SHARE * total


def check_log_filters(snapshot: Snapshot, scope: LogScope) -> None:
    """Raise ``QueryError`` naming the known values when a service or pod filter matches no log."""
    if scope.service:
        rows = snapshot.query("SELECT 1 FROM logs WHERE lower(service) = lower(?) LIMIT 1", [scope.service])
        if not rows:
            known = [name for (name,) in snapshot.query("SELECT DISTINCT service FROM logs ORDER BY 1")]
            raise QueryError(
                f"service {quoted(scope.service)} has no logs; services with logs: {', '.join(map(str, known))}"
            )
    if scope.pod:
        rows = snapshot.query(f"SELECT 1 FROM logs WHERE {member_of_sql('pod', scope.pod)} LIMIT 1")
        if not rows:
            raise QueryError(
                f"pod {quoted(scope.pod)} has no logs; give a pod, ReplicaSet or workload name (ad matches ad-5d9f7c6b8-x2x9q), "
                "or filter by service"
            )


def search_lines(
    snapshot: Snapshot,
    scope: LogScope,
    *,
    offset: int,
    limit: int,
    newest_first: bool = False,
    prefilter: bool | None = None,
) -> LogLines:
    """The matching records in time order (``newest_first`` reverses it), one page of them.

    ``prefilter`` forces the literal prefilter on or off (None: on when the scope is large); the
    result is the same either way.
    """
    order = "DESC" if newest_first else "ASC"
    with _searching(snapshot, scope, prefilter=prefilter) as search:
        # The pattern is evaluated once: the page carries the count of matching records (a window
        # over all of them, computed before LIMIT), so only an empty page needs a second query.
        rows = search.query(
            f"""
            SELECT ts, coalesce(service, ''), coalesce(pod, ''), coalesce(severity, ''),
                   left({search.body}, {BODY_CUT + 1}), count(*) OVER () AS matched
            FROM {search.source()} WHERE {search.where} AND {search.match}
            ORDER BY ts {order}, service, pod, {search.body}
            LIMIT ? OFFSET ?
            """,
            [*search.parameters, limit, offset],
        )
        if rows:
            matched = rows[0][-1]
            (in_scope,) = search.query(f"SELECT count(*) FROM logs WHERE {search.where}")[0]
        else:
            in_scope, matched = search.query(
                f"SELECT count(*), count(*) FILTER (WHERE {search.match}) FROM {search.source()} WHERE {search.where}"
            )[0]
    return LogLines(in_scope, matched, offset, [LogLine(*row[:-1]) for row in rows])


def log_templates(snapshot: Snapshot, scope: LogScope, *, prefilter: bool | None = None) -> list[LogTemplate]:
    """Templates of the matching records per service, most frequent first.

    A template is the message with its variable parts masked (timestamps, numbers, hex ids,
    UUIDs, IP addresses, quoted strings); the message of a JSON body is its ``msg``/``message``/
    ``err.message`` fields. Identical bodies are grouped first, so the masking runs once per
    distinct body, not once per record.
    """
    # Each record's template was mined at index time (log_row_templates, row-aligned with logs):
    # grouping is by integer id; the example is the earliest record's body, cut once per group
    # (cutting every record's body before arg_min cost half of the query).
    with _searching(snapshot, scope, prefilter=prefilter) as search:
        rows = search.query(
            f"""
        WITH grouped AS (
            SELECT coalesce(service, '') AS service, template_id, count(*) AS n,
                   min(ts) AS first_seen, max(ts) AS last_seen, max({SEVERITY_NUMBER_SQL}) AS severity_number,
                   left(arg_min({search.body}, ts), {DISTINCT_CUT}) AS example
            FROM {search.source("logs POSITIONAL JOIN log_row_templates")}
            WHERE {search.where} AND {search.match}
            GROUP BY ALL
        )
        SELECT service, template, n, first_seen, last_seen, severity_number, left(example, {BODY_CUT})
        FROM grouped JOIN log_templates USING (template_id)
        ORDER BY n DESC, service, template
        """
        )
    return [
        LogTemplate(service, template, count, first, last, _severity_name(number), example)
        for service, template, count, first, last, number, example in rows
    ]


def log_counts(
    snapshot: Snapshot, scope: LogScope, *, by: CountBy, prefilter: bool | None = None
) -> list[LogCount]:
    """Matching records counted per service, pod, severity or minute, with WARN and ERROR+ counts."""
    key = {
        "service": "coalesce(service, '')",
        "pod": "coalesce(pod, '')",
        "severity": "coalesce(nullif(severity, ''), '(none)')",
        "minute": "strftime(date_trunc('minute', ts), '%Y-%m-%dT%H:%MZ')",
    }[by]
    if by == "service_minute":
        raise QueryError("count per service and minute with service_minutes()")
    order = "key" if by == "minute" else "total DESC, key"
    with _searching(snapshot, scope, prefilter=prefilter) as search:
        rows = search.query(
            f"""
            SELECT {key} AS key, count(*) AS total,
                   count(*) FILTER (WHERE {SEVERITY_NUMBER_SQL} BETWEEN 13 AND 16),
                   count(*) FILTER (WHERE {SEVERITY_NUMBER_SQL} >= 17)
            FROM {search.source()} WHERE {search.where} AND {search.match}
            GROUP BY key ORDER BY {order}
            """
        )
    counts = [LogCount(*row) for row in rows]
    if by == "minute":  # every minute of the range, the silent ones too
        keys = [minute.strftime("%Y-%m-%dT%H:%MZ") for minute in minutes_between(scope.since, scope.until)]
        found: dict[str, LogCount] = {}
        for count in counts:  # a line at the range's very end counts in its last minute
            key = min(count.key, keys[-1])
            before = found.get(key, LogCount(key, 0, 0, 0))
            found[key] = LogCount(
                key,
                before.total + count.total,
                before.warnings + count.warnings,
                before.errors + count.errors,
            )
        counts = [found.get(key, LogCount(key, 0, 0, 0)) for key in keys]
    return counts


@dataclass(frozen=True)
class ServiceMinutes:
    """One service's matching lines per minute of the range (zeros included)."""

    service: str
    minutes: list[datetime]
    totals: list[int]
    errors: list[int]
    error_onset: datetime | None
    silent_from: datetime | None
    """The start of the minutes without a matching line that end the range (two or more), when
    the service had lines before them."""


def service_minutes(
    snapshot: Snapshot, scope: LogScope, *, prefilter: bool | None = None
) -> list[ServiceMinutes]:
    """Matching lines per service and minute, zero-filled, with each service's error onset (ERROR
    or worse, as :func:`~itbench_server.analysis.minutes.onset_of` finds it) and when it fell silent."""
    with _searching(snapshot, scope, prefilter=prefilter) as search:
        rows = search.query(
            f"""
            SELECT coalesce(service, '') AS service, date_trunc('minute', ts) AS minute, count(*),
                   count(*) FILTER (WHERE {SEVERITY_NUMBER_SQL} >= 17)
            FROM {search.source()} WHERE {search.where} AND {search.match}
            GROUP BY ALL ORDER BY service, minute
            """
        )
    minutes = minutes_between(scope.since, scope.until)
    per_service: dict[str, dict[datetime, tuple[int, int]]] = {}
    for service, minute, total, errors in rows:
        key = min(minute, minutes[-1])  # a line at the range's very end counts in its last minute
        before = per_service.setdefault(service, {}).get(key, (0, 0))
        per_service[service][key] = (before[0] + total, before[1] + errors)
    found = []
    for service, counts in sorted(per_service.items()):
        totals = [counts.get(minute, (0, 0))[0] for minute in minutes]
        errors = [counts.get(minute, (0, 0))[1] for minute in minutes]
        onset = onset_of(dict(zip(minutes, errors, strict=True)), minutes[-1])
        quiet = len(totals) - len(list(dropwhile(lambda total: total == 0, reversed(totals))))
        silent_from = minutes[-quiet] if 2 <= quiet < len(totals) else None
        found.append(ServiceMinutes(service, minutes, totals, errors, onset, silent_from))
    return found


def render_service_minutes(found: list[ServiceMinutes]) -> list[str]:
    """One line per service: totals, error onset, silence, then one count per minute."""
    lines = []
    for item in found:
        notes = [f"total={sum(item.totals)}", f"errors={sum(item.errors)}"]
        if item.error_onset is not None:
            notes.append(f"error onset {format_time(item.error_onset)}")
        if item.silent_from is not None:
            notes.append(f"no lines from {format_time(item.silent_from)}")
        lines.append(f"{item.service}  {' '.join(notes)}  per minute: {' '.join(map(str, item.totals))}")
    return lines


def _severity_name(number: int | None) -> str:
    name = ""
    for level, lowest in SEVERITY_LEVELS.items():
        if number is not None and number >= lowest:
            name = level
    return name


def render_lines(result: LogLines) -> list[str]:
    lines = []
    for line in result.lines:
        body = line.body.replace("\n", "\\n")
        if len(body) > BODY_CUT:
            body = body[:BODY_CUT] + " …[cut]"
        lines.append(f"{format_time(line.ts)} {line.service} {line.pod} {line.severity or '-'} {body}")
    return lines


EXAMPLE_CUT: Final = 300
"""Longest example line shown under a log template."""


def render_templates(templates: list[LogTemplate]) -> list[str]:
    """One entry per template: its line, and under it one real line it stands for (unless the
    template is that line)."""
    entries = []
    for template in templates:
        text = template.template.replace("\n", "\\n")
        entry = (
            f"{template.count:>7}  {template.service}  {template.severity or '-'}  "
            f"{format_time(template.first_seen)}..{format_time(template.last_seen)}  {text}"
        )
        example = template.example.replace("\n", "\\n")
        if len(example) > EXAMPLE_CUT:
            example = example[:EXAMPLE_CUT] + " …[cut]"
        if example != text:
            entry += f"\n         e.g. {example}"
        entries.append(entry)
    return entries


def render_counts(counts: list[LogCount]) -> list[str]:
    return [
        f"{count.key}  total={count.total} warn={count.warnings} error={count.errors}" for count in counts
    ]
