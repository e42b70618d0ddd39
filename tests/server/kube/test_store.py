"""The recorded cluster as of a time: listing rounds, watch records, events and secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kube_recording import at, build_index, object_row

from itbench_server.kube.catalog import BUILTIN_TYPES, ResourceType
from itbench_server.kube.store import ClusterRecording


def resource(plural: str, group: str = "") -> ResourceType:
    return next(t for t in BUILTIN_TYPES if t.plural == plural and t.group == group)


def names(recording: ClusterRecording, plural: str, minute: float) -> list[str]:
    return [obj["metadata"]["name"] for obj in recording.objects(resource(plural), at(minute))]


def configmap(minute: float, name: str, **extra: Any) -> dict[str, Any]:
    return object_row(minute, "ConfigMap", "otel-demo", name, {"data": {"k": "v"}, **extra}, "configmaps")


def test_an_object_is_gone_once_a_complete_round_no_longer_lists_it(tmp_path: Path) -> None:
    rows = [configmap(minute, "kept") for minute in (0, 5, 10)]
    rows += [configmap(minute, "dropped") for minute in (0, 5)]
    with build_index(tmp_path, {"objects": rows}) as snapshot:
        recording = ClusterRecording(snapshot)
        assert names(recording, "configmaps", 7) == ["dropped", "kept"]
        assert names(recording, "configmaps", 10) == ["dropped", "kept"]  # the 10:02 round is not over yet
        assert names(recording, "configmaps", 11) == ["kept"]


def test_before_the_first_round_it_stands_for_the_state_less_what_was_created_later(tmp_path: Path) -> None:
    rows = [
        configmap(0, "old"),
        configmap(0, "young", metadata={"creationTimestamp": at(0.5).isoformat() + "Z"}),
    ]
    with build_index(tmp_path, {"objects": rows}) as snapshot:
        recording = ClusterRecording(snapshot)
        assert names(recording, "configmaps", -1) == ["old"]
        assert names(recording, "configmaps", 1) == ["old", "young"]


def test_watch_records_add_change_and_delete_objects(tmp_path: Path) -> None:
    def record(minute: float, watch_type: str, value: str) -> dict[str, Any]:
        row = configmap(minute, "watched", data={"k": value})
        row["watch_type"] = watch_type
        return row

    rows = [record(1, "ADDED", "a"), record(3, "MODIFIED", "b"), record(6, "DELETED", "b")]
    with build_index(tmp_path, {"objects": rows}) as snapshot:
        recording = ClusterRecording(snapshot)
        seen = [
            [obj["data"]["k"] for obj in recording.objects(resource("configmaps"), at(m))]
            for m in (0, 2, 4, 7)
        ]
        assert seen == [[], ["a"], ["b"], []]


def test_events_keep_their_last_record_and_vanish_when_deleted(tmp_path: Path) -> None:
    def event(minute: float, watch_type: str, name: str, count: int) -> dict[str, Any]:
        body = {
            "metadata": {"name": name, "namespace": "otel-demo"},
            "involvedObject": {"kind": "Pod", "name": "ad", "namespace": "otel-demo"},
            "reason": "BackOff",
            "count": count,
        }
        return {
            "ts": at(minute),
            "watch_type": watch_type,
            "namespace": "otel-demo",
            "name": name,
            "body": json.dumps(body),
        }

    rows = [
        event(1, "ADDED", "a.1", 1),
        event(2, "MODIFIED", "a.1", 5),
        event(3, "ADDED", "b.1", 1),
        event(4, "DELETED", "b.1", 1),
    ]
    with build_index(tmp_path, {"events": rows}) as snapshot:
        recording = ClusterRecording(snapshot)
        counts = [
            [(e["metadata"]["name"], e["count"]) for e in recording.events(at(m))] for m in (1.5, 3.5, 5)
        ]
        assert counts == [[("a.1", 1)], [("a.1", 5), ("b.1", 1)], [("a.1", 5)]]


def test_an_event_body_without_its_object_is_rebuilt_from_the_indexed_columns(tmp_path: Path) -> None:
    row = {
        "ts": at(2),
        "watch_type": "",
        "namespace": "otel-demo",
        "name": "x.1",
        "object_kind": "Pod",
        "object_namespace": "otel-demo",
        "object_name": "ad",
        "reason": "Killing",
        "message": "Stopping container ad",
        "type": "Normal",
        "count": 2,
        "first_seen": at(1),
        "last_seen": at(2),
        "source": "kubelet",
        "body": "not json",
    }
    with build_index(tmp_path, {"events": [row]}) as snapshot:
        (event,) = ClusterRecording(snapshot).events(at(5))
        assert event == {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "x.1", "namespace": "otel-demo", "resourceVersion": "1765819320000000"},
            "involvedObject": {"kind": "Pod", "namespace": "otel-demo", "name": "ad"},
            "reason": "Killing",
            "message": "Stopping container ad",
            "type": "Normal",
            "count": 2,
            "firstTimestamp": "2025-12-15T17:21:00Z",
            "lastTimestamp": "2025-12-15T17:22:00Z",
            "source": {"component": "kubelet"},
        }


def test_secrets_are_never_served_even_if_recorded(tmp_path: Path) -> None:
    secret = object_row(0, "Secret", "otel-demo", "token", {"data": {"password": "aHVudGVyMg=="}}, "secrets")
    with build_index(tmp_path, {"objects": [secret]}) as snapshot:
        assert ClusterRecording(snapshot).objects(resource("secrets"), at(5)) == []
