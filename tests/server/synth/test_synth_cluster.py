"""The cluster's own facts agree with each other in every generated incident: events aggregated
as the kubelet and controllers do, pods with requests and IPs from their node's CIDR, Endpoints
naming those IPs, autoscalers reporting what the pods use, and the platform around the demo
listed with its pods' metrics; every service writes the variety of lines it really writes."""

from __future__ import annotations

import csv
import ipaddress
import json
import random
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_recording import Kubectl

from itbench_server.kube.facade import KubeFacade
from itbench_server.snapshot import open_snapshot
from itbench_server.synth import FAULTS, generate_scenario
from itbench_server.synth.cluster import MINUTE, Pod
from itbench_server.synth.log_templates import (
    BACKGROUND_SERVICES,
    BACKGROUND_TEMPLATES,
    background_records,
    load_users,
)
from itbench_server.synth.topology import WORKLOADS

csv.field_size_limit(1 << 30)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _events(scenario: Path) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for row in _rows(scenario / "k8s_events_raw.tsv"):
        envelope = json.loads(row["Body"])
        out.append((envelope["type"], envelope["object"]))
    return out


def _seconds(stamp: str) -> float:
    """A default-variant timestamp (``2025-12-15 17:25:19.123456789``) in seconds."""
    return datetime.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def _last_listing(scenario: Path) -> list[dict[str, Any]]:
    """The objects of the last listing round (its rows are written within a second)."""
    rows = _rows(scenario / "k8s_objects_raw.tsv")
    last = _seconds(rows[-1]["Timestamp"])
    return [json.loads(row["Body"]) for row in rows if last - _seconds(row["Timestamp"]) < 60]


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [body for body in objects if body["kind"] == kind]


