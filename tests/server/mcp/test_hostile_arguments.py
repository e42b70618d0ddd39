"""Every tool survives every argument: hostile values generated from each tool's own input schema.

The tools and their input schemas are read from the server, so a new tool is covered without
touching this file. Each generated call starts from plausible arguments (real names, times and
metrics of a bundled fixture, so that it reaches deep into the analysis) and swaps some of them
for hostile values: huge relative times, year-1 and year-9999 timestamps, integers past 64 bits,
ten thousand group keys, strings of 200 KiB, NUL characters, lone surrogates, catastrophic and
10 MB regular expressions, lists of ten thousand items. Every reply must be a result or a tool
error that says what was wrong (never the SDK's bare reply to an unexpected exception), fit the
output budget, and come back within the time limit.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio.from_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult, Tool
from mcp_scenario import text_of

from itbench_server.errors import quoted
from itbench_server.mcp.audit import AuditLog
from itbench_server.mcp.calls import argument_problem, bound_reply
from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.sandbox import sandbox_status
from itbench_server.snapshot import Snapshot, open_snapshot

# Reporting a failing example with a 10 MB argument warns about its repr; the failure must show.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "Scenario-synth-1"
CALL_TIMEOUT = 5.0
MARGIN = 20.0
"""Generous: a call only has to come back within the time limit plus this many seconds."""
OUTPUT_BUDGET = 4_000
EXAMPLES_PER_ARGUMENT = 10

HUGE_REGEX = "(x+x+)+y|" * (10 * 2**20 // 9)  # 10 MB, and catastrophic for a backtracking engine
HOSTILE_TEXT: tuple[str, ...] = (
    "start+99999999h",
    "1e20s",
    "end-1e308m",
    "start+" + "9" * 400 + "h",
    "end-99999999999999999999.5h",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "99999999h",
    "0s",
    "0.000001s",
    "x" * 200 * 1024,
    "é" * 30_000,
    "a\x00b",
    "\x00",
    "\ud800",
    "ok\udfff",
    "(a+)+$",
    "((a*)*)*b",
    "(" * 5_000,
    "[",
    "\\",
    HUGE_REGEX,
    ",".join(f"label{i}" for i in range(10_000)),
    "'; DROP TABLE logs; --",
    "SELECT * FROM range(10000000000)",
    "../ground_truth.yaml",
    "",
    " ",
    "NaN",
    "-1",
)
HOSTILE_TIMES: tuple[str, ...] = (
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "start+99999999h",
    "end-1e308m",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59.999999-14:00",
    "0001-01-01",
    "9999-12-31",
    "end-" + "9" * 400 + "h",
    "-99999999h",
    "+8785h",
    "now-8784h",
)
HOSTILE_FOR: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("since", "until", "pivot", "at"), HOSTILE_TIMES),
    "step": ("99999999h", "1e20s", "0s", "0.000001s", "8784h", "9" * 400 + "s", "1s" * 10_000),
    **dict.fromkeys(
        ("pattern", "exclude", "metric"),
        ("(a+)+$", "((a*)*)*b", "(" * 5_000, "[", "\\", "a{1001}", "(?P<x>", "\\C", HUGE_REGEX),
    ),
    **dict.fromkeys(("by", "kind"), (",".join(f"label{i}" for i in range(10_000)), ",,,", "le," * 11)),
}
"""Hostile values aimed at one kind of argument, drawn as often as all the others."""
HOSTILE_INTEGERS: tuple[int, ...] = (2**63, 2**63 - 1, -(2**63), 10**30, -1, 0, 2**31)
HOSTILE_NUMBERS: tuple[float, ...] = (math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324, 2.0**63)
WRONG_TYPES: tuple[Any, ...] = (None, 1, "x", [], {}, True, 1.5)


@dataclass
class Running:
    """A server over the fixture, connected in a portal's event loop, and what it logged."""

    portal: anyio.from_thread.BlockingPortal
    client: Client
    tools: list[Tool]
    settings: ServerSettings
    pools: dict[str, list[str]]
    crashes: list[logging.LogRecord] = field(default_factory=list)

    def call(self, tool: str, arguments: dict[str, Any]) -> tuple[CallToolResult, float]:
        started = time.monotonic()
        result = self.portal.call(self.client.call_tool, tool, arguments)
        return result, time.monotonic() - started


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def realistic_pools(snapshot: Snapshot) -> dict[str, list[str]]:
    """Plausible values per argument name, taken from the recording where they name something."""

    def column(sql: str) -> list[str]:
        return [str(value) for (value,) in snapshot.query(sql)]

    services = column("SELECT DISTINCT service FROM spans ORDER BY 1 LIMIT 5")
    pods = column(
        "SELECT DISTINCT name FROM objects WHERE kind = 'Pod' "
        "AND listed_at = (SELECT max(listed_at) FROM objects WHERE kind = 'Pod') ORDER BY 1 LIMIT 3"
    )
    metrics = column("SELECT DISTINCT metric FROM samples ORDER BY 1")
    traces = column("SELECT trace_id FROM spans ORDER BY trace_id LIMIT 2")
    objects = [f"otel-demo/Pod/{pod}" for pod in pods] + ["otel-demo/Deployment/ad", "cluster/Node/nope"]
    times = ["start", "end", "start+3m", "end-5m", "-5m", "+2m", "2025-12-12T08:05:00Z"]
    names = [*services, *pods, "ad", "otel-demo", "nope"]
    return {
        "since": times,
        "until": times,
        "pivot": times,
        "at": times,
        "step": ["30s", "1m", "5m", "1h30m"],
        "pattern": ["error|timeout", "(?i)fail", "^GET "],
        "exclude": ["health", "debug"],
        "metric": [*metrics, "cpu|memory"],
        "by": ["entity", "container", "none", "entity,container", "le,service_name"],
        "entity": [*objects, *names],
        "object": objects,
        "name": [*objects, "HighRequestErrorRate", "otel-demo/Deployment/nope"],
        "source": objects,
        "target": objects,
        "alert": ["HighRequestErrorRate"],
        "trace_id": traces,
        "kind": ["cm", "deploy", "Pod", "hpa,cm"],
        "severity": ["critical", "warning"],
        "min_severity": ["ERROR", "warn"],
        "sql": ["SELECT count(*) FROM logs", "SELECT * FROM spans LIMIT 3"],
        "command": [
            "get pods -A",
            *(f"logs {pod} -n otel-demo --since=2000000h" for pod in pods[:1]),
            *(f"logs {pod} -n otel-demo --since-time=0001-01-01T00:00:00+01:00" for pod in pods[:1]),
            *(f"logs {pod} -n otel-demo --tail=99999999999999999999" for pod in pods[:1]),
            "get pods -A --chunk-size=9223372036854775807",
            "get pods -l 'app in (((' -A",
            "describe deployment ad -n otel-demo",
        ],
        "": [*names, "start+3m", "5m", "x"],
    }


