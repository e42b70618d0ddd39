"""The view's pages and its limits, through Starlette's test client (no browser)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from itbench_eval.cli import main
from itbench_eval.tasks import Task
from itbench_eval.view import ViewError, create_app
from itbench_eval.view.data import timeline
from itbench_eval.view.server import bind

from .conftest import Results, guesser_rows, row, transcript, write_results

SCORE = r"\d{1,3}\.\d%"


def client(*dirs: Path, tasks: list[Task] | None = None) -> TestClient:
    return TestClient(create_app(list(dirs), tasks=tasks), base_url="http://127.0.0.1")


def test_the_leaderboard_ranks_agents_with_score_interval_pass_at_1_cost_turns_and_outcomes(
    results: Results,
) -> None:
    page = client(results.a, tasks=results.tasks).get("/").text

    oracle, guesser = page.index(">oracle<"), page.index(">guesser<")
    assert oracle < guesser
    assert '<span class="score">100.0%</span> <span class="ci">[100.0%, 100.0%]</span>' in page
    assert '<span class="score">0.0%</span> <span class="ci">[0.0%, 0.0%]</span>' in page
    assert "$0.0162" in page  # the oracle's mean cost per task
    assert "timeout 1" in page and "no_submission 1" in page and "ok 2" in page
    assert "<svg" in page and "score, % (bars: 95% interval)" in page  # matplotlib's plot, text kept as text


def test_every_score_on_every_page_is_a_percent_with_one_decimal(results: Results) -> None:
    view = client(results.a, results.b, tasks=results.tasks)
    pages = [view.get(url).text for url in ("/", "/matrix", "/compare", "/run/0/Scenario-synth-1/oracle/1")]

    for page in pages:
        for score in re.findall(r'class="score">([^<]*)<', page):
            assert re.fullmatch(SCORE, score), score
        for interval in re.findall(r'class="ci">([^<]*)<', page):
            assert re.fullmatch(rf"\[{SCORE}, {SCORE}\]", interval), interval
    assert re.search(r"0\.0% \[0\.0%, 0\.0%\]", pages[2])  # compare: the same format in running text


def test_the_matrix_filters_by_task_fault_type_and_outcome(results: Results) -> None:
    view = client(results.a, tasks=results.tasks)

    assert view.get("/matrix").text.count('data-testid="cell"') == 6
    assert view.get("/matrix?task=Scenario-synth-2").text.count('data-testid="cell"') == 3
    assert view.get("/matrix?fault=custom(flagd)").text.count('data-testid="cell"') == 3
    timeouts = view.get("/matrix?outcome=timeout").text
    assert (
        timeouts.count('data-testid="cell"') == 1 and "Scenario-synth-2" not in timeouts.split("<tbody>")[1]
    )
    assert 'data-testid="no-runs"' in view.get("/matrix?outcome=agent_crash").text


def test_a_run_shows_its_trajectory_submission_answer_key_verdicts_and_process(results: Results) -> None:
    page = client(results.a, tasks=results.tasks).get("/run/0/Scenario-synth-1/guesser/1").text

    assert page.count('data-testid="step"') == 5  # start, one model reply, two tool calls, end
    assert "latency 1.25s" in page  # the model's, from its request to its reply
    assert "latency 0.20s" in page and "&quot;limit&quot;: 200" in page  # escaped
    assert '<details class="fold"><summary>60 lines' in page  # the long tool output is folded
    assert 'class="step tool error"' in page and "no such entity: nowhere" in page
    assert "otel-demo/Deployment/frontend" in page and "quota exceeded" in page  # the submission
    assert "otel-demo-namespace-1" in page and "resource_quota_enforcement" in page  # the answer key
    assert 'data-testid="verdicts"' in page and "wrong_kind" in page and "but as a Service" in page
    assert "<h2>Process</h2>" in page


def test_a_run_that_is_not_in_the_results_is_not_found(results: Results) -> None:
    view = client(results.a, tasks=results.tasks)

    assert view.get("/run/0/Scenario-synth-1/oracle/9").status_code == 404
    assert view.get("/run/7/Scenario-synth-1/oracle/1").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/file/0/../results-b/results.jsonl",
        "/file/0/%2e%2e/results-b/results.jsonl",
        "/file/0/..%2fresults-b%2fresults.jsonl",
        "/file/0//etc/passwd",
        "/file/0/%2fetc%2fpasswd",
        "/file/0/runs/../../results-b/results.jsonl",
        "/file/0/escape/results.jsonl",
        "/file/0/runs",
        "/file/1/../results-a/results.jsonl",
        "/file/9/results.jsonl",
        "/static/../conftest.py",
        "/static/%2e%2e%2fserver.py",
    ],
)
def test_no_file_outside_the_results_directories_is_served(results: Results, url: str) -> None:
    (results.a / "escape").symlink_to(results.b)  # a link out of the directory is outside it too
    response = client(results.a, results.b, tasks=results.tasks).get(url)

    assert response.status_code == 404
    assert "agent" not in response.text


def test_a_run_directory_named_outside_the_results_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "transcript.jsonl").write_text(json.dumps(transcript("x", 1)[4]) + "\n", encoding="utf-8")
    results = tmp_path / "results"
    results.mkdir()
    line = row("intruder", "Scenario-synth-1", 1, 0.0, run_dir="../secret")
    (results / "results.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")

    page = client(results).get("/run/0/Scenario-synth-1/intruder/1").text

    assert "line 59" not in page and "No transcript" in page


def test_files_inside_a_run_directory_are_served_as_plain_text(results: Results) -> None:
    response = client(results.a, tasks=results.tasks).get(
        "/file/0/runs/Scenario-synth-1/oracle/r1/submission.json"
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "cluster/Namespace/otel-demo" in response.text


def test_the_view_answers_reads_only(results: Results) -> None:
    view = client(results.a, tasks=results.tasks)

    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert view.request(method, "/").status_code == 405
        assert view.request(method, "/file/0/results.jsonl").status_code == 405


def test_a_request_naming_another_host_is_refused(results: Results) -> None:
    response = client(results.a, tasks=results.tasks).get("/", headers={"host": "attacker.example"})

    assert response.status_code == 400


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_the_view_listens_on_loopback_only(host: str) -> None:
    with pytest.raises(ViewError, match="loopback only"):
        bind(host, 0)


def test_rows_appended_after_the_first_read_show_on_the_next_request(results: Results) -> None:
    view = client(results.b, tasks=results.tasks)
    before = view.get("/api/state").json()["stamp"]
    assert ">latecomer<" not in view.get("/").text

    write_results(results.b, [row("latecomer", "Scenario-synth-1", 1, 1.0)])

    assert view.get("/api/state").json()["stamp"] != before
    assert ">latecomer<" in view.get("/").text


def test_a_directory_without_results_yet_shows_an_empty_leaderboard(tmp_path: Path) -> None:
    page = client(tmp_path).get("/").text

    assert "No finished run yet" in page


def test_two_results_directories_are_compared_task_by_task(results: Results) -> None:
    page = client(results.a, results.b, tasks=results.tasks).get("/compare?a=1&b=0").text

    assert 'data-testid="compare"' in page
    assert "A: results-b" in page and "B: results-a" in page
    assert "no paired test" in page  # results-a holds two agents
    single = write_results(results.a.parent / "results-c", guesser_rows()[:2])
    page = client(results.b, single, tasks=results.tasks).get("/compare").text
    assert "B − A over 2 shared task(s)" in page or "B − A over 1 shared task(s)" in page


def test_timeline_pairs_each_tool_result_with_its_call() -> None:
    steps = timeline(transcript("Scenario-synth-1", 1))

    assert [step.kind for step in steps] == ["start", "model", "tool", "tool", "end"]
    assert steps[2].arguments == '{\n  "limit": 200\n}' and steps[2].latency_s == 0.2
    assert steps[3].error and steps[3].output == "no such entity: nowhere"


def test_view_of_a_missing_directory_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["view", str(tmp_path / "nowhere"), "--no-open"])

    assert status == 2
    assert capsys.readouterr().err.strip().endswith("nowhere: no such directory")


def test_the_view_command_prints_its_loopback_url_and_serves_the_leaderboard(results: Results) -> None:
    import subprocess
    import sys
    import urllib.request

    command = [sys.executable, "-m", "itbench_eval.cli", "view", str(results.a), "--port", "0", "--no-open"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once the socket listens
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line + process.stderr.read() if process.stderr else line
        with urllib.request.urlopen(url.group(0), timeout=60) as response:
            page = response.read().decode("utf-8")
        assert 'data-testid="leaderboard"' in page and ">oracle<" in page
    finally:
        process.terminate()
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_a_run_still_going_is_listed_with_its_trajectory_so_far(results: Results) -> None:
    going = results.a / "runs" / "Scenario-synth-2" / "oracle" / "r2"
    going.mkdir(parents=True)
    events = transcript("Scenario-synth-2", 2)[:4]  # started, asked the model, called a tool
    (going / "transcript.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    view = client(results.a, results.b, tasks=results.tasks)

    matrix = view.get("/matrix").text
    assert 'data-testid="running"' in matrix and "runs/Scenario-synth-2/oracle/r2" in matrix
    assert "runs/Scenario-synth-1/oracle/r1" not in matrix.split('data-testid="running"')[1]
    page = view.get("/running/0/runs/Scenario-synth-2/oracle/r2").text
    assert page.count('data-testid="step"') == 3 and "get_alerts" in page
    assert view.get("/running/0/runs/Scenario-synth-1/oracle/r1").status_code == 404  # finished
    assert view.get("/running/1/%2e%2e/results-a/runs/Scenario-synth-2/oracle/r2").status_code == 404
