"""Every scenario carries the background noise of a real cluster, and none of it is a root cause."""

from __future__ import annotations

import csv
import itertools
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from itbench_server.errors import GeneratorError
from itbench_server.synth import FAULTS, NOISE_CATALOGUE, generate_scenario, scenario_noise
from itbench_server.synth.noise import CHANGES, WARNINGS

from .conftest import TINY_SEED

SEEDS = range(3)


def ground_truth(scenario: Path) -> dict[str, Any]:
    document = yaml.safe_load((scenario / "ground_truth.yaml").read_text())
    return document.get("spec", document)


def matches(group: dict[str, Any], entity: str) -> bool:
    """Whether a ground-truth group names ``namespace/Kind/name``."""
    namespace, kind, name = entity.split("/", 2)
    if group["kind"] != kind or group.get("namespace", namespace) != namespace:
        return False
    return any(re.fullmatch(pattern, name) for pattern in group.get("filter") or [group.get("name", "")])


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_scenario_carries_changes_and_warnings_from_the_catalogue(fault: str) -> None:
    for seed in SEEDS:
        kinds = [item.kind for item in scenario_noise(fault, seed).items]
        assert set(kinds) <= set(NOISE_CATALOGUE)
        assert len(kinds) == len(set(kinds)) >= 3
        assert any(kind in CHANGES for kind in kinds), (fault, seed, kinds)
        assert sum(kind in WARNINGS for kind in kinds) >= 2, (fault, seed, kinds)


def test_noise_is_deterministic_per_seed_and_varies_across_seeds() -> None:
    assert scenario_noise("bad-image", 3) == scenario_noise("bad-image", 3)
    combinations = {
        tuple(item.kind for item in scenario_noise("bad-image", seed).items) for seed in range(10)
    }
    assert len(combinations) > 3


def test_the_tiny_scenarios_cover_the_whole_catalogue() -> None:
    """So the checks run over them (visibility, root causes) see every kind of noise."""
    planted = {item.kind for fault in FAULTS for item in scenario_noise(fault, TINY_SEED).items}
    assert planted == set(NOISE_CATALOGUE)


def test_a_feature_flag_scenario_never_gets_a_noise_edit_of_its_flag_configmap() -> None:
    for seed in range(20):
        assert "flag-variant" not in [item.kind for item in scenario_noise("feature-flag", seed).items]


def test_an_unknown_fault_has_no_noise() -> None:
    with pytest.raises(GeneratorError, match="unknown fault 'nope'"):
        scenario_noise("nope", 1)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_noise_objects_are_never_root_causes_nor_ground_truth_groups(
    tiny_scenarios: dict[str, Path], fault: str
) -> None:
    truth = ground_truth(tiny_scenarios[fault])
    for item in scenario_noise(fault, TINY_SEED).items:
        for entity in item.objects:
            named = [group["id"] for group in truth["groups"] if matches(group, entity)]
            if item.kind == "slow-consumer":
                # The service may be a symptom of the fault (starved of orders), never for its latency.
                assert not [
                    a for a in truth["alerts"] if a["group_id"] in named and a["id"] == "HighRequestLatency"
                ]
            else:
                assert named == [], f"{item.kind} object {entity} is in the ground truth as {named}"


def test_noise_objects_stay_out_of_root_causes_over_many_seeds(tmp_path: Path) -> None:
    for fault in sorted(FAULTS):
        for seed in (11,):
            scenario = generate_scenario(fault, seed, tmp_path / f"{fault}-{seed}", size="tiny")
            roots = [group for group in ground_truth(scenario)["groups"] if group.get("root_cause")]
            for item in scenario_noise(fault, seed).items:
                assert not [g["id"] for g in roots for entity in item.objects if matches(g, entity)]
            latency = {
                a["group_id"] for a in ground_truth(scenario)["alerts"] if a["id"] == "HighRequestLatency"
            }
            for alert in scenario_noise(fault, seed).symptoms:
                assert f"{alert.labels['service_name']}-service-1" not in latency


def test_noise_changes_are_visible_in_the_object_listings(tiny_scenarios: dict[str, Path]) -> None:
    """A change planted between two listings shows: the object differs between them."""
    checked = 0
    for fault, scenario in sorted(tiny_scenarios.items()):
        versions: dict[str, set[str]] = {}
        listed_at: list[int] = []
        with (scenario / "k8s_objects_raw.tsv").open(newline="", encoding="utf-8") as stream:
            for row in csv.DictReader(stream, delimiter="\t", strict=True):
                body = json.loads(row["Body"])
                meta = body["metadata"]
                entity = f"{meta.get('namespace', 'cluster')}/{body['kind']}/{meta['name']}"
                content = {key: value for key, value in body.items() if key not in ("metadata", "status")}
                versions.setdefault(entity, set()).add(json.dumps(content, sort_keys=True))
                stamp = datetime.fromisoformat(row["Timestamp"][:26]).replace(tzinfo=UTC)
                listed_at.append(int(stamp.timestamp()) * 1_000_000_000)
        for item in scenario_noise(fault, TINY_SEED).items:
            if item.kind in CHANGES and min(listed_at) < item.at < max(listed_at) - 60 * 1_000_000_000:
                changed = item.objects[0]
                assert len(versions.get(changed, ())) >= 2, f"{fault}: {item.kind} of {changed} not recorded"
                checked += 1
    assert checked >= 2


