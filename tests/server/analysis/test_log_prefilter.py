"""The literal prefilter of search_logs gives exactly what RE2 over every line gives.

The index here holds log lines made of words that the patterns look for, in every case, with
characters RE2 folds onto ASCII letters (the Kelvin sign, the long s), other non-ASCII text,
newlines, regular-expression punctuation, empty and NULL bodies. Each pattern is searched with
the prefilter forced on and forced off; every mode must answer the same.
"""

from __future__ import annotations

import fcntl
import os
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from incident_index import WINDOW_END, WINDOW_START, build_index

from itbench_server.analysis.logs import (
    LogScope,
    log_counts,
    log_templates,
    search_lines,
    service_minutes,
)
from itbench_server.errors import QueryError
from itbench_server.snapshot.logbodies import SUFFIX, log_bodies
from itbench_server.snapshot.logtemplates import mine_log_templates
from itbench_server.snapshot.regexliterals import AnyOf, Literal, required_literals
from itbench_server.snapshot.snapshot import Snapshot

WORDS = [
    "error", "Error", "ERROR", "eRRor", "exception", "Exception", "fail", "FAILED", "failure",
    "timeout", "timed out", "time out", "TimedOut", "Timed  out", "refused", "ECONNREFUSED",
    "unavailable", "Unavailable", "checkout", "abc", "ABC", "abd", "def", "xyz", "a.b", "a*b",
    "\u212aey", "key", "KEY", "\u017fuccess", "success", "na\u00efve", "\u65e5\u672c", "\n", "\t", " ",
    " ", "{", "}", "[", "]", "(", ")", ".", "*", "+", "?", "|", "\\", "^", "$", "12345", "0x1f",
    "-", "_", ":", "/", "\u00e9", "\u00c9t\u00e9", "k8s", "pod-7c9f", "GET /api", "HTTP/1.1 503",
]  # fmt: skip

SERVICES = ["frontend", "checkout", "ad", "cart"]
SEVERITIES = [("INFO", 9), ("WARN", 13), ("ERROR", 17), ("", 0)]


def _bodies(count: int, seed: int) -> list[str | None]:
    chooser = random.Random(seed)
    bodies: list[str | None] = [None, "", "error", "\u212a", "x" * 3000 + "timeout"]
    while len(bodies) < count:
        bodies.append("".join(chooser.choice(WORDS) for _ in range(chooser.randint(1, 14))))
    return bodies


def _log_rows(count: int, seed: int) -> list[dict[str, Any]]:
    chooser = random.Random(seed + 1)
    span = (WINDOW_END - WINDOW_START).total_seconds()
    rows = []
    for number, body in enumerate(_bodies(count, seed)):
        severity, severity_number = chooser.choice(SEVERITIES)
        service = chooser.choice(SERVICES)
        rows.append(
            {
                "ts": WINDOW_START + timedelta(seconds=round(chooser.uniform(0, span), 1)),
                "service": service,
                "namespace": "otel-demo",
                "pod": f"{service}-5d9f7c6b8-x2x9q",
                "container": service,
                "severity": severity,
                "severity_number": severity_number,
                "body": body,
                "trace_id": f"{number:032x}",
            }
        )
    return rows


@pytest.fixture(scope="module")
def words_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snapshot]:
    snapshot = build_index(tmp_path_factory.mktemp("prefilter"), {"logs": _log_rows(1500, seed=21)})
    yield snapshot
    snapshot.close()


