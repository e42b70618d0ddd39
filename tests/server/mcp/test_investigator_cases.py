"""The cases where a tool misled a careful investigator, each reproduced on a hand-made incident.

The incident is the one of ``incident_index`` (an ad feature-flag incident, 17:20-17:40) with
what each case needs added: an edited collector configuration, log lines naming addresses, a
Service and pods with their IPs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from incident_index import at, build_index, incident_rows
from mcp import Client
from mcp_scenario import text_of

from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import Snapshot

pytestmark = pytest.mark.anyio

RELAY = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
processors:
  batch:
    send_batch_size: {batch}
    timeout: 1s
exporters:
  otlp:
    endpoint: jaeger-collector:4317
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
"""


def _row(
    minute: float, kind: str, name: str, body: dict[str, Any], *, namespace: str = "otel-demo"
) -> dict[str, Any]:
    metadata = {"name": name, "uid": f"uid-{kind}-{name}", **body.pop("metadata", {})}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "listed_at": at(minute),
        "resource": kind.lower() + "s",
        "api_version": body.pop("apiVersion", "v1"),
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "uid": metadata["uid"],
        "watch_type": "",
        "body": {"kind": kind, "metadata": metadata, **body},
    }


def _log(minute: float, service: str, pod: str, severity: str, body: str) -> dict[str, Any]:
    return {
        "ts": at(minute),
        "service": service,
        "namespace": "otel-demo",
        "pod": pod,
        "container": service,
        "severity": severity,
        "severity_number": {"INFO": 9, "WARN": 13, "ERROR": 17}[severity],
        "body": body,
        "resource_attributes": {"k8s.pod.name": pod},
        "log_attributes": {},
    }


def case_rows() -> dict[str, list[dict[str, Any]]]:
    tables = incident_rows()
    for minute in range(6, 12):
        tables["logs"].append(
            _log(
                minute,
                "checkout",
                "checkout-5b8c4f9d7-qz8rt",
                "ERROR",
                f"failed to get quote (request {minute}): POST http://quote:8081/getquote: "
                "connect ECONNREFUSED 10.96.103.36:8081",
            )
        )
    tables["events"].append(
        {
            "ts": at(0),
            "watch_type": "ADDED",
            "namespace": "otel-demo",
            "name": "ad-5d9f7c6b8-x2x9q.2",
            "object_kind": "Pod",
            "object_namespace": "otel-demo",
            "object_name": "ad-5d9f7c6b8-x2x9q",
            "reason": "BackOff",
            "message": "Back-off restarting failed container ad",
            "type": "Warning",
            "count": 12,
            "first_seen": at(-40),
            "last_seen": at(0),
            "source": "kubelet",
            "body": {},
        }
    )
    for minute in (0, 5, 10, 15):
        tables["objects"].append(
            _row(
                minute,
                "Service",
                "quote",
                {
                    "spec": {
                        "type": "ClusterIP",
                        "clusterIP": "10.96.103.36",
                        "selector": {"app": "quote"},
                        "ports": [
                            {"name": "tcp-service", "port": 8080, "targetPort": 8080, "protocol": "TCP"}
                        ],
                    }
                },
            )
        )
        tables["objects"].append(
            _row(
                minute,
                "Pod",
                "quote-6d5b7c9f4-h2m8x",
                {
                    "metadata": {"labels": {"app": "quote"}},
                    "spec": {"containers": [{"name": "quote", "ports": [{"containerPort": 8080}]}]},
                    "status": {"phase": "Running", "podIP": "10.244.1.30"},
                },
            )
        )
        batch = 8192 if minute < 10 else 4096
        tables["objects"].append(
            _row(minute, "ConfigMap", "otel-collector", {"data": {"relay": RELAY.format(batch=batch)}})
        )
    return tables


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snapshot]:
    snapshot = build_index(tmp_path_factory.mktemp("cases"), case_rows())
    yield snapshot
    snapshot.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def tools(cases: Snapshot) -> AsyncIterator[Client]:
    async with Client(create_server(cases, ServerSettings(output_budget=6_000))) as client:
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    return text_of(result)