def test_a_stalled_consumer_fires_a_latency_alert_that_clears_and_is_not_in_the_ground_truth(
    tmp_path: Path,
) -> None:
    fault, seed = "bad-image", 2
    noise = scenario_noise(fault, seed)
    (alert,) = noise.symptoms
    scenario = generate_scenario(fault, seed, tmp_path / "slow", size="tiny")
    samples = [
        [a["labels"] for a in json.loads(path.read_text())["data"]["alerts"]]
        for path in sorted((scenario / "alerts").glob("*.json"))
    ]
    firing = [alert.labels in sample for sample in samples]
    assert any(firing) and not firing[-1] and not firing[0]
    group = f"{alert.labels['service_name']}-service-1"
    assert (group, "HighRequestLatency") not in {
        (a["group_id"], a["id"]) for a in ground_truth(scenario)["alerts"]
    }


def test_noise_alerts_fire_but_stay_out_of_the_ground_truth(tiny_scenarios: dict[str, Path]) -> None:
    checked = 0
    for fault, scenario in sorted(tiny_scenarios.items()):
        noise = scenario_noise(fault, TINY_SEED)
        if not noise.alerts:
            continue
        fired = [
            alert["labels"]
            for path in sorted((scenario / "alerts").glob("*.json"))
            for alert in json.loads(path.read_text())["data"]["alerts"]
        ]
        truth = json.dumps(ground_truth(scenario))
        for _since, _until, alert in noise.alerts:
            assert alert.labels in fired
            subject = alert.labels.get("pod") or alert.labels["deployment"]
            assert subject not in truth
            checked += 1
    assert checked >= 2


def test_a_resources_bump_schedules_its_new_pod_at_once_because_the_workers_have_room(
    tiny_scenarios: dict[str, Path],
) -> None:
    bumped = 0
    for fault, scenario in sorted(tiny_scenarios.items()):
        items = [item for item in scenario_noise(fault, TINY_SEED).items if item.kind == "resources-bump"]
        if not items:
            continue
        pods = {entity.rsplit("/", 1)[-1] for item in items for entity in item.objects if "/Pod/" in entity}
        with (scenario / "k8s_events_raw.tsv").open(newline="", encoding="utf-8") as stream:
            for row in csv.DictReader(stream, delimiter="\t"):
                event = json.loads(row["Body"])["object"]
                if event["involvedObject"]["name"] in pods:
                    assert event["reason"] != "FailedScheduling", (fault, event["message"])
        bumped += 1
    assert bumped


def test_the_noise_autoscaler_scales_out_after_its_pods_cpu_rose_above_its_target(tmp_path: Path) -> None:
    seed = next(
        s
        for s in range(50)
        if any(item.kind == "autoscaler" for item in scenario_noise("bad-image", s).items)
    )
    (item,) = [item for item in scenario_noise("bad-image", seed).items if item.kind == "autoscaler"]
    name = item.objects[0].rsplit("/", 1)[-1]
    scenario = generate_scenario("bad-image", seed, tmp_path / "hpa", size="small")
    # The pods' CPU rates around the scale-out, in millicores.
    before: list[float] = []
    for path in sorted((scenario / "metrics").glob(f"pod_{name}-*_raw.tsv")):
        with path.open(newline="", encoding="utf-8") as stream:
            samples = [
                (
                    datetime.fromisoformat(row["timestamp"][:19]).replace(tzinfo=UTC).timestamp(),
                    float(row["value"]),
                )
                for row in csv.DictReader(stream, delimiter="\t")
                if row["metric_name"] == "container_cpu_usage_seconds_total"
            ]
        up = item.at / 1e9
        # The per-minute rates between consecutive samples around the scale-out (one of them
        # lies within the burst's 100 s before the load is shared by two pods).
        before.extend(
            (last - first) / (last_at - first_at) * 1000
            for (first_at, first), (last_at, last) in itertools.pairwise(samples)
            if up - 150 <= first_at and last_at <= up + 70
        )
    assert before, name
    # The HPA's request is 100m and its target 80%.
    assert max(before) > 80