FIXED_PATTERNS = [
    "error|exception|fail|timed? ?out|refused|unavailable",
    "error",
    "ERROR",
    "Error",
    "econnrefused",
    "timed?\\s*out",
    "time[ d]out",
    "[Ee]rror",
    "[eE]RR[oO]r",
    "^error",
    "error$",
    "^error$",
    "\\berror\\b",
    "\\Berror",
    "fail(ed|ure)?",
    "fail(ed|ure)",
    "(?i)error",
    "(?-i)error",
    "(?i:ERROR)|unavailable",
    "(?i)fail(?-i)ED",
    "a(?i)bc|de(?-i)F",
    "error.*timeout",
    "error(.|\\n)*timeout",
    "(?s)error.*timeout",
    "refused.{0,40}ECONN",
    "(abc|abd)(def)?",
    "ab[cd]",
    "a\\.b",
    "a\\*b",
    "\\Qa*b\\E",
    "\\Qa.b",
    "\\x61bc",
    "\\x{41}BC",
    "key",
    "KEY",
    "k[e]y",
    "\u212aey",
    "\u212a",
    "success",
    "SUCCESS",
    "\u017fuccess",
    "na\u00efve",
    "\u00e9t\u00e9",
    "\u00c9T\u00c9",
    "\u65e5\u672c",
    "[^a]bc",
    "[[:alpha:]]bc",
    "[a-c]bc",
    "\\pLbc",
    "\\p{Greek}|abc",
    "\\d+",
    "\\d{5}",
    "0x[0-9a-f]+",
    ".*",
    "",
    "^",
    "$",
    "a*",
    "x{3000}timeout",
    "x{2,}",
    "(?P<word>error)",
    "(?U)err.+r",
    "err+or",
    "er{2}or",
    "er{1}or",
    "er{0,1}or",
    "erro?r",
    "error{,2}",
    "(error)+timeout",
    "((((error))))",
    "\\n",
    "\\t\\n",
    "HTTP/1\\.1 5\\d\\d",
    "GET /api",
    "pod-7c9f|k8s",
    "\\\\",
    "\\|",
    "[|]",
    "[]a]bc",
    "[\\]]",
    "\\$",
    "\\^error",
    "\\{\\}",
    "}",
    "]",
    "(?m)^error$",
    "\\Aerror",
    "error\\z",
    "\\Cerror",
    "\\x00abc",
    "ab\\x00c|abc",
]


def _random_pattern(chooser: random.Random) -> str:
    """A pattern of the words of the lines, mostly, with RE2's other constructs among them."""
    words = ["error", "ERR", "or", "out", "time", "timed", "fail", "abc", "key", "ref", "used", "un", "ed"]
    others = [".", "\\w", "\\s", "\\d", "[ab]", "[Ee]", "[^x]", "\\b", "^", "$", " ", "e", "K", "s"]
    odd = ["\u212a", "\u017f", "\u00e9", "\\x4b", "\\.", "\\*", "\\n", "\\Qa*b\\E", "(?i)", "(?-i)"]

    def expression(depth: int) -> str:
        parts = []
        for _ in range(chooser.randint(1, 3)):
            roll = chooser.random()
            if depth < 2 and roll < 0.15:
                inner = "|".join(expression(depth + 1) for _ in range(chooser.randint(1, 3)))
                part = chooser.choice(["(", "(?:", "(?i:", "(?-i:"]) + inner + ")"
            elif roll < 0.65:
                part = chooser.choice(words)
            elif roll < 0.9:
                part = chooser.choice(others)
            else:
                part = chooser.choice(odd)
            if chooser.random() < 0.15:
                part += chooser.choice(["?", "*", "+", "{1,2}", "{2}", "??", "{0,1}"])
            parts.append(part)
        return "".join(parts)

    return chooser.choice(["", "", "(?i)"]) + "|".join(expression(0) for _ in range(chooser.randint(1, 2)))


RANDOM_PATTERNS = [_random_pattern(random.Random(seed)) for seed in range(250)]


def _answers(snapshot: Snapshot, scope: LogScope, *, prefilter: bool) -> object:
    return search_lines(snapshot, scope, offset=0, limit=5000, prefilter=prefilter), log_counts(
        snapshot, scope, by="service", prefilter=prefilter
    )


@pytest.mark.parametrize("ignore_case", [True, False], ids=["ignore_case", "match_case"])
@pytest.mark.parametrize("pattern", FIXED_PATTERNS + RANDOM_PATTERNS)
def test_the_prefilter_finds_exactly_the_lines_re2_finds(
    words_index: Snapshot, pattern: str, ignore_case: bool
) -> None:
    scope = LogScope(WINDOW_START, WINDOW_END, pattern=pattern, ignore_case=ignore_case)
    try:
        plain = _answers(words_index, scope, prefilter=False)
    except QueryError as refused:
        with pytest.raises(QueryError) as also_refused:
            _answers(words_index, scope, prefilter=True)
        assert str(also_refused.value) == str(refused)
        return

    assert _answers(words_index, scope, prefilter=True) == plain


