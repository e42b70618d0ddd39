"""Each fault leaves the evidence a real one leaves, and a v1 ground truth that names its cause."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from itbench_server.synth import FAULTS

csv.field_size_limit(1 << 30)

SHARED_GROUND_TRUTH = Path(__file__).resolve().parents[3] / ".." / "shared" / "itbench" / "ground_truth"


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream, delimiter="\t", strict=True))


def listed(scenario: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(listing time, object) for every listing of every object of ``kind``."""
    out = []
    for row in read_tsv(scenario / "k8s_objects_raw.tsv"):
        body = json.loads(row["Body"])
        if body["kind"] == kind:
            out.append((row["Timestamp"], body))
    return out


def events(scenario: Path) -> list[dict[str, Any]]:
    return [json.loads(row["Body"])["object"] for row in read_tsv(scenario / "k8s_events_raw.tsv")]


def spans(scenario: Path) -> list[dict[str, str]]:
    return read_tsv(scenario / "otel_traces_raw.tsv")


def fired_alerts(scenario: Path) -> set[tuple[str, str]]:
    """(alertname, subject) of every alert in any alert file."""
    out = set()
    for path in (scenario / "alerts").glob("*.json"):
        for alert in json.loads(path.read_text())["data"]["alerts"]:
            labels = alert["labels"]
            subject = (
                labels.get("service_name")
                or labels.get("pod")
                or labels.get("deployment")
                or labels.get("horizontalpodautoscaler")
                or ""
            )
            out.add((labels["alertname"], subject))
    return out


def ground_truth(scenario: Path) -> dict[str, Any]:
    document = yaml.safe_load((scenario / "ground_truth.yaml").read_text())
    return document.get("spec", document)


def root_groups(scenario: Path) -> list[dict[str, Any]]:
    return [group for group in ground_truth(scenario)["groups"] if group.get("root_cause")]