@pytest.fixture(scope="module")
def small_quota(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_scenario("resource-quota", 2, tmp_path_factory.mktemp("cluster") / "quota", size="small")


@pytest.fixture(scope="module")
def small_crash(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_scenario("invalid-command", 3, tmp_path_factory.mktemp("cluster") / "crash", size="small")


@pytest.fixture(scope="module")
def small_hpa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_scenario("no-fault", 1, tmp_path_factory.mktemp("cluster") / "hpa", size="small")


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_an_event_objects_count_equals_its_occurrences(tiny_scenarios: dict[str, Path], fault: str) -> None:
    per_object: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for watch_type, event in _events(tiny_scenarios[fault]):
        per_object[event["metadata"]["uid"]].append((watch_type, event["count"]))
        assert event["lastTimestamp"] >= event["firstTimestamp"]
    for records in per_object.values():
        # a tiny scenario starts its stream at the window: a series may have begun before it
        first_type, first_count = records[0]
        assert first_type == "MODIFIED" or first_count == 1
        assert [count for _type, count in records] == list(range(first_count, first_count + len(records)))
        assert all(watch_type == "MODIFIED" for watch_type, _count in records[1:])


def test_a_repeated_event_is_one_object_counting_up(small_crash: Path) -> None:
    per_object: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for watch_type, event in _events(small_crash):
        per_object[event["metadata"]["uid"]].append((watch_type, event))
    repeated = 0
    for records in per_object.values():
        counts = [event["count"] for _type, event in records]
        assert counts == list(range(counts[0], counts[0] + len(counts))), counts
        assert [watch_type for watch_type, _event in records][1:] == ["MODIFIED"] * (len(records) - 1)
        lasts = [event["lastTimestamp"] for _type, event in records]
        assert lasts == sorted(lasts)
        versions = [int(event["metadata"]["resourceVersion"]) for _type, event in records]
        assert versions == sorted(versions)
        assert len({event["firstTimestamp"] for _type, event in records}) == 1
        repeated += len(records) > 1
    assert repeated >= 3  # the crash loop's BackOff, Pulled, Created, Started at least


@pytest.mark.parametrize("fault", ["invalid-command", "bad-image", "resource-quota", "feature-flag"])
def test_one_event_object_per_object_reason_and_message(small_scenarios: Any, fault: str) -> None:
    objects: dict[tuple[str, ...], set[str]] = defaultdict(set)
    scheduled: dict[str, set[str]] = defaultdict(set)
    for _type, event in _events(small_scenarios[fault]):
        involved = event["involvedObject"]
        key = (involved["uid"], involved.get("fieldPath", ""), event["reason"], event["message"])
        objects[key].add(event["metadata"]["uid"])
        if event["reason"] == "Scheduled":
            scheduled[involved["uid"]].add(event["metadata"]["uid"])
    assert all(len(uids) == 1 for uids in objects.values()), [k for k, v in objects.items() if len(v) > 1]
    assert all(len(uids) == 1 for uids in scheduled.values())


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_pod_has_an_ip_in_its_nodes_cidr(tiny_scenarios: dict[str, Path], fault: str) -> None:
    listing = _last_listing(tiny_scenarios[fault])
    cidrs = {node["metadata"]["name"]: node["spec"]["podCIDR"] for node in _by_kind(listing, "Node")}
    node_ips = {
        node["metadata"]["name"]: node["status"]["addresses"][0]["address"]
        for node in _by_kind(listing, "Node")
    }
    taken: dict[str, str] = {}
    for pod in _by_kind(listing, "Pod"):
        node = pod["spec"].get("nodeName")
        if not node:
            assert "podIP" not in pod["status"]
            continue
        ip = pod["status"]["podIP"]
        assert pod["status"]["podIPs"] == [{"ip": ip}]
        assert pod["status"]["hostIP"] == node_ips[node]
        if pod["spec"].get("hostNetwork"):
            assert ip == node_ips[node]
            continue
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(cidrs[node]), (pod["metadata"]["name"], ip)
        assert taken.setdefault(ip, pod["metadata"]["name"]) == pod["metadata"]["name"], f"{ip} given twice"


@pytest.mark.parametrize("fault", ["bad-image", "service-target-port", "pod-failure"])
def test_endpoints_name_the_ips_of_the_pods_they_select(tiny_scenarios: dict[str, Path], fault: str) -> None:
    listing = _last_listing(tiny_scenarios[fault])
    pods = {(pod["metadata"]["namespace"], pod["metadata"]["name"]): pod for pod in _by_kind(listing, "Pod")}
    checked = 0
    for endpoints in _by_kind(listing, "Endpoints"):
        for subset in endpoints.get("subsets", []):
            for address in subset.get("addresses", []) + subset.get("notReadyAddresses", []):
                ref = address.get("targetRef")
                if ref is None:  # default/kubernetes: the API server, not a pod
                    continue
                pod = pods[(ref["namespace"], ref["name"])]
                assert address["ip"] == pod["status"]["podIP"]
                assert address["nodeName"] == pod["spec"]["nodeName"]
                checked += 1
    assert checked > 30


def _quantity_mi(text: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text) / 1048576


def test_node_allocated_requests_stay_within_what_it_can_allocate(small_quota: Path) -> None:
    listing = _last_listing(small_quota)
    requested: dict[str, float] = defaultdict(float)
    for pod in _by_kind(listing, "Pod"):
        node = pod["spec"].get("nodeName")
        for container in pod["spec"]["containers"]:
            resources = container.get("resources") or {}
            limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
            # the API server requests a limited resource at its limit unless told otherwise
            for resource in limits:
                assert resource in requests, (pod["metadata"]["name"], container["name"])
            if node and "memory" in requests:
                requested[node] += _quantity_mi(requests["memory"])
    for node in _by_kind(listing, "Node"):
        name = node["metadata"]["name"]
        assert 0 < requested[name] < _quantity_mi(node["status"]["allocatable"]["memory"]), name


def test_the_quotas_used_memory_is_what_the_namespaces_pods_request(small_quota: Path) -> None:
    listing = _last_listing(small_quota)
    quota = _by_kind(listing, "ResourceQuota")[0]
    requested = sum(
        _quantity_mi(container["resources"]["requests"]["memory"])
        for pod in _by_kind(listing, "Pod")
        if pod["metadata"]["namespace"] == "otel-demo" and pod["spec"].get("nodeName")
        for container in pod["spec"]["containers"]
    )
    assert _quantity_mi(quota["status"]["used"]["memory"]) == pytest.approx(requested, rel=0.25)


@pytest.fixture(scope="module")
def small_hpa_misconfig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_scenario(
        "hpa-misconfig", 1, tmp_path_factory.mktemp("cluster") / "hpa-misconfig", size="small"
    )


def _check_autoscalers_cpu(small_hpa: Path) -> None:
    listing = _last_listing(small_hpa)
    autoscalers = _by_kind(listing, "HorizontalPodAutoscaler")
    assert autoscalers
    for hpa in autoscalers:
        target = hpa["spec"]["scaleTargetRef"]["name"]
        current = hpa["status"]["currentMetrics"][0]["resource"]["current"]
        rates = []
        names = sorted(
            pod["metadata"]["name"]
            for pod in _by_kind(listing, "Pod")
            if pod["metadata"]["labels"].get("opentelemetry.io/name") == target
        )
        for path in [small_hpa / "metrics" / f"pod_{name}_raw.tsv" for name in names]:
            samples = [
                (row["timestamp"], float(row["value"]))
                for row in _rows(path)
                if row["metric_name"] == "container_cpu_usage_seconds_total"
            ]
            if len(samples) < 2:
                continue
            # The metrics server reports the latest rate, not the window's average.
            (first_at, first), (last_at, last) = samples[-2], samples[-1]
            rates.append((last - first) / (_seconds(last_at) - _seconds(first_at)) * 1000)
        assert rates, target
        measured = sum(rates) / len(rates)
        deployment = next(d for d in _by_kind(listing, "Deployment") if d["metadata"]["name"] == target)
        request = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
        assert int(current["averageValue"].removesuffix("m")) == pytest.approx(measured, rel=0.1), target
        assert current["averageUtilization"] == pytest.approx(
            measured * 100 / int(request.removesuffix("m")), rel=0.1
        )


def test_an_autoscalers_cpu_agrees_with_its_pods_metrics(small_hpa: Path) -> None:
    _check_autoscalers_cpu(small_hpa)


def test_a_maxed_out_misconfigured_autoscaler_reports_its_pods_cpu_and_memory_above_its_target(
    small_hpa_misconfig: Path,
) -> None:
    _check_autoscalers_cpu(small_hpa_misconfig)
    listing = _last_listing(small_hpa_misconfig)
    maxed = [
        hpa
        for hpa in _by_kind(listing, "HorizontalPodAutoscaler")
        if any(c["type"] == "ScalingLimited" and c["status"] == "True" for c in hpa["status"]["conditions"])
    ]
    assert maxed
    for hpa in maxed:
        targets = {
            m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
            for m in hpa["spec"]["metrics"]
        }
        current = {m["resource"]["name"]: m["resource"]["current"] for m in hpa["status"]["currentMetrics"]}
        assert set(current) == {"cpu", "memory"}
        # Memory above its target is the reason the events give for every rescale.
        assert current["memory"]["averageUtilization"] > targets["memory"]
        name = hpa["spec"]["scaleTargetRef"]["name"]
        measured = []
        for pod in _by_kind(listing, "Pod"):
            if pod["metadata"]["labels"].get("opentelemetry.io/name") != name:
                continue
            rows = _rows(small_hpa_misconfig / "metrics" / f"pod_{pod['metadata']['name']}_raw.tsv")
            measured.extend(
                float(row["value"]) / 1048576
                for row in rows
                if row["metric_name"] == "container_memory_working_set_bytes"
            )
        assert measured, name
        value = int(current["memory"]["averageValue"].removesuffix("Mi"))
        assert value == pytest.approx(sum(measured) / len(measured), rel=0.1), name


def test_the_platform_around_the_demo_is_listed(small_quota: Path) -> None:
    listing = _last_listing(small_quota)
    namespaces = {body["metadata"]["name"] for body in _by_kind(listing, "Namespace")}
    assert {
        "kube-system",
        "prometheus",
        "clickhouse",
        "opentelemetry-collectors",
        "kube-metrics-server",
    } <= namespaces
    kinds = {body["kind"] for body in listing}
    for kind in (
        "ClusterRole",
        "ClusterRoleBinding",
        "ServiceAccount",
        "CustomResourceDefinition",
        "StorageClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "StatefulSet",
        "DaemonSet",
    ):
        assert kind in kinds, kind
    assert not any(str(body["apiVersion"]).startswith("chaos-mesh.org/") for body in listing)
    pods = {(pod["metadata"]["namespace"], pod["metadata"]["name"]) for pod in _by_kind(listing, "Pod")}
    for namespace, prefix in (
        ("kube-system", "coredns-"),
        ("kube-system", "kube-proxy-"),
        ("kube-system", "etcd-"),
        ("prometheus", "prometheus-prometheus-node-exporter-"),
        ("kube-metrics-server", "kube-metrics-server-"),
    ):
        assert any(ns == namespace and name.startswith(prefix) for ns, name in pods), prefix
    claims = {claim["spec"]["volumeName"] for claim in _by_kind(listing, "PersistentVolumeClaim")}
    assert claims == {volume["metadata"]["name"] for volume in _by_kind(listing, "PersistentVolume")}


def test_every_running_pod_has_a_metrics_file(small_quota: Path) -> None:
    listing = _last_listing(small_quota)
    files = {path.name for path in (small_quota / "metrics").glob("pod_*_raw.tsv")}
    for pod in _by_kind(listing, "Pod"):
        if pod["status"].get("phase") == "Running":
            assert f"pod_{pod['metadata']['name']}_raw.tsv" in files, pod["metadata"]["name"]


def test_a_small_scenario_has_between_80_and_200_files(small_quota: Path) -> None:
    files = [path for path in small_quota.rglob("*") if path.is_file()]
    assert 80 <= len(files) <= 200, len(files)


_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9]+|[A-Z0-9]{10}")
# Where a line scraped from stdout writes its time, and how to read it back.
_BODY_CLOCKS = {
    "kafka": (re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\]"), "%Y-%m-%d %H:%M:%S"),
    "postgresql": (re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3}) UTC"), "%Y-%m-%d %H:%M:%S"),
    "valkey-cart": (re.compile(r"^\d+:[MC] (\d\d \w{3} \d{4} \d\d:\d\d:\d\d)\.(\d{3})"), "%d %b %Y %H:%M:%S"),
    "frontend-proxy": (
        re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3})\]\[\d+\]"),
        "%Y-%m-%d %H:%M:%S",
    ),
    "otel-collector": (re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z\t"), "%Y-%m-%dT%H:%M:%S"),
}


