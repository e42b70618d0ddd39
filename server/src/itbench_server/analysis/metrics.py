"""Metrics: what is recorded, one metric as series over time, and which series changed most.

The samples are raw Prometheus samples. Counters (names ending in ``_total``, ``_count``,
``_sum`` or ``_bucket``, or typed ``counter``) are cumulative, so they are shown as per-second
rates: the increase between consecutive samples of one series over the seconds between them (a
drop is a counter reset: the new value counts as the increase). Histogram buckets
(``bucket_le``) give percentiles the way PromQL's ``histogram_quantile`` does: bucket rates are
summed per group and step, and the quantile is interpolated linearly inside the bucket that holds
it.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from itbench_server.analysis.sqltext import check_regex, member_of_sql, regex_match_sql, sql_literal
from itbench_server.analysis.timeparse import format_time
from itbench_server.errors import QueryError, quoted
from itbench_server.snapshot.snapshot import Snapshot

__all__ = [
    "COUNTER_SUFFIXES",
    "MAX_GROUP_KEYS",
    "Anomaly",
    "AnomalyRanking",
    "MetricInfo",
    "Series",
    "SeriesResult",
    "default_step",
    "histogram_quantile",
    "is_counter",
    "list_metrics",
    "metric_series",
    "rank_anomalies",
    "render_anomalies",
    "render_metric_list",
    "render_series",
]

COUNTER_SUFFIXES: Final = ("_total", "_count", "_sum", "_bucket")
Aggregate = Literal["sum", "avg", "max", "min"]
AnomalyMethod = Literal["zscore", "relative"]

# Columns of `samples` that a `by` grouping may name directly; other names are label keys.
_GROUP_COLUMNS: Final = {"entity", "namespace", "container", "status_code", "source"}
# Labels that repeat the sample's own columns or identify the scrape, left out of series names.
_NOISE_LABELS: Final = frozenset(
    {
        "__name__",
        "le",
        "pod",
        "pod_name",
        "namespace",
        "service_name",
        "service",
        "instance",
        "job",
        "endpoint",
        "uid",
        "prometheus",
        "metrics_path",
        "id",
        "image",
        "name",
    }
)


# A pod name's ReplicaSet hash and pod suffix (ad-5d9f7c6b8-x2x9q -> ad-*).
_POD_SUFFIX: Final = r"-[a-z0-9]{5,10}-[a-z0-9]{5}$"
# Labels that differ between the pods of one workload (an RFC 7386 patch that removes them).
_POD_IDENTITY_PATCH: Final = json.dumps(
    dict.fromkeys(("pod", "pod_name", "uid", "id", "name", "instance", "node"))
)


def is_counter(metric: str, metric_type: str | None = None) -> bool:
    """Whether samples of ``metric`` are cumulative."""
    return metric.endswith(COUNTER_SUFFIXES) or (metric_type or "").lower() in ("counter", "histogram")


def _entity_sql(entity: str | None) -> tuple[str, list[object]]:
    if not entity:
        return "TRUE", []
    name = entity.rsplit("/", 1)[-1]
    return f"(entity = ? OR (source = 'pod' AND {member_of_sql('entity', name)}))", [name]


@dataclass(frozen=True)
class MetricInfo:
    metric: str
    source: str
    entities: int
    series: int
    samples: int
    first_seen: datetime
    last_seen: datetime
    counter: bool


def list_metrics(
    snapshot: Snapshot, *, entity: str | None = None, metric_pattern: str | None = None
) -> list[MetricInfo]:
    """The metrics recorded for ``entity``: a service, a pod, or a workload or ReplicaSet name that
    stands for its pods (``ad`` covers ``ad-5d9f7c6b8-x2x9q`` but not ``ad-proxy-...``)."""
    where, parameters = _entity_sql(entity)
    if metric_pattern:
        check_regex(snapshot, metric_pattern, what="metric")
        where += " AND " + regex_match_sql("metric", metric_pattern, ignore_case=True)
    rows = snapshot.query(
        f"""
        SELECT metric, source, count(DISTINCT entity), count(DISTINCT (entity, labels)), count(*),
               min(ts), max(ts), any_value(metric_type)
        FROM samples WHERE {where}
        GROUP BY metric, source ORDER BY metric, source
        """,
        parameters,
    )
    if not rows and entity:
        _raise_unknown_entity(snapshot, entity)
    return [
        MetricInfo(metric, source, entities, series, samples, first, last, is_counter(metric, metric_type))
        for metric, source, entities, series, samples, first, last, metric_type in rows
    ]


def _raise_unknown_entity(snapshot: Snapshot, entity: str) -> None:
    known = [name for (name,) in snapshot.query("SELECT DISTINCT entity FROM samples ORDER BY 1 LIMIT 400")]
    stem = entity.rsplit("/", 1)[-1].split("-")[0]
    close = [name for name in known if stem and stem in name][:8]
    hint = f"; close names: {', '.join(close)}" if close else f"; {len(known)} entities have metrics"
    raise QueryError(f"no metrics for {quoted(entity)} (a service, pod or workload name){hint}")


@dataclass(frozen=True)
class Series:
    group: str
    points: list[tuple[datetime, float | None]]

    def values(self) -> list[float]:
        return [value for _, value in self.points if value is not None]


@dataclass(frozen=True)
class SeriesResult:
    metric: str
    description: str
    """How the values were computed (rate, quantile, aggregation, step)."""
    step: timedelta
    series: list[Series]


def default_step(since: datetime, until: datetime) -> timedelta:
    """One minute, or coarser so that a range gives at most 60 points."""
    span = (until - since).total_seconds()
    return timedelta(seconds=max(60, math.ceil(span / 60 / 60) * 60))


MAX_GROUP_KEYS = 10
"""The most keys ``by`` may name."""


def _group_sql(by: str) -> tuple[str, str]:
    """SQL of the group key and the text naming it."""
    keys = _group_keys(by)
    if not keys:
        return "'all'", "all series"
    if len(keys) > MAX_GROUP_KEYS:
        raise QueryError(
            f"by: {len(keys)} group keys; give at most {MAX_GROUP_KEYS}, separated by commas "
            "(entity, container, status_code or label names)"
        )
    parts = [
        key
        if key in _GROUP_COLUMNS
        else f"json_extract_string(labels, {sql_literal('$.' + json.dumps(key))})"
        for key in keys
    ]
    concatenated = " || ',' || ".join(f"coalesce({part}, '-')" for part in parts)
    return concatenated, ",".join(keys)


def metric_series(
    snapshot: Snapshot,
    metric: str,
    *,
    since: datetime,
    until: datetime,
    entity: str | None = None,
    step: timedelta | None = None,
    aggregate: Aggregate = "sum",
    by: str = "entity",
    quantile: float | None = None,
    label_filter: dict[str, str] | None = None,
) -> SeriesResult:
    """One metric over [since, until]: rates for counters, percentiles for histograms.

    Values are first averaged per series and step, then combined across the series of a group
    with ``aggregate``; ``by`` names the group key (``entity``, ``container``, ``status_code``,
    any label key, several separated by commas, or ``none``). For bucket histograms the result is
    the ``quantile`` (0.95 when not given) of each group, in the bucket's unit.
    """
    step = step or default_step(since, until)
    if step.total_seconds() < 1:
        raise QueryError("step must be at least 1s")
    group_sql, group_text = _group_sql(by)
    entity_where, parameters = _entity_sql(entity)
    label_keys = _label_keys_named(by, label_filter)
    present = "".join(
        f", bool_or(json_exists(labels, {sql_literal('$.' + json.dumps(key))}))" for key in label_keys
    )
    info = snapshot.query(
        f"SELECT any_value(metric_type), count(bucket_le), count(*){present} FROM samples "
        f"WHERE metric = ? AND {entity_where}",
        [metric, *parameters],
    )[0]
    if info[2] == 0:
        _raise_unknown_metric(snapshot, metric, entity)
    metric_type, bucket_count, _ = info[:3]
    if not all(info[3:]):
        _raise_missing_label(snapshot, metric, entity, label_keys, info[3:])
    histogram = bucket_count > 0
    counter = is_counter(metric, metric_type) or histogram
    if quantile is not None and not histogram:
        raise QueryError(f"quantile applies to histogram bucket metrics (*_bucket); {metric} has no buckets")
    if quantile is not None and not 0 < quantile < 1:
        raise QueryError("quantile must be between 0 and 1, e.g. 0.95")
    filters = ""
    for key, value in sorted((label_filter or {}).items()):
        column = (
            key
            if key in _GROUP_COLUMNS
            else f"json_extract_string(labels, {sql_literal('$.' + json.dumps(key))})"
        )
        filters += f" AND {column} = {sql_literal(value)}"
    value_sql = (
        "CASE WHEN prev_value IS NULL OR ts = prev_ts THEN NULL "
        "WHEN value >= prev_value THEN (value - prev_value) / epoch(ts - prev_ts) "
        "ELSE value / epoch(ts - prev_ts) END"
        if counter
        else "value"
    )
    seconds = int(step.total_seconds())
    rows = snapshot.query(
        f"""
        WITH scoped AS (
            SELECT ts, value, entity, labels, coalesce(bucket_le, '') AS le, {group_sql} AS grp,
                   lag(value) OVER series AS prev_value, lag(ts) OVER series AS prev_ts
            FROM samples
            WHERE metric = ? AND {entity_where} AND ts BETWEEN ? AND ? {filters}
            WINDOW series AS (PARTITION BY source, entity, labels, bucket_le ORDER BY ts)
        ),
        per_series AS (
            SELECT time_bucket(INTERVAL {seconds} SECOND, ts, TIMESTAMP '2000-01-01') AS t, grp, le, entity, labels,
                   avg({value_sql}) AS v
            FROM scoped
            WHERE ts >= ?
            GROUP BY ALL
        )
        SELECT t, grp, le, {"sum" if histogram else aggregate}(v) AS v
        FROM per_series WHERE v IS NOT NULL
        GROUP BY t, grp, le ORDER BY grp, t, le
        """,
        [metric, *parameters, since - step, until, since],
    )
    if histogram:
        q = quantile if quantile is not None else 0.95
        series = _histogram_quantiles(rows, q)
        description = (
            f"p{q * 100:g} from bucket rates (histogram_quantile), per {group_text}, step {seconds}s"
        )
    else:
        grouped: dict[str, list[tuple[datetime, float | None]]] = defaultdict(list)
        for t, group, _, value in rows:
            grouped[group].append((t, value))
        series = [Series(group, points) for group, points in sorted(grouped.items())]
        kind = "per-second rate" if counter else "value"
        description = f"{aggregate} of {kind} per {group_text}, step {seconds}s"
    return SeriesResult(metric, description, step, series)


def _group_keys(by: str) -> list[str]:
    return [key.strip() for key in by.split(",") if key.strip()] if by not in ("", "none") else []


def _label_keys_named(by: str, label_filter: dict[str, str] | None) -> dict[str, str]:
    """The label keys (not sample columns) that ``by`` and ``label_filter`` name -> the argument."""
    named = {key: "by" for key in _group_keys(by) if key not in _GROUP_COLUMNS}
    named |= {key: "labels" for key in (label_filter or {}) if key not in _GROUP_COLUMNS}
    return named


def _raise_missing_label(
    snapshot: Snapshot, metric: str, entity: str | None, named: dict[str, str], present: tuple[object, ...]
) -> None:
    """Raise ``QueryError`` naming the metric's label keys, for a key that ``by`` or ``labels``
    names and that no sample carries (which would group everything into one series, or nothing)."""
    missing = next(key for key, found in zip(named, present, strict=True) if not found)
    entity_where, parameters = _entity_sql(entity)
    keys = sorted(
        {
            key
            for (key,) in snapshot.query(
                f"""
                SELECT DISTINCT unnest(json_keys(labels)) FROM (
                    SELECT DISTINCT labels FROM samples
                    WHERE metric = ? AND {entity_where} AND json_valid(labels) AND starts_with(labels, '{{')
                )
                """,
                [metric, *parameters],
            )
        }
    )
    raise QueryError(
        f"{named[missing]}: no sample of {metric} has the label {quoted(missing)}; its label keys: "
        f"{', '.join(keys) or '(none)'}; or the columns {', '.join(sorted(_GROUP_COLUMNS))}"
    )


def _raise_unknown_metric(snapshot: Snapshot, metric: str, entity: str | None) -> None:
    where, parameters = _entity_sql(entity)
    names = [
        name
        for (name,) in snapshot.query(
            f"SELECT DISTINCT metric FROM samples WHERE {where} ORDER BY 1", parameters
        )
    ]
    if not names and entity:
        _raise_unknown_entity(snapshot, entity)
    stem = metric.replace("_bucket", "").replace("_total", "")
    close = [name for name in names if stem in name or name in metric][:8]
    scope = f" for {quoted(entity)}" if entity else ""
    hint = f"; close names: {', '.join(close)}" if close else "; list them with mode='list'"
    raise QueryError(f"no metric {quoted(metric)}{scope}{hint}")


def _bucket_bound(le: str) -> float:
    try:
        return float(le)
    except ValueError:
        return math.inf


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of cumulative ``(upper_bound, count)`` buckets, as PromQL computes it."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1] if math.isinf(ordered[-1][0]) else max(count for _, count in ordered)
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in ordered:
        if count >= rank:
            if math.isinf(upper):
                return lower
            if count == below:
                return upper
            if lower > upper:  # a first bucket with a negative bound
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return ordered[-1][0] if not math.isinf(ordered[-1][0]) else lower


def _histogram_quantiles(rows: list[tuple[datetime, str, str, float]], q: float) -> list[Series]:
    buckets: dict[str, dict[datetime, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for t, group, le, value in rows:
        buckets[group][t].append((_bucket_bound(le), value))
    return [
        Series(group, [(t, histogram_quantile(q, by_time[t])) for t in sorted(by_time)])
        for group, by_time in sorted(buckets.items())
    ]


@dataclass(frozen=True)
class Anomaly:
    metric: str
    entity: str
    labels: str
    before: float
    after: float
    score: float
    counter: bool


@dataclass(frozen=True)
class AnomalyRanking:
    pivot: datetime
    pivot_reason: str
    method: AnomalyMethod
    series_compared: int
    anomalies: list[Anomaly]


def _labels_text(labels_json: str | None, container: str | None) -> str:
    try:
        labels = json.loads(labels_json) if labels_json else {}
    except json.JSONDecodeError:
        labels = {}
    shown = {key: value for key, value in sorted(labels.items()) if key not in _NOISE_LABELS}
    if container and "container" not in shown:
        shown["container"] = container
    return ",".join(f"{key}={value}" for key, value in list(shown.items())[:6])


def rank_anomalies(
    snapshot: Snapshot,
    *,
    pivot: datetime,
    pivot_reason: str,
    since: datetime,
    until: datetime,
    entity: str | None = None,
    metric_pattern: str | None = None,
    method: AnomalyMethod = "zscore",
) -> AnomalyRanking:
    """Every series (histogram buckets excepted) ranked by how much it changed at ``pivot``.

    Values are rates for counters and raw values otherwise. ``before`` is the mean over
    [since, pivot), ``after`` the mean over [pivot, until].

    - ``zscore``: (after - before) / spread, where spread is the standard deviation before the
      pivot plus 10% of |before| (so a flat baseline does not make every wiggle infinite) plus a
      tiny constant;
    - ``relative``: (after - before) / |before| (a series that rises from zero ranks first).

    The pods of one workload count as one series (``ad-*``: the pod name's ReplicaSet and pod
    suffixes dropped, and the labels naming the pod or its node), so a pod replaced during the
    incident is compared with its predecessor. Series are ranked by the absolute score; a series
    needs two samples before and one after.
    """
    if not since < pivot <= until:
        raise QueryError(
            f"pivot {format_time(pivot)} must fall inside {format_time(since)} .. {format_time(until)}; "
            "give a pivot inside the range, or widen since/until"
        )
    where, parameters = _entity_sql(entity)
    if metric_pattern:
        check_regex(snapshot, metric_pattern, what="metric")
        where += " AND " + regex_match_sql("metric", metric_pattern, ignore_case=True)
    counter_sql = " OR ".join(f"ends_with(metric, '{suffix}')" for suffix in COUNTER_SUFFIXES)
    counter_sql = f"({counter_sql} OR lower(coalesce(metric_type, '')) = 'counter')"
    score_sql = (
        "(after - before) / (coalesce(spread, 0) + 0.1 * abs(before) + 1e-9)"
        if method == "zscore"
        else "(after - before) / (abs(before) + 1e-9)"
    )
    rows = snapshot.query(
        f"""
        WITH scoped AS (
            SELECT metric, source, entity, labels, container, ts, value, {counter_sql} AS counter,
                   lag(value) OVER series AS prev_value, lag(ts) OVER series AS prev_ts
            FROM samples
            WHERE bucket_le IS NULL AND NOT ends_with(metric, '_bucket') AND ts BETWEEN ? AND ? AND {where}
            WINDOW series AS (PARTITION BY metric, source, entity, labels ORDER BY ts)
        ),
        valued AS (
            SELECT metric, ts, counter, container,
                   CASE WHEN source = 'pod' THEN regexp_replace(entity, {sql_literal(_POD_SUFFIX)}, '-*')
                        ELSE entity END AS workload,
                   CASE WHEN source = 'pod' THEN json_merge_patch(labels, {sql_literal(_POD_IDENTITY_PATCH)})::VARCHAR
                        ELSE labels END AS series_labels,
                   CASE WHEN NOT counter THEN value
                        WHEN prev_value IS NULL OR ts = prev_ts THEN NULL
                        WHEN value >= prev_value THEN (value - prev_value) / epoch(ts - prev_ts)
                        ELSE value / epoch(ts - prev_ts) END AS v
            FROM scoped
        ),
        stats AS (
            SELECT metric, workload, series_labels, any_value(container) AS container, bool_or(counter) AS counter,
                   avg(v) FILTER (WHERE ts < ?) AS before, stddev_pop(v) FILTER (WHERE ts < ?) AS spread,
                   count(v) FILTER (WHERE ts < ?) AS n_before,
                   avg(v) FILTER (WHERE ts >= ?) AS after, count(v) FILTER (WHERE ts >= ?) AS n_after
            FROM valued WHERE v IS NOT NULL AND isfinite(v)
            GROUP BY metric, workload, series_labels
        )
        SELECT metric, workload, series_labels, container, before, after, {score_sql} AS score, counter,
               count(*) OVER () AS compared
        FROM stats WHERE n_before >= 2 AND n_after >= 1
        ORDER BY abs(score) DESC, metric, workload, series_labels
        LIMIT 500
        """,
        [since, until, *parameters, pivot, pivot, pivot, pivot, pivot],
    )
    compared = rows[0][-1] if rows else 0
    anomalies = [
        Anomaly(metric, entity, _labels_text(labels, container), before, after, score, bool(counter))
        for metric, entity, labels, container, before, after, score, counter, _ in rows
        if score != 0
    ]
    return AnomalyRanking(pivot, pivot_reason, method, compared, anomalies)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.3g}"
    if magnitude >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def render_metric_list(metrics: list[MetricInfo]) -> list[str]:
    return [
        f"{info.metric}  [{info.source}{', counter' if info.counter else ''}]  entities={info.entities} "
        f"series={info.series} samples={info.samples}  {format_time(info.first_seen)}..{format_time(info.last_seen)}"
        for info in metrics
    ]


def render_series(result: SeriesResult, *, per_line: int = 6) -> list[str]:
    """One summary line per series, then its points, ``per_line`` to a line."""
    lines = []
    for series in result.series:
        values = series.values()
        summary = (
            f"min={_number(min(values))} avg={_number(sum(values) / len(values))} max={_number(max(values))}"
            if values
            else "no values"
        )
        lines.append(f"== {series.group}: {summary}")
        for start in range(0, len(series.points), per_line):
            chunk = series.points[start : start + per_line]
            lines.append("   " + "  ".join(f"{t:%H:%M:%S} {_number(value)}" for t, value in chunk))
    return lines


def render_anomalies(ranking: AnomalyRanking) -> list[str]:
    return [
        f"{anomaly.score:>+10.3g}  {anomaly.metric}{' (rate/s)' if anomaly.counter else ''}  {anomaly.entity}"
        f"{'  {' + anomaly.labels + '}' if anomaly.labels else ''}  before={_number(anomaly.before)} "
        f"after={_number(anomaly.after)}"
        for anomaly in ranking.anomalies
    ]
