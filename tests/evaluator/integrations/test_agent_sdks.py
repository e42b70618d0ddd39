"""The OpenAI Agents SDK and pydantic-ai examples, against the scripted model server, with the
run's server over stdio and over Streamable HTTP: the agent calls a tool, the result reaches the
model, and its submission is the answer the scorer scores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI

from itbench_eval.groundtruth import load_ground_truth, oracle_names
from itbench_eval.mockmodel import RequestLog, load_script, serve
from itbench_eval.scoring import score_submission_file

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SCENARIO = Path(__file__).resolve().parents[3] / "fixtures" / "Scenario-synth-1"
ANSWER = oracle_names(load_ground_truth(SCENARIO / "ground_truth.yaml"))
# The evidence is the first line of get_overview's result, found in the request: proof that the
# tool's output went back to the model.
SCRIPT: dict[str, Any] = {
    "steps": [
        {"call": "get_overview"},
        {"submit": [{"name": name, "reasoning": "scripted", "evidence": {"$match": "(Incident window: [^\\\\\n]*)"}}
                    for name in ANSWER]},
    ],
    "final_text": "Diagnosis submitted.",
}  # fmt: skip


def check_run(tmp_path: Path, log: RequestLog) -> None:
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["tool"] for row in audit] == ["get_overview", "submit_diagnosis"]
    submission = json.loads((tmp_path / "submission.json").read_text(encoding="utf-8"))
    evidence = json.dumps(submission)
    assert "Incident window: 20" in evidence, evidence
    score = score_submission_file(
        load_ground_truth(SCENARIO / "ground_truth.yaml"), tmp_path / "submission.json"
    )
    assert score.score == 1.0
    posts = [record for record in log.records if record.get("method") == "POST"]
    assert len(posts) == 3 and all(record["status"] == 200 for record in posts)


@pytest.mark.parametrize(("api", "transport"), [("responses", "stdio"), ("chat", "http")])
async def test_an_agents_sdk_agent_investigates_and_submits_through_the_server(
    api: str, transport: str, tmp_path: Path, cache_dir: Path
) -> None:
    pytest.importorskip("agents")
    from itbench_eval.integrations.agents_sdk import investigate, openai_model

    log = RequestLog()
    with serve(load_script(SCRIPT), log=log) as base_url:
        client = AsyncOpenAI(base_url=f"{base_url}/v1", api_key="sk-test", max_retries=0)
        async with client:
            model = openai_model("gpt-x", client=client, api=api)  # type: ignore[arg-type]
            result = await investigate(
                SCENARIO, model, submission_out=tmp_path / "submission.json", cache_dir=cache_dir,
                audit_log=tmp_path / "audit.jsonl", transport=transport, max_turns=5,  # type: ignore[arg-type]
            )  # fmt: skip
    assert result.final_output == "Diagnosis submitted."
    check_run(tmp_path, log)
    wire = {"responses": "openai-responses", "chat": "openai-chat"}[api]
    assert {record["wire"] for record in log.records if record.get("method") == "POST"} == {wire}


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_pydantic_ai_agent_investigates_and_submits_through_the_server(
    transport: str, tmp_path: Path, cache_dir: Path
) -> None:
    pytest.importorskip("pydantic_ai")
    from itbench_eval.integrations.pydantic_ai_agent import investigate, openai_model

    log = RequestLog()
    with serve(load_script(SCRIPT), log=log) as base_url:
        client = AsyncOpenAI(base_url=f"{base_url}/v1", api_key="sk-test", max_retries=0)
        async with client:
            model = openai_model("gpt-x", client=client)
            result = await investigate(
                SCENARIO, model, submission_out=tmp_path / "submission.json", cache_dir=cache_dir,
                audit_log=tmp_path / "audit.jsonl", transport=transport, max_turns=5,  # type: ignore[arg-type]
            )  # fmt: skip
    assert result.output == "Diagnosis submitted."
    check_run(tmp_path, log)
