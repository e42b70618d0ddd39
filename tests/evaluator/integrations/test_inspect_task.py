"""The inspect_ai task: scenarios as samples, the run's server as its tools, the project's scorer.

The model is inspect's ``mockllm/model`` with a stateless policy: it calls ``get_overview``, then
``submit_diagnosis``, then stops. Every output carries ``usage`` (without it mockllm counts tokens
with tiktoken, which downloads its encoding).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

inspect_ai = pytest.importorskip("inspect_ai")

from inspect_ai.model import ChatMessage, ModelOutput, ModelUsage, get_model  # noqa: E402

from itbench_eval.groundtruth import oracle_names  # noqa: E402
from itbench_eval.integrations.inspect_task import itbench  # noqa: E402
from itbench_eval.tasks import discover_tasks  # noqa: E402

# inspect's dependencies warn about their own deprecations (tenacity's 'initial').
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
SCENARIO = FIXTURES / "Scenario-synth-1"


def policy(answer: list[str]) -> Any:
    def respond(input: list[ChatMessage], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        called = [
            call.function
            for message in input
            if message.role == "assistant"
            for call in message.tool_calls or []
        ]
        if "get_overview" not in called:
            output = ModelOutput.for_tool_call("mockllm/model", "get_overview", {})
        elif "submit_diagnosis" not in called:
            factors = [{"name": name, "reasoning": "scripted", "evidence": "overview"} for name in answer]
            output = ModelOutput.for_tool_call(
                "mockllm/model", "submit_diagnosis", {"contributing_factors": factors}
            )
        else:
            output = ModelOutput.from_content("mockllm/model", "Submitted.")
        output.usage = ModelUsage(input_tokens=100, output_tokens=10, total_tokens=110)
        return output

    return respond


def run(answer: list[str], tmp_path: Path, cache_dir: Path, **task_args: Any) -> Any:
    model = get_model("mockllm/model", custom_outputs=policy(answer))
    task = itbench(
        scenarios=str(SCENARIO), cache_dir=str(cache_dir), work_dir=str(tmp_path / "work"), **task_args
    )
    [log] = inspect_ai.eval(task, model=model, log_dir=str(tmp_path / "logs"), display="none")
    assert log.status == "success", log.error
    return log


def test_a_mock_model_that_investigates_and_submits_the_answer_scores_one_with_per_name_verdicts(
    tmp_path: Path, cache_dir: Path
) -> None:
    answer = oracle_names(discover_tasks([SCENARIO])[0].ground_truth())
    log = run(answer, tmp_path, cache_dir)
    [sample] = log.samples
    tool_results = [message for message in sample.messages if message.role == "tool"]
    assert [message.function for message in tool_results] == ["get_overview", "submit_diagnosis"]
    assert tool_results[0].text.startswith("Incident window:")  # the server's answer reached the model
    [score] = sample.scores.values()
    assert score.value == 1.0
    assert score.metadata["tp"] == len(answer) and score.metadata["fp"] == 0
    assert [verdict["outcome"] for verdict in score.metadata["verdicts"]] == ["root_cause"] * len(answer)
    assert log.results.scores[0].metrics["mean"].value == 1.0


def test_epochs_are_repeats_and_a_wrong_answer_scores_zero_with_its_verdict(
    tmp_path: Path, cache_dir: Path
) -> None:
    log = run(["otel-demo/Deployment/frontend"], tmp_path, cache_dir, repeats=2)
    assert log.eval.config.epochs == 2
    assert [sample.epoch for sample in log.samples] == [1, 2]
    for sample in log.samples:
        [score] = sample.scores.values()
        assert score.value == 0.0
        assert score.metadata["submitted"] == ["otel-demo/Deployment/frontend"]
        assert score.metadata["verdicts"][0]["counted_as"] == "fp"


def test_the_entry_point_module_exposes_the_registered_itbench_task() -> None:
    from inspect_ai._util.registry import registry_info

    from itbench_eval.integrations import inspect_registry

    info = registry_info(inspect_registry.itbench)
    assert (info.type, info.name.split("/")[-1]) == ("task", "itbench")