async def test_a_multi_line_configmap_value_shows_the_lines_that_changed(tools: Client) -> None:
    text = await call(tools, "get_changes", object="cm/otel-collector")

    assert text == (
        "1 changed listings, 0 objects appeared/disappeared (2025-12-15T17:20:00Z .. 2025-12-15T17:40:00Z)\n"
        "otel-demo/ConfigMap/otel-collector is used by (as of 2025-12-15T17:40:00Z): nothing that is recorded "
        "(no volume, env, envFrom or args names it)\n"
        "2025-12-15T17:30:00Z  otel-demo/ConfigMap/otel-collector  changed since the listing at 2025-12-15T17:25:00Z:\n"
        "    data.relay: text changed (18 lines -> 18 lines); changed lines:\n"
        "      @@ -7,3 +7,3 @@\n"
        "         batch:\n"
        "      -    send_batch_size: 8192\n"
        "      +    send_batch_size: 4096\n"
        "           timeout: 1s"
    )


async def test_log_patterns_keep_host_port_pairs_and_show_one_real_line_each(tools: Client) -> None:
    text = await call(tools, "search_logs", service="checkout", mode="patterns")

    assert text == (
        "1 log templates of 6 matching lines (2025-12-15T17:20:00Z .. 2025-12-15T17:40:00Z)\n"
        "count  service  max severity  first..last seen  template (then one line it stands for)\n"
        "addresses: 10.96.103.36:8081 = otel-demo/Service/quote (ClusterIP; ports 8080/TCP); 8081 is not one of "
        "its ports; quote:8081 = otel-demo/Service/quote (Service name; ports 8080/TCP); 8081 is not one of its "
        "ports\n"
        "      6  checkout  ERROR  2025-12-15T17:26:00Z..2025-12-15T17:31:00Z  failed to get quote (request <NUM>): "
        "POST http://quote:8081/getquote: connect ECONNREFUSED 10.96.103.36:8081\n"
        "         e.g. failed to get quote (request 6): POST http://quote:8081/getquote: "
        "connect ECONNREFUSED 10.96.103.36:8081"
    )


async def test_events_that_began_before_the_range_are_marked_and_counted_in_the_header(tools: Client) -> None:
    text = await call(tools, "get_events", object="otel-demo/Deployment/ad")

    assert text == (
        "3 event groups (2025-12-15T17:20:00Z .. 2025-12-15T17:40:00Z); 1 began before the range, the earliest "
        "at 2025-12-15T16:40:00Z (marked); type reason xcount object first..last (source) latest message\n"
        "Warning  BackOff  x12  otel-demo/Pod/ad-5d9f7c6b8-x2x9q  2025-12-15T16:40:00Z (before the range)"
        "..2025-12-15T17:20:00Z  (kubelet) Back-off restarting failed container ad\n"
        "Warning  FailedCreate  x3  otel-demo/ReplicaSet/ad-5d9f7c6b8  2025-12-15T17:26:00Z..2025-12-15T17:29:00Z  "
        '(replicaset-controller) Error creating: pods "ad-5d9f7c6b8-czzz9" is forbidden: exceeded quota: '
        "strict-resource-quota, requested: memory=400Mi, used: memory=0, limited: memory=100Mi\n"
        "Normal  Pulled  x1  otel-demo/Pod/ad-5d9f7c6b8-x2x9q  2025-12-15T17:21:00Z..2025-12-15T17:21:00Z  "
        '(kubelet) Container image "ghcr.io/open-telemetry/demo:2.0.2-ad" already present on machine'
    )


async def test_a_root_cause_named_with_a_kind_abbreviation_is_pointed_at_the_recorded_kind(
    tools: Client,
) -> None:
    text = await call(
        tools, "submit_diagnosis", contributing_factors=[{"name": "otel-demo/Quota/strict-resource-quota"}]
    )

    assert text == (
        "Diagnosis recorded (submission 1). Root causes, in order: otel-demo/Quota/strict-resource-quota.\n"
        "Warnings (the names were recorded as given; submit again to change them):\n"
        "  - 'otel-demo/Quota/strict-resource-quota' does not match any object in the recording; did you mean "
        "'otel-demo/ResourceQuota/strict-resource-quota'?"
    )


