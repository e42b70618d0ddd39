import math
from datetime import timedelta

import pytest
from incident_index import FAULT_AT, WINDOW_END, WINDOW_START, at

from itbench_server.analysis.metrics import (
    default_step,
    histogram_quantile,
    is_counter,
    list_metrics,
    metric_series,
    rank_anomalies,
)
from itbench_server.errors import QueryError
from itbench_server.snapshot.snapshot import Snapshot


def test_list_shows_the_metrics_of_an_entity_or_a_pod_prefix(incident: Snapshot) -> None:
    found = list_metrics(incident, entity="ad")

    assert [(m.metric, m.source, m.entities, m.series, m.samples, m.counter) for m in found] == [
        ("container_memory_working_set_bytes", "pod", 1, 1, 21, False),
        ("traces_span_metrics_calls_total", "service", 1, 2, 42, True),
        ("traces_span_metrics_duration_milliseconds_bucket", "service", 1, 4, 84, True),
    ]
    assert [m.metric for m in list_metrics(incident, metric_pattern="memory")] == [
        "container_memory_working_set_bytes"
    ]


def test_counters_become_per_second_rates_grouped_by_a_label(incident: Snapshot) -> None:
    result = metric_series(
        incident, "traces_span_metrics_calls_total", since=WINDOW_START, until=WINDOW_END, by="status_code"
    )

    assert result.description == "sum of per-second rate per status_code, step 60s"
    errors, unset = result.series
    assert errors.group == "STATUS_CODE_ERROR"
    assert errors.points[:2] == [(at(1), 0.0), (at(2), 0.0)]
    assert errors.points[-1] == (at(20), 1.0)
    assert set(unset.values()) == {2.0}


def test_gauges_keep_their_values_and_aggregate_across_entities(incident: Snapshot) -> None:
    result = metric_series(
        incident, "container_memory_working_set_bytes", since=at(4), until=at(5), by="none", aggregate="max"
    )

    assert [(s.group, s.points) for s in result.series] == [("all", [(at(4), 100e6), (at(5), 400e6)])]


def test_histogram_buckets_give_interpolated_percentiles(incident: Snapshot) -> None:
    result = metric_series(
        incident, "traces_span_metrics_duration_milliseconds_bucket", since=at(2), until=at(8), quantile=0.5
    )

    assert result.description.startswith("p50 from bucket rates")
    ((group, points),) = [(s.group, s.points) for s in result.series]
    assert group == "ad"
    # Before the fault half the requests take under 10 ms; after it 80% take 100..1000 ms.
    assert points[0] == (at(2), 10.0)
    assert points[-1] == (at(8), pytest.approx(100 + 900 * (50 - 20) / 80))


def test_histogram_quantile_follows_promql() -> None:
    buckets = [(10.0, 50.0), (100.0, 90.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == 10.0
    assert histogram_quantile(0.7, buckets) == pytest.approx(55.0)
    assert histogram_quantile(0.99, buckets) == 100.0  # in the +Inf bucket: the highest finite bound
    assert histogram_quantile(0.5, [(10.0, 0.0), (math.inf, 0.0)]) is None


def test_anomalies_rank_the_series_that_changed_at_the_pivot_first(incident: Snapshot) -> None:
    ranking = rank_anomalies(
        incident, pivot=FAULT_AT, pivot_reason="fault", since=WINDOW_START, until=WINDOW_END
    )

    top = [(a.metric, a.entity, a.labels) for a in ranking.anomalies[:2]]
    assert top == [
        ("traces_span_metrics_calls_total", "ad", "status_code=STATUS_CODE_ERROR"),
        ("container_memory_working_set_bytes", "ad-*", "container=ad"),
    ]
    assert ranking.series_compared == 4  # histogram buckets are left out
    first = ranking.anomalies[0]
    assert (first.before, first.after, first.counter) == (
        0.0,
        15 / 16,
        True,
    )  # the first minute after the pivot is still flat
    relative = rank_anomalies(
        incident,
        pivot=FAULT_AT,
        pivot_reason="fault",
        since=WINDOW_START,
        until=WINDOW_END,
        method="relative",
    )
    assert relative.anomalies[0].metric == "traces_span_metrics_calls_total"


def test_bad_metric_arguments_say_how_to_fix_them(incident: Snapshot) -> None:
    with pytest.raises(QueryError, match="close names: traces_span_metrics_calls_total"):
        metric_series(incident, "traces_span_metrics_calls", since=WINDOW_START, until=WINDOW_END)
    with pytest.raises(QueryError, match="no metrics for 'payment'"):
        list_metrics(incident, entity="payment")
    with pytest.raises(QueryError, match="quantile applies to histogram bucket metrics"):
        metric_series(
            incident, "container_memory_working_set_bytes", since=WINDOW_START, until=WINDOW_END, quantile=0.9
        )
    with pytest.raises(QueryError, match=r"pivot .* must fall inside"):
        rank_anomalies(incident, pivot=WINDOW_START, pivot_reason="", since=WINDOW_START, until=WINDOW_END)


def test_counter_names_and_default_steps() -> None:
    assert [is_counter(name) for name in ("a_total", "a_bucket", "a_bytes")] == [True, True, False]
    assert is_counter("kafka_messages", "counter")
    assert default_step(WINDOW_START, WINDOW_END) == timedelta(minutes=1)
    assert default_step(WINDOW_START, WINDOW_START + timedelta(hours=3)) == timedelta(minutes=3)


def test_grouping_by_a_label_no_sample_carries_is_an_error_naming_the_label_keys(incident: Snapshot) -> None:
    with pytest.raises(QueryError) as refused:
        metric_series(
            incident,
            "traces_span_metrics_calls_total",
            since=WINDOW_START,
            until=WINDOW_END,
            by="nosuchlabel",
        )

    assert str(refused.value) == (
        "by: no sample of traces_span_metrics_calls_total has the label 'nosuchlabel'; its label keys: "
        "service_name, status_code; or the columns container, entity, namespace, source, status_code"
    )
