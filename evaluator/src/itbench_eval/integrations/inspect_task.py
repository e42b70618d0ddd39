"""The benchmark as an inspect_ai task.

```sh
inspect eval evaluator/src/itbench_eval/integrations/inspect_task.py@itbench \\
    --model openai/gpt-4.1 -T scenarios=fixtures/Scenario-synth-1,fixtures/Scenario-synth-2 \\
    -T cache_dir=.itbench-cache --epochs 3
```

- **Dataset**: one sample per scenario (``-T scenarios=`` takes scenario directories, dataset
  directories of ``Scenario-*`` or a ``data.jsonl``, comma-separated; default: the bundled
  fixtures). The input is the evaluator's own prompt.
- **Tools**: the sample's own ``itbench-server serve SCENARIO --submission-out F --cache-dir C``
  over stdio, every tool it serves (``mcp_tools``). The agent is inspect's ``react()`` without
  its ``submit`` tool: the run ends when the model stops calling tools, and the answer is what it
  passed to ``submit_diagnosis``.
- **Scorer**: the project's ITBench-AA scorer on the submission file (``mean``/``stderr``); the
  score's metadata holds tp/fp/fn and each submitted name's verdict.
- **Repeats** are inspect's epochs: ``-T repeats=3`` or ``--epochs 3``.

inspect_ai is not a dependency of itbench-eval; install it to use this module.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from inspect_ai import Epochs, Task, task
from inspect_ai.agent import as_solver, react
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import Score, Scorer, Target, mean, scorer, stderr
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.tool import mcp_server_stdio, mcp_tools

from itbench_eval.integrations.servers import serve_args, server_command
from itbench_eval.prompt import build_prompt
from itbench_eval.scoring import explain_names, score_submission_file
from itbench_eval.tasks import Task as ItbenchTask
from itbench_eval.tasks import discover_tasks

__all__ = ["itbench", "itbench_dataset", "itbench_scorer", "itbench_solver"]

SUBMISSION_KEY = "itbench_submission"
"""The store key holding the sample's submission file."""


def itbench_dataset(scenarios: str | list[str] | None = None, *, max_turns: int = 100) -> MemoryDataset:
    """One sample per scenario; its metadata carries the task (with its answer key, for the scorer)."""
    if isinstance(scenarios, str):
        scenarios = [part for part in scenarios.split(",") if part.strip()]
    tasks = discover_tasks([Path(part.strip()) for part in scenarios] if scenarios else None)
    prompt = build_prompt(max_turns)
    samples = [
        Sample(id=item.id, input=prompt, metadata={"itbench_task": item.model_dump(mode="json")})
        for item in tasks
    ]
    return MemoryDataset(samples, name="itbench")


def _task_of(state: TaskState) -> ItbenchTask:
    return ItbenchTask.model_validate(state.metadata["itbench_task"])


@solver
def itbench_solver(cache_dir: str | None = None, work_dir: str | None = None) -> Solver:
    """inspect's ``react()`` (no submit tool) with the sample's own server as its tools."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        item = _task_of(state)
        root = Path(work_dir) if work_dir else Path(tempfile.gettempdir())
        root.mkdir(parents=True, exist_ok=True)
        out = Path(tempfile.mkdtemp(prefix=f"{item.id}-e{state.epoch}-", dir=root))
        submission = out / "submission.json"
        state.store.set(SUBMISSION_KEY, str(submission))
        command, *prefix = server_command()
        args = serve_args(
            item.scenario_dir, submission_out=submission, cache_dir=cache_dir, audit_log=out / "audit.jsonl"
        )
        server = mcp_server_stdio(name="itbench", command=command, args=[*prefix, *args])
        agent = react(prompt=None, tools=[mcp_tools(server)], submit=False)
        return await as_solver(agent)(state, generate)

    return solve


@scorer(metrics=[mean(), stderr()])
def itbench_scorer() -> Scorer:
    """ITBench-AA's score of the sample's submission, with each submitted name's verdict."""

    async def score(state: TaskState, target: Target) -> Score:
        item = _task_of(state)
        ground_truth = item.ground_truth()
        path = state.store.get(SUBMISSION_KEY)
        result = score_submission_file(ground_truth, Path(path) if path else Path("/nonexistent"))
        names = [match.name for match in result.matches]
        metadata: dict[str, Any] = {
            "tp": result.tp,
            "fp": result.fp,
            "fn": result.fn,
            "submitted": names,
            "missed_root_causes": result.missed_root_causes,
            "verdicts": [
                verdict.model_dump(mode="json") for verdict in explain_names(ground_truth, result.matches)
            ],
            "submission_error": result.submission_error,
        }
        return Score(
            value=result.score, answer=", ".join(names), explanation=result.reason, metadata=metadata
        )

    return score


@task
def itbench(
    scenarios: str | None = None,
    cache_dir: str | None = None,
    repeats: int = 1,
    max_turns: int = 100,
    work_dir: str | None = None,
) -> Task:
    """Diagnose recorded Kubernetes incidents through the itbench MCP server; ITBench-AA scoring."""
    return Task(
        dataset=itbench_dataset(scenarios, max_turns=max_turns),
        solver=itbench_solver(cache_dir=cache_dir, work_dir=work_dir),
        scorer=itbench_scorer(),
        epochs=Epochs(repeats),
        message_limit=2 * max_turns + 2,
    )
