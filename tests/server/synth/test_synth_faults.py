"""Each fault leaves the evidence a real one leaves, and a v1 ground truth that names its cause."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from itbench_server.errors import GeneratorError
from itbench_server.synth import FAULTS, generate_lookalike, generate_scenario

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
        # A node's alerts name no group, as in the real keys (scenario 25's NodeSystemSaturation).
        assert alert["group_id"] in ids if "group_id" in alert else alert["id"].startswith("Node")
        assert alert["id"] != "Watchdog"
    assert all(entry["entity"]["kind"] for entry in spec["fault"])


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_ground_truth_alerts_are_alerts_that_fired(tiny_scenarios: dict[str, Path], fault: str) -> None:
    scenario = tiny_scenarios[fault]
    fired_names = {name for name, _subject in fired_alerts(scenario)}
    assert {alert["id"] for alert in ground_truth(scenario)["alerts"]} <= fired_names


# Faults whose effect stays off the demo's request path (the control plane, the API server) or
# that inject nothing.
OFF_THE_REQUEST_PATH = ("api-server-surge", "io-chaos", "no-fault")


@pytest.mark.parametrize("fault", sorted(set(FAULTS) - set(OFF_THE_REQUEST_PATH)))
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
    assert quotas[-1][1]["metadata"]["name"] == "memory" and quotas[-1][1]["spec"]["hard"] == {
        "memory": "1Gi"
    }
    # As ITBench's key for scenario 102: the Namespace alone, the ResourceQuota in no group.
    assert [group["kind"] for group in root_groups(scenario)] == ["Namespace"]
    assert "ResourceQuota" not in {group["kind"] for group in ground_truth(scenario)["groups"]}


def test_feature_flag_fault_changes_flagd_config_between_listings(tmp_path: Path) -> None:
    scenario = generate_scenario(
        "feature-flag", 3, tmp_path / "flag", size="small", params={"flags": {"paymentFailure": "100%"}}
    )
    before, after = first_and_last(listed(scenario, "ConfigMap"), "flagd-config")
    old = json.loads(before["data"]["demo.flagd.json"])["flags"]
    new = json.loads(after["data"]["demo.flagd.json"])["flags"]
    changed = [name for name in old if old[name]["defaultVariant"] != new[name]["defaultVariant"]]
    assert changed == ["paymentFailure"] and new["paymentFailure"]["defaultVariant"] == "100%"
    assert "\n" not in after["data"]["demo.flagd.json"], "the patching client writes the document on one line"
    assert any(row["StatusCode"] == "Error" and row["ServiceName"] == "payment" for row in spans(scenario))
    assert [g["kind"] for g in root_groups(scenario)] == ["ConfigMap"]
    assert ground_truth(scenario)["fault"][0]["changed"]["element"] == r"data.demo\.flagd\.json"


def test_a_feature_flag_edit_is_followed_by_restarts_of_flagd_and_the_flagged_service(tmp_path: Path) -> None:
    scenario = generate_scenario(
        "feature-flag", 3, tmp_path / "flag", size="tiny", params={"flags": {"cartFailure": "on"}}
    )
    restarted = {
        body["metadata"]["name"]
        for _at, body in listed(scenario, "Deployment")
        if "kubectl.kubernetes.io/restartedAt" in body["spec"]["template"]["metadata"].get("annotations", {})
    }
    assert {"flagd", "cart"} <= restarted


def test_two_flags_at_once_have_one_root_cause_the_configmap(tmp_path: Path) -> None:
    scenario = generate_scenario(
        "feature-flag",
        3,
        tmp_path / "flags",
        size="tiny",
        params={"flags": {"paymentFailure": "100%", "adFailure": "on"}},
    )
    assert [g["kind"] for g in root_groups(scenario)] == ["ConfigMap"]
    kinds = [g["kind"] for g in ground_truth(scenario)["groups"]]
    assert kinds.count("ServiceOperation") == 2


def test_the_flood_flag_makes_the_load_generator_pod_the_root_cause(tmp_path: Path) -> None:
    scenario = generate_scenario(
        "feature-flag",
        3,
        tmp_path / "flood",
        size="tiny",
        params={"flags": {"loadGeneratorFloodHomepage": "on"}},
    )
    (root,) = root_groups(scenario)
    assert root["kind"] == "Pod" and root["filter"] == ["load-generator-.*"]
    assert "flagd-config" not in json.dumps(ground_truth(scenario)["groups"])


def test_product_catalog_failure_fails_one_product_only(tmp_path: Path) -> None:
    scenario = generate_scenario(
        "feature-flag", 3, tmp_path / "pc", size="small", params={"flags": {"productCatalogFailure": "on"}}
    )
    failed = [
        row
        for row in spans(scenario)
        if row["ServiceName"] == "frontend-proxy"
        and row["SpanKind"] == "Server"
        and row["StatusCode"] == "Error"
    ]
    ok_product_pages = [
        row
        for row in spans(scenario)
        if row["ServiceName"] == "frontend-proxy"
        and row["SpanKind"] == "Server"
        and "/api/products/" in row["SpanAttributes"]
        and row["StatusCode"] != "Error"
    ]
    assert failed and ok_product_pages
    assert all(
        "OLJCESPC7Z" in row["SpanAttributes"] for row in failed if "/api/products/" in row["SpanAttributes"]
    )


def test_network_partition_fault_leaves_chaos_events_and_timeouts_but_no_listed_chaos_object(
    tmp_path: Path,
) -> None:
    scenario = generate_lookalike(81, 1, tmp_path / "81", size="small")
    # ITBench's recorder does not list chaos-mesh.org kinds: the Schedule and its experiments are
    # seen only through the chaos controller's events (their CRDs are listed).
    assert not listed(scenario, "Schedule") and not listed(scenario, "NetworkChaos")
    assert any(
        body["metadata"]["name"] == "networkchaos.chaos-mesh.org"
        for _at, body in listed(scenario, "CustomResourceDefinition")
    )
    # ITBench scales the partitioned side to two replicas first.
    assert any(
        e["reason"] == "ScalingReplicaSet"
        and e["message"].startswith("Scaled up replica set quote-")
        and e["message"].endswith("from 1 to 2")
        for e in events(scenario)
    )
    chaos_events = [
        e for e in events(scenario) if e["involvedObject"]["kind"] in ("NetworkChaos", "Schedule")
    ]
    assert {e["source"]["component"] for e in chaos_events} == {"chaos-controller-manager"}
    chaos_names = {
        e["involvedObject"]["name"] for e in chaos_events if e["involvedObject"]["kind"] == "NetworkChaos"
    }
    failures = [
        row for row in spans(scenario) if row["SpanKind"] == "Client" and row["StatusCode"] == "Error"
    ]
    assert any(
        "timed out" in row["StatusMessage"] or "deadline" in row["StatusMessage"].lower() for row in failures
    )
    root = root_groups(scenario)[0]
    assert root["kind"] == "NetworkChaos" and root["namespace"] == "chaos-mesh"
    assert any(re.search(root["filter"][0], name) for name in chaos_names)


def test_bad_image_fault_leaves_image_pull_errors_and_a_new_replicaset(
    tiny_scenarios: dict[str, Path],
) -> None:
    scenario = tiny_scenarios["bad-image"]
    messages = [e["message"] for e in events(scenario)]
    assert "Error: ErrImagePull" in messages and "Error: ImagePullBackOff" in messages
    assert any("quay.io/it-bench/hello-bench-invalid:1.0.0" in message for message in messages)
    waiting = {
        status["state"]["waiting"]["reason"]
        for _at, pod in listed(scenario, "Pod")
        for status in pod["status"].get("containerStatuses", [])
        if "waiting" in status["state"]
    }
    assert waiting & {"ErrImagePull", "ImagePullBackOff"}
    target = root_groups(scenario)[0]
    assert target["kind"] == "Deployment"
    name = target["filter"][0].removesuffix(r"\b")
    names = {
        body["metadata"]["name"]
        for _at, body in listed(scenario, "ReplicaSet")
        if re.fullmatch(rf"{name}-[a-z0-9]+", body["metadata"]["name"])
    }
    assert len(names) == 2


def test_bad_env_fault_changes_an_address_and_causes_connection_refused(tmp_path: Path) -> None:
    scenario = generate_lookalike(16, 1, tmp_path / "16", size="small")
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


def test_hpa_fault_has_one_root_cause_per_autoscaler_and_maxed_out_autoscalers(tmp_path: Path) -> None:
    scenario = generate_lookalike(38, 1, tmp_path / "38", size="tiny")
    roots = root_groups(scenario)
    assert [g["kind"] for g in roots] == ["HorizontalPodAutoscaler"] * 3
    maxed = {subject for name, subject in fired_alerts(scenario) if name == "KubeHpaMaxedOut"}
    assert maxed == {"fraud-detection", "frontend", "image-provider"}
    for hpa in sorted(maxed):
        before, after = first_and_last(listed(scenario, "HorizontalPodAutoscaler"), hpa)
        target = lambda body: body["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"]  # noqa: E731
        assert target(after) == 20 < target(before)
        assert after["spec"]["metrics"][1]["resource"]["target"]["averageUtilization"] == 30
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
    never = {pod["metadata"]["name"] for pod in stuck}
    assert not [
        e for e in events(scenario) if e["reason"] == "Scheduled" and e["involvedObject"]["name"] in never
    ]
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


# Fault names that are also values ITBench itself writes into the cluster: Chaos Mesh actions and
# the recorded Schedule names ("...-network-partition", "...-cpu-stress", "...-http-chaos-abort"),
# the command ITBench sets ("invalid-command"), the Secret key it creates ("valkey-password"), and
# the scheduler's own words ("didn't match pod anti-affinity rules").
WRITTEN_BY_ITBENCH = {
    "network-partition", "network-delay", "network-loss", "pod-failure", "stress", "http-chaos", "jvm-chaos",
    "io-chaos", "invalid-command", "valkey-password", "anti-affinity",
}  # fmt: skip


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_no_agent_visible_file_names_the_fault(tiny_scenarios: dict[str, Path], fault: str) -> None:
    scenario = tiny_scenarios[fault]
    labels = [name for name in FAULTS if name not in WRITTEN_BY_ITBENCH]
    for path in scenario.rglob("*"):
        if path.is_dir() or path.name == "ground_truth.yaml":
            continue
        text = path.read_text(encoding="utf-8")
        for label in labels:
            assert label not in text, f"{label!r} appears in {path.name}"
        assert not re.search(r"\bfault", text, re.IGNORECASE), f"the word 'fault' appears in {path.name}"


def test_a_routine_restart_is_recorded_but_is_not_a_root_cause(tmp_path: Path) -> None:
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
                re.fullmatch(pattern.removesuffix(r"\b"), name)
                for name in names
                for g in roots
                for pattern in g["filter"]
            )
            break
    assert restarted and set(restarted) <= {"load-generator", "otel-collector"}


def test_recipe_parameters_fix_the_target_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    scenario = generate_scenario(
        "node-selector", 5, tmp_path / "ns", size="tiny", params={"target": "currency"}
    )
    assert root_groups(scenario)[0]["filter"] == ["currency-.*"]
    with pytest.raises(GeneratorError, match="does not take the parameter"):
        generate_scenario("node-selector", 5, tmp_path / "bad", size="tiny", params={"colour": "blue"})
    assert not (tmp_path / "bad").exists()


def test_an_init_container_that_crashes_leaves_the_pod_in_init_crash_loop(tmp_path: Path) -> None:
    scenario = generate_lookalike(59, 1, tmp_path / "59", size="tiny")
    statuses = [
        status
        for _at, pod in listed(scenario, "Pod")
        if pod["metadata"]["name"].startswith("recommendation-")
        for status in pod["status"].get("initContainerStatuses", [])
    ]
    assert any(status["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff" for status in statuses)
    assert any(body["metadata"]["name"] == "features" for _at, body in listed(scenario, "ConfigMap"))
    assert [g["kind"] for g in root_groups(scenario)] == ["ConfigMap"]


def test_two_faults_at_once_give_two_root_causes(tmp_path: Path) -> None:
    scenario = generate_lookalike(60, 1, tmp_path / "60", size="tiny")
    assert sorted(g["kind"] for g in root_groups(scenario)) == ["ConfigMap", "Deployment"]


def test_a_chaos_experiment_with_a_duration_is_spawned_again_every_minute(tmp_path: Path) -> None:
    scenario = generate_lookalike(21, 1, tmp_path / "21", size="tiny")
    spawned = [e for e in events(scenario) if e["reason"] == "Spawned"]
    assert len(spawned) >= 10
    assert len({e["message"] for e in spawned}) == len(spawned)
    assert ("KubePodCrashLooping", "") not in fired_alerts(scenario)
    assert any(name == "KubePodCrashLooping" for name, _subject in fired_alerts(scenario))