@contextlib.contextmanager
def running_server(out: Path, cache: Path, profile: Literal["full", "aa"]) -> Iterator[Running]:
    server_settings = ServerSettings(
        profile=profile,
        call_timeout=CALL_TIMEOUT,
        output_budget=OUTPUT_BUDGET,
        submission_out=out / "submission.json",
        audit_log=out / "audit.jsonl",
    )
    sdk_logger = logging.getLogger("mcp")
    with (
        open_snapshot(FIXTURE, cache_dir=cache) as snapshot,
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(create_server(snapshot, server_settings))) as client,
    ):
        tools = portal.call(client.list_tools).tools
        state = Running(portal, client, tools, server_settings, realistic_pools(snapshot))
        handler = _Collect(state.crashes)
        sdk_logger.addHandler(handler)
        try:
            yield state
        finally:
            sdk_logger.removeHandler(handler)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    cache = tmp_path_factory.getbasetemp() / "fixture-index-cache"  # shared with the fixture tests
    with running_server(tmp_path_factory.mktemp("hostile"), cache, "full") as state:
        yield state


@pytest.fixture(scope="module")
def running_aa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    if not sandbox_status().confined:
        pytest.skip(f"the aa profile's shell needs a sandbox: {sandbox_status().reason}")
    cache = tmp_path_factory.getbasetemp() / "fixture-index-cache"
    with running_server(tmp_path_factory.mktemp("hostile-aa"), cache, "aa") as state:
        yield state


# --- strategies from a JSON schema ------------------------------------------------------------