@pytest.fixture(scope="module")
def small_quiet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_scenario("no-fault", 4, tmp_path_factory.mktemp("cluster") / "quiet", size="small")


def test_busy_services_write_a_variety_of_lines(small_quiet: Path) -> None:
    shapes: dict[str, set[str]] = defaultdict(set)
    for row in _rows(small_quiet / "otel_logs_raw.tsv"):
        shapes[row["ServiceName"]].add(_SHAPE.sub("#", row["Body"]))
    for service in ("ad", "cart", "checkout", "product-catalog", "recommendation", "kafka", "frontend-proxy"):
        assert len(shapes[service]) >= 10, (service, len(shapes[service]))
    assert len(shapes) >= 20


def test_errors_are_a_small_share_of_a_quiet_incidents_logs(small_quiet: Path) -> None:
    severities = [row["SeverityText"] for row in _rows(small_quiet / "otel_logs_raw.tsv")]
    errors = sum(1 for severity in severities if severity in ("ERROR", "FATAL"))
    assert len(severities) > 1000
    assert errors / len(severities) < 0.05


def test_a_log_records_time_is_the_time_its_body_writes(small_quiet: Path) -> None:
    checked = 0
    for row in _rows(small_quiet / "otel_logs_raw.tsv"):
        clock = _BODY_CLOCKS.get(row["ServiceName"])
        match = clock[0].match(row["Body"]) if clock else None
        if clock is None or match is None:
            continue
        written = datetime.strptime(match.group(1), clock[1]).replace(tzinfo=UTC).timestamp()
        written += int(match.group(2)) / 1000
        recorded = _seconds(row["Timestamp"]) + int(row["Timestamp"][20:23]) / 1000
        assert abs(written - recorded) < 0.002, row["Body"][:80]
        checked += 1
    assert checked > 100


