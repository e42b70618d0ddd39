"""Results directories written the way the runner writes them, and the view served over them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from itbench_eval.tasks import Task
from itbench_eval.view.server import bind, create_app, url_of

ANSWER_KEYS = {
    "Scenario-synth-1": """
spec:
  fault:
  - {category: custom, fault_mechanism: resource_quota_enforcement}
  groups:
  - {id: otel-demo-namespace-1, kind: Namespace, filter: [otel-demo], root_cause: true}
  - {id: frontend-service-1, kind: Service, namespace: otel-demo, filter: ['frontend\\b']}
""",
    "Scenario-synth-2": """
spec:
  fault:
  - {category: custom(flagd)}
  groups:
  - {id: flagd-config-1, kind: ConfigMap, namespace: otel-demo, filter: [flagd-config], root_cause: true}
  - {id: frontend-service-1, kind: Service, namespace: otel-demo, filter: ['frontend\\b']}
""",
}


def answer_keys(root: Path) -> list[Task]:
    """The tasks of the rows below, with answer keys of their own (the fixtures may change)."""
    tasks = []
    for task, text in ANSWER_KEYS.items():
        (root / task).mkdir(parents=True, exist_ok=True)
        tasks.append(
            Task(id=task, scenario_dir=root / task, ground_truth_source=task, ground_truth_text=text)
        )
    return tasks


LONG_OUTPUT = "\n".join(f"line {n}: pod otel-demo/frontend-{n} Running" for n in range(60))


def row(agent: str, task: str, repeat: int, score: float, **fields: object) -> dict[str, object]:
    values: dict[str, object] = {
        "task": task,
        "agent": agent,
        "repeat": repeat,
        "seed": repeat - 1,
        "score": score,
        "tp": 1 if score else 0,
        "fp": 0 if score else 1,
        "fn": 0 if score else 1,
        "submitted": [],
        "matches": [],
        "turns": 3,
        "tool_calls": 2,
        "wall_time_s": 4.2,
        "error_class": "ok",
        "run_dir": f"runs/{task}/{agent}/r{repeat}",
    }
    values.update(fields)
    return values


def transcript(task: str, repeat: int) -> list[dict[str, object]]:
    return [
        {"seq": 1, "t": 0.0, "type": "task_start", "task": task, "repeat": repeat, "seed": repeat - 1},
        {"seq": 2, "t": 0.1, "type": "model_request", "step": 1, "chars": 900},
        {
            "seq": 3,
            "t": 1.35,
            "type": "model_reply",
            "step": 1,
            "text": "The quota looks suspicious; I will list the alerts first.",
            "calls": [{"name": "get_alerts", "arguments": "{}"}],
            "usage": {"input_tokens": 900, "output_tokens": 40},
            "stop_reason": "tool_use",
        },
        {"seq": 4, "t": 1.4, "type": "tool_call", "tool": "get_alerts", "arguments": {"limit": 200}},
        {
            "seq": 5,
            "t": 1.6,
            "type": "tool_result",
            "tool": "get_alerts",
            "is_error": False,
            "latency_s": 0.2,
            "text": LONG_OUTPUT,
        },
        {"seq": 6, "t": 1.7, "type": "tool_call", "tool": "get_logs", "arguments": {"entity": "nowhere"}},
        {
            "seq": 7,
            "t": 1.8,
            "type": "tool_result",
            "tool": "get_logs",
            "is_error": True,
            "latency_s": 0.1,
            "text": "no such entity: nowhere",
        },
        {"seq": 8, "t": 2.0, "type": "task_end", "error_class": "ok", "error": "", "score": 1.0},
    ]


def write_run(results: Path, values: dict[str, object], name: str) -> None:
    run_dir = results / str(values["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    events = transcript(str(values["task"]), int(values["repeat"]))  # type: ignore[arg-type]
    (run_dir / "transcript.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    submission = {
        "contributing_factors": [{"name": name, "reasoning": "quota exceeded", "evidence": "events"}]
    }
    (run_dir / "submission.json").write_text(json.dumps(submission), encoding="utf-8")


ORACLE_1 = "cluster/Namespace/otel-demo"
ORACLE_2 = "otel-demo/ConfigMap/flagd-config"
WRONG = "otel-demo/Deployment/frontend"


def oracle_rows() -> list[dict[str, object]]:
    match_1 = {"name": ORACLE_1, "group_id": "otel-demo-namespace-1", "set_id": "otel-demo-namespace-1",
               "verdict": "root_cause", "counted_as": "tp", "reason": "filter matches"}  # fmt: skip
    match_2 = {"name": ORACLE_2, "group_id": "flagd-config-1", "set_id": "flagd-config-1",
               "verdict": "root_cause", "counted_as": "tp", "reason": "filter matches"}  # fmt: skip
    return [
        row("oracle", "Scenario-synth-1", 1, 1.0, submitted=[ORACLE_1], matches=[match_1], cost_usd=0.0123),
        row("oracle", "Scenario-synth-2", 1, 1.0, submitted=[ORACLE_2], matches=[match_2], cost_usd=0.02),
    ]


def guesser_rows() -> list[dict[str, object]]:
    wrong = {"name": WRONG, "group_id": None, "set_id": None, "verdict": "unmatched", "counted_as": "fp",
             "reason": "no group matches"}  # fmt: skip
    return [
        row("guesser", "Scenario-synth-1", 1, 0.0, submitted=[WRONG], matches=[wrong]),
        row("guesser", "Scenario-synth-1", 2, 0.0, error_class="timeout", error="the run took over 30 s"),
        row("guesser", "Scenario-synth-2", 1, 0.0, submitted=[WRONG], matches=[wrong]),
        row("guesser", "Scenario-synth-2", 2, 0.0, error_class="no_submission", error="no submit_diagnosis"),
    ]


def write_results(directory: Path, rows: list[dict[str, object]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for values in rows:
        submitted = values.get("submitted") or [""]
        write_run(directory, values, str(submitted[0]))  # type: ignore[index]
    with (directory / "results.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(values) + "\n" for values in rows))
    return directory


@dataclass
class Results:
    a: Path
    b: Path
    tasks: list[Task]


@pytest.fixture
def results(tmp_path: Path) -> Results:
    """Two results directories: an oracle and a guesser beside it, and the guesser alone."""
    a = write_results(tmp_path / "results-a", oracle_rows() + guesser_rows())
    b = write_results(tmp_path / "results-b", guesser_rows())
    return Results(a, b, answer_keys(tmp_path / "scenarios"))


@pytest.fixture
def served(results: Results) -> Iterator[str]:
    """The view over both directories, served on a free loopback port; yields its URL."""
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app([results.a, results.b], tasks=results.tasks), log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()  # the socket listens already: connections wait in its backlog until the server accepts
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
