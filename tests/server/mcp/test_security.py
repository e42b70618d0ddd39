"""The ground truth stays out of reach, and tools write nowhere but the two files they own."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import Tool
from mcp_scenario import GROUND_TRUTH_MARKER, text_of

from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import TABLE_DDL, Snapshot

pytestmark = pytest.mark.anyio


def traversal_payloads(scenario_dir: Path) -> list[str]:
    answer = scenario_dir / "ground_truth.yaml"
    return [
        "../ground_truth.yaml",
        "ground_truth.yaml",
        str(answer),
        "../" * 12 + str(answer).lstrip("/"),
        f"file://{answer}",
        f"$(cat {answer})",
        f"--filename={answer}",
        f"otel-demo/ConfigMap/../../{answer.name}",
    ]


# One valid call of each tool; each attack changes exactly one string in it, so that the
# payload reaches the code under attack instead of failing on some other argument.
VALID_CALLS: dict[str, dict[str, Any]] = {
    "get_overview": {},
    "kubectl": {"command": "get pods -n otel-demo"},
    "get_alerts": {},
    "search_logs": {"pattern": "error"},
    "query_metrics": {},
    "query_traces": {},
    "get_events": {},
    "get_timeline": {"entity": "otel-demo/Deployment/ad"},
    "get_topology": {},
    "lookup_address": {"address": "10.96.0.1:443"},
    "get_changes": {},
    "run_sql": {"sql": "SELECT count(*) FROM logs"},
    "submit_diagnosis": {
        "contributing_factors": [{"name": "otel-demo/Deployment/ad", "reasoning": "r", "evidence": "e"}]
    },
}


def string_paths(tool: Tool) -> list[tuple[str, ...]]:
    """Where a string can go in a call of ``tool``: each top-level string argument, and each
    string field of the first item of a list argument of the valid call."""
    paths: list[tuple[str, ...]] = []
    for name, prop in tool.input_schema.get("properties", {}).items():
        options = prop.get("anyOf", [prop])
        if any(option.get("type") == "string" for option in options):
            paths.append((name,))
    for name, value in VALID_CALLS[tool.name].items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            paths += [(name, "0", field) for field, item in value[0].items() if isinstance(item, str)]
    return paths


def attacked(tool: Tool, path: tuple[str, ...], payload: str) -> dict[str, Any]:
    """The valid call of ``tool`` with ``payload`` at ``path`` and nothing else changed."""
    arguments = copy.deepcopy(VALID_CALLS[tool.name])
    if len(path) == 1:
        arguments[path[0]] = payload
    else:
        name, index, field = path
        arguments[name][int(index)][field] = payload
    return arguments


async def test_every_tool_has_a_valid_call_that_succeeds(client: Client) -> None:
    tools = (await client.list_tools()).tools

    assert sorted(tool.name for tool in tools) == sorted(VALID_CALLS)
    for tool in tools:
        result = await client.call_tool(tool.name, VALID_CALLS[tool.name])
        assert not result.is_error, (tool.name, text_of(result))


async def test_no_tool_reveals_the_ground_truth_whatever_path_it_is_given(
    client: Client, scenario_dir: Path
) -> None:
    attacks = 0
    for tool in (await client.list_tools()).tools:
        for path in string_paths(tool):
            for payload in traversal_payloads(scenario_dir):
                arguments = attacked(tool, path, payload)

                result = await client.call_tool(tool.name, arguments)

                attacks += 1
                assert GROUND_TRUTH_MARKER not in text_of(result), (tool.name, arguments)
                assert GROUND_TRUTH_MARKER not in str(result.structured_content), (tool.name, arguments)
    assert attacks >= 50 * len(traversal_payloads(scenario_dir))


async def test_the_server_publishes_no_resources_or_prompts_that_could_hold_the_ground_truth(
    client: Client,
) -> None:
    # Resources would be a second way to read files; the server has none, and this says so.
    assert (await client.list_resources()).resources == []
    assert (await client.list_resource_templates()).resource_templates == []
    assert (await client.list_prompts()).prompts == []


def test_symlinks_to_the_ground_truth_are_not_indexed(snapshot: Snapshot) -> None:
    for table in TABLE_DDL:
        hits = snapshot.query(
            f"SELECT count(*) FROM {table} AS row WHERE row::VARCHAR LIKE ?", [f"%{GROUND_TRUTH_MARKER}%"]
        )
        assert hits == [(0,)], table
    refused = [item.file for item in snapshot.skipped() if item.line is None]
    assert {
        "otel_logs.tsv",
        "metrics/pod_answer_raw.tsv",
        "alerts/alerts_at_2025-12-15T17-19-00.000000.json",
    } <= set(refused)


def tree_state(*roots: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under ``roots``."""
    state: dict[str, tuple[int, int]] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                stat = path.stat()
                state[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return state


async def test_tools_write_only_the_submission_file_and_the_audit_log(
    snapshot: Snapshot, scenario_dir: Path, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    out = tmp_path / "out"
    work.mkdir()
    out.mkdir()
    monkeypatch.chdir(work)
    settings = ServerSettings(audit_log=out / "audit.jsonl", submission_out=out / "submission.json")
    before = tree_state(scenario_dir.parent, cache_dir)

    async with Client(create_server(snapshot, settings)) as client:
        for tool in (await client.list_tools()).tools:
            for path in string_paths(tool):
                for payload in ("leak.txt", str(work / "leak.txt"), "otel-demo/Deployment/ad"):
                    await client.call_tool(tool.name, attacked(tool, path, payload))
        await client.call_tool("run_sql", {"sql": f"COPY (SELECT 1) TO '{work / 'leak.csv'}'"})

    assert tree_state(scenario_dir.parent, cache_dir) == before
    assert list(work.iterdir()) == []
    assert sorted(path.name for path in out.iterdir()) == ["audit.jsonl", "submission.json"]
    assert not any(name.startswith(".") or name.endswith(".tmp") for name in os.listdir(out))
