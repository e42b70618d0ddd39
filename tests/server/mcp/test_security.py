"""The ground truth stays out of reach, and tools write nowhere but the two files they own."""

from __future__ import annotations

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


def arguments_for(tool: Tool, payload: str) -> dict[str, Any]:
    """Arguments of ``tool`` that put ``payload`` in every string it takes (valid otherwise)."""
    schema = tool.input_schema
    definitions = schema.get("$defs", {})

    def value(prop: dict[str, Any]) -> Any:
        if "$ref" in prop:
            return value(definitions[prop["$ref"].rsplit("/", 1)[1]])
        if "anyOf" in prop:
            options = [option for option in prop["anyOf"] if option.get("type") != "null"]
            strings = [option for option in options if option.get("type") == "string"]
            return value((strings or options or [{"type": "null"}])[0])
        if "enum" in prop:
            return prop["enum"][0]
        kind = prop.get("type")
        if kind == "string":
            return payload
        if kind in ("integer", "number"):
            return prop.get("minimum", prop.get("default", 0) or 0)
        if kind == "boolean":
            return False
        if kind == "array":
            return [value(prop.get("items", {"type": "string"}))]
        if kind == "object":
            return {name: value(sub) for name, sub in prop.get("properties", {}).items()}
        return None

    return {name: value(prop) for name, prop in schema.get("properties", {}).items()}


async def test_no_tool_reveals_the_ground_truth_whatever_path_it_is_given(
    client: Client, scenario_dir: Path
) -> None:
    tools = (await client.list_tools()).tools
    assert tools
    for tool in tools:
        for payload in traversal_payloads(scenario_dir):
            arguments = arguments_for(tool, payload)

            result = await client.call_tool(tool.name, arguments)

            assert GROUND_TRUTH_MARKER not in text_of(result), (tool.name, arguments)
            assert GROUND_TRUTH_MARKER not in str(result.structured_content), (tool.name, arguments)


async def test_no_resource_reveals_the_ground_truth(client: Client) -> None:
    resources = (await client.list_resources()).resources
    for resource in resources:
        contents = (await client.read_resource(resource.uri)).contents
        assert GROUND_TRUTH_MARKER not in str(contents), resource.uri


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
            for payload in ("leak.txt", str(work / "leak.txt"), "otel-demo/Deployment/ad"):
                await client.call_tool(tool.name, arguments_for(tool, payload))
        await client.call_tool("run_sql", {"sql": f"COPY (SELECT 1) TO '{work / 'leak.csv'}'"})

    assert tree_state(scenario_dir.parent, cache_dir) == before
    assert list(work.iterdir()) == []
    assert sorted(path.name for path in out.iterdir()) == ["audit.jsonl", "submission.json"]
    assert not any(name.startswith(".") or name.endswith(".tmp") for name in os.listdir(out))
