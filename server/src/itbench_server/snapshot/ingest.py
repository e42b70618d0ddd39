"""Build the DuckDB index of one scenario from its files.

TSV files are read by DuckDB's CSV reader (tab delimiter, CSV quoting, as Go's encoding/csv
writes them) and normalized on the way in by the SQL macros of :mod:`.sqlmacros`. Lines the
reader rejects are recorded in ``skipped`` with their line number; lines rejected only for
invalid UTF-8 are salvaged with the bad bytes replaced. JSON files (alerts) are read in Python.

Each file is loaded in its own transaction: a file the reader gives up on (garbage that breaks
its CSV state machine) is read once more without strict quoting, and when that fails too it is
skipped and reported, leaving nothing of it behind. No file stops the build.

The log and span files, nine tenths of a scenario, are read once each (their attribute
dictionaries come from a sample of their lines). The logs are loaded and their templates
(:mod:`.logtemplates`) mined on a second connection, on a thread of its own, while the other
files load (:data:`TWO_STREAMS`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from itbench_server.errors import SnapshotFileError
from itbench_server.snapshot.discover import ScenarioFiles, SourceFile, SourceKind
from itbench_server.snapshot.logtemplates import mine_log_templates
from itbench_server.snapshot.schema import SCHEMA_VERSION, TABLE_DDL
from itbench_server.snapshot.servicegraph import build_service_calls
from itbench_server.snapshot.sqlmacros import MACROS

__all__ = [
    "MAX_BODY_CHARS",
    "MAX_HEADER_BYTES",
    "MAX_LINE_BYTES",
    "REQUIRED_COLUMNS",
    "RESOURCE_DICTIONARY",
    "ROW_ATTRIBUTES",
    "ROW_DICTIONARY",
    "SAMPLE_BLOCKS",
    "SAMPLE_BLOCK_BYTES",
    "SKIPPED_LINES_PER_FILE",
    "BuildReport",
    "IndexBuilder",
    "resource_for_kind",
    "sample_attribute_texts",
]

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 64 * 1024 * 1024
MAX_HEADER_BYTES = 1024 * 1024  # a header row longer than this is not a header
MAX_COLUMN_NAME_CHARS = 128 * 1024  # csv's default field size limit
MAX_BODY_CHARS = 1_000_000  # a log line longer than this is cut (and the cut reported)
SKIPPED_LINES_PER_FILE = 50  # beyond this, one summary row per file

# Columns without which a file says nothing; any other column may be missing.
REQUIRED_COLUMNS: dict[SourceKind, tuple[str, ...]] = {
    "logs": ("Timestamp", "Body"),
    "spans": ("Timestamp", "TraceId", "SpanId"),
    "events": ("Body",),
    "objects": ("Body",),
    "pod_metrics": ("metric_name", "timestamp", "value"),
    "service_metrics": ("metric_name", "timestamp", "value"),
}

_KIND_TO_RESOURCE = {
    "Endpoints": "endpoints",
    "NetworkPolicy": "networkpolicies",
    "Ingress": "ingresses",
    "StorageClass": "storageclasses",
    "PodDisruptionBudget": "poddisruptionbudgets",
}

_STRIP_MANAGED_FIELDS = json.dumps({"metadata": {"managedFields": None}})
_STRIP_BOOKKEEPING = json.dumps(
    {
        "metadata": {
            "managedFields": None,
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": None},
        }
    }
)
_STRIP_SECRET_DATA = json.dumps({"data": None, "stringData": None})


def resource_for_kind(kind: str) -> str:
    """The plural resource name of a kind, as ``k8s.resource.name`` would give it."""
    if kind in _KIND_TO_RESOURCE:
        return _KIND_TO_RESOURCE[kind]
    lower = kind.lower()
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y") and not lower.endswith("ey"):
        return lower[:-1] + "ies"
    return lower + "s"


def _col(columns: set[str], name: str, default: str = "NULL") -> str:
    """The SQL reference of a source column, or ``default`` when the file lacks it."""
    return f'"{name}"' if name in columns else default


# Attribute maps repeat: resource attributes for every record of a pod, log and span attributes
# for every record of one kind of request. Each distinct text is parsed once into a dictionary
# table and joined back, which keeps ingest near the reader's own speed. The dictionary is only a
# cache: a row whose text is not in it is parsed on the spot by the same expressions, so what it
# holds changes the speed of a build, never its output. It is filled from a sample of the file's
# lines (blocks spread over its whole length, read in Python) rather than from a second read of
# the whole file, which cost an eighth of the build's CPU time.
RESOURCE_DICTIONARY = "resource_dictionary"
ROW_DICTIONARY = "row_attribute_dictionary"
ROW_ATTRIBUTES = {"logs": "LogAttributes", "spans": "SpanAttributes"}

TWO_STREAMS = True
"""Load the logs and mine their templates on a second connection, on a thread of its own, while
the other files load, DuckDB on one thread per stream (the default, when DuckDB has at most two
threads: with more cores, one stream on all of them uses them better); else one file after
another. A switch for the benchmark's comparison of the two."""

SAMPLE_BLOCKS = 128
SAMPLE_BLOCK_BYTES = 64 * 1024
"""The attribute dictionaries are filled from this many blocks of this size, spread evenly over
the file (all of it when it is smaller): 8 MB of a 1 GB span file."""


