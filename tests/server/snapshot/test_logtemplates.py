"""Log templates mined at index time: one per record, aligned with the ``logs`` table."""

from __future__ import annotations

from pathlib import Path

import duckdb

from itbench_server.snapshot.logtemplates import (
    DISTINCT_CUT,
    TEMPLATE_CUT,
    message_sql,
    mine_log_templates,
    template_sql,
)
from itbench_server.snapshot.schema import TABLE_DDL

BODIES = [
    "connection to 10.0.0.7:5432 refused after 35ms",
    "connection to 10.0.0.9:5432 refused after 120ms",
    None,
    '{"level":"error","msg":"payment failed","order":"7f3a9c2e11"}',
    "x" * (DISTINCT_CUT + 10),
    "connection to 10.0.0.7:5432 refused after 35ms",
    "",
    "request 3fa85f64-5717-4562-b3fc-2c963f66afa6 took 12 ms",
]


def _index_with_logs(path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(path))
    connection.execute(TABLE_DDL["logs"])
    connection.executemany("INSERT INTO logs (body) VALUES (?)", [[body] for body in BODIES])
    mine_log_templates(connection)
    return connection


def test_every_log_record_gets_the_template_of_its_own_body_in_table_order(tmp_path: Path) -> None:
    connection = _index_with_logs(tmp_path / "index.duckdb")
    mined = connection.execute(
        "SELECT body, template FROM logs POSITIONAL JOIN log_row_templates JOIN log_templates USING (template_id)"
        " ORDER BY logs.rowid"
    ).fetchall()
    expected_sql = template_sql(f"left({message_sql('body')}, {TEMPLATE_CUT})")
    expected = [
        connection.execute(
            f"SELECT {expected_sql} FROM (SELECT left(?, {DISTINCT_CUT}) AS body)", [body]
        ).fetchone()
        for body in BODIES
    ]
    assert [body for body, _ in mined] == BODIES
    assert [(template,) for _, template in mined] == expected
    assert mined[0][1] == mined[5][1] == "connection to 10.0.0.7:5432 refused after <NUM>ms"
    assert mined[2][1] is None


def test_each_distinct_template_is_stored_once(tmp_path: Path) -> None:
    connection = _index_with_logs(tmp_path / "index.duckdb")
    templates = [
        template for (template,) in connection.execute("SELECT template FROM log_templates").fetchall()
    ]
    assert len(templates) == len(set(templates))
    (records,) = connection.execute(
        "SELECT count(*) FROM log_row_templates WHERE template_id IS NOT NULL"
    ).fetchone()  # type: ignore[misc]
    assert records == len(BODIES)