def test_background_volume_follows_the_traffic_written() -> None:
    pod = _any_pod()
    quiet = background_records("kafka", pod, 0, 10 * MINUTE, random.Random(1), volume=1.0)
    busy = background_records("kafka", pod, 0, 10 * MINUTE, random.Random(1), volume=4.0)
    assert 2.5 < len(busy) / len(quiet) < 6
    assert [at for at, _severity, _body in busy] == sorted(at for at, _severity, _body in busy)
    assert all(0 <= at < 10 * MINUTE for at, _severity, _body in busy)
    assert load_users() == 10  # LOCUST_USERS of the demo's load generator
    assert set(BACKGROUND_SERVICES) <= {w.name for w in WORKLOADS}


def _any_pod() -> Pod:
    return Pod("kafka-5d9f7c6b8-x2x9q", "kafka", "kafka-5d9f7c6b8", "uid", "5d9f7c6b8", "uid", "worker-1",
               "10.244.1.2", 0, {}, [])  # fmt: skip


def _mi(quantity: str) -> float:
    return _quantity_mi(quantity) if quantity[-2:] in ("Ki", "Mi", "Gi") else float(quantity) / 1048576


@pytest.mark.slow
def test_node_allocated_requests_equal_the_sum_of_its_pods_requests(
    small_quota: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    listing = _last_listing(small_quota)
    requested = sum(
        _mi(container.get("resources", {}).get("requests", {}).get("memory", "0"))
        for pod in _by_kind(listing, "Pod")
        if pod["spec"].get("nodeName") == "worker-2" and pod["status"].get("phase") in ("Running", "Pending")
        for container in pod["spec"]["containers"]
    )
    cache = tmp_path_factory.mktemp("index-cache")
    with open_snapshot(small_quota, cache_dir=cache) as snapshot, KubeFacade(snapshot) as facade:
        kubectl = Kubectl(facade, tmp_path_factory.mktemp("kubectl"))
        described = kubectl("describe", "node", "worker-2")
        top = kubectl("top", "pod", "-n", "kube-metrics-server", "--no-headers")
    allocated = re.search(r"^\s+memory\s+(\d+\w+) \(\d+%\)", described.split("Allocated resources:")[1], re.M)
    assert allocated is not None, described
    assert _mi(allocated.group(1)) == pytest.approx(requested, abs=1)
    assert top.startswith("kube-metrics-server-")  # the metrics pipeline's own pod has metrics


@pytest.mark.parametrize("service", BACKGROUND_SERVICES)
def test_every_background_template_of_a_service_is_written(service: str) -> None:
    _rate, templates = BACKGROUND_TEMPLATES[service]
    lines = background_records(service, _any_pod(), 0, 60 * MINUTE, random.Random(5), volume=20.0)
    written = {_SHAPE.sub("#", body) for _at, _severity, body in lines}
    assert len(written) >= min(len(templates), 5) * 0.8
    assert {severity for _at, severity, _body in lines} <= {"DEBUG", "INFO", "WARN", "ERROR"}


@pytest.mark.parametrize("target", ["valkey-cart", "ad"])
def test_a_memory_stress_evicts_a_pod_whose_failed_phase_fires_failed_pods_detected_on_its_group(
    tmp_path: Path, target: str
) -> None:
    scenario = generate_scenario(
        "stress", 4, tmp_path / target, size="tiny", params={"target": target, "stressor": "memory"}
    )
    failed = [
        body
        for body in _by_kind(_last_listing(scenario), "Pod")
        if body["metadata"]["name"].startswith(f"{target}-") and body["status"]["phase"] == "Failed"
    ]
    assert len(failed) == 1
    pod = failed[0]
    assert pod["status"]["reason"] == "Evicted"
    assert pod["status"]["message"].startswith("The node was low on resource: memory.")
    node = pod["spec"]["nodeName"]
    events = [body for _, body in _events(scenario)]
    evicted = [e for e in events if e["reason"] == "Evicted"]
    assert [e["involvedObject"]["name"] for e in evicted] == [pod["metadata"]["name"]]
    assert evicted[0]["message"] == pod["status"]["message"]
    assert any(e["reason"] == "EvictionThresholdMet" and e["involvedObject"]["name"] == node for e in events)
    # The ReplicaSet replaced the evicted pod.
    assert any(e["reason"] == "SuccessfulCreate" and target in e["message"] for e in events)
    metric_rows = _rows(scenario / "metrics" / f"pod_{pod['metadata']['name']}_raw.tsv")
    assert any(
        row["metric_name"] == "kube_pod_status_phase" and "'phase': 'Failed'" in row["tags"]
        for row in metric_rows
    )
    key = yaml.safe_load((scenario / "ground_truth.yaml").read_text())
    key = key.get("spec", key)
    assert {(a.get("group_id"), a["id"]) for a in key["alerts"]} >= {
        (f"{target}-pod-1", "FailedPodsDetected")
    }