def _resolve(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = definitions[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def plausible(
    schema: dict[str, Any], definitions: dict[str, Any], pools: dict[str, list[str]], name: str
) -> st.SearchStrategy[Any]:
    """Values ``schema`` accepts, strings taken from the pool of the argument called ``name``."""
    schema = _resolve(schema, definitions)
    if "anyOf" in schema:
        options = [plausible(option, definitions, pools, name) for option in schema["anyOf"]]
        return st.one_of(*options)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return st.sampled_from(pools.get(name) or pools[""])
    if kind == "integer":
        low = schema.get("minimum", 0)
        return st.integers(low, schema.get("maximum", low + 200))
    if kind == "number":
        return st.floats(0.01, 0.99)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        item = plausible(schema.get("items", {}), definitions, pools, name)
        return st.lists(item, max_size=3)
    if kind == "object":
        if "properties" in schema:
            return arguments_of(schema, definitions, pools)
        value = plausible(schema.get("additionalProperties", {"type": "string"}), definitions, pools, name)
        return st.dictionaries(st.sampled_from(["container", "le", "service_name"]), value, max_size=2)
    return st.sampled_from(WRONG_TYPES)


def hostile(
    schema: dict[str, Any], definitions: dict[str, Any], pools: dict[str, list[str]], name: str
) -> st.SearchStrategy[Any]:
    """Values meant to break whatever takes an argument of ``schema``, or values of a wrong type."""
    schema = _resolve(schema, definitions)
    if "anyOf" in schema:
        options = [option for option in schema["anyOf"] if option.get("type") != "null"]
        return st.one_of(*(hostile(option, definitions, pools, name) for option in options or [{}]))
    kind = schema.get("type")
    wrong = st.sampled_from(WRONG_TYPES)
    if kind == "string" or "enum" in schema:
        aimed = [st.sampled_from(HOSTILE_FOR[name])] if name in HOSTILE_FOR else []
        return st.one_of(*aimed, st.sampled_from(HOSTILE_TEXT + WRONG_TYPES), st.text(max_size=30))
    if kind == "integer":
        return st.one_of(st.sampled_from(HOSTILE_INTEGERS + WRONG_TYPES), st.integers())
    if kind == "number":
        return st.one_of(st.sampled_from(HOSTILE_NUMBERS + WRONG_TYPES), st.floats())
    if kind == "array":
        item = st.one_of(
            plausible(schema.get("items", {}), definitions, pools, name),
            hostile(schema.get("items", {}), definitions, pools, name),
        )
        many = st.tuples(item, st.sampled_from([101, 10_000])).map(lambda pair: [pair[0]] * pair[1])
        return st.one_of(st.lists(item, min_size=1, max_size=3), many, wrong)
    if kind == "object":
        if "properties" in schema:
            return hostile_arguments(schema, definitions, pools)
        pairs = st.sampled_from([21, 10_000]).map(
            lambda count: {f"label{i}": "x" * 2_000 for i in range(count)}
        )
        # The client cannot send a lone surrogate in a key (test_argument_problems_name_the_argument).
        keys = st.one_of(
            st.sampled_from([text for text in HOSTILE_TEXT if _encodable(text)]), st.text(max_size=10)
        )
        return st.one_of(
            st.dictionaries(keys, st.sampled_from(HOSTILE_TEXT), min_size=1, max_size=3), pairs, wrong
        )
    return wrong


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def arguments_of(
    schema: dict[str, Any], definitions: dict[str, Any], pools: dict[str, list[str]]
) -> st.SearchStrategy[dict[str, Any]]:
    """Plausible arguments of an object schema: its required properties and some of the others."""
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    return st.fixed_dictionaries(
        {
            name: plausible(prop, definitions, pools, name)
            for name, prop in properties.items()
            if name in required
        },
        optional={
            name: plausible(prop, definitions, pools, name)
            for name, prop in properties.items()
            if name not in required
        },
    )


@st.composite
def hostile_arguments(
    draw: st.DrawFn,
    schema: dict[str, Any],
    definitions: dict[str, Any],
    pools: dict[str, list[str]],
    focus: str | None = None,
) -> dict[str, Any]:
    """Plausible arguments of an object schema with ``focus`` (else one of them) and maybe one
    more made hostile."""
    arguments = draw(arguments_of(schema, definitions, pools))
    properties: dict[str, Any] = schema.get("properties", {})
    if properties:
        names = {focus or draw(st.sampled_from(sorted(properties)))}
        names |= set(draw(st.lists(st.sampled_from(sorted(properties)), max_size=1)))
        for name in sorted(names):
            arguments[name] = draw(hostile(properties[name], definitions, pools, name))
    return arguments


# --- the properties -------------------------------------------------------------------------------


def _shown(tool: str, arguments: dict[str, Any]) -> str:
    text = repr(arguments)
    return f"{tool}({text if len(text) <= 400 else text[:400] + f'… ({len(text)} characters)'})"


def check_reply(running: Running, tool: str, arguments: dict[str, Any]) -> None:
    """Call ``tool``; its reply must be a result or a worded tool error, bounded in size and time.

    (Failure messages show the call with ``_shown``, evaluated only when an assertion fails.)
    """
    crashes_before = len(running.crashes)
    result, elapsed = running.call(tool, arguments)
    text = text_of(result)

    logged = [record.getMessage() for record in running.crashes[crashes_before:]]
    assert not logged, f"the server logged an unexpected exception for {_shown(tool, arguments)}: {logged}"
    if result.is_error:
        prefix = f"Error executing tool {tool}: "
        # An unexpected exception reaches the client as exactly "Error executing tool <name>".
        assert text.startswith(prefix), f"{_shown(tool, arguments)} crashed: {text[:300]!r}"
        assert text[len(prefix) :].strip(), f"{_shown(tool, arguments)} failed without saying why"
    assert len(text) <= running.settings.output_budget, f"{_shown(tool, arguments)}: {len(text)} characters"
    text.encode("utf-8")  # the reply can be sent as JSON over any transport
    assert elapsed < running.settings.call_timeout + MARGIN, f"{_shown(tool, arguments)} took {elapsed:.1f} s"


def hostile_calls(running: Running, tool: Tool, focus: str | None) -> Callable[[], None]:
    """A Hypothesis test calling ``tool`` with its argument ``focus`` hostile (and maybe one more)."""
    definitions = tool.input_schema.get("$defs", {})

    @settings(
        max_examples=EXAMPLES_PER_ARGUMENT,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(arguments=hostile_arguments(tool.input_schema, definitions, running.pools, focus))
    def survives(arguments: dict[str, Any]) -> None:
        check_reply(running, tool.name, arguments)

    return survives


def test_no_tool_raises_an_unhandled_exception_on_hostile_arguments(running: Running) -> None:
    assert len(running.tools) >= 10
    for tool in running.tools:
        for focus in sorted(tool.input_schema.get("properties", {})) or [None]:
            hostile_calls(running, tool, focus)()


def test_no_tool_of_the_aa_profile_raises_an_unhandled_exception_on_hostile_arguments(
    running_aa: Running,
) -> None:
    assert sorted(tool.name for tool in running_aa.tools) == ["run_shell", "submit_diagnosis"]
    for tool in running_aa.tools:
        for focus in sorted(tool.input_schema.get("properties", {})) or [None]:
            hostile_calls(running_aa, tool, focus)()


@pytest.mark.parametrize(
    ("arguments", "what"),
    [
        ({"since": "start+99999999h"}, "since: the duration '99999999h' is too long; at most 8784h"),
        ({"until": "9999-12-31T23:59:59Z"}, "until: 9999-12-31T23:59:59Z is more than 366 days"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "since: cannot read '0001-01-01T00:00:00+01:00' as a time"),
        ({"offset": 2**63}, "offset\n  Input should be less than or equal to 1000000000"),
        ({"service": "\ud800"}, "argument service is not valid Unicode text"),
        ({"pod": "a\x00b"}, "argument pod holds a NUL character"),
        ({"pattern": "(" * 1000}, "pattern '" + "(" * 200 + "'… (1000 characters) is not a valid regular"),
    ],
)
def test_hostile_arguments_are_refused_with_a_message_naming_the_argument(
    running: Running, arguments: dict[str, Any], what: str
) -> None:
    result, _ = running.call("search_logs", arguments)

    assert result.is_error
    assert what in text_of(result)


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"labels": {"\ud800": "x"}}, "a key in labels is not valid Unicode text: it holds a lone surrogate"),
        ({"factors": [{"name": "ok"}, {"name": "a\x00"}]}, "argument factors[1].name holds a NUL character"),
        (
            {"sql": "x" * 20_001},
            "argument sql is 20001 characters long; no argument may be longer than 20000",
        ),
        ({"names": ["x"] * 100_001}, "the arguments hold more than 100000 values"),
        ({"names": ["x" * 20_000] * 51}, "the arguments hold more than 1000000 characters of text in all"),
        (
            {"deep": functools.reduce(lambda inner, _: [inner], range(100_000), [])},
            "the arguments hold more than 100000 values",
        ),
        ({"sql": "SELECT 1", "labels": {"le": "0.5"}, "limit": 10}, None),
    ],
)
def test_argument_problems_name_the_argument(arguments: dict[str, Any], problem: str | None) -> None:
    found = argument_problem(arguments)

    assert found == problem if problem is None else found is not None and found.startswith(problem)


