"""Events in both API forms: core ``v1`` and ``events.k8s.io/v1``.

A recording holds either form; the API server serves every Event in both, converting field by
field as the Kubernetes API server does (``involvedObject`` <-> ``regarding``, ``message`` <->
``note``, ``source`` <-> ``deprecatedSource``, ``firstTimestamp`` <-> ``deprecatedFirstTimestamp``,
...). ``eventTime`` and ``series.lastObservedTime`` are written with exactly six fraction digits,
the only form Go clients decode into a ``MicroTime``.
"""

from __future__ import annotations

from typing import Any

from itbench_server.kube.printers import parse_timestamp

__all__ = ["is_events_v1", "to_core", "to_events_v1"]

Object = dict[str, Any]

_CORE_ONLY_TO_V1 = {
    "involvedObject": "regarding",
    "message": "note",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "reportingComponent": "reportingController",
}
_SHARED = ("metadata", "eventTime", "series", "reportingInstance", "action", "reason", "related", "type")


def is_events_v1(event: Object) -> bool:
    return str(event.get("apiVersion", "")).startswith("events.k8s.io/") or (
        "regarding" in event and "involvedObject" not in event
    )


def _micro_time(value: Any) -> Any:
    moment = parse_timestamp(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment is not None else value


def _with_micro_times(event: Object) -> Object:
    if event.get("eventTime"):
        event["eventTime"] = _micro_time(event["eventTime"])
    series = event.get("series")
    if isinstance(series, dict) and series.get("lastObservedTime"):
        event["series"] = {**series, "lastObservedTime": _micro_time(series["lastObservedTime"])}
    return event


def to_core(event: Object) -> Object:
    """The core ``v1`` form of an Event."""
    return _with_micro_times(_to_core(event))


def to_events_v1(event: Object) -> Object:
    """The ``events.k8s.io/v1`` form of an Event."""
    return _with_micro_times(_to_events_v1(event))


def _to_core(event: Object) -> Object:
    if not is_events_v1(event):
        converted = dict(event)
        converted["apiVersion"] = "v1"
        converted["kind"] = "Event"
        return converted
    converted: Object = {"apiVersion": "v1", "kind": "Event"}
    converted.update({key: event[key] for key in _SHARED if key in event})
    for core_key, v1_key in _CORE_ONLY_TO_V1.items():
        if v1_key in event:
            converted[core_key] = event[v1_key]
    converted.setdefault("involvedObject", {})
    converted.setdefault("source", {})
    series = event.get("series")
    if isinstance(series, dict):
        converted["series"] = {
            "count": series.get("count"),
            "lastObservedTime": series.get("lastObservedTime"),
        }
    return converted


def _to_events_v1(event: Object) -> Object:
    if is_events_v1(event):
        converted = dict(event)
        converted["apiVersion"] = "events.k8s.io/v1"
        converted["kind"] = "Event"
        return converted
    converted: Object = {"apiVersion": "events.k8s.io/v1", "kind": "Event"}
    converted.update({key: event[key] for key in _SHARED if key in event})
    for core_key, v1_key in _CORE_ONLY_TO_V1.items():
        value = event.get(core_key)
        if value not in (None, "", {}):
            converted[v1_key] = value
    if not converted.get("eventTime"):
        converted["eventTime"] = None
    return converted
