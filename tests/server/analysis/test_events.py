import pytest
from incident_index import WINDOW_END, WINDOW_START, at

from itbench_server.analysis.entities import EntityRef, match_entities
from itbench_server.analysis.events import EventGroup, event_groups, objects_named
from itbench_server.errors import QueryError
from itbench_server.snapshot.snapshot import Snapshot

QUOTA_MESSAGE = (
    'Error creating: pods "ad-5d9f7c6b8-czzz9" is forbidden: exceeded quota: strict-resource-quota, '
    "requested: memory=400Mi, used: memory=0, limited: memory=100Mi"
)


def test_watch_records_of_one_event_count_once_with_their_largest_count(incident: Snapshot) -> None:
    groups = event_groups(incident, since=WINDOW_START, until=WINDOW_END, event_type="warning")

    assert groups == [
        EventGroup(
            object=EntityRef("otel-demo", "ReplicaSet", "ad-5d9f7c6b8"),
            reason="FailedCreate",
            type="Warning",
            template='Error creating: pods "<*>" is forbidden: exceeded quota: strict-resource-quota, '
            "requested: memory=400Mi, used: memory=0, limited: memory=100Mi",
            count=3,
            first_seen=at(6),
            last_seen=at(9),
            latest_message=QUOTA_MESSAGE,
            source="replicaset-controller",
        )
    ]


def test_a_workload_brings_the_events_of_its_replicasets_and_pods(incident: Snapshot) -> None:
    deployment = match_entities(incident, "deploy/ad")

    with_children = event_groups(incident, since=WINDOW_START, until=WINDOW_END, objects=deployment)
    alone = event_groups(
        incident, since=WINDOW_START, until=WINDOW_END, objects=deployment, with_children=False
    )

    assert [(g.object.name, g.reason) for g in with_children] == [
        ("ad-5d9f7c6b8", "FailedCreate"),
        ("ad-5d9f7c6b8-x2x9q", "Pulled"),
    ]
    assert alone == []


def test_filters_by_kind_alias_reason_substring_and_time(incident: Snapshot) -> None:
    assert [g.reason for g in event_groups(incident, since=WINDOW_START, until=WINDOW_END, kind="po")] == [
        "Pulled"
    ]
    assert [
        g.reason for g in event_groups(incident, since=WINDOW_START, until=WINDOW_END, reason="failed")
    ] == ["FailedCreate"]
    assert event_groups(incident, since=at(10), until=WINDOW_END) == []


def test_objects_known_only_from_events_can_be_named(incident: Snapshot) -> None:
    chaos = objects_named(incident, "networkchaos/ad-delay")

    groups = event_groups(incident, since=WINDOW_START, until=WINDOW_END, objects=chaos)

    assert [(str(g.object), g.reason) for g in groups] == [("chaos-mesh/NetworkChaos/ad-delay", "Applied")]


def test_bad_event_filters_say_how_to_fix_them(incident: Snapshot) -> None:
    with pytest.raises(QueryError, match="kinds with events: NetworkChaos, Pod, ReplicaSet"):
        event_groups(incident, since=WINDOW_START, until=WINDOW_END, kind="Gizmo")
    with pytest.raises(QueryError, match="use Normal or Warning"):
        event_groups(incident, since=WINDOW_START, until=WINDOW_END, event_type="Error")