def first_and_last(
    items: list[tuple[str, dict[str, Any]]], name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    versions = [body for _at, body in items if body["metadata"]["name"] == name]
    return versions[0], versions[-1]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_ground_truth_has_the_v1_groups_shape(tiny_scenarios: dict[str, Path], fault: str) -> None:
    document = yaml.safe_load((tiny_scenarios[fault] / "ground_truth.yaml").read_text())
    assert document["apiVersion"] == "itbench.io/v1" and document["kind"] == "GroundTruth"
    spec = document["spec"]
    assert set(spec) == {"alerts", "aliases", "fault", "groups", "propagations", "recommended_actions"}
    ids = [group["id"] for group in spec["groups"]]
    assert len(ids) == len(set(ids))
    for group in spec["groups"]:
        assert set(group) <= {"id", "kind", "namespace", "name", "filter", "root_cause"}
        for pattern in group.get("filter", []):
            re.compile(pattern)
    assert any(group.get("root_cause") for group in spec["groups"])
    for alias in spec["aliases"]:
        assert set(alias) <= set(ids)
    for edge in spec["propagations"]:
        assert {edge["source"], edge["target"]} <= set(ids)
        assert set(edge) == {"condition", "effect", "source", "target"}
    for alert in spec["alerts"]:
        assert alert["group_id"] in ids
        assert alert["id"] != "Watchdog"
    assert spec["fault"][0]["entity"]["kind"]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_ground_truth_alerts_are_alerts_that_fired(tiny_scenarios: dict[str, Path], fault: str) -> None:
    scenario = tiny_scenarios[fault]
    fired_names = {name for name, _subject in fired_alerts(scenario)}
    assert {alert["id"] for alert in ground_truth(scenario)["alerts"]} <= fired_names


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_fault_makes_callers_at_the_edge_fail_or_alert(
    tiny_scenarios: dict[str, Path], fault: str
) -> None:
    alerts = fired_alerts(tiny_scenarios[fault])
    assert ("Watchdog", "") in alerts
    assert len(alerts) >= 2


def test_ground_truth_uses_only_keys_seen_in_real_ground_truths(tiny_scenarios: dict[str, Path]) -> None:
    if not SHARED_GROUND_TRUTH.is_dir():
        pytest.skip("../shared (real ITBench ground truths) is absent")
    group_keys: set[str] = set()
    top_keys: set[str] = set()
    for path in SHARED_GROUND_TRUTH.glob("*/groundtruth_v1.yaml"):
        for document in yaml.safe_load_all(path.read_text()):
            if not document:
                continue
            spec = document.get("spec", document)
            top_keys.update(spec)
            for group in spec.get("groups", []):
                group_keys.update(group)
    for scenario in tiny_scenarios.values():
        spec = ground_truth(scenario)
        assert set(spec) <= top_keys
        for group in spec["groups"]:
            assert set(group) <= group_keys


def test_resource_quota_fault_leaves_failed_create_events(tiny_scenarios: dict[str, Path]) -> None:
    scenario = tiny_scenarios["resource-quota"]
    failed = [e for e in events(scenario) if e["reason"] == "FailedCreate"]
    assert failed and all(
        "exceeded quota" in e["message"] and e["involvedObject"]["kind"] == "ReplicaSet" for e in failed
    )
    assert max(e["count"] for e in failed) > 1
    quotas = listed(scenario, "ResourceQuota")
    assert quotas, "the quota is listed"
    replicasets = [body for _at, body in listed(scenario, "ReplicaSet") if body["status"].get("conditions")]
    assert replicasets[-1]["status"]["conditions"][0]["reason"] == "FailedCreate"
    assert replicasets[-1]["status"]["replicas"] < replicasets[-1]["spec"]["replicas"]
    kinds = {group["kind"] for group in root_groups(scenario)}
    assert kinds == {"Namespace", "ResourceQuota"}


def test_feature_flag_fault_changes_flagd_config_between_listings(small_scenarios: Any) -> None:
    scenario = small_scenarios["feature-flag"]
    before, after = first_and_last(listed(scenario, "ConfigMap"), "flagd-config")
    old = json.loads(before["data"]["demo.flagd.json"])["flags"]
    new = json.loads(after["data"]["demo.flagd.json"])["flags"]
    changed = [name for name in old if old[name]["defaultVariant"] != new[name]["defaultVariant"]]
    assert len(changed) == 1 and old[changed[0]]["defaultVariant"] == "off"
    assert any(row["StatusCode"] == "Error" for row in spans(scenario))
    assert [g["kind"] for g in root_groups(scenario)] == ["ConfigMap"]
    assert ground_truth(scenario)["fault"][0]["changed"]["element"] == r"data.demo\.flagd\.json"


def test_network_partition_fault_leaves_chaos_objects_events_and_timeouts(small_scenarios: Any) -> None:
    scenario = small_scenarios["network-partition"]
    schedules = listed(scenario, "Schedule")
    chaos = listed(scenario, "NetworkChaos")
    assert schedules and chaos
    assert chaos[-1][1]["spec"]["action"] == "partition"
    assert chaos[-1][1]["metadata"]["ownerReferences"][0]["kind"] == "Schedule"
    sources = {
        e["source"]["component"]
        for e in events(scenario)
        if e["involvedObject"]["kind"] in ("NetworkChaos", "Schedule")
    }
    assert sources == {"chaos-controller-manager"}
    failures = [
        row for row in spans(scenario) if row["SpanKind"] == "Client" and row["StatusCode"] == "Error"
    ]
    assert any(
        "timed out" in row["StatusMessage"] or "deadline" in row["StatusMessage"].lower() for row in failures
    )
    root = root_groups(scenario)[0]
    assert root["kind"] == "NetworkChaos" and root["namespace"] == "chaos-mesh"
    assert any(re.search(root["filter"][0], body["metadata"]["name"]) for _at, body in chaos)


def test_bad_image_fault_leaves_image_pull_errors_and_a_new_replicaset(
    tiny_scenarios: dict[str, Path],
) -> None:
    scenario = tiny_scenarios["bad-image"]
    messages = [e["message"] for e in events(scenario)]
    assert "Error: ErrImagePull" in messages and "Error: ImagePullBackOff" in messages
    waiting = {
        status["state"]["waiting"]["reason"]
        for _at, pod in listed(scenario, "Pod")
        for status in pod["status"].get("containerStatuses", [])
        if "waiting" in status["state"]
    }
    assert waiting & {"ErrImagePull", "ImagePullBackOff"}
    target = root_groups(scenario)[0]
    assert target["kind"] == "Deployment"
    names = {
        body["metadata"]["name"]
        for _at, body in listed(scenario, "ReplicaSet")
        if re.search(target["filter"][0], body["metadata"]["name"])
    }
    assert len(names) == 2


def test_bad_env_fault_changes_an_address_and_causes_connection_refused(small_scenarios: Any) -> None:
    scenario = small_scenarios["bad-env"]
    target = root_groups(scenario)[0]
    name = target["filter"][0].removesuffix(r"\b")
    before, after = first_and_last(listed(scenario, "Deployment"), name)

    def env(body: dict[str, Any]) -> dict[str, str]:
        return {
            e["name"]: e.get("value", "") for e in body["spec"]["template"]["spec"]["containers"][0]["env"]
        }

    changed = {key for key in env(before) if env(before)[key] != env(after)[key]}
    assert len(changed) == 1 and next(iter(changed)).endswith("_ADDR")
    failures = [row["StatusMessage"] for row in spans(scenario) if row["StatusCode"] == "Error"]
    assert any("refused" in message.lower() for message in failures)


def test_hpa_fault_has_two_root_causes_and_maxed_out_autoscalers(tiny_scenarios: dict[str, Path]) -> None:
    scenario = tiny_scenarios["hpa-misconfig"]
    roots = root_groups(scenario)
    assert [g["kind"] for g in roots] == ["HorizontalPodAutoscaler", "HorizontalPodAutoscaler"]
    maxed = {subject for name, subject in fired_alerts(scenario) if name == "KubeHpaMaxedOut"}
    assert len(maxed) == 2
    for hpa in sorted(maxed):
        before, after = first_and_last(listed(scenario, "HorizontalPodAutoscaler"), hpa)
        target = lambda body: body["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"]  # noqa: E731
        assert target(after) < target(before)
    assert any(e["reason"] == "SuccessfulRescale" for e in events(scenario))


def test_node_selector_fault_leaves_pending_pods_and_failed_scheduling(
    tiny_scenarios: dict[str, Path],
) -> None:
    scenario = tiny_scenarios["node-selector"]
    failed = [e for e in events(scenario) if e["reason"] == "FailedScheduling"]
    assert failed and "didn't match Pod's node affinity/selector" in failed[0]["message"]
    pending = [pod for _at, pod in listed(scenario, "Pod") if pod["status"]["phase"] == "Pending"]
    (root,) = root_groups(scenario)
    assert root["kind"] == "Pod"
    # Other pods may be listed Pending while they start (background rollouts); the fault's never start.
    stuck = [pod for pod in pending if re.fullmatch(root["filter"][0], pod["metadata"]["name"])]
    assert stuck and all("nodeSelector" in pod["spec"] and "nodeName" not in pod["spec"] for pod in stuck)
    assert not [pod for pod in pending if pod not in stuck and "nodeSelector" in pod["spec"]]


def test_valkey_oom_fault_leaves_oomkilled_restarts_and_cart_errors(small_scenarios: Any) -> None:
    scenario = small_scenarios["valkey-oom"]
    statuses = [
        status
        for _at, pod in listed(scenario, "Pod")
        if pod["metadata"]["name"].startswith("valkey-cart-")
        for status in pod["status"].get("containerStatuses", [])
    ]
    assert any(status["lastState"].get("terminated", {}).get("reason") == "OOMKilled" for status in statuses)
    assert max(status["restartCount"] for status in statuses) >= 2
    assert any(row["ServiceName"] == "cart" and row["StatusCode"] == "Error" for row in spans(scenario))
    assert any(e["reason"] == "BackOff" for e in events(scenario))


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_no_agent_visible_file_names_the_fault(tiny_scenarios: dict[str, Path], fault: str) -> None:
    scenario = tiny_scenarios[fault]
    labels = [
        name for name in FAULTS if name != "network-partition"
    ]  # chaos objects legitimately say "network-partition"
    for path in scenario.rglob("*"):
        if path.is_dir() or path.name == "ground_truth.yaml":
            continue
        text = path.read_text(encoding="utf-8")
        for label in labels:
            assert label not in text, f"{label!r} appears in {path.name}"
        assert not re.search(r"\bfault", text, re.IGNORECASE), f"the word 'fault' appears in {path.name}"


def test_a_routine_restart_is_recorded_but_is_not_a_root_cause(tmp_path: Path) -> None:
    from itbench_server.synth import generate_scenario

    restarted: list[str] = []
    for seed in range(12):
        scenario = generate_scenario("bad-image", seed, tmp_path / str(seed), size="tiny")
        names = {
            body["metadata"]["name"]
            for _at, body in listed(scenario, "Deployment")
            if "kubectl.kubernetes.io/restartedAt"
            in body["spec"]["template"]["metadata"].get("annotations", {})
        }
        if names:
            restarted.extend(names)
            roots = root_groups(scenario)
            assert not any(
                re.search(pattern, name) for name in names for g in roots for pattern in g["filter"]
            )
            break
    assert restarted and set(restarted) <= {"load-generator", "otel-collector"}