async def test_the_timeline_puts_changes_appearances_events_errors_and_alerts_in_time_order(
    tools: Client,
) -> None:
    text = await call(tools, "get_timeline", since="start+4m", until="start+11m")

    assert text == (
        "9 timeline entries (2025-12-15T17:24:00Z .. 2025-12-15T17:31:00Z); time, what, object or service, details (at one time, changes come before their effects)\n"
        "addresses: 10.96.103.36:8081 = otel-demo/Service/quote (ClusterIP; ports 8080/TCP); 8081 is not one of "
        "its ports; quote:8081 = otel-demo/Service/quote (Service name; ports 8080/TCP); 8081 is not one of its "
        "ports\n"
        "2025-12-15T17:25:00Z  change       otel-demo/ConfigMap/flagd-config  changed since the listing at 2025-12-15T17:20:00Z:\n"
        '    data["demo.flagd.json"].flags.adFailure.defaultVariant: "off" -> "on"\n'
        "2025-12-15T17:25:00Z  appeared     otel-demo/ResourceQuota/strict-resource-quota\n"
        "2025-12-15T17:25:00Z  errors       ad  error onset and first error (errors in 6 of 7 minutes, 25 in all): GetAds failed: flag adFailure is on, request id 0000012c-aaaa\n"
        "2025-12-15T17:25:00Z  errors       frontend  error onset and first error (errors in 6 of 7 minutes, 13 in all): GET /api/data failed\n"
        '2025-12-15T17:26:00Z  warning      otel-demo/ReplicaSet/ad-5d9f7c6b8  FailedCreate x3 until 2025-12-15T17:29:00Z: Error creating: pods "ad-5d9f7c6b8-czzz9" is forbidden: exceeded quota: strict-resource-quota, requested: memory=400Mi, used: memory=0, limited: memory=100Mi\n'
        "2025-12-15T17:26:00Z  errors       checkout  error onset and first error (errors in 5 of 7 minutes, 6 in all): failed to get quote (request 6): POST http://quote:8081/getquote: connect ECONNREFUSED 10.96.103.36:8081\n"
        "2025-12-15T17:26:30Z  alert        otel-demo/Service/frontend  HighRequestErrorRate (critical) fires, seen 2025-12-15T17:27:00Z..2025-12-15T17:31:00Z\n"
        "2025-12-15T17:30:00Z  change       otel-demo/ConfigMap/otel-collector  changed since the listing at 2025-12-15T17:25:00Z:\n"
        "    data.relay: text changed (18 lines -> 18 lines); changed lines:\n"
        "      @@ -7,3 +7,3 @@\n"
        "         batch:\n"
        "      -    send_batch_size: 8192\n"
        "      +    send_batch_size: 4096\n"
        "           timeout: 1s\n"
        "2025-12-15T17:30:00Z  change       otel-demo/Deployment/cart  changed since the listing at 2025-12-15T17:25:00Z:\n"
        '    spec.template.spec.containers[cart].image: "demo:2.0.2-cart" -> "demo:9.9.9-cart"'
    )


async def test_the_timeline_of_a_deployment_holds_what_happened_to_it_its_pods_and_its_service(
    tools: Client,
) -> None:
    text = await call(tools, "get_timeline", entity="otel-demo/Deployment/ad", include="warning,errors")

    assert text.splitlines() == [
        "3 timeline entries (2025-12-15T17:20:00Z .. 2025-12-15T17:40:00Z); time, what, object or service, "
        "details (at one time, changes come before their effects)",
        "2025-12-15T17:20:00Z  warning      otel-demo/Pod/ad-5d9f7c6b8-x2x9q  BackOff x12 until "
        "2025-12-15T17:20:00Z (going on since before the range): Back-off restarting failed container ad",
        "2025-12-15T17:25:00Z  errors       ad  error onset and first error (errors in 15 of 20 minutes, 60 in "
        "all): GetAds failed: flag adFailure is on, request id 0000012c-aaaa",
        "2025-12-15T17:26:00Z  warning      otel-demo/ReplicaSet/ad-5d9f7c6b8  FailedCreate x3 until 2025-12-15T17:29:00Z: "
        'Error creating: pods "ad-5d9f7c6b8-czzz9" is forbidden: exceeded quota: strict-resource-quota, '
        "requested: memory=400Mi, used: memory=0, limited: memory=100Mi",
    ]