@pytest.mark.parametrize(
    "scope",
    [
        LogScope(WINDOW_START, WINDOW_END, pattern="error|timeout", ignore_case=True),
        LogScope(WINDOW_START, WINDOW_END, pattern="error|timeout", exclude="refused", ignore_case=True),
        LogScope(WINDOW_START, WINDOW_END, pattern="Error", service="checkout", min_severity="warn"),
        LogScope(WINDOW_START, WINDOW_START + timedelta(minutes=7), pattern="fail", pod="ad"),
        LogScope(WINDOW_START, WINDOW_END, pattern="nothing holds this", ignore_case=True),
    ],
    ids=["whole", "exclude", "service-severity", "pod-window", "no-match"],
)
def test_every_mode_answers_the_same_with_and_without_the_prefilter(
    words_index: Snapshot, scope: LogScope
) -> None:
    for newest_first in (False, True):
        for offset in (0, 7):
            assert search_lines(
                words_index, scope, offset=offset, limit=9, newest_first=newest_first, prefilter=True
            ) == search_lines(
                words_index, scope, offset=offset, limit=9, newest_first=newest_first, prefilter=False
            )
    for by in ("service", "pod", "minute", "severity"):
        assert log_counts(words_index, scope, by=by, prefilter=True) == log_counts(
            words_index, scope, by=by, prefilter=False
        )
    assert log_templates(words_index, scope, prefilter=True) == log_templates(
        words_index, scope, prefilter=False
    )
    assert service_minutes(words_index, scope, prefilter=True) == service_minutes(
        words_index, scope, prefilter=False
    )


def test_an_invalid_pattern_is_refused_with_re2s_reason_either_way(words_index: Snapshot) -> None:
    scope = LogScope(WINDOW_START, WINDOW_END, pattern="error(")

    for prefilter in (True, False, None):
        with pytest.raises(QueryError, match="not a valid regular expression"):
            search_lines(words_index, scope, offset=0, limit=1, prefilter=prefilter)


def test_the_literals_a_pattern_needs_are_found_and_none_when_it_needs_none() -> None:
    assert required_literals("error|timed? ?out", ignore_case=True) == AnyOf(
        (
            Literal(b"error", True),
            Literal(b"time out", True),
            Literal(b"timed out", True),
            Literal(b"timedout", True),
            Literal(b"timeout", True),
        )
    )
    assert required_literals("ECONNREFUSED", ignore_case=False) == Literal(b"ECONNREFUSED", False)
    for needs_nothing in (".*", "\\d+", "er", "error|.", "(?i)\u212a", "a{2", "\\1"):
        assert required_literals(needs_nothing, ignore_case=True) is None


def test_the_prefilter_keeps_few_more_lines_than_match(words_index: Snapshot) -> None:
    bodies = log_bodies(words_index)
    assert bodies is not None
    need = required_literals("econnrefused", ignore_case=True)
    assert need is not None

    candidates = bodies.candidates(need)

    assert candidates is not None
    matched = search_lines(
        words_index,
        LogScope(WINDOW_START, WINDOW_END, pattern="econnrefused", ignore_case=True),
        offset=0,
        limit=1,
    ).matched
    non_ascii = sum(
        1 for (body,) in words_index.query("SELECT body FROM logs") if body and not body.isascii()
    )
    assert matched <= int(candidates.sum()) <= matched + non_ascii < bodies.rows


def _copy_index(source: Snapshot, directory: Path) -> Snapshot:
    directory.mkdir()
    target = directory / "index.duckdb"
    target.write_bytes(source.index_path.read_bytes())
    return Snapshot(directory, target)