def sample_attribute_texts(path: Path, header: list[str], names: list[str]) -> dict[str, list[str]]:
    """Distinct texts of the columns ``names`` in lines sampled over the whole of a TSV file.

    Blocks are cut at line ends; a block that begins inside a quoted field that spans lines may
    yield misread fields, which are harmless (a text no row holds is never joined to).
    """
    indices = {name: header.index(name) for name in names if name in header}
    texts: dict[str, set[str]] = {name: set() for name in indices}
    if not indices:
        return {}
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, io.SEEK_END)
            if size <= SAMPLE_BLOCKS * SAMPLE_BLOCK_BYTES:
                offsets, length = [0], size
            else:
                offsets = [size * block // SAMPLE_BLOCKS for block in range(SAMPLE_BLOCKS)]
                length = SAMPLE_BLOCK_BYTES
            for offset in offsets:
                handle.seek(offset)
                # Whole lines only: the first is cut by the block's start, or is the header.
                lines = handle.read(length).split(b"\n")[1:-1]
                text = b"\n".join(lines).decode("utf-8", errors="replace")
                try:
                    for fields in csv.reader(io.StringIO(text), delimiter="\t"):
                        if len(fields) == len(header):
                            for name, index in indices.items():
                                if fields[index]:
                                    texts[name].add(fields[index])
                except csv.Error:
                    continue  # a field over csv's size limit, a NUL byte: the rest of the block is not needed
    except OSError:
        return {}
    return {name: sorted(found) for name, found in texts.items()}


_CREATE_DICTIONARIES = (
    f"CREATE OR REPLACE TEMP TABLE {RESOURCE_DICTIONARY} (raw VARCHAR, js VARCHAR, service VARCHAR, "
    "namespace VARCHAR, pod VARCHAR, container VARCHAR)",
    f"CREATE OR REPLACE TEMP TABLE {ROW_DICTIONARY} (raw VARCHAR, js VARCHAR)",
)
_FILL_RESOURCE_DICTIONARY = f"""INSERT INTO {RESOURCE_DICTIONARY}
    SELECT raw, js, attr(js, 'service.name'), attr(js, 'k8s.namespace.name'),
           attr(js, 'k8s.pod.name'), attr(js, 'k8s.container.name')
    FROM (SELECT raw, attrs_json(raw) AS js FROM (SELECT unnest($texts::VARCHAR[]) AS raw))"""
_FILL_ROW_DICTIONARY = f"""INSERT INTO {ROW_DICTIONARY}
    SELECT raw, attrs_json(raw) FROM (SELECT unnest($texts::VARCHAR[]) AS raw)"""


def _with_attributes(columns: set[str], source: str, row_column: str) -> str:
    """``source`` joined to both attribute dictionaries.

    Adds ``js`` (resource attributes as JSON), ``d_service``, ``d_namespace``, ``d_pod``,
    ``d_container`` and ``row_js`` (the row's own attributes as JSON). Rows whose text is not in
    a dictionary (salvaged lines) are parsed on the spot; a missing column gives ``{}``.
    """
    joins = []
    if "ResourceAttributes" in columns:
        resource_js = 'COALESCE(d.js, attrs_json(src."ResourceAttributes"))'
        resource_fields = (
            "d.service AS d_service, d.namespace AS d_namespace, d.pod AS d_pod, d.container AS d_container"
        )
        joins.append(
            f'LEFT JOIN {RESOURCE_DICTIONARY} AS d ON src."ResourceAttributes" IS NOT DISTINCT FROM d.raw'
        )
    else:
        resource_js = "'{}'"
        resource_fields = ", ".join(
            f"NULL::VARCHAR AS d_{field}" for field in ("service", "namespace", "pod", "container")
        )
    if row_column in columns:
        row_js = f'COALESCE(a.js, attrs_json(src."{row_column}"))'
        joins.append(f'LEFT JOIN {ROW_DICTIONARY} AS a ON src."{row_column}" IS NOT DISTINCT FROM a.raw')
    else:
        row_js = "'{}'"
    return f"""(SELECT src.*, {resource_js} AS js, {resource_fields}, {row_js} AS row_js
        FROM {source} AS src {" ".join(joins)})"""


def _logs_select(columns: set[str], source: str) -> str:
    c = lambda name, default="NULL": _col(columns, name, default)  # noqa: E731
    return f"""
        SELECT ts_parse({c("Timestamp")}) AS ts,
               COALESCE({c("ServiceName")}, d_service, attr(js, 'service.name'), '') AS service,
               COALESCE(d_namespace, attr(js, 'k8s.namespace.name'), '') AS namespace,
               COALESCE(d_pod, attr(js, 'k8s.pod.name'), '') AS pod,
               COALESCE(d_container, attr(js, 'k8s.container.name'), '') AS container,
               norm_severity({c("SeverityText")}, TRY_CAST({c("SeverityNumber")} AS INTEGER)) AS severity,
               TRY_CAST({c("SeverityNumber")} AS INTEGER) AS severity_number,
               left({c("Body", "''")}, {MAX_BODY_CHARS}) AS body,
               COALESCE({c("TraceId")}, '') AS trace_id,
               COALESCE({c("SpanId")}, '') AS span_id,
               js AS resource_attributes,
               row_js AS log_attributes
        FROM {_with_attributes(columns, source, "LogAttributes")}
    """


def _spans_select(columns: set[str], source: str) -> str:
    c = lambda name, default="NULL": _col(columns, name, default)  # noqa: E731
    return f"""
        SELECT ts_parse({c("Timestamp")}) AS ts,
               {c("TraceId")} AS trace_id,
               {c("SpanId")} AS span_id,
               COALESCE({c("ParentSpanId")}, '') AS parent_span_id,
               COALESCE({c("SpanName")}, '') AS name,
               norm_span_kind({c("SpanKind")}) AS kind,
               COALESCE({c("ServiceName")}, d_service, attr(js, 'service.name'), '') AS service,
               COALESCE(d_namespace, attr(js, 'k8s.namespace.name'), '') AS namespace,
               COALESCE(d_pod, attr(js, 'k8s.pod.name'), '') AS pod,
               TRY_CAST({c("Duration")} AS DOUBLE) / 1e6 AS duration_ms,
               norm_status({c("StatusCode")}) AS status,
               COALESCE({c("StatusMessage")}, '') AS status_message,
               row_js AS span_attributes,
               js AS resource_attributes
        FROM {_with_attributes(columns, source, "SpanAttributes")}
    """


def _events_select(columns: set[str], source: str) -> str:
    c = lambda name, default="NULL": _col(columns, name, default)  # noqa: E731
    # The body is a watch envelope {"type", "object"} or, leniently, a bare Event.
    return f"""
        SELECT ts, watch_type,
               COALESCE(json_extract_string(ev, '$.metadata.namespace'), '') AS namespace,
               COALESCE(json_extract_string(ev, '$.metadata.name'), '') AS name,
               COALESCE(json_extract_string(ev, '$.involvedObject.kind'),
                        json_extract_string(ev, '$.regarding.kind'), '') AS object_kind,
               COALESCE(json_extract_string(ev, '$.involvedObject.namespace'),
                        json_extract_string(ev, '$.regarding.namespace'), '') AS object_namespace,
               COALESCE(json_extract_string(ev, '$.involvedObject.name'),
                        json_extract_string(ev, '$.regarding.name'), '') AS object_name,
               COALESCE(json_extract_string(ev, '$.reason'), '') AS reason,
               COALESCE(json_extract_string(ev, '$.message'), json_extract_string(ev, '$.note'), '')
                   AS message,
               COALESCE(json_extract_string(ev, '$.type'), '') AS type,
               COALESCE(TRY_CAST(json_extract_string(ev, '$.count') AS INTEGER),
                        TRY_CAST(json_extract_string(ev, '$.series.count') AS INTEGER),
                        TRY_CAST(json_extract_string(ev, '$.deprecatedCount') AS INTEGER), 1) AS count,
               COALESCE(ts_parse(json_extract_string(ev, '$.firstTimestamp')),
                        ts_parse(json_extract_string(ev, '$.deprecatedFirstTimestamp')),
                        ts_parse(json_extract_string(ev, '$.eventTime')), ts) AS first_seen,
               COALESCE(ts_parse(json_extract_string(ev, '$.lastTimestamp')),
                        ts_parse(json_extract_string(ev, '$.series.lastObservedTime')),
                        ts_parse(json_extract_string(ev, '$.deprecatedLastTimestamp')),
                        ts_parse(json_extract_string(ev, '$.eventTime')), ts) AS last_seen,
               COALESCE(json_extract_string(ev, '$.source.component'),
                        json_extract_string(ev, '$.reportingController'),
                        json_extract_string(ev, '$.deprecatedSource.component'), '') AS source,
               ev AS body
        FROM (
            SELECT ts_parse({c("Timestamp")}) AS ts,
                   CASE WHEN json_exists(b, '$.object') THEN json_extract_string(b, '$.type') ELSE '' END
                       AS watch_type,
                   CASE WHEN json_exists(b, '$.object') THEN json_extract(b, '$.object')::VARCHAR ELSE b END
                       AS ev
            FROM (SELECT *, unwrap_json({c("Body")}) AS b FROM {source})
            WHERE json_valid(b)
        )
    """


def _objects_select(columns: set[str], source: str) -> str:
    c = lambda name, default="NULL": _col(columns, name, default)  # noqa: E731
    return f"""
        SELECT ts, COALESCE(NULLIF(resource, ''), '') AS resource, api_version, kind,
               namespace, name, uid, watch_type,
               CASE WHEN kind = 'Secret' THEN json_merge_patch(obj, '{_STRIP_SECRET_DATA}')::VARCHAR
                    ELSE obj END AS body
        FROM (
            SELECT ts, resource, watch_type,
                   CASE WHEN json_exists(o, '$.metadata.annotations."kubectl.kubernetes.io/last-applied-configuration"')
                            THEN json_merge_patch(o, '{_STRIP_BOOKKEEPING}')::VARCHAR
                        WHEN json_exists(o, '$.metadata.managedFields')
                            THEN json_merge_patch(o, '{_STRIP_MANAGED_FIELDS}')::VARCHAR
                        ELSE o END AS obj,
                   COALESCE(json_extract_string(o, '$.apiVersion'), '') AS api_version,
                   COALESCE(json_extract_string(o, '$.kind'), '') AS kind,
                   COALESCE(json_extract_string(o, '$.metadata.namespace'), '') AS namespace,
                   COALESCE(json_extract_string(o, '$.metadata.name'), '') AS name,
                   COALESCE(json_extract_string(o, '$.metadata.uid'), '') AS uid
            FROM (
                SELECT ts_parse({c("Timestamp")}) AS ts,
                       attr(attrs_json({c("LogAttributes")}), 'k8s.resource.name') AS resource,
                       CASE WHEN json_exists(b, '$.object') AND json_exists(b, '$.type')
                            THEN json_extract_string(b, '$.type') ELSE '' END AS watch_type,
                       CASE WHEN json_exists(b, '$.object') AND json_exists(b, '$.type')
                            THEN unwrap_json(json_extract(b, '$.object')::VARCHAR) ELSE b END AS o
                FROM (SELECT *, unwrap_json({c("Body")}) AS b FROM {source})
                WHERE json_valid(b)
            )
            WHERE json_valid(o)
        )
    """


def _metrics_select(columns: set[str], source: str, kind: SourceKind) -> str:
    c = lambda name, default="NULL": _col(columns, name, default)  # noqa: E731
    entity = c("pod_name") if kind == "pod_metrics" else c("service_name")
    label = "pod" if kind == "pod_metrics" else "service"
    return f"""
        SELECT metric, ts, value, '{label}' AS source,
               COALESCE(NULLIF({entity}, ''), attr(labels, '{"pod" if label == "pod" else "service_name"}'),
                        file_entity) AS entity,
               COALESCE(NULLIF({c("namespace")}, ''), attr(labels, 'namespace'), '') AS namespace,
               COALESCE(attr(labels, 'container'), '') AS container,
               COALESCE(NULLIF({c("bucket_le")}, ''), attr(labels, 'le')) AS bucket_le,
               COALESCE(NULLIF({c("status_code")}, ''), attr(labels, 'status_code')) AS status_code,
               NULLIF({c("metric_type")}, '') AS metric_type,
               labels
        FROM (
            SELECT {c("metric_name")} AS metric, ts_parse({c("timestamp")}) AS ts,
                   TRY_CAST({c("value")} AS DOUBLE) AS value, attrs_json({c("tags")}) AS labels, *
            FROM {source}
        )
        WHERE metric IS NOT NULL AND ts IS NOT NULL
    """


_SELECTS: dict[SourceKind, Callable[[set[str], str], str]] = {
    "logs": _logs_select,
    "spans": _spans_select,
    "events": _events_select,
    "objects": _objects_select,
}
_TABLE_OF: dict[SourceKind, str] = {
    "logs": "logs",
    "spans": "spans",
    "events": "events",
    "objects": "objects",
    "pod_metrics": "samples",
    "service_metrics": "samples",
    "alerts": "alerts",
}


@dataclass
class BuildReport:
    """Counts of what one build read and skipped."""

    rows: dict[str, int]
    skipped: int
    stages: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Wall and CPU seconds (every thread of the process) of each step of the build, in order."""


class IndexBuilder:
    """Fills a fresh DuckDB database with the normalized tables of one scenario."""

    def __init__(self, files: ScenarioFiles, connection: duckdb.DuckDBPyConnection) -> None:
        self.files = files
        self.db = connection
        self._reject_seq = 0
        self._inventory: list[tuple[str, str, int, int]] = []
        self._stages: dict[str, tuple[float, float]] = {}

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        """Add the wall and CPU time of the block to the stage ``name`` of the build report."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            spent_wall, spent_cpu = self._stages.get(name, (0.0, 0.0))
            self._stages[name] = (
                spent_wall + time.perf_counter() - wall,
                spent_cpu + time.process_time() - cpu,
            )

    def build(self) -> BuildReport:
        self._prepare_connection()
        for ddl in TABLE_DDL.values():
            self.db.execute(ddl)
        for refused, reason in self.files.refused:
            self._skip(refused, None, reason)
        (threads,) = self.db.execute("SELECT current_setting('threads')").fetchone()  # type: ignore[misc]
        if TWO_STREAMS and int(threads) <= 2:
            inventory = self._load_in_two_streams(int(threads))
        else:
            self._load_logs_and_templates()
            self._load_other_files()
            inventory = self._inventory
        with self._stage("bookkeeping"):
            self._insert_values("inventory", inventory, 4)
            self._fill_missing_resources()
            self._write_meta()
            rows = {
                table: self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                for table in ("logs", "spans", "events", "objects", "samples", "alerts")
            }
            skipped = self.db.execute("SELECT count(*) FROM skipped").fetchone()[0]  # type: ignore[index]
        return BuildReport(rows, skipped, dict(self._stages))

    def _prepare_connection(self) -> None:
        self.db.execute("SET TimeZone = 'UTC'")
        for macro in MACROS:
            self.db.execute(macro)

    def _load_in_two_streams(self, threads: int) -> list[tuple[str, str, int, int]]:
        """The logs and their templates on a second connection and thread, beside the other files.

        Each stream's statements run on DuckDB's one thread, its caller's: the log file's insert
        and the template mining use about one core each, and on one thread the logs keep the
        file's order (:meth:`_one_thread`); the span file's insert, on two threads beside them,
        would only add a third thread to two cores. Returns the inventory rows, the logs' first.
        """
        logs = IndexBuilder(self.files, self.db.cursor())
        logs._stages = self._stages  # one report; the two streams' stages have distinct names
        self.db.execute("SET threads = 1")
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="logs") as beside:
                loaded = beside.submit(logs._load_logs_and_templates_on_own_connection)
                self._load_other_files()
                with self._stage("waiting for the logs"):
                    loaded.result()
        finally:
            self.db.execute(f"SET threads = {threads}")
        return logs._inventory + self._inventory

    def _load_logs_and_templates_on_own_connection(self) -> None:
        with self.db:
            self._prepare_connection()
            self._load_logs_and_templates()

    def _load_logs_and_templates(self) -> None:
        for source in self.files.of_kind("logs"):
            self._ingest_tsv(source)
        with self._stage("log templates"):
            mine_log_templates(self.db)

    def _load_other_files(self) -> None:
        for kind in ("spans", "events", "objects"):
            for source in self.files.of_kind(kind):
                self._ingest_tsv(source)
        for kind in ("pod_metrics", "service_metrics"):
            with self._stage("metrics"):
                self._ingest_metric_files(self.files.of_kind(kind))
        with self._stage("alerts"):
            self._ingest_alerts(self.files.of_kind("alerts"))
        with self._stage("service calls"):
            build_service_calls(self.db)  # reads the spans only: beside the logs' stream

    # -- TSV -------------------------------------------------------------------------------

    def _header(self, source: SourceFile) -> list[str] | None:
        try:
            with source.path.open("rb") as handle:
                first = handle.readline(MAX_HEADER_BYTES + 1)
        except OSError as error:
            self._skip(source.relative, None, f"cannot read: {error.strerror}")
            return None
        if not first.strip():
            self._skip(source.relative, None, "empty file (no header row)")
            return None
        if len(first) > MAX_HEADER_BYTES:
            self._skip(source.relative, 1, f"header row longer than {MAX_HEADER_BYTES // 1024} KiB; not read")
            return None
        line = first.removesuffix(b"\n").removesuffix(b"\r")
        if b"\r" in line:
            # The reader would take it for the line end and misread every row.
            self._skip(source.relative, 1, "header row holds a bare carriage return (CR); not read")
            return None
        text = line.decode("utf-8", errors="replace")
        # Checked here rather than left to csv's field size limit, which is one setting for the
        # whole process (anything may raise it), so that the outcome never depends on it.
        longest = max((len(part) for part in text.split("\t")), default=0)
        if longest > MAX_COLUMN_NAME_CHARS:
            self._skip(
                source.relative,
                1,
                f"header row cannot be parsed: a column name of {longest} characters "
                f"(at most {MAX_COLUMN_NAME_CHARS} are read)",
            )
            return None
        try:
            header = next(csv.reader([text], delimiter="\t"), [])
        except csv.Error as error:
            self._skip(source.relative, 1, f"header row cannot be parsed: {error}")
            return None
        missing = [name for name in REQUIRED_COLUMNS[source.kind] if name not in header]
        if missing:
            self._skip(
                source.relative,
                1,
                f"missing column(s) {', '.join(missing)}; the header has: {', '.join(header[:20])}",
            )
            return None
        # Duplicate names would make the reader fail; later copies get a suffix.
        seen: dict[str, int] = {}
        unique = []
        for name in header:
            count = seen.get(name, 0)
            seen[name] = count + 1
            unique.append(name if count == 0 else f"{name}__{count}")
        return unique

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all."""
        self.db.begin()
        try:
            yield
        except BaseException:
            self.db.rollback()
            raise
        with self._stage("commits"):
            self.db.commit()

    def _ingest_tsv(self, source: SourceFile) -> None:
        header = self._header(source)
        if header is None:
            return
        try:
            with self._transaction():
                rows = self._load_tsv(source, header, strict=True)
        except (duckdb.Error, OSError) as error:
            try:
                with self._transaction():
                    rows = self._load_tsv(source, header, strict=False)
                    self._skip(
                        source.relative,
                        None,
                        f"not valid CSV throughout ({_short(error)}); read again without strict quoting",
                    )
            except (duckdb.Error, OSError):
                self._skip(source.relative, None, f"unreadable: {_short(error)}")
                return
        self._record_inventory(source, _TABLE_OF[source.kind], rows)

    def _load_tsv(self, source: SourceFile, header: list[str], *, strict: bool) -> int:
        """Load one TSV file and report its bad lines; the number of rows it added."""
        columns = set(header)
        self._reject_seq += 1
        rejects = f"rejects_{self._reject_seq}"
        scan = f"rejects_scan_{self._reject_seq}"
        reader = _csv_reader(source.path, header, rejects, scan, strict=strict)
        table = _TABLE_OF[source.kind]
        if source.kind in ("logs", "spans"):
            with self._stage(f"{source.kind}: attribute dictionaries"):
                self._fill_attribute_dictionaries(source, header, ROW_ATTRIBUTES[source.kind])
        select = self._select(source, columns, reader)
        before = self._count(table)
        with self._stage(f"{source.kind}: rows"), self._one_thread(source.kind == "logs"):
            self.db.execute(f"INSERT INTO {table} {select}")
        with self._stage(f"{source.kind}: rejects"):
            self._collect_rejects(source, header, rejects, scan, table, columns)
            if source.kind in ("events", "objects"):
                self._report_bad_bodies(source, _csv_reader(source.path, header, strict=strict))
        return self._count(table) - before

    @contextmanager
    def _one_thread(self, wanted: bool) -> Iterator[None]:
        """DuckDB on one thread for the block, when ``wanted``.

        For the logs: inserted by two threads, they were stored in blocks out of the file's
        order, and each thread's last rows became a partial row group of their own, which the
        checkpoint then merged, writing a fifth of the table twice (0.55 s of CPU on the 1 GB
        scenario). On one thread the rows keep the file's order, the insert takes the same CPU
        time and the checkpoint none. (In :data:`TWO_STREAMS`, every stream runs on one thread.)
        """
        if not wanted:
            yield
            return
        (threads,) = self.db.execute("SELECT current_setting('threads')").fetchone()  # type: ignore[misc]
        self.db.execute("SET threads = 1")
        try:
            yield
        finally:
            self.db.execute(f"SET threads = {int(threads)}")

    def _fill_attribute_dictionaries(self, source: SourceFile, header: list[str], row_column: str) -> None:
        for statement in _CREATE_DICTIONARIES:
            self.db.execute(statement)
        sampled = sample_attribute_texts(source.path, header, ["ResourceAttributes", row_column])
        if sampled.get("ResourceAttributes"):
            self.db.execute(_FILL_RESOURCE_DICTIONARY, {"texts": sampled["ResourceAttributes"]})
        if sampled.get(row_column):
            self.db.execute(_FILL_ROW_DICTIONARY, {"texts": sampled[row_column]})

    def _select(self, source: SourceFile, columns: set[str], relation: str) -> str:
        if source.kind in ("pod_metrics", "service_metrics"):
            relation = f"(SELECT *, '{_sql_text(source.entity)}' AS file_entity FROM {relation})"
            return _metrics_select(columns, relation, source.kind)
        return _SELECTS[source.kind](columns, relation)

    def _collect_rejects(
        self, source: SourceFile, header: list[str], rejects: str, scan: str, table: str, columns: set[str]
    ) -> None:
        rows = self._fetch_rejects(rejects, scan)
        self._handle_rejects(source, header, [row[1:] for row in rows], table, columns)

    def _fetch_rejects(self, rejects: str, scan: str) -> list[tuple[Any, ...]]:
        """(file path, record, error type, message, line text, line byte offset) of every reject."""
        try:
            return self.db.execute(
                f"""SELECT s.file_path, r.line, r.error_type, r.error_message, r.csv_line, r.line_byte_position
                    FROM {rejects} AS r JOIN {scan} AS s USING (scan_id, file_id)
                    ORDER BY s.file_path, r.line"""
            ).fetchall()
        except duckdb.Error:
            return []
        finally:
            self.db.execute(f"DROP TABLE IF EXISTS {rejects}")
            self.db.execute(f"DROP TABLE IF EXISTS {scan}")

    def _handle_rejects(
        self,
        source: SourceFile,
        header: list[str],
        rows: list[tuple[Any, ...]],
        table: str,
        columns: set[str],
    ) -> None:
        salvaged: list[list[str]] = []
        reported = 0
        seen_records: set[int] = set()
        seen_lines: set[tuple[int | None, str]] = set()
        # DuckDB numbers records; a quoted field may span lines, so report physical lines.
        positions = [row[4] for row in rows[: SKIPPED_LINES_PER_FILE * 2] if row[4] is not None]
        physical = _physical_lines(source.path, positions)
        for record, error_type, message, csv_line, position in rows:
            if record in seen_records:
                continue
            seen_records.add(record)
            line = physical.get(position, record)
            if error_type == "INVALID ENCODING":
                try:
                    fields = next(csv.reader(io.StringIO(csv_line or ""), delimiter="\t"), [])
                except csv.Error:
                    fields = []
                if len(fields) == len(header):
                    salvaged.append(fields)
                    self._skip_limited(source, line, "invalid UTF-8 replaced with '?'", reported)
                    reported += 1
                    continue
            reason = _reject_reason(error_type, message)
            if (line, reason) in seen_lines:
                continue  # several broken records on one physical line: report it once
            seen_lines.add((line, reason))
            self._skip_limited(source, line, reason, reported)
            reported += 1
        if reported > SKIPPED_LINES_PER_FILE:
            self._skip(
                source.relative,
                None,
                f"{reported} lines had problems; the first {SKIPPED_LINES_PER_FILE} are listed",
            )
        if salvaged:
            staging = f"salvage_{self._reject_seq}"
            column_defs = ", ".join(f'"{name}" VARCHAR' for name in header)
            self.db.execute(f"CREATE TEMP TABLE {staging} ({column_defs})")
            self.db.executemany(f"INSERT INTO {staging} VALUES ({', '.join('?' for _ in header)})", salvaged)
            self.db.execute(f"INSERT INTO {table} {self._select(source, columns, staging)}")
            self.db.execute(f"DROP TABLE {staging}")

    # -- metric files: one read per set of files with the same header -------------------

    def _ingest_metric_files(self, sources: list[SourceFile]) -> None:
        groups: dict[tuple[str, ...], list[SourceFile]] = {}
        for source in sources:
            header = self._header(source)
            if header is not None:
                groups.setdefault(tuple(header), []).append(source)
        for header, members in groups.items():
            self._ingest_metric_group(list(header), members)

    def _ingest_metric_group(self, header: list[str], sources: list[SourceFile]) -> None:
        try:
            with self._transaction():
                counts = self._load_metric_group(header, sources, strict=True)
        except (duckdb.Error, OSError) as error:
            if len(sources) > 1:  # find the file that broke the reader: one file at a time
                for source in sources:
                    self._ingest_metric_group(header, [source])
                return
            try:
                with self._transaction():
                    counts = self._load_metric_group(header, sources, strict=False)
                    self._skip(
                        sources[0].relative,
                        None,
                        f"not valid CSV throughout ({_short(error)}); read again without strict quoting",
                    )
            except (duckdb.Error, OSError):
                self._skip(sources[0].relative, None, f"unreadable: {_short(error)}")
                return
        for source in sources:
            self._record_inventory(source, "samples", counts.get(str(source.path), 0))

    def _load_metric_group(
        self, header: list[str], sources: list[SourceFile], *, strict: bool
    ) -> dict[str, int]:
        """Load metric files that share one header; rows per file path."""
        columns = set(header)
        self._reject_seq += 1
        rejects, scan = f"rejects_{self._reject_seq}", f"rejects_scan_{self._reject_seq}"
        by_path = {str(source.path): source for source in sources}
        self.db.execute("CREATE OR REPLACE TEMP TABLE metric_files (path VARCHAR, entity VARCHAR)")
        self._insert_values("metric_files", [(path, source.entity) for path, source in by_path.items()], 2)
        reader = _csv_reader([source.path for source in sources], header, rejects, scan, strict=strict)
        self.db.execute(
            f"""CREATE OR REPLACE TEMP TABLE metric_rows AS
                SELECT r.*, f.entity AS file_entity FROM {reader} AS r JOIN metric_files AS f ON r.filename = f.path"""
        )
        kind = sources[0].kind
        self.db.execute(
            f"INSERT INTO samples {_metrics_select(columns | {'file_entity'}, 'metric_rows', kind)}"
        )
        rejected: dict[str, list[tuple[Any, ...]]] = {}
        for row in self._fetch_rejects(rejects, scan):
            rejected.setdefault(row[0], []).append(row[1:])
        for path, rows in sorted(rejected.items()):
            if path in by_path:
                self._handle_rejects(by_path[path], header, rows, "samples", columns)
        counts = dict(
            self.db.execute("SELECT filename, count(*) FROM metric_rows GROUP BY filename").fetchall()
        )
        self.db.execute("DROP TABLE metric_rows")
        return counts

    def _report_bad_bodies(self, source: SourceFile, reader: str) -> None:
        (bad,) = self.db.execute(
            f"""SELECT count(*) FROM {reader}
                WHERE NOT COALESCE(json_valid(unwrap_json("Body")) AND starts_with(ltrim(unwrap_json("Body")), '{{'),
                                   false)"""
        ).fetchone()  # type: ignore[misc]
        if bad:
            self._skip(
                source.relative, None, f"{bad} row(s) with a Body that is not a JSON object were skipped"
            )

    def _skip_limited(self, source: SourceFile, line: int | None, reason: str, reported: int) -> None:
        if reported < SKIPPED_LINES_PER_FILE:
            self._skip(source.relative, line, reason)

    # -- alerts ----------------------------------------------------------------------------

    def _ingest_alerts(self, sources: list[SourceFile]) -> None:
        rows: list[tuple[Any, ...]] = []
        for source in sources:
            try:
                alerts, sampled_at = _read_alert_file(source)
                file_rows = [_alert_row(alert, sampled_at) for alert in alerts]
            except SnapshotFileError as error:
                self._skip(source.relative, error.line, error.reason)
                continue
            except RecursionError:  # json.loads or json.dumps of a deeply nested document
                self._skip(source.relative, None, _TOO_DEEP)
                continue
            rows.extend(file_rows)
            self._record_inventory(source, "alerts", len(alerts))
        self.db.execute(
            """CREATE TEMP TABLE alert_rows (sampled_at TIMESTAMP, alertname VARCHAR, severity VARCHAR,
               state VARCHAR, active_at VARCHAR, namespace VARCHAR, service VARCHAR, pod VARCHAR, value VARCHAR,
               labels VARCHAR, annotations VARCHAR)"""
        )
        self._insert_values("alert_rows", rows, 11)
        self.db.execute(
            """INSERT INTO alerts SELECT sampled_at, alertname, severity, state, ts_parse(active_at), namespace,
               service, pod, value, labels, annotations FROM alert_rows"""
        )
        self.db.execute("DROP TABLE alert_rows")

    # -- bookkeeping -----------------------------------------------------------------------

    def _fill_missing_resources(self) -> None:
        kinds = [
            row[0]
            for row in self.db.execute(
                "SELECT DISTINCT kind FROM objects WHERE resource = '' ORDER BY kind"
            ).fetchall()
        ]
        for kind in kinds:
            self.db.execute(
                "UPDATE objects SET resource = ? WHERE resource = '' AND kind = ?",
                [resource_for_kind(kind), kind],
            )

    def _write_meta(self) -> None:
        start, end = self.db.execute(
            """
            SELECT min(t), max(t) FROM (
                SELECT min(ts) AS t FROM logs UNION ALL SELECT max(ts) FROM logs
                UNION ALL SELECT min(ts) FROM spans UNION ALL SELECT max(ts) FROM spans
                UNION ALL SELECT min(ts) FROM events UNION ALL SELECT max(ts) FROM events
                UNION ALL SELECT min(listed_at) FROM objects UNION ALL SELECT max(listed_at) FROM objects
                UNION ALL SELECT min(sampled_at) FROM alerts UNION ALL SELECT max(sampled_at) FROM alerts
            )
            """
        ).fetchone()  # type: ignore[misc]
        if start is None:
            start, end = self.db.execute("SELECT min(ts), max(ts) FROM samples").fetchone()  # type: ignore[misc]
        if start is None:
            start = end = datetime(1970, 1, 1)
        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "scenario_name": self.files.root.resolve().name,
        }
        self.db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))

    def _skip(self, file: str, line: int | None, reason: str) -> None:
        self.db.execute("INSERT INTO skipped VALUES (?, ?, ?)", [file, line, reason])

    def _record_inventory(self, source: SourceFile, table: str, rows: int) -> None:
        self._inventory.append((source.relative, table, rows, source.size))

    def _insert_values(self, table: str, rows: list[tuple[Any, ...]], width: int) -> None:
        """Insert Python rows with one statement per 500 (``executemany`` costs a statement per row)."""
        placeholders = "(" + ", ".join(["?"] * width) + ")"
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            values = ", ".join([placeholders] * len(chunk))
            self.db.execute(f"INSERT INTO {table} VALUES {values}", [value for row in chunk for value in row])

    def _count(self, table: str) -> int:
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]


def _csv_reader(
    paths: Path | list[Path],
    header: list[str],
    rejects: str | None = None,
    scan: str | None = None,
    *,
    strict: bool = True,
) -> str:
    """The ``read_csv`` call for TSV files: Go encoding/csv quoting, every column as text.

    Given a list of files (all with ``header``), rows carry a ``filename`` column. ``strict``
    off lets the reader go on past quoting its state machine cannot follow (garbage bytes).
    """
    column_spec = "{" + ", ".join(f"'{_sql_text(name)}': 'VARCHAR'" for name in header) + "}"
    reject_options = (
        f"store_rejects=true, rejects_table='{rejects}', rejects_scan='{scan}', rejects_limit=100000,"
        if rejects and scan
        else ""
    )
    if isinstance(paths, list):
        target = "[" + ", ".join(f"'{_sql_text(str(path))}'" for path in paths) + "]"
        reject_options += " filename=true,"
    else:
        target = f"'{_sql_text(str(paths))}'"
    if not strict:
        reject_options += " strict_mode=false,"
    return f"""read_csv({target}, delim='\t', quote='"', escape='"', header=true,
        auto_detect=false, columns={column_spec}, ignore_errors=true, {reject_options}
        max_line_size={MAX_LINE_BYTES}, buffer_size={MAX_LINE_BYTES * 2})"""


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def _physical_lines(path: Path, positions: list[int]) -> dict[int, int]:
    """Map byte offsets in ``path`` to 1-based line numbers, reading only as far as needed."""
    if not positions:
        return {}
    wanted = sorted(set(positions))
    result: dict[int, int] = {}
    newlines = 0
    offset = 0
    index = 0
    try:
        handle = path.open("rb")
    except OSError:
        return {}
    with handle:
        while index < len(wanted):
            chunk = handle.read(8 << 20)
            if not chunk:
                break
            end = offset + len(chunk)
            while index < len(wanted) and wanted[index] < end:
                result[wanted[index]] = newlines + chunk.count(b"\n", 0, wanted[index] - offset) + 1
                index += 1
            newlines += chunk.count(b"\n")
            offset = end
    return result


def _short(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:300]


def _reject_reason(error_type: str, message: str) -> str:
    first = (message or "").strip().splitlines()[0] if message else ""
    if error_type == "MISSING COLUMNS":
        return f"too few fields (truncated or malformed line): {first}"
    if error_type == "TOO MANY COLUMNS":
        return f"too many fields: {first}"
    if error_type == "UNQUOTED VALUE":
        return f"bad quoting: {first}"
    if error_type == "LINE SIZE OVER MAXIMUM":
        return f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MB"
    return f"{error_type.lower()}: {first}"


_TOO_DEEP = "JSON nested too deeply to read; not read"
_ALERT_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2})[-:](\d{2})[-:](\d{2})(\.\d+)?")


def _read_alert_file(source: SourceFile) -> tuple[list[dict[str, Any]], str | None]:
    try:
        text = source.path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise SnapshotFileError(source.relative, f"cannot read: {error.strerror}") from None
    if not text.strip():
        raise SnapshotFileError(source.relative, "empty file")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise SnapshotFileError(source.relative, f"not valid JSON: {error.msg}", error.lineno) from None
    sampled_at: str | None = None
    match = _ALERT_TIME.search(source.path.name)
    if match:
        sampled_at = (
            f"{match.group(1)} {match.group(2)}:{match.group(3)}:{match.group(4)}{match.group(5) or ''}"
        )
    alerts: Any = payload
    if isinstance(payload, dict):
        if sampled_at is None and isinstance(payload.get("timestamp"), str):
            sampled_at = payload["timestamp"]
        data = payload.get("data", payload)
        alerts = data.get("alerts", []) if isinstance(data, dict) else data
    if not isinstance(alerts, list):
        raise SnapshotFileError(
            source.relative, "expected a JSON array of alerts or {'data': {'alerts': [...]}}"
        )
    return [alert for alert in alerts if isinstance(alert, dict)], sampled_at


def _alert_row(alert: dict[str, Any], sampled_at: str | None) -> tuple[Any, ...]:
    labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else {}
    annotations = alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
    assert isinstance(labels, dict) and isinstance(annotations, dict)
    service = next(
        (
            str(labels[key])
            for key in ("service_name", "service", "destination_workload", "deployment", "job")
            if labels.get(key)
        ),
        "",
    )
    active_at = alert.get("activeAt") or alert.get("startsAt")
    active_at = active_at if isinstance(active_at, str) else None
    sampled = sampled_at or active_at
    status = alert.get("status")
    state = alert.get("state") or (status.get("state") if isinstance(status, dict) else None) or "firing"
    return (
        _naive_time(sampled),
        str(labels.get("alertname", "")),
        str(labels.get("severity", "")),
        str(state),
        active_at,
        str(labels.get("namespace", "")),
        service,
        str(labels.get("pod", "")),
        None if alert.get("value") is None else str(alert.get("value")),
        json.dumps(labels, sort_keys=True),
        json.dumps(annotations, sort_keys=True),
    )


def _naive_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
