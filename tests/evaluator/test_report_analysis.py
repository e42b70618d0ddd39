"""Reports with the task set at hand: baselines beside the agent, verdicts, IBM's metrics, process
metrics and failures by fault type, in summary.json, the terminal and the HTML report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from itbench_eval import baselines as baselines_module
from itbench_eval.agents.prior import prior_name
from itbench_eval.agents.random_agent import _entities, choose_workload
from itbench_eval.baselines import compute_baselines
from itbench_eval.groundtruth import ground_truth_from_mapping
from itbench_eval.report import build_report, render_table, write_html_report
from itbench_eval.results import RunResult
from itbench_eval.scoring import explain_names, score_names
from itbench_eval.tasks import Task, discover_tasks

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CHAOS = "chaos-mesh/NetworkChaos/otel-demo-shipping-quote-network-partition"
SYMPTOM = "otel-demo/Deployment/shipping"


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return discover_tasks([FIXTURES / "Scenario-synth-3", FIXTURES / "Scenario-synth-7"])


def audit_line(tool: str, arguments: dict[str, Any], second: int) -> str:
    record = {
        "time": f"2026-01-12T09:00:{second:02d}.000Z", "tool": tool, "arguments": arguments,
        "latency_ms": 1.0, "output_chars": 50, "is_error": False, "error": None, "truncated": False,
    }  # fmt: skip
    return json.dumps(record) + "\n"


def write_run(out: Path, task: Task, repeat: int, names: list[str], *, looked: bool) -> dict[str, Any]:
    """A run directory with its audit log and submission, and its results row."""
    run_dir = Path("runs") / task.id / "x" / f"r{repeat}"
    (out / run_dir).mkdir(parents=True)
    calls = [audit_line("get_alerts", {}, 1)]
    if looked:
        calls.append(audit_line("get_events", {"object": "otel-demo-shipping-quote-network-partition"}, 4))
    calls.append(audit_line("submit_diagnosis", {"contributing_factors": [{"name": n} for n in names]}, 9))
    (out / run_dir / "audit.jsonl").write_text("".join(calls), encoding="utf-8")
    submission = {"contributing_factors": [{"name": name} for name in names]}
    (out / run_dir / "submission.json").write_text(json.dumps(submission), encoding="utf-8")
    score = score_names(task.ground_truth(), names)
    row = RunResult(
        task=task.id, agent="x", repeat=repeat, seed=repeat - 1, score=score.score, tp=score.tp,
        fp=score.fp, fn=score.fn, submitted=names,
        matches=[match.model_dump(mode="json") for match in score.matches], turns=len(calls),
        tool_calls=len(calls), wall_time_s=1.0, error_class="ok", run_dir=str(run_dir),
    )  # fmt: skip
    return row.model_dump(mode="json")


@pytest.fixture
def results(tmp_path: Path, tasks: list[Task]) -> Path:
    out = tmp_path / "out"
    chaos_task, cart_task = tasks
    rows = [
        write_run(out, chaos_task, 1, [CHAOS], looked=True),
        write_run(out, chaos_task, 2, [CHAOS, SYMPTOM], looked=True),
        write_run(out, chaos_task, 3, [SYMPTOM], looked=False),
        write_run(out, cart_task, 1, ["otel-demo/ConfigMap/cart"], looked=False),
        write_run(out, cart_task, 2, ["otel-demo/Pod/cart"], looked=False),
        write_run(out, cart_task, 3, ["not-a-name"], looked=False),
    ]
    (out / "results.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return out


def test_the_report_shows_the_baselines_on_the_same_tasks(
    results: Path, tasks: list[Task], tmp_path: Path
) -> None:
    _, summary = build_report(results, tasks=tasks, cache_dir=tmp_path / "cache", run_baseline=False)

    [agent] = summary.agents
    assert [baseline.agent for baseline in agent.baselines] == ["nop", "prior", "random"]
    nop, prior, random = agent.baselines
    assert (nop.tasks, nop.score.value, nop.score.ci) == (2, 0.0, (0.0, 0.0))
    # Leave one out: each task's prior is the other task's root cause, which is wrong here.
    assert prior.score.value == 0.0
    assert random.chance is not None and 0.0 <= random.chance < 0.2
    assert summary.baselines_fingerprint is not None


def test_each_name_gets_its_verdict_and_each_missed_root_cause_is_listed(
    results: Path, tasks: list[Task], tmp_path: Path
) -> None:
    _, summary = build_report(results, tasks=tasks, cache_dir=tmp_path / "cache", with_baselines=False)

    [agent] = summary.agents
    outcomes = {(d.task, d.repeat): [(v.name, v.outcome) for v in d.names] for d in agent.run_details}
    assert outcomes[("Scenario-synth-3", 2)] == [(CHAOS, "root_cause"), (SYMPTOM, "symptom")]
    assert outcomes[("Scenario-synth-7", 1)] == [("otel-demo/ConfigMap/cart", "wrong_kind")]
    assert outcomes[("Scenario-synth-7", 3)] == [("not-a-name", "malformed")]
    chaos_task = agent.tasks[0]
    assert [(m.runs, len(m.groups) > 0) for m in chaos_task.missed_root_causes] == [(1, True)]
    # The symptom named instead of the cause comes first among the task's wrong answers.
    assert (chaos_task.wrong_answers[0].name, chaos_task.wrong_answers[0].runs) == (SYMPTOM, 2)
    assert chaos_task.wrong_answers[0].outcome == "symptom"
    detail = next(d for d in agent.run_details if (d.task, d.repeat) == ("Scenario-synth-3", 2))
    assert (detail.precision, detail.recall) == (0.5, 1.0)
    assert detail.ibm is not None and detail.ibm["entity_recall"] == 1.0


def test_process_metrics_are_read_from_the_run_directories(
    results: Path, tasks: list[Task], tmp_path: Path
) -> None:
    _, summary = build_report(results, tasks=tasks, cache_dir=tmp_path / "cache", with_baselines=False)

    [agent] = summary.agents
    chaos_process = agent.tasks[0].process
    assert chaos_process is not None
    assert chaos_process.looked_at_root_cause_evidence == pytest.approx(2 / 3, abs=1e-6)
    assert chaos_process.evidence_kinds == {"events": 2}
    assert agent.process is not None and agent.process.runs == 6


def test_scores_are_given_per_fault_type(results: Path, tasks: list[Task], tmp_path: Path) -> None:
    _, summary = build_report(results, tasks=tasks, cache_dir=tmp_path / "cache", with_baselines=False)

    [agent] = summary.agents
    by_type = {fault.fault_type: fault for fault in agent.fault_types}
    assert set(by_type) == {"network_partition", "invalid-node-selector"}
    assert by_type["network_partition"].score.value == pytest.approx(0.5)  # 1, 1/2 and 0
    assert by_type["invalid-node-selector"].score.value == pytest.approx(1 / 3)


def test_summary_terminal_and_html_carry_every_part(results: Path, tasks: list[Task], tmp_path: Path) -> None:
    rows, summary = build_report(results, tasks=tasks, cache_dir=tmp_path / "cache", run_baseline=False)
    console = Console(record=True, width=200)

    render_table(summary, console)
    page = write_html_report(results, summary, rows).read_text(encoding="utf-8")

    text = " ".join(console.export_text().split())
    data = json.loads((results / "summary.json").read_text(encoding="utf-8"))["agents"][0]
    assert {"score_ci", "pass_k", "metrics", "process", "baselines", "fault_types", "run_details"} <= set(
        data
    )
    for part in ("95% CI", "pass^3", "IBM entity F1", "beside the baselines", "looked at a root cause's own",
                 "by fault type", "each name's verdict", "wrong kind", "missed root cause"):  # fmt: skip
        assert part in text, part
    for part in ("pass@k and pass^k", "Metrics side by side", "Beside the baselines", "Process (from",
                 "By fault type", "Each name's verdict", "wrong kind"):  # fmt: skip
        assert part in page, part


def test_baselines_are_computed_once_per_task_set(
    tasks: list[Task], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = compute_baselines(tasks, repeats=2, cache_dir=tmp_path, run_baseline=False)

    def computed_again(*_: object) -> list[RunResult]:
        raise AssertionError("the cached baselines were computed again")

    monkeypatch.setattr(baselines_module, "_prior_rows", computed_again)
    again = compute_baselines(tasks, repeats=2, cache_dir=tmp_path, run_baseline=False)

    assert again == first
    assert sorted({row.agent for row in again.rows}) == ["nop", "prior", "random"]
    assert len([row for row in again.rows if row.agent == "random"]) == 4  # 2 tasks x 2 draws


def test_the_prior_names_the_most_common_kind_and_object_of_the_other_tasks() -> None:
    def key(kind: str, name: str) -> Any:
        group = {"id": f"{name}-1", "kind": kind, "namespace": "otel-demo", "name": name, "root_cause": True}
        return ground_truth_from_mapping({"groups": [group]})

    keys = {"a": key("Deployment", "cart"), "b": key("Deployment", "ad"), "c": key("Deployment", "ad"),
            "d": key("ConfigMap", "flagd-config")}  # fmt: skip

    assert prior_name(keys, "a") == "otel-demo/Deployment/ad"
    # Without b, ad and cart tie once each: the first by name wins.
    assert prior_name(keys, "b") == "otel-demo/Deployment/ad"
    assert prior_name({"a": keys["a"]}, "a") is None


def test_the_random_agent_reads_the_workload_table_and_draws_by_seed() -> None:
    table = "entity\n------\nns/Deployment/b\nns/Deployment/a\n(2 rows)"

    workloads = _entities(table)

    assert workloads == ["ns/Deployment/b", "ns/Deployment/a"]
    assert choose_workload(workloads, 3) == choose_workload(list(reversed(workloads)), 3)
    assert {choose_workload(workloads, seed) for seed in range(20)} == {"ns/Deployment/a", "ns/Deployment/b"}
    assert choose_workload([], 0) is None


def test_an_unmatched_name_says_why_it_matched_nothing() -> None:
    ground_truth = ground_truth_from_mapping(
        {
            "groups": [
                {
                    "id": "ad-service-1",
                    "kind": "Service",
                    "namespace": "otel-demo",
                    "filter": ["ad\\b"],
                    "root_cause": True,
                }
            ]
        }
    )
    names = ["otel-demo/ConfigMap/ad", "shop/Service/ad", "otel-demo/Service/cart", "ad"]

    verdicts = explain_names(ground_truth, score_names(ground_truth, names).matches)

    assert [verdict.outcome for verdict in verdicts] == [
        "wrong_kind",
        "wrong_namespace",
        "unknown_object",
        "malformed",
    ]
    assert explain_names(None, score_names(ground_truth, names[:1]).matches)[0].outcome == "unmatched"


def test_a_catch_all_group_does_not_make_every_unknown_name_a_wrong_kind() -> None:
    ground_truth = ground_truth_from_mapping(
        {
            "groups": [
                {
                    "id": "ad-hpa-1",
                    "kind": "HorizontalPodAutoscaler",
                    "namespace": "otel-demo",
                    "filter": ["*.*"],
                    "root_cause": True,
                }
            ]
        }
    )

    [verdict] = explain_names(ground_truth, score_names(ground_truth, ["otel-demo/Deployment/cart"]).matches)

    assert verdict.outcome == "unknown_object"
