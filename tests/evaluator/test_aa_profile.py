"""ITBench-AA's own protocol through the evaluator: ``--profile aa`` (run_shell + submit_diagnosis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eval_agents import shared_index_cache

from itbench_eval.agents.loader import resolve_agent
from itbench_eval.agents.model_config import ModelAgentOptions
from itbench_eval.groundtruth import oracle_names
from itbench_eval.mockmodel import load_script, serve
from itbench_eval.report import compare_results
from itbench_eval.results import RunResult
from itbench_eval.runner import EvalSettings, run_evaluation
from itbench_eval.tasks import discover_tasks
from itbench_server.sandbox import sandbox_status

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not sandbox_status().confined, reason=f"run_shell needs a sandbox: {sandbox_status().reason}"
    ),
]

TASK = discover_tasks()[0]
ANSWERS = oracle_names(TASK.ground_truth())
PANDAS = (
    "python3 -c \"import glob, pandas as pd; events = pd.read_csv(glob.glob('k8s_events*.tsv')[0], sep='\\t'); "
    "print('EVENTS', len(events))\""
)


def shell_script() -> dict[str, Any]:
    return {
        "steps": [
            {"call": "run_shell", "arguments": {"command": "ls -R | head -50"}},
            {"call": "run_shell", "arguments": {"command": PANDAS}},
            {"call": "run_shell", "arguments": {"command": "grep -ci error otel_logs*.tsv"}},
            {
                "submit": [
                    {"name": name, "evidence": {"$match": "(EVENTS \\d+)"}, "reasoning": "from the files"}
                    for name in ANSWERS
                ]
            },
            {"say": "Submitted."},
        ]
    }


async def evaluate(profile: str, script: dict[str, Any], out: Path, cache: Path) -> list[RunResult]:
    with serve(load_script(script)) as url:
        settings = EvalSettings.model_validate(
            {
                "agent": "openai:gpt-x",
                "out_dir": out,
                "repeats": 1,
                "timeout_s": 120,
                "cache_dir": cache,
                "profile": profile,
            }
        )
        factory = resolve_agent("openai:gpt-x", ModelAgentOptions(base_url=url + "/v1"))
        return await run_evaluation([TASK], settings, factory)


async def test_a_model_under_the_aa_profile_reads_the_files_with_pandas_and_grep_and_scores_one(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cache = shared_index_cache(tmp_path_factory.getbasetemp())

    [row] = await evaluate("aa", shell_script(), tmp_path / "aa", cache)

    assert (row.error_class, row.score, sorted(row.submitted)) == ("ok", 1.0, sorted(ANSWERS)), row.error
    assert row.tool_calls == 4
    submission = (tmp_path / "aa" / row.run_dir / "submission.json").read_text()
    assert '"evidence": "EVENTS ' in submission  # pandas read the events file inside the sandbox


async def test_compare_puts_the_same_model_under_both_profiles_side_by_side(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cache = shared_index_cache(tmp_path_factory.getbasetemp())
    full_script = {"steps": [{"call": "get_overview"}, {"submit": ANSWERS}, {"say": "Submitted."}]}
    await evaluate("aa", shell_script(), tmp_path / "aa", cache)
    await evaluate("full", full_script, tmp_path / "full", cache)

    comparison = compare_results(tmp_path / "aa", tmp_path / "full")

    assert (comparison.agent_a, comparison.agent_b) == ("openai:gpt-x (aa)", "openai:gpt-x")
    assert (comparison.score_a, comparison.score_b) == (1.0, 1.0)
    assert comparison.settings_differences == []  # the profile is what is compared, not a difference
