"""The alert timeline: when each alert fired, for what, and for how long.

Alerts are sampled once a minute (one row per firing alert per sample). Consecutive samples of
one alert on one entity form an *episode*; a gap of more than ``EPISODE_GAP`` starts a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from itbench_server.analysis.sqltext import json_text_sql, member_of_sql, sql_literal
from itbench_server.analysis.timeparse import format_duration, format_time
from itbench_server.errors import QueryError, quoted
from itbench_server.snapshot.snapshot import Snapshot

__all__ = [
    "ALWAYS_FIRING",
    "ENTITY_SQL",
    "EPISODE_GAP",
    "AlertEpisode",
    "AlertTimeline",
    "alert_timeline",
    "default_pivot",
    "render_alert_timeline",
]

EPISODE_GAP: Final = timedelta(seconds=150)
"""Longer than two sampling intervals: a missed sample does not split an episode."""

ALWAYS_FIRING: Final = ("Watchdog", "InfoInhibitor")
"""Alerts that fire all the time by design and say nothing about an incident."""


@dataclass(frozen=True)
class AlertEpisode:
    """One alert on one entity, firing over consecutive samples."""

    alertname: str
    severity: str
    entity: str
    """What the alert is about, as namespace/Kind/name (see ``ENTITY_SQL``)."""
    first_seen: datetime
    last_seen: datetime
    occurrences: int
    active_at: datetime | None
    value: str
    description: str

    @property
    def duration(self) -> timedelta:
        return self.last_seen - self.first_seen

    @property
    def began(self) -> datetime:
        """When the alert became active: its ``activeAt``, else its first sample."""
        if self.active_at is None:
            return self.first_seen
        return min(self.active_at, self.first_seen)


def _label(key: str) -> str:
    return f"nullif({json_text_sql('labels', key)}, '')"


ENTITY_SQL: Final = f"""CASE
    WHEN coalesce(pod, '') <> '' THEN coalesce(namespace, '') || '/Pod/' || pod
    WHEN {_label("deployment")} IS NOT NULL THEN coalesce(namespace, '') || '/Deployment/' || {_label("deployment")}
    WHEN {_label("statefulset")} IS NOT NULL THEN coalesce(namespace, '') || '/StatefulSet/' || {_label("statefulset")}
    WHEN {_label("daemonset")} IS NOT NULL THEN coalesce(namespace, '') || '/DaemonSet/' || {_label("daemonset")}
    WHEN {_label("horizontalpodautoscaler")} IS NOT NULL
        THEN coalesce(namespace, '') || '/HorizontalPodAutoscaler/' || {_label("horizontalpodautoscaler")}
    WHEN coalesce(service, '') <> '' AND service IS DISTINCT FROM {_label("job")}
        THEN coalesce(namespace, '') || '/Service/' || service
    WHEN {_label("node")} IS NOT NULL THEN 'cluster/Node/' || {_label("node")}
    WHEN coalesce(namespace, '') <> '' THEN 'cluster/Namespace/' || namespace
    ELSE 'cluster' END"""
"""The entity of an alert row: its pod, else its workload or HPA label, else its service (as the
Kubernetes Service of that name; not when the service was only the scrape job), else its node,
else its namespace."""


@dataclass(frozen=True)
class AlertTimeline:
    since: datetime
    until: datetime
    samples: int
    """How many distinct sampling minutes fall in [since, until]."""
    episodes: list[AlertEpisode]


def alert_timeline(
    snapshot: Snapshot,
    *,
    since: datetime,
    until: datetime,
    name: str | None = None,
    severity: str | None = None,
    service: str | None = None,
    include_always_firing: bool = True,
    strict: bool = True,
) -> AlertTimeline:
    """Alert episodes overlapping [since, until], sorted by activation (``activeAt``, else the
    first sample), then first seen, name and entity. (A recording may hold a single alert
    snapshot, whose samples all carry the same time: the activations tell when each began.)

    ``name`` matches alert names case-insensitively as a substring; ``severity`` exactly (case
    ignored); ``service`` matches the alert's service, its entity's name, or a pod whose name
    starts with it (with ``strict``, a service no alert names is an error listing those alerts name).
    """
    conditions = ["sampled_at BETWEEN ? AND ?"]
    parameters: list[object] = [since, until]
    if name:
        conditions.append("alertname ILIKE ?")
        parameters.append(f"%{name}%")
    if severity:
        conditions.append("lower(coalesce(severity, '')) = lower(?)")
        parameters.append(severity)
    if service:
        conditions.append(
            f"(lower(coalesce(service, '')) = lower(?) OR {member_of_sql('pod', service)}"
            f" OR lower(split_part({ENTITY_SQL}, '/', 3)) = lower(?))"
        )
        parameters += [service, service]
    if not include_always_firing:
        conditions.append(f"alertname NOT IN ({', '.join(sql_literal(n) for n in ALWAYS_FIRING)})")
    description = f"coalesce({json_text_sql('annotations', 'description')}, {json_text_sql('annotations', 'summary')}, '')"
    rows = snapshot.query(
        f"""
        WITH scoped AS (
            SELECT sampled_at, alertname, coalesce(severity, '') AS severity, {ENTITY_SQL} AS entity,
                   active_at, coalesce(value, '') AS value,
                   {description} AS description
            FROM alerts WHERE {" AND ".join(conditions)}
        ),
        marked AS (
            SELECT *, CASE WHEN sampled_at - lag(sampled_at) OVER entity > INTERVAL {int(EPISODE_GAP.total_seconds())} SECOND
                           THEN 1 ELSE 0 END AS starts_episode
            FROM scoped
            WINDOW entity AS (PARTITION BY alertname, severity, entity ORDER BY sampled_at)
        ),
        numbered AS (
            SELECT *, sum(starts_episode) OVER (
                PARTITION BY alertname, severity, entity ORDER BY sampled_at
            ) AS episode
            FROM marked
        )
        SELECT alertname, severity, entity, min(sampled_at), max(sampled_at),
               count(DISTINCT sampled_at), min(active_at), arg_max(value, sampled_at),
               arg_max(description, sampled_at)
        FROM numbered
        GROUP BY alertname, severity, entity, episode
        ORDER BY least(coalesce(min(active_at), min(sampled_at)), min(sampled_at)), min(sampled_at),
                 alertname, entity
        """,
        parameters,
    )
    if service and strict and not rows:
        _check_alert_service(snapshot, service)
    (samples,) = snapshot.query(
        "SELECT count(DISTINCT sampled_at) FROM alerts WHERE sampled_at BETWEEN ? AND ?", [since, until]
    )[0]
    return AlertTimeline(since, until, samples, [AlertEpisode(*row) for row in rows])


def _check_alert_service(snapshot: Snapshot, service: str) -> None:
    """Raise ``QueryError`` naming the alerted services and entities when no alert of the
    recording (at any time) is about ``service``."""
    condition = (
        f"(lower(coalesce(service, '')) = lower(?) OR {member_of_sql('pod', service)}"
        f" OR lower(split_part({ENTITY_SQL}, '/', 3)) = lower(?))"
    )
    if snapshot.query(f"SELECT 1 FROM alerts WHERE {condition} LIMIT 1", [service, service]):
        return
    names = [
        name
        for (name,) in snapshot.query(
            f"""
            SELECT DISTINCT name FROM (
                SELECT nullif(service, '') AS name FROM alerts
                UNION ALL SELECT split_part({ENTITY_SQL}, '/', 3) FROM alerts
            ) WHERE name IS NOT NULL AND name <> '' ORDER BY 1
            """
        )
    ]
    known = ", ".join(names[:60]) + (f" ... ({len(names)} in all)" if len(names) > 60 else "")
    raise QueryError(
        f"service {quoted(service)} has no alerts; services and entities with alerts: {known or '(none)'}"
    )


def render_alert_timeline(timeline: AlertTimeline) -> tuple[str, list[str]]:
    """A header and one line per episode."""
    header = (
        f"{len(timeline.episodes)} alert episodes, {timeline.samples} alert samples "
        f"in {format_time(timeline.since)} .. {format_time(timeline.until)}\n"
        "active_since          first_seen            last_seen             duration  samples  severity  "
        "alertname  entity  [value] description"
    )
    lines = []
    for episode in timeline.episodes:
        details = f"[{_value_text(episode.value)}] " if episode.value else ""
        lines.append(
            f"{format_time(episode.began)}  {format_time(episode.first_seen)}  {format_time(episode.last_seen)}  "
            f"{format_duration(episode.duration):>8}  {episode.occurrences:>7}  {episode.severity or '-':<8}  "
            f"{episode.alertname}  {episode.entity}  {details}{episode.description[:200]}".rstrip()
        )
    return header, lines


def _value_text(value: str) -> str:
    try:
        return f"{float(value):.4g}"
    except ValueError:
        return value


def default_pivot(snapshot: Snapshot) -> tuple[datetime, str]:
    """The moment the incident is taken to start, and why.

    It is the earliest activation of an alert (other than the always-firing ones) that became
    active inside the window; alerts already active before the window started are old news. When
    no alert qualifies, it is the middle of the window.
    """
    window = snapshot.window
    excluded = ", ".join(sql_literal(name) for name in ALWAYS_FIRING)
    rows = snapshot.query(
        f"""
        SELECT coalesce(active_at, sampled_at) AS began, alertname
        FROM alerts
        WHERE alertname NOT IN ({excluded}) AND coalesce(active_at, sampled_at) >= ?
          AND sampled_at <= ?
        ORDER BY began, alertname LIMIT 1
        """,
        [window.start, window.end],
    )
    if rows:
        began, alertname = rows[0]
        return began, f"first activation of alert {alertname}"
    return window.start + (window.end - window.start) / 2, "middle of the window (no alert began in it)"