def test_an_echoed_value_shows_its_first_200_characters_and_its_length() -> None:
    assert quoted("ad") == "'ad'"
    assert quoted("x" * 10_000_000) == "'" + "x" * 200 + "'… (10000000 characters)"


def test_a_refused_call_is_logged_without_its_huge_arguments(running: Running) -> None:
    audit = running.settings.audit_log
    assert audit is not None
    before = audit.stat().st_size if audit.exists() else 0

    running.call("search_logs", {"pattern": HUGE_REGEX, "service": "\ud800"})

    with audit.open("rb") as log:
        log.seek(before)
        (line,) = log.read().splitlines()
    record = json.loads(line)
    assert record["is_error"] and record["tool"] == "search_logs"
    assert record["arguments"].endswith(" characters)") and len(line) < 5_000


# A lone surrogate in a tool's name reaches the server only from a raw JSON client (mcp.Client
# cannot put it in its Mcp-Name header), so these two take it directly.
def test_the_audit_log_writes_text_that_is_not_unicode_as_json_escapes(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")

    log.write({"tool": "get_\ud800", "arguments": {}})

    assert (tmp_path / "audit.jsonl").read_text(
        encoding="utf-8"
    ) == '{"tool": "get_\\ud800", "arguments": {}}\n'


def test_a_reply_is_cut_to_the_budget_and_its_text_made_encodable() -> None:
    reply = {
        "content": [{"type": "text", "text": "Unknown tool: get_\ud800 " + "x" * 5_000}],
        "isError": True,
    }

    bounded = bound_reply(reply, 1_000)

    assert isinstance(bounded, dict)
    (block,) = bounded["content"]
    assert block["text"].startswith("Unknown tool: get_\\ud800 xxx")
    assert block["text"].endswith("[truncated: 4125 more characters; narrow the query]")
    assert len(block["text"]) <= 1_000
    assert bounded["isError"] is True


def test_a_10_mb_regular_expression_is_echoed_as_its_start_and_length(running: Running) -> None:
    result, _ = running.call("search_logs", {"pattern": HUGE_REGEX})

    text = text_of(result)
    assert result.is_error
    assert f"argument pattern is {len(HUGE_REGEX)} characters long" in text
    assert len(text) < 1_000


def test_a_diagnosis_naming_many_unknown_objects_gets_a_short_reply_that_counts_them(
    running: Running,
) -> None:
    def unknown(count: int) -> list[dict[str, str]]:
        return [{"name": f"otel-demo/Deployment/nope-{number}"} for number in range(count)]

    accepted, _ = running.call("submit_diagnosis", {"contributing_factors": unknown(100)})
    too_many, _ = running.call("submit_diagnosis", {"contributing_factors": unknown(101)})
    far_too_many, _ = running.call("submit_diagnosis", {"contributing_factors": unknown(50_000)})

    assert not accepted.is_error
    assert "… and 80 more root causes" in text_of(accepted)
    assert "… and 80 more warnings" in text_of(accepted)
    assert len(text_of(accepted)) <= OUTPUT_BUDGET
    assert too_many.is_error and far_too_many.is_error
    assert "List should have at most 100 items" in text_of(too_many)
    assert "the arguments hold more than" in text_of(far_too_many)
    assert len(text_of(too_many)) < 1_000 and len(text_of(far_too_many)) < 1_000


def _unbounded(tool: Tool) -> list[str]:
    """The arguments of ``tool`` (nested ones by path) whose schema sets no maximum size."""
    definitions = tool.input_schema.get("$defs", {})
    found: list[str] = []

    def walk(schema: dict[str, Any], path: str) -> None:
        schema = _resolve(schema, definitions)
        for option in schema.get("anyOf", []):
            walk(option, path)
        kind = schema.get("type")
        if kind == "string" and "enum" not in schema and "maxLength" not in schema:
            found.append(path)
        elif kind == "array":
            if "maxItems" not in schema:
                found.append(path)
            walk(schema.get("items", {}), f"{path}[]")
        elif kind == "object":
            for name, prop in schema.get("properties", {}).items():
                walk(prop, f"{path}.{name}" if path else name)
            if isinstance(schema.get("additionalProperties"), dict):
                if "maxProperties" not in schema:
                    found.append(path)
                walk(schema["additionalProperties"], f"{path}.*")

    walk(tool.input_schema, "")
    return found


def test_every_string_and_list_argument_declares_its_maximum_size(running: Running) -> None:
    unbounded = {tool.name: _unbounded(tool) for tool in running.tools}

    assert {name: paths for name, paths in unbounded.items() if paths} == {}
