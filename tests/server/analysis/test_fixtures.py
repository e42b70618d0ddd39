"""The planted fault of each bundled fixture is visible through the analyses.

The tests read each fixture's ground truth (the server never does) to know which objects the
fault touched, and check that the analyses surface it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from itbench_server.analysis.alerts import alert_timeline
from itbench_server.analysis.changes import Changes, object_changes, render_changes
from itbench_server.analysis.entities import resolve_entity
from itbench_server.analysis.events import event_groups
from itbench_server.analysis.traces import error_traces
from itbench_server.snapshot import Snapshot, open_snapshot

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"

pytestmark = pytest.mark.slow


def _spec(scenario: Path) -> dict[str, Any]:
    document = yaml.safe_load((scenario / "ground_truth.yaml").read_text())
    return document.get("spec", document)


def _scenarios() -> dict[str, Path]:
    """Fixture directories by the fault mechanism of their ground truth."""
    found: dict[str, Path] = {}
    for scenario in sorted(FIXTURES.glob("Scenario-*")):
        for fault in _spec(scenario).get("fault", []):
            found.setdefault(fault.get("fault_mechanism", ""), scenario)
    return found


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], tuple[Snapshot, dict[str, Any]]]]:
    """Opens the fixture of a fault mechanism (once) and gives it with its ground truth."""
    scenarios = _scenarios()
    # Shared by every test module of the session: an index is built once per fixture.
    cache = tmp_path_factory.getbasetemp() / "fixture-index-cache"
    opened: dict[str, Snapshot] = {}

    def open_fixture(mechanism: str) -> tuple[Snapshot, dict[str, Any]]:
        if mechanism not in scenarios:
            pytest.skip(f"no bundled fixture with fault mechanism {mechanism}")
        if mechanism not in opened:
            opened[mechanism] = open_snapshot(scenarios[mechanism], cache_dir=cache)
        return opened[mechanism], _spec(scenarios[mechanism])

    yield open_fixture
    for snapshot in opened.values():
        snapshot.close()


def _root_groups(spec: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [group for group in spec["groups"] if group.get("root_cause") and group["kind"] == kind]


def _matches(group: dict[str, Any], name: str) -> bool:
    return any(re.search(pattern, name) for pattern in group.get("filter") or [group.get("name", "")])


def _whole_window_changes(snapshot: Snapshot) -> Changes:
    return object_changes(snapshot, since=snapshot.window.start, until=snapshot.window.end)


def test_quota_fault_leaves_failed_create_events_and_a_new_quota(scenario: Callable[..., Any]) -> None:
    snapshot, spec = scenario("resource_quota_enforcement")
    # As ITBench's answer key: the Namespace is the root cause, the quota is what names it.
    (namespace_group,) = _root_groups(spec, "Namespace")

    warnings = event_groups(
        snapshot, since=snapshot.window.start, until=snapshot.window.end, event_type="Warning"
    )
    failed_creates = [group for group in warnings if group.reason == "FailedCreate"]
    assert failed_creates, warnings
    assert all("exceeded quota" in group.latest_message for group in failed_creates)
    quotas = [
        presence.entity
        for presence in _whole_window_changes(snapshot).presence
        if presence.entity.kind == "ResourceQuota" and presence.change == "appeared"
    ]
    assert quotas and all(_matches(namespace_group, quota.namespace) for quota in quotas)
    assert all(f"exceeded quota: {quotas[0].name}" in group.latest_message for group in failed_creates)


def test_feature_flag_fault_shows_the_flag_that_flipped(scenario: Callable[..., Any]) -> None:
    snapshot, spec = scenario("custom(flagd)")
    (fault,) = spec["fault"]
    before = json.loads(fault["changed"]["from"])["flags"]
    after = json.loads(fault["changed"]["to"])["flags"]
    (flipped,) = [flag for flag in after if before[flag]["defaultVariant"] != after[flag]["defaultVariant"]]

    changes = object_changes(
        snapshot, since=snapshot.window.start, until=snapshot.window.end, kinds=["ConfigMap"]
    )

    lines = render_changes(changes)
    expected = (
        f'    data["demo.flagd.json"].flags.{flipped}.defaultVariant: '
        f'"{before[flipped]["defaultVariant"]}" -> "{after[flipped]["defaultVariant"]}"'
    )
    assert expected in lines, lines
    # Background noise may edit another ConfigMap too (the collector's); flagd-config changed.
    assert fault["entity"]["name"] in [change.entity.name for change in changes.changes]


def test_network_partition_fault_shows_the_chaos_object_and_where_errors_began(
    scenario: Callable[..., Any],
) -> None:
    snapshot, spec = scenario("network_partition")
    (chaos_group,) = _root_groups(spec, "NetworkChaos")

    # As in ITBench's recordings, no chaos-mesh.org object is listed: the experiment is known
    # from the chaos controller's events only.
    appeared = [p.entity for p in _whole_window_changes(snapshot).presence if p.change == "appeared"]
    assert not any(ref.kind == "NetworkChaos" for ref in appeared), appeared
    events = (FIXTURES / "Scenario-synth-3" / "k8s_events_raw.tsv").read_text(encoding="utf-8")
    assert any(
        _matches(chaos_group, name) for name in re.findall(r"[a-z0-9][a-z0-9-]*partition[a-z0-9-]*", events)
    )
    # The controller's events say which pods the experiment was applied to.
    assert "Successfully apply chaos for otel-demo/shipping-" in events
    errors = error_traces(snapshot, since=snapshot.window.start, until=snapshot.window.end)
    # The partition blocks shipping from quote: errors begin in shipping's calls.
    assert errors.signatures[0].service == "shipping"
    assert "quote" in errors.signatures[0].message


def test_bad_image_fault_shows_the_image_change_and_pull_failures(scenario: Callable[..., Any]) -> None:
    snapshot, spec = scenario("modify-kubernetes-workload-container-image")
    (deployment_group,) = _root_groups(spec, "Deployment")

    images = [
        (change.entity.name, item.path)
        for change in _whole_window_changes(snapshot).changes
        if change.entity.kind == "Deployment"
        for item in change.fields
        if item.path.endswith(".image")
    ]
    # Background noise may roll another Deployment out to a new image too.
    (name,) = [name for name, _path in images if _matches(deployment_group, name)]
    deployment = resolve_entity(snapshot, f"Deployment/{name}")
    events = event_groups(
        snapshot, since=snapshot.window.start, until=snapshot.window.end, objects=[deployment]
    )
    assert any("ErrImagePull" in group.latest_message or "pull" in group.latest_message for group in events)


def test_bad_environment_variable_fault_shows_the_env_change(scenario: Callable[..., Any]) -> None:
    snapshot, spec = scenario("modify-kubernetes-workload-container-environment-variable")
    (deployment_group,) = _root_groups(spec, "Deployment")

    env_changes = [
        (change.entity.name, item.path, item.before, item.after)
        for change in _whole_window_changes(snapshot).changes
        for item in change.fields
        if ".env[" in item.path
    ]
    assert len(env_changes) == 1, env_changes
    name, path, before, after = env_changes[0]
    assert _matches(deployment_group, name)
    assert path.endswith("].value") and before != after


def test_hpa_fault_shows_the_target_change_and_the_maxed_out_alert(scenario: Callable[..., Any]) -> None:
    snapshot, spec = scenario("misconfigured-kubernetes-horizontal-pod-autoscaler")
    groups = _root_groups(spec, "HorizontalPodAutoscaler")

    changed = {
        change.entity.name
        for change in _whole_window_changes(snapshot).changes
        if change.entity.kind == "HorizontalPodAutoscaler"
        and any(item.path.startswith("spec.metrics") for item in change.fields)
    }
    assert all(any(_matches(group, name) for name in changed) for group in groups), changed
    maxed = alert_timeline(
        snapshot, since=snapshot.window.start, until=snapshot.window.end, name="KubeHpaMaxedOut"
    )
    assert {episode.entity.split("/")[1] for episode in maxed.episodes} == {"HorizontalPodAutoscaler"}


def test_node_selector_fault_shows_the_selector_and_failed_scheduling(scenario: Callable[..., Any]) -> None:
    snapshot, spec = scenario("invalid-node-selector")
    (pod_group,) = _root_groups(spec, "Pod")

    selectors = [
        change.entity.name
        for change in _whole_window_changes(snapshot).changes
        if any(item.path.endswith("nodeSelector") for item in change.fields)
    ]
    assert selectors, selectors
    scheduling = event_groups(
        snapshot, since=snapshot.window.start, until=snapshot.window.end, reason="FailedScheduling"
    )
    assert scheduling and all(_matches(pod_group, group.object.name) for group in scheduling)


def test_oom_fault_shows_the_crash_loop_in_events_and_alerts(scenario: Callable[..., Any]) -> None:
    snapshot, spec = scenario("valkey-workload-out-of-memory")
    (pod_group,) = _root_groups(spec, "Pod")

    backoffs = event_groups(
        snapshot, since=snapshot.window.start, until=snapshot.window.end, reason="BackOff"
    )
    # The fixture also has a pod crash-looping for hours in another namespace (background noise).
    namespace = pod_group["namespace"]
    in_namespace = [group for group in backoffs if group.object.namespace == namespace]
    assert in_namespace and all(_matches(pod_group, group.object.name) for group in in_namespace)
    crash_loops = alert_timeline(
        snapshot, since=snapshot.window.start, until=snapshot.window.end, name="KubePodCrashLooping"
    )
    episodes = [e for e in crash_loops.episodes if e.entity.startswith(f"{namespace}/")]
    assert episodes
    assert all(_matches(pod_group, episode.entity.rsplit("/", 1)[-1]) for episode in episodes)
