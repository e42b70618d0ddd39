"""Invariants every generated incident keeps, whatever the fault: what a real recording could not
show is never written (a listed chaos-mesh.org object, span metrics that disagree with the traces
at a large size), and the one-signal shortcuts stay rare. The telemetry's agreement with itself
(alerts and their rules, metrics, traces and logs) is checked in test_synth_consistency.py."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import yaml

from itbench_server.synth import FAULTS, generate_scenario

csv.field_size_limit(1 << 30)
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_no_chaos_mesh_object_is_listed(tiny_scenarios: dict[str, Path], fault: str) -> None:
    for row in _rows(tiny_scenarios[fault] / "k8s_objects_raw.tsv"):
        body = json.loads(row["Body"])
        assert not str(body.get("apiVersion", "")).startswith("chaos-mesh.org/"), body["metadata"]["name"]


@pytest.mark.parametrize("fault", ["network-partition", "feature-flag", "bad-image"])
def test_span_metrics_count_what_the_traces_hold_at_a_large_size(tmp_path: Path, fault: str) -> None:
    scenario = generate_scenario(fault, 3, tmp_path / fault, size="80")
    served = sum(
        1
        for row in _rows(scenario / "otel_traces_raw.tsv")
        if row["ServiceName"] == "frontend-proxy" and row["SpanKind"] == "Server"
    )
    series = [
        row
        for row in _rows(scenario / "metrics" / "service_frontend-proxy_raw.tsv")
        if row["metric_name"] == "traces_span_metrics_calls_total" and "SPAN_KIND_SERVER" in row["tags"]
    ]
    stamps = sorted({row["timestamp"] for row in series})

    def total(stamp: str) -> float:
        return sum(float(row["value"]) for row in series if row["timestamp"] == stamp)

    per_minute_metrics = (total(stamps[-1]) - total(stamps[0])) / (len(stamps) - 1)
    per_minute_traces = served / 20
    assert per_minute_metrics == pytest.approx(per_minute_traces, rel=0.2)


def test_the_answer_key_does_not_depend_on_the_size(tmp_path: Path) -> None:
    tiny = generate_scenario("feature-flag", 5, tmp_path / "tiny", size="tiny")
    large = generate_scenario("feature-flag", 5, tmp_path / "large", size="80")
    assert yaml.safe_load((tiny / "ground_truth.yaml").read_text()) == yaml.safe_load(
        (large / "ground_truth.yaml").read_text()
    )


def test_a_neighbour_is_rolled_out_before_the_fault_in_most_scenarios(
    tiny_scenarios: dict[str, Path],
) -> None:
    from itbench_eval.groundtruth import load_ground_truth
    from shortcuts import first_change, names_root  # benchmarks/shortcuts.py

    named = [
        names_root(load_ground_truth(scenario / "ground_truth.yaml"), first_change(scenario))
        for scenario in tiny_scenarios.values()
    ]
    # The first change of the window names the root cause in a minority of the faults only.
    assert sum(named) <= len(named) // 2
