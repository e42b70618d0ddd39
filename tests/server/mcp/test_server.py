"""The server's contract with any MCP client, driven in memory through ``mcp.Client``."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from mcp_scenario import text_of

from itbench_server import __version__
from itbench_server.errors import AmbiguousEntityError, EntityNotFoundError
from itbench_server.mcp.calls import READ_ONLY, tool_errors, track_cursor
from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import Snapshot

pytestmark = pytest.mark.anyio


async def test_server_introduces_itself_with_name_version_and_instructions(client: Client) -> None:
    assert client.server_info is not None
    assert (client.server_info.name, client.server_info.version) == ("itbench-server", __version__)
    assert client.instructions is not None
    assert "get_overview" in client.instructions
    assert "namespace/Kind/name" in client.instructions
    assert "cluster/Node/" in client.instructions


async def test_tool_list_starts_with_the_overview_and_ends_with_sql_then_submission(client: Client) -> None:
    names = [tool.name for tool in (await client.list_tools()).tools]

    assert names[0] == "get_overview"
    assert names[-2:] == ["run_sql", "submit_diagnosis"]
    assert len(names) == len(set(names))


async def test_tool_list_is_identical_across_servers(snapshot: Snapshot, settings: ServerSettings) -> None:
    listings = []
    for _ in range(2):
        async with Client(create_server(snapshot, settings)) as client:
            tools = (await client.list_tools()).tools
            listings.append([tool.model_dump(mode="json", by_alias=True) for tool in tools])

    assert listings[0] == listings[1]


async def test_every_tool_but_submission_is_annotated_read_only(client: Client) -> None:
    annotations = {tool.name: tool.annotations for tool in (await client.list_tools()).tools}

    assert annotations.pop("submit_diagnosis") == ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
    )
    assert annotations and all(value == READ_ONLY for value in annotations.values()), annotations


async def test_every_tool_has_a_title_and_a_description_without_docstring_indentation(
    client: Client,
) -> None:
    tools = (await client.list_tools()).tools

    untitled = [tool.name for tool in tools if not tool.title]
    indented = [
        tool.name
        for tool in tools
        if any(line.startswith("    ") for line in (tool.description or "").splitlines())
    ]
    assert (untitled, indented) == ([], [])


async def test_a_choice_outside_an_enum_is_refused_in_plain_words_without_a_pydantic_link(
    client: Client,
) -> None:
    result = await client.call_tool("search_logs", {"mode": "tail", "limit": 0})

    assert result.is_error
    assert text_of(result) == (
        "Error executing tool search_logs: 2 arguments not accepted (see the tool's input schema)\n"
        "mode\n"
        "  'tail' is not one of the choices: 'lines', 'patterns' or 'counts'\n"
        "limit\n"
        "  Input should be greater than or equal to 1 (got 0)"
    )


async def test_tools_of_this_module_answer_in_text_without_output_schema(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    for name in ("get_overview", "run_sql", "submit_diagnosis"):
        assert tools[name].output_schema is None, name


@pytest.mark.parametrize(
    ("tool", "arguments", "complaint"),
    [
        ("run_sql", {}, "sql\n  Field required"),
        ("run_sql", {"sql": 42}, "Input should be a valid string"),
        ("run_sql", {"sql": "SELECT 1", "offset": -1}, "greater than or equal to 0"),
        ("submit_diagnosis", {"contributing_factors": "otel-demo/Deployment/ad"}, "valid list"),
        ("submit_diagnosis", {"contributing_factors": [{"reasoning": "no name"}]}, "name\n  Field required"),
    ],
)
async def test_malformed_arguments_give_a_validation_error(
    client: Client, tool: str, arguments: dict[str, Any], complaint: str
) -> None:
    result = await client.call_tool(tool, arguments)

    assert result.is_error
    assert complaint in text_of(result)


async def test_an_unknown_tool_is_an_error_result_naming_it(client: Client) -> None:
    result = await client.call_tool("get_pods", {})

    assert result.is_error
    assert text_of(result) == "Unknown tool: get_pods"


async def test_server_keeps_serving_after_tool_errors(client: Client) -> None:
    failures = [
        await client.call_tool("run_sql", {"sql": "DROP TABLE logs"}),
        await client.call_tool("run_sql", {"sql": "SELECT * FROM no_such_table"}),
        await client.call_tool("submit_diagnosis", {"contributing_factors": [{"name": "ad"}]}),
        await client.call_tool("nope", {}),
    ]
    answer = await client.call_tool("run_sql", {"sql": "SELECT count(*) AS n FROM alerts"})

    assert [failure.is_error for failure in failures] == [True, True, True, True]
    assert not answer.is_error
    assert text_of(answer) == "n\n--\n14\n(1 row)"


async def test_query_errors_reach_the_model_as_tool_errors_with_their_fix(server: MCPServer[Any]) -> None:
    @server.tool()
    @tool_errors
    def find(name: str) -> str:
        if name == "ad":
            raise AmbiguousEntityError("'ad' matches several objects; give one of them", ["a", "b"])
        raise EntityNotFoundError(f"no object is named {name!r}; list them with kubectl get")

    @server.tool()
    @tool_errors
    async def find_async(name: str) -> str:
        raise EntityNotFoundError(f"no object is named {name!r}")

    async with Client(server) as client:
        ambiguous = await client.call_tool("find", {"name": "ad"})
        missing = await client.call_tool("find", {"name": "zz"})
        missing_async = await client.call_tool("find_async", {"name": "zz"})

    assert ambiguous.is_error and missing.is_error and missing_async.is_error
    assert text_of(ambiguous) == "Error executing tool find: 'ad' matches several objects; give one of them"
    assert (
        text_of(missing) == "Error executing tool find: no object is named 'zz'; list them with kubectl get"
    )
    assert text_of(missing_async) == "Error executing tool find_async: no object is named 'zz'"


SLOW_QUERY = "SELECT sum(hash(i)) FROM range(50000000000) AS t(i)"


async def test_a_slow_sql_query_is_stopped_at_the_time_limit(snapshot: Snapshot, tmp_path: Path) -> None:
    server = create_server(snapshot, ServerSettings(call_timeout=0.5, audit_log=tmp_path / "audit.jsonl"))

    async with Client(server) as client:
        with anyio.fail_after(15):
            slow = await client.call_tool("run_sql", {"sql": SLOW_QUERY})
        after = await client.call_tool("run_sql", {"sql": "SELECT 1 AS one"})

    assert slow.is_error
    assert text_of(slow) == (
        "Error executing tool run_sql: the call took longer than 0.5 s and was stopped; narrow it "
        "(a shorter time range, a namespace or entity filter, a lower limit) and try again"
    )
    assert not after.is_error
    record = json.loads((tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert record["is_error"] and record["latency_ms"] < 15_000


async def test_a_slow_analysis_query_is_interrupted_not_abandoned(snapshot: Snapshot) -> None:
    server = create_server(snapshot, ServerSettings(call_timeout=0.5))
    guarded = snapshot.with_cursor_hook(track_cursor)
    finished = threading.Event()

    @server.tool()
    @tool_errors
    def slow_analysis() -> str:
        try:
            return str(guarded.query(SLOW_QUERY))
        finally:
            finished.set()  # the worker thread really ended, its query stopped

    async with Client(server) as client:
        with anyio.fail_after(15):
            result = await client.call_tool("slow_analysis", {})

    assert finished.is_set()
    assert result.is_error
    assert "took longer than 0.5 s and was stopped" in text_of(result)


async def test_calls_run_concurrently_and_each_gets_its_own_answer(client: Client) -> None:
    answers: dict[int, str] = {}

    async def ask(number: int) -> None:
        result = await client.call_tool("run_sql", {"sql": f"SELECT {number} AS n"})
        answers[number] = text_of(result)

    async with anyio.create_task_group() as task_group:
        for number in range(8):
            task_group.start_soon(ask, number)

    assert answers == {number: f"n\n-\n{number}\n(1 row)" for number in range(8)}


async def test_past_the_tool_call_budget_every_tool_but_the_submission_answers_that_it_is_spent(
    snapshot: Snapshot,
) -> None:
    async with Client(create_server(snapshot, ServerSettings(max_tool_calls=2))) as client:
        first = await client.call_tool("get_overview", {})
        second = await client.call_tool("get_alerts", {})
        third = await client.call_tool("get_overview", {})
        submitted = await client.call_tool(
            "submit_diagnosis", {"contributing_factors": [{"name": "otel-demo/Deployment/ad"}]}
        )

    assert (first.is_error, second.is_error, third.is_error, submitted.is_error) == (
        False,
        False,
        True,
        False,
    )
    assert text_of(third) == (
        "Error executing tool get_overview: the tool-call budget of this run (2 calls) is spent: no more "
        "investigation is possible; call submit_diagnosis now with the root causes you have found"
    )
