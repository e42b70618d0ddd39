"""The real CLI agents (Claude Code, Codex, Gemini CLI) and ``cmd:`` agents, confined, against the mock model.

The CLIs are the pinned npm packages of the repository (``npm ci``); these tests skip only where
npm itself is missing. Everything runs offline: the model is the project's scripted server.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eval_agents import shared_index_cache

from itbench_eval.agents.base import HarnessError, McpEndpoint, RunContext, RunLimits, TaskView, Transcript
from itbench_eval.agents.cli import CLI_AGENTS, CliAgentConfig
from itbench_eval.agents.loader import resolve_agent
from itbench_eval.agents.model_config import ModelAgentOptions
from itbench_eval.groundtruth import oracle_names
from itbench_eval.mockmodel import load_script, serve
from itbench_eval.results import RunResult
from itbench_eval.runner import EvalSettings, run_evaluation
from itbench_eval.tasks import Task, discover_tasks
from itbench_server.sandbox import sandbox_status

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("npm") is None, reason="npm is not installed: the CLI agents come from npm"
    ),
    pytest.mark.skipif(not sandbox_status().confined, reason=f"no sandbox here: {sandbox_status().reason}"),
]

TASK: Task = discover_tasks()[0]
ANSWERS = oracle_names(TASK.ground_truth())
HOSTILE_AGENT = Path(__file__).parents[1] / "support" / "hostile_cli_agent.py"


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    script = load_script(
        {
            "steps": [
                {"call": "get_overview"},
                {"call": "get_events", "arguments": {"type": "Warning", "limit": 20}},
                {
                    "submit": [
                        # up to the line's end, or to an escaped newline where the CLI hands the
                        # model its tool results as JSON text (Gemini CLI)
                        {"name": name, "evidence": {"$match": r"(Incident window: [^\n\\]*)"}}
                        for name in ANSWERS
                    ]
                },
                {"say": "I have submitted my diagnosis."},
            ],
            "usage": {"input_tokens": 1000, "output_tokens": 50, "cached_tokens": 200},
        }
    )
    with serve(script) as url:
        yield url


async def evaluate(
    agent: str, base_url: str | None, out: Path, cache: Path, *, repeats: int = 1
) -> list[RunResult]:
    settings = EvalSettings(
        agent=agent, out_dir=out, repeats=repeats, concurrency=1, timeout_s=180, cache_dir=cache, max_turns=20
    )
    factory = resolve_agent(agent, ModelAgentOptions(base_url=base_url))
    return await run_evaluation([TASK], settings, factory)


@pytest.mark.parametrize(
    ("agent", "path"),
    [("claude-code", ""), ("codex:gpt-fake", "/v1"), ("gemini-cli", "")],
)
async def test_a_cli_agent_investigates_through_the_server_inside_the_sandbox_and_scores_one(
    agent: str, path: str, model_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    [row] = await evaluate(
        agent, model_url + path, tmp_path / "out", shared_index_cache(tmp_path_factory.getbasetemp())
    )

    assert (row.error_class, row.score, sorted(row.submitted)) == ("ok", 1.0, sorted(ANSWERS)), row.error
    assert row.tool_calls == 3  # get_overview, get_events, submit_diagnosis: all in the server's log
    assert row.tokens_in is not None and row.tokens_in > 0
    audit = (tmp_path / "out" / row.run_dir / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["tool"] for line in audit] == ["get_overview", "get_events", "submit_diagnosis"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("claude-code", "its MCP client did not connect to the server"),
        ("codex", "codex never called a tool"),
        ("gemini-cli", "MCP issues detected"),
    ],
)
async def test_a_cli_whose_mcp_server_cannot_be_reached_is_a_harness_error_in_its_own_words(
    kind: str, words: str, model_url: str, tmp_path: Path
) -> None:
    # Claude Code and Gemini CLI exit 0 in this case, having called nothing.
    config = CliAgentConfig.model_validate(
        {"kind": kind, "base_url": model_url + ("/v1" if kind == "codex" else "")}
    )
    agent = CLI_AGENTS[kind](config)
    context = RunContext(
        task=TaskView(task_id="t", repeat=1, seed=0),
        prompt="Investigate the incident and submit a diagnosis.",
        limits=RunLimits(max_turns=10, timeout_s=120),
        transcript=Transcript(tmp_path / "transcript.jsonl"),
        run_dir=tmp_path,
        endpoint=McpEndpoint(url=f"http://127.0.0.1:{free_port()}/mcp", token="nobody-listens"),
    )

    with pytest.raises(HarnessError) as raised:
        await agent.run(context)

    assert words in str(raised.value)
    assert str(raised.value).startswith(f"{kind} never called a tool of the run's server: ")


@pytest.fixture
def host_listener() -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    yield listener.getsockname()[1]
    listener.close()


async def test_a_hostile_agent_cannot_leave_its_sandbox_and_is_scored_only_from_the_server(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    host_listener: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-never-inside")
    out = tmp_path / "out"
    name = ANSWERS[0]
    answer_key = TASK.scenario_dir / "ground_truth.yaml"
    needle = next(
        line.split(":", 1)[1].strip() for line in answer_key.read_text().splitlines() if "name:" in line
    )
    targets = {
        "answer_key": str(answer_key),
        "results": str(out.resolve() / "results.jsonl"),
        "needle": needle,
    }
    encoded = base64.urlsafe_b64encode(json.dumps(targets).encode()).decode()
    spec = f"cmd:/usr/bin/python3 {HOSTILE_AGENT} {{mcp_url}} {{mcp_token}} {{workdir}} {encoded} {host_listener} {name}"

    rows = await evaluate(spec, None, out, shared_index_cache(tmp_path_factory.getbasetemp()), repeats=2)

    assert [(row.error_class, row.score, row.submitted) for row in rows] == [("ok", 1.0, [name])] * 2
    second = out / rows[1].run_dir
    report: dict[str, Any] = json.loads((second / "agent" / "home" / "work" / "report.json").read_text())
    assert report["answer_key_by_path"].startswith("failed: [Errno 2] No such file or directory")
    assert report["results_file"].startswith("failed: [Errno 2] No such file or directory")
    assert report["other_run_file"].startswith("failed: [Errno 2] No such file or directory")
    # Its run directory is not in its view: a write there lands in the sandbox's own /tmp or fails.
    assert "forged" not in (second / "submission.json").read_text()
    assert report["host_loopback_port"].startswith("failed:")
    assert report["outside_address"].startswith("failed:")
    assert not report["unmount"].startswith("status 0")
    assert "ground_truth" not in report["find_answer_keys"]
    grep_lines = report["grep_everywhere"].split(": ", 1)[1].splitlines()
    assert [line for line in grep_lines if not line.startswith("grep: ")] == []  # no file holds the key
    assert "sk-canary" not in report["environment"] and "sk-canary" not in report["proc_1_environ"]
    assert report["overview_ok"] is True


SHELL_TOOLS = {
    "claude-code": ("Bash", "command"),
    "codex": ("exec_command", "cmd"),
    "gemini-cli": ("run_shell_command", "command"),
}


@pytest.mark.parametrize(
    ("agent", "path"), [("claude-code", ""), ("codex:gpt-fake", "/v1"), ("gemini-cli", "")]
)
async def test_a_cli_agents_own_shell_cannot_reach_the_answer_key(
    agent: str, path: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    answer_key = TASK.scenario_dir / "ground_truth.yaml"
    needle = next(
        line.split(":", 1)[1].strip() for line in answer_key.read_text().splitlines() if "name:" in line
    )
    hidden = base64.b64encode(needle.encode()).decode()  # the command must not carry the needle itself
    command = (
        f"cat {answer_key}; find / -name 'ground_truth*' -not -path '/proc/*' 2>/dev/null; "
        f"echo {hidden} | base64 -d > /tmp/needle; grep -rlF -f /tmp/needle /home /work /root /etc /run /opt "
        "2>/dev/null; echo SHELL-RAN"
    )
    tool, argument = SHELL_TOOLS[agent.split(":")[0]]
    script = load_script(
        {
            "steps": [
                {"call": tool, "arguments": {argument: command}},
                {
                    "submit": [
                        {
                            "name": ANSWERS[0],
                            "reasoning": {"$match": f"({needle})"},
                            "evidence": {"$match": "(SHELL-RAN)"},
                        }
                    ]
                },
                {"say": "Done."},
            ]
        }
    )
    with serve(script) as url:
        [row] = await evaluate(
            agent, url + path, tmp_path / "out", shared_index_cache(tmp_path_factory.getbasetemp())
        )

    submission = json.loads((tmp_path / "out" / row.run_dir / "submission.json").read_text())
    [factor] = submission["contributing_factors"]
    assert (factor["evidence"], factor["reasoning"]) == (
        "SHELL-RAN",
        "",
    )  # the shell ran; the key never showed
    assert row.error_class == "ok"


@pytest.mark.skipif(
    shutil.which("python3.12") is None, reason="Stirrup needs Python 3.12, which is not on PATH"
)
async def test_stirrup_drives_the_server_through_mcp_and_submits(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    script = load_script(
        {
            "steps": [
                {"call": "get_overview"},
                {"submit": ANSWERS},
                {"call": "finish", "arguments": {"reason": "submitted the diagnosis", "paths": []}},
                {"say": "Done."},
            ]
        }
    )
    with serve(script) as url:
        [row] = await evaluate(
            "stirrup:gpt-fake",
            url + "/v1",
            tmp_path / "out",
            shared_index_cache(tmp_path_factory.getbasetemp()),
        )

    assert (row.error_class, row.score, sorted(row.submitted)) == ("ok", 1.0, sorted(ANSWERS)), row.error
    audit = (tmp_path / "out" / row.run_dir / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["tool"] for line in audit] == ["get_overview", "submit_diagnosis"]
