from datetime import datetime
from pathlib import Path

import pytest
from incident_index import WINDOW_END, WINDOW_START, at, build_index

from itbench_server.analysis.alerts import AlertEpisode, alert_timeline, default_pivot, render_alert_timeline
from itbench_server.errors import QueryError
from itbench_server.snapshot.snapshot import Snapshot


def test_timeline_has_one_episode_per_alert_and_entity_sorted_by_activation(incident: Snapshot) -> None:
    timeline = alert_timeline(incident, since=WINDOW_START, until=WINDOW_END)

    assert timeline.samples == 21
    assert [(e.alertname, e.entity, e.first_seen, e.last_seen, e.occurrences) for e in timeline.episodes] == [
        ("Watchdog", "cluster/Namespace/monitoring", at(0), at(20), 21),
        ("HighRequestErrorRate", "otel-demo/Service/frontend", at(7), at(20), 14),
    ]


def test_filters_leave_out_watchdog_and_match_names_and_services(incident: Snapshot) -> None:
    timeline = alert_timeline(
        incident,
        since=WINDOW_START,
        until=WINDOW_END,
        name="highrequest",
        service="frontend",
        include_always_firing=False,
    )

    assert timeline.episodes == [
        AlertEpisode(
            alertname="HighRequestErrorRate",
            severity="critical",
            entity="otel-demo/Service/frontend",
            first_seen=at(7),
            last_seen=at(20),
            occurrences=14,
            active_at=at(6.5),
            value="0.4",
            description="Request error rate in service frontend is above 0",
        )
    ]
    assert alert_timeline(incident, since=WINDOW_START, until=WINDOW_END, severity="warning").episodes == []


def test_a_time_range_clips_the_episode(incident: Snapshot) -> None:
    timeline = alert_timeline(incident, since=at(10), until=at(12), include_always_firing=False)

    assert [(e.first_seen, e.last_seen, e.occurrences) for e in timeline.episodes] == [(at(10), at(12), 3)]


def test_a_gap_of_several_samples_splits_episodes(tmp_path: Path) -> None:
    rows = [
        {
            "sampled_at": at(minute),
            "alertname": "KubePodNotReady",
            "severity": "warning",
            "namespace": "otel-demo",
            "pod": "ad-1",
        }
        for minute in (0, 1, 2, 6, 7)
    ]
    with build_index(tmp_path, {"alerts": rows}) as snapshot:
        timeline = alert_timeline(snapshot, since=WINDOW_START, until=WINDOW_END)

    assert [(e.entity, e.first_seen, e.last_seen, e.occurrences) for e in timeline.episodes] == [
        ("otel-demo/Pod/ad-1", at(0), at(2), 3),
        ("otel-demo/Pod/ad-1", at(6), at(7), 2),
    ]


def test_the_entity_is_the_pod_workload_hpa_service_node_or_namespace_of_the_alert(tmp_path: Path) -> None:
    labels = [
        {"pod": "ad-1", "labels": {"deployment": "ad"}},
        {"labels": {"deployment": "ad"}, "service": "ad"},
        {"labels": {"horizontalpodautoscaler": "fraud-detection"}},
        {"service": "cart"},
        {"namespace": "", "labels": {"node": "worker-1"}},
        {"service": "kube-state-metrics", "labels": {"job": "kube-state-metrics"}},
        {},
    ]
    rows = [
        {"sampled_at": at(1), "alertname": f"A{index}", "namespace": "otel-demo", **row}
        for index, row in enumerate(labels)
    ]
    with build_index(tmp_path, {"alerts": rows}) as snapshot:
        timeline = alert_timeline(snapshot, since=WINDOW_START, until=WINDOW_END)
        by_service = alert_timeline(snapshot, since=WINDOW_START, until=WINDOW_END, service="fraud-detection")

    assert [episode.entity for episode in timeline.episodes] == [
        "otel-demo/Pod/ad-1",
        "otel-demo/Deployment/ad",
        "otel-demo/HorizontalPodAutoscaler/fraud-detection",
        "otel-demo/Service/cart",
        "cluster/Node/worker-1",
        "cluster/Namespace/otel-demo",
        "cluster/Namespace/otel-demo",
    ]
    assert [episode.alertname for episode in by_service.episodes] == ["A2"]


def test_rendered_timeline_shows_duration_samples_and_description(incident: Snapshot) -> None:
    header, lines = render_alert_timeline(
        alert_timeline(incident, since=WINDOW_START, until=WINDOW_END, include_always_firing=False)
    )

    assert header.startswith(
        "1 alert episodes, 21 alert samples in 2025-12-15T17:20:00Z .. 2025-12-15T17:40:00Z"
    )
    assert lines == [
        "2025-12-15T17:26:30Z  2025-12-15T17:27:00Z  2025-12-15T17:40:00Z    13m00s       14  critical  "
        "HighRequestErrorRate  otel-demo/Service/frontend  [0.4] Request error rate in service frontend is above 0"
    ]


def test_a_single_alert_snapshot_is_ordered_by_when_each_alert_became_active(tmp_path: Path) -> None:
    # One file of alerts, written at the end: every sample has its time, activeAt tells the onsets.
    onsets = {"KubePodCrashLooping": 9, "HighRequestErrorRate": 3, "HighRequestLatency": 6}
    rows = [
        {
            "sampled_at": at(19),
            "alertname": name,
            "severity": "critical",
            "active_at": at(minute),
            "namespace": "otel-demo",
            "service": "frontend",
        }
        for name, minute in onsets.items()
    ]
    with build_index(tmp_path, {"alerts": rows}) as snapshot:
        header, lines = render_alert_timeline(alert_timeline(snapshot, since=WINDOW_START, until=WINDOW_END))

    assert [header, *lines] == [
        "3 alert episodes, 1 alert samples in 2025-12-15T17:20:00Z .. 2025-12-15T17:40:00Z\n"
        "active_since          first_seen            last_seen             duration  samples  severity  "
        "alertname  entity  [value] description",
        "2025-12-15T17:23:00Z  2025-12-15T17:39:00Z  2025-12-15T17:39:00Z        0s        1  critical  "
        "HighRequestErrorRate  otel-demo/Service/frontend",
        "2025-12-15T17:26:00Z  2025-12-15T17:39:00Z  2025-12-15T17:39:00Z        0s        1  critical  "
        "HighRequestLatency  otel-demo/Service/frontend",
        "2025-12-15T17:29:00Z  2025-12-15T17:39:00Z  2025-12-15T17:39:00Z        0s        1  critical  "
        "KubePodCrashLooping  otel-demo/Service/frontend",
    ]


def test_a_service_no_alert_names_is_an_error_listing_those_that_have_alerts(incident: Snapshot) -> None:
    with pytest.raises(QueryError) as refused:
        alert_timeline(incident, since=WINDOW_START, until=WINDOW_END, service="nosuch")

    assert str(refused.value) == (
        "service 'nosuch' has no alerts; services and entities with alerts: frontend, monitoring"
    )


def test_default_pivot_is_the_first_activation_inside_the_window(incident: Snapshot) -> None:
    assert default_pivot(incident) == (
        datetime(2025, 12, 15, 17, 26, 30),
        "first activation of alert HighRequestErrorRate",
    )