def test_the_bodies_file_is_written_once_beside_the_index_and_rewritten_for_a_new_index(
    words_index: Snapshot, tmp_path: Path
) -> None:
    snapshot = _copy_index(words_index, tmp_path / "cache")
    bodies_file = snapshot.index_path.with_name(snapshot.index_path.name + SUFFIX)
    scope = LogScope(WINDOW_START, WINDOW_END, pattern="error", ignore_case=True)
    expected = search_lines(snapshot, scope, offset=0, limit=50, prefilter=False)

    assert search_lines(snapshot, scope, offset=0, limit=50, prefilter=True) == expected
    written = bodies_file.stat()
    assert search_lines(snapshot, scope, offset=0, limit=50, prefilter=True) == expected
    assert bodies_file.stat().st_mtime_ns == written.st_mtime_ns
    assert not list(tmp_path.glob("cache/*.tmp-*"))

    snapshot.close()  # the index rebuilt at the same path: the old bodies file no longer fits it
    (tmp_path / "other").mkdir()
    other = build_index(tmp_path / "other", {"logs": _log_rows(300, seed=5)})
    other.close()
    os.replace(other.index_path, snapshot.index_path)
    rebuilt = Snapshot(snapshot.scenario_dir, snapshot.index_path)
    try:
        assert search_lines(rebuilt, scope, offset=0, limit=50, prefilter=True) == search_lines(
            rebuilt, scope, offset=0, limit=50, prefilter=False
        )
        bodies = log_bodies(rebuilt)
        assert bodies is not None and bodies.rows == 300
    finally:
        rebuilt.close()


def test_while_another_process_writes_the_bodies_file_the_search_runs_without_it(
    words_index: Snapshot, tmp_path: Path
) -> None:
    snapshot = _copy_index(words_index, tmp_path / "cache")
    lock_path = snapshot.index_path.with_name(snapshot.index_path.name + SUFFIX + ".lock")
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        scope = LogScope(WINDOW_START, WINDOW_END, pattern="timeout|refused", ignore_case=True)
        expected = search_lines(snapshot, scope, offset=0, limit=50, prefilter=False)
        fcntl.flock(lock, fcntl.LOCK_EX)

        assert log_bodies(snapshot) is None
        assert search_lines(snapshot, scope, offset=0, limit=50, prefilter=True) == expected
        assert not snapshot.index_path.with_name(snapshot.index_path.name + SUFFIX).exists()

        fcntl.flock(lock, fcntl.LOCK_UN)
        assert log_bodies(snapshot) is not None
    finally:
        os.close(lock)
        snapshot.close()


def _index_of_bodies(directory: Path, bodies_sql: str, count: int) -> Snapshot:
    """An index of ``count`` log lines whose bodies are ``bodies_sql`` of ``number`` (0, 1, ...)."""
    build_index(directory, {"logs": []}).close()
    index_path = directory / "index.duckdb"
    with duckdb.connect(str(index_path)) as connection:
        connection.execute(
            f"""
            INSERT INTO logs (ts, service, pod, severity, severity_number, body)
            SELECT ?::TIMESTAMP + to_milliseconds(number), 'frontend', 'frontend-5d9f7c6b8-x2x9q', 'INFO', 9,
                   {bodies_sql}
            FROM range(?) AS numbers(number)
            """,
            [WINDOW_START, count],
        )
        connection.execute("DROP TABLE log_templates")
        connection.execute("DROP TABLE log_row_templates")
        mine_log_templates(connection)
    return Snapshot(directory, index_path)


def test_a_literal_on_most_lines_is_not_prefiltered_and_a_rare_one_is(tmp_path: Path) -> None:
    # over 4 MB of bodies, every one holding "common", one in 97 "rare"
    snapshot = _index_of_bodies(
        tmp_path,
        "'common ' || CASE WHEN number % 97 = 0 THEN 'rare ' ELSE '' END || repeat('z', 600) || number",
        8000,
    )
    try:
        bodies = log_bodies(snapshot)
        assert bodies is not None
        common, rare = (
            required_literals("common", ignore_case=True),
            required_literals("rare", ignore_case=True),
        )
        assert common is not None and rare is not None

        assert bodies.candidates(common) is None
        rare_candidates = bodies.candidates(rare)
        assert rare_candidates is not None and int(rare_candidates.sum()) == 83
        for pattern in ("common", "rare", "common rare"):
            scope = LogScope(WINDOW_START, WINDOW_END, pattern=pattern, ignore_case=True)
            assert log_counts(snapshot, scope, by="service", prefilter=True) == log_counts(
                snapshot, scope, by="service", prefilter=False
            )
    finally:
        snapshot.close()
