"""The ``aa`` profile: ``run_shell`` over the scenario's files, confined, and ``submit_diagnosis``."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_scenario import GROUND_TRUTH_MARKER, text_of

from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.sandbox import sandbox_status
from itbench_server.sandbox.shell import visible_files
from itbench_server.snapshot import Snapshot

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not sandbox_status().confined, reason=f"no sandbox here: {sandbox_status().reason}"),
]


@pytest.fixture
async def shell_client(snapshot: Snapshot, tmp_path: Path) -> AsyncIterator[Client]:
    settings = ServerSettings(profile="aa", call_timeout=10, audit_log=tmp_path / "audit.jsonl")
    async with Client(create_server(snapshot, settings)) as client:
        yield client


async def shell(client: Client, command: str) -> tuple[bool, str]:
    result = await client.call_tool("run_shell", {"command": command})
    return bool(result.is_error), text_of(result)


async def test_the_aa_profile_serves_only_the_shell_and_the_submission(shell_client: Client) -> None:
    tools = (await shell_client.list_tools()).tools
    instructions = shell_client.instructions or ""

    assert [tool.name for tool in tools] == ["run_shell", "submit_diagnosis"]
    assert "The files are in /data/Scenario-1 (read-only; your working directory)." in instructions
    assert "call submit_diagnosis once" in instructions


async def test_the_shell_lists_the_evidence_files_and_reads_them_with_pandas(
    shell_client: Client, scenario_dir: Path
) -> None:
    listed_error, listed = await shell(shell_client, "pwd; find . -type f | sort")
    script = (
        'python3 -c "import glob, pandas as pd; '
        "print(len(pd.read_csv(glob.glob('k8s_events*.tsv')[0], sep='\\t')))\""
    )
    read_error, rows = await shell(shell_client, script)

    expected = sorted(f"./{relative}" for _, relative in visible_files(scenario_dir))
    assert not listed_error and not read_error
    assert listed.splitlines() == ["/data/Scenario-1", *expected]
    assert "ground_truth.yaml" not in listed
    assert int(rows) > 0


@pytest.fixture
def outside_file(tmp_path: Path) -> Path:
    secret = tmp_path / "outside.txt"
    secret.write_text("outside-canary-shell-1c2d\n")
    return secret


async def test_the_answer_key_and_every_file_outside_are_out_of_reach(
    shell_client: Client, scenario_dir: Path, outside_file: Path
) -> None:
    answer = scenario_dir / "ground_truth.yaml"
    for command in (
        f"cat {answer}",
        "cat ground_truth.yaml ../*/ground_truth.yaml",
        "find / -name 'ground_truth*' -o -name 'outside.txt' 2>/dev/null",
        f"grep -r {GROUND_TRUTH_MARKER} / 2>/dev/null",
        f"ln -s {answer} /scratch/key && cat /scratch/key",
        f"ln -s {outside_file} /scratch/out && cat /scratch/out",
        "cat /proc/1/environ /proc/*/environ | tr '\\0' '\\n'",
        f"ls /proc/1/root{scenario_dir}",
        "umount -l /data/Scenario-1 && ls /data/Scenario-1",
    ):
        _, text = await shell(shell_client, command)

        assert GROUND_TRUTH_MARKER not in text, (command, text)
        assert "outside-canary" not in text, (command, text)


async def test_nothing_outside_scratch_can_be_written(shell_client: Client, scenario_dir: Path) -> None:
    before = sorted(path.name for path in scenario_dir.iterdir())

    _, text = await shell(
        shell_client,
        "for d in . /data /usr /opt /; do touch $d/made 2>&1 | cut -d: -f3; done; touch /scratch/made && echo ok",
    )

    assert text.splitlines() == [" Read-only file system"] * 5 + ["ok"]
    assert sorted(path.name for path in scenario_dir.iterdir()) == before


async def test_scratch_files_last_between_calls(shell_client: Client) -> None:
    await shell(shell_client, "echo kept > /scratch/note")

    assert await shell(shell_client, "cat /scratch/note") == (False, "kept")


@pytest.fixture
def host_port() -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    yield listener.getsockname()[1]
    listener.close()


async def test_the_network_is_out_of_reach(shell_client: Client, host_port: int) -> None:
    script = (
        "python3 -c \"import socket\ntry:\n socket.create_connection(('127.0.0.1', "
        f"{host_port}), timeout=3); print('connected')\nexcept OSError as e: print('refused')\""
    )
    assert await shell(shell_client, script) == (False, "refused")


@pytest.mark.parametrize(
    ("command", "ending"),
    [
        ("while :; do :; done", "[stopped after 10 s: the command did not finish in time]"),
        ("yes | head -c 1000000000", "[stopped: the command printed more than 256 MiB]"),
        (":(){ :|:& };:", None),
    ],
    ids=["endless loop", "1 GB of output", "fork bomb"],
)
async def test_runaway_commands_are_stopped_and_the_server_keeps_serving(
    shell_client: Client, command: str, ending: str | None
) -> None:
    _, text = await shell(shell_client, command)

    assert len(text) <= 20_000
    if ending is not None:
        assert text.splitlines()[-1] == ending
    assert await shell(shell_client, "echo alive") == (False, "alive")


async def test_long_output_keeps_its_head_and_tail(shell_client: Client) -> None:
    _, text = await shell(shell_client, "seq 1 100000")
    lines = text.splitlines()

    assert lines[:2] == ["1", "2"]
    assert lines[-1] == "100000"
    assert any(line.startswith("[... ") and line.endswith(" bytes left out ...]") for line in lines)


async def test_every_shell_call_is_in_the_audit_log(snapshot: Snapshot, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    async with Client(create_server(snapshot, ServerSettings(profile="aa", audit_log=audit))) as client:
        await shell(client, "echo one")
        await shell(client, "false")

    calls: list[dict[str, Any]] = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [call.get("tool") for call in calls] == ["run_shell", "run_shell"]
