"""``run_sql``: one read-only SELECT over the index, bounded, with nothing else reachable."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp_scenario import text_of

from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.mcp.sql import render_table, schema_text
from itbench_server.snapshot import TABLE_DDL, Snapshot

pytestmark = pytest.mark.anyio


async def test_a_select_answers_as_an_aligned_table_with_a_row_count(client: Client) -> None:
    result = await client.call_tool(
        "run_sql",
        {"sql": "SELECT service, severity, count(*) AS lines FROM logs GROUP BY ALL ORDER BY ALL"},
    )

    assert not result.is_error
    assert text_of(result) == (
        "service   severity  lines\n"
        "--------  --------  -----\n"
        "ad        ERROR     15\n"
        "ad        INFO      5\n"
        "frontend  ERROR     15\n"
        "frontend  INFO      5\n"
        "(4 rows)"
    )


async def test_with_queries_and_json_attributes_work(client: Client) -> None:
    result = await client.call_tool(
        "run_sql",
        {
            "sql": """
                WITH pods AS (
                    SELECT DISTINCT json_extract_string(resource_attributes, '$."k8s.pod.name"') AS pod FROM logs
                )
                SELECT pod FROM pods ORDER BY pod
            """
        },
    )

    assert text_of(result) == "pod\n--------------------\nad-5d9f7c6b8-x2x9q\nfrontend-7d9f8-abcde\n(2 rows)"


async def test_rows_beyond_the_row_limit_are_cut_with_a_marker_giving_the_next_offset(
    snapshot: Snapshot,
) -> None:
    server = create_server(snapshot, ServerSettings(sql_row_limit=3))
    query = "SELECT i FROM range(10) AS t(i) ORDER BY i"

    async with Client(server) as client:
        first = text_of(await client.call_tool("run_sql", {"sql": query}))
        last = text_of(await client.call_tool("run_sql", {"sql": query, "offset": 9}))

    assert first == (
        "i\n-\n0\n1\n2\n"
        "[truncated: rows 1-3 shown, more follow; call again with offset=3, or narrow the query "
        "(WHERE, GROUP BY, LIMIT)]"
    )
    assert last == "i\n-\n9\n(1 row)"


async def test_a_result_larger_than_the_output_budget_is_cut_to_it(snapshot: Snapshot) -> None:
    server = create_server(snapshot, ServerSettings(output_budget=1_000))

    async with Client(server) as client:
        text = text_of(
            await client.call_tool("run_sql", {"sql": "SELECT body FROM logs ORDER BY ts, service"})
        )

    assert len(text) <= 1_000
    assert text.splitlines()[-1].startswith("[truncated: rows 1-")
    assert "call again with offset=" in text


async def test_no_rows_still_shows_the_columns(client: Client) -> None:
    result = await client.call_tool("run_sql", {"sql": "SELECT alertname, pod FROM alerts WHERE false"})

    assert text_of(result) == "(no rows)\nalertname  pod"


@pytest.mark.parametrize(
    ("sql", "complaint"),
    [
        ("SELECT 1; SELECT 2", "got 2 statements"),
        ("", "got 0 statements"),
        ("DELETE FROM logs", "statement, not DELETE"),
        ("CREATE TEMP TABLE t AS SELECT 1", "statement, not CREATE"),
        ("ATTACH '/tmp/other.duckdb' AS other", "statement, not ATTACH"),
        ("DETACH snapshot", "statement, not DETACH"),
        ("COPY logs TO 'out.csv'", "statement, not COPY"),
        ("EXPORT DATABASE 'out'", "statement, not EXPORT"),
        ("INSTALL httpfs", "statement, not LOAD"),
        ("LOAD httpfs", "statement, not LOAD"),
        ("PRAGMA database_list", "statement, not PRAGMA"),
        ("SET enable_external_access = true", "statement, not SET"),
        ("USE memory", "statement, not SET"),
        ("CALL pragma_version()", "statement, not CALL"),
        ("EXPLAIN SELECT 1", "statement, not EXPLAIN"),
        ("SELEC 1", "the query does not parse"),
    ],
)
async def test_only_a_single_select_is_accepted(client: Client, sql: str, complaint: str) -> None:
    result = await client.call_tool("run_sql", {"sql": sql})

    assert result.is_error
    assert complaint in text_of(result)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_text('{path}')",
        "SELECT * FROM read_csv('{path}')",
        "SELECT * FROM read_csv_auto('{path}', header = false)",
        "SELECT * FROM read_blob('{path}')",
        "SELECT * FROM read_json_auto('{path}')",
        "SELECT * FROM read_parquet('{path}')",
        "SELECT * FROM glob('{directory}/*')",
        "SELECT * FROM sniff_csv('{path}')",
        "SELECT * FROM '{path}'",
        "WITH answer AS (SELECT * FROM read_text('{path}')) SELECT * FROM answer",
    ],
)
async def test_file_functions_cannot_reach_the_ground_truth(
    client: Client, scenario_dir: Path, sql: str
) -> None:
    for path in (scenario_dir / "ground_truth.yaml", "../ground_truth.yaml", "ground_truth.yaml"):
        query = sql.format(path=path, directory=scenario_dir)

        result = await client.call_tool("run_sql", {"sql": query})

        assert result.is_error, query
        assert "ad-is-the-answer" not in text_of(result)


async def test_a_query_cannot_write_files(client: Client, tmp_path: Path) -> None:
    target = tmp_path / "leak.csv"

    result = await client.call_tool("run_sql", {"sql": f"COPY (SELECT * FROM logs) TO '{target}'"})

    assert result.is_error
    assert not target.exists()


def test_schema_text_lists_every_table_and_column_of_the_index() -> None:
    text = schema_text()

    assert [line.removesuffix(":") for line in text.splitlines() if not line.startswith(" ")] == list(
        TABLE_DDL
    )
    assert "  ts TIMESTAMP  -- Timestamp of the record" in text
    assert "last-applied-configuration stripped at ingest" in text  # a comment continued on a second line


def test_tables_render_nulls_times_and_newlines_on_one_line() -> None:
    import datetime as dt

    lines = render_table(["a", "b"], [(None, dt.datetime(2025, 1, 2, 3, 4, 5)), ("x\ny", 0.5)])

    assert lines == ["a     b", "----  -------------------", "NULL  2025-01-02 03:04:05", "x\\ny  0.5"]


def test_carriage_returns_and_tabs_in_a_cell_cannot_break_the_table_layout() -> None:
    # Found by mutation testing (docs/security.md): a value must not start a line of its own.
    assert render_table(["a"], [("1\r2\t3",)]) == ["a", "------", "1\\r2 3"]


def test_a_cell_over_200_characters_is_cut_to_199_and_an_ellipsis_and_one_of_200_is_whole() -> None:
    lines = render_table(["a"], [("x" * 201,), ("y" * 200,)])

    assert lines[2:] == ["x" * 199 + "…", "y" * 200]


def test_a_row_with_fewer_cells_than_columns_is_refused() -> None:
    with pytest.raises(ValueError, match="zip"):
        render_table(["a", "b"], [("x",)])


async def test_a_row_wider_than_the_budget_is_cut_with_a_note(snapshot: Snapshot) -> None:
    server = create_server(snapshot, ServerSettings(output_budget=1_000))
    wide = ", ".join(f"repeat('{letter}', 190) AS {letter}" for letter in "abcdef")

    async with Client(server) as client:
        text = text_of(await client.call_tool("run_sql", {"sql": f"SELECT {wide} FROM range(2)"}))

    assert len(text) <= 1_000
    first, marker = text.rsplit("\n", 1)
    assert first.endswith("…[cut at 840 of 3263 characters; select fewer columns]")
    assert marker == "[truncated: rows after row 1; call again with offset=1]"


@pytest.mark.parametrize(
    "statement",
    [
        "SET enable_external_access = true",
        "SET memory_limit = '100GB'",
        "SET threads = 64",
        "SET temp_directory = '/tmp/spill'",
        "SET autoinstall_known_extensions = true",
        "SET autoload_known_extensions = true",
        "SET allow_community_extensions = true",
        "SET lock_configuration = false",
        "RESET enable_external_access",
    ],
)
async def test_with_the_statement_check_bypassed_the_locked_configuration_refuses_every_setting(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch, statement: str
) -> None:
    # The second wall: even if a SET got past the single-SELECT check, the configuration is locked.
    monkeypatch.setattr("itbench_server.mcp.sql.check_single_select", lambda sql: None)
    async with Client(create_server(snapshot)) as client:
        result = await client.call_tool("run_sql", {"sql": statement})

    assert result.is_error
    assert "configuration has been locked" in text_of(result) or "Cannot change" in text_of(result), text_of(
        result
    )