async def test_an_address_resolves_to_its_service_which_says_the_port_is_not_one_of_its_own(
    tools: Client,
) -> None:
    by_ip = await call(tools, "lookup_address", address="10.96.103.36:8081")
    by_url = await call(tools, "lookup_address", address="http://quote:8080/getquote", at="start+5m")
    by_pod_ip = await call(tools, "lookup_address", address="10.244.1.30")

    assert by_ip == (
        "10.96.103.36:8081:\n"
        "  otel-demo/Service/quote (ClusterIP; ports 8080/TCP); 8081 is not one of its ports\n"
        "    port 8081 is not a port of this Service: a connection to it is refused; its ports: 8080/TCP\n"
        "    selects at 2025-12-15T17:40:00Z: otel-demo/Pod/quote-6d5b7c9f4-h2m8x (10.244.1.30, Running)"
    )
    assert by_url == (
        "quote:8080:\n"
        "  otel-demo/Service/quote (Service name; ports 8080/TCP)\n"
        "    port 8080 leads to the pods' port 8080\n"
        "    selects at 2025-12-15T17:25:00Z: otel-demo/Pod/quote-6d5b7c9f4-h2m8x (10.244.1.30, Running)"
    )
    assert by_pod_ip == (
        "10.244.1.30:\n"
        "  otel-demo/Pod/quote-6d5b7c9f4-h2m8x (pod IP; ports 8080/TCP), listed 2025-12-15T17:20:00Z..2025-12-15T17:35:00Z"
    )


async def test_counts_per_minute_show_the_minutes_without_lines(tools: Client) -> None:
    text = await call(tools, "search_logs", service="checkout", mode="counts", count_by="minute", limit=20)

    assert text.splitlines()[1:] == [
        f"2025-12-15T17:{minute:02d}Z  total={count} warn=0 error={count}"
        for minute, count in zip(range(20, 40), [0] * 6 + [1] * 6 + [0] * 8, strict=True)
    ]


async def test_counts_per_service_and_minute_show_error_onsets_and_services_falling_silent(
    tools: Client,
) -> None:
    text = await call(tools, "search_logs", mode="counts", count_by="service_minute")

    assert text == (
        "matching log lines per service and minute (2025-12-15T17:20:00Z .. 2025-12-15T17:40:00Z); 3 services; "
        "one count per minute from 2025-12-15T17:20:00Z to 2025-12-15T17:39:00Z\n"
        "ad  total=30 errors=30 error onset 2025-12-15T17:25:00Z  per minute: "
        "0 0 0 0 0 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2\n"
        "checkout  total=6 errors=6 error onset 2025-12-15T17:26:00Z no lines from 2025-12-15T17:32:00Z  "
        "per minute: 0 0 0 0 0 0 1 1 1 1 1 1 0 0 0 0 0 0 0 0\n"
        "frontend  total=40 errors=0  per minute: 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2"
    )


async def test_one_object_compared_at_two_times_shows_every_field_that_differs_status_included(
    tools: Client,
) -> None:
    text = await call(tools, "get_changes", object="otel-demo/Deployment/ad", mode="compare", until="end")

    assert text == (
        "otel-demo/Deployment/ad: at 2025-12-15T17:20:00Z (its listing of 2025-12-15T17:20:00Z) -> "
        "at 2025-12-15T17:40:00Z (its listing of 2025-12-15T17:35:00Z); 1 fields differ\n"
        "    status.readyReplicas: 1 -> 0"
    )


async def test_the_changes_of_a_configmap_say_who_uses_it(tools: Client) -> None:
    text = await call(tools, "get_changes", object="cm/flagd-config")

    assert text == (
        "1 changed listings, 0 objects appeared/disappeared (2025-12-15T17:20:00Z .. 2025-12-15T17:40:00Z)\n"
        "otel-demo/ConfigMap/flagd-config is used by (as of 2025-12-15T17:40:00Z): "
        "otel-demo/Pod/ad-5d9f7c6b8-x2x9q (volume flags)\n"
        "2025-12-15T17:25:00Z  otel-demo/ConfigMap/flagd-config  changed since the listing at 2025-12-15T17:20:00Z:\n"
        '    data["demo.flagd.json"].flags.adFailure.defaultVariant: "off" -> "on"'
    )
