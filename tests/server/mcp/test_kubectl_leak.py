"""The leak suite: no way of naming a file through ``kubectl`` or ``run_sql`` reaches its content.

Each attack names one target file (the answer key, a canary outside the scenario, the server's
environment, a symlink planted in the scenario) in one way kubectl or DuckDB could read it; every
reply, refusal or not, must be free of the targets' content. The attacks run against the real
tools over MCP, and, for kubectl, once more with the allowlist bypassed, so that the sandbox alone
is shown to hold.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from mcp import Client
from mcp_scenario import GROUND_TRUTH_MARKER, text_of

from itbench_server.kube.kubectl import KubectlRunner
from itbench_server.kube.kubectl_args import KubectlCommand
from itbench_server.sandbox import sandbox_status
from itbench_server.snapshot import Snapshot

pytestmark = pytest.mark.anyio

OUTSIDE_MARKER = "outside-canary-93b1d7-never-readable"
ENVIRONMENT_MARKER = "environment-canary-4410ae-never-readable"

needs_bubblewrap = pytest.mark.skipif(
    not sandbox_status().confined, reason=f"no sandbox here: {sandbox_status().reason}"
)


@pytest.fixture(scope="module")
def targets(scenario_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    """The files an attack tries to read; the symlinks are planted inside the scenario."""
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text(f"token: {OUTSIDE_MARKER}\n")
    planted = [scenario_dir / "planted-link.yaml", scenario_dir / "planted-outside.txt"]
    planted[0].symlink_to(scenario_dir / "ground_truth.yaml")
    planted[1].symlink_to(outside)
    os.environ["ITBENCH_TEST_LEAK_CANARY"] = ENVIRONMENT_MARKER
    yield [
        scenario_dir / "ground_truth.yaml",
        outside,
        *planted,
        Path("/proc/self/environ"),
        Path(f"/proc/{os.getpid()}/environ"),
        Path("/proc/1/root") / str(scenario_dir / "ground_truth.yaml").lstrip("/"),
    ]
    del os.environ["ITBENCH_TEST_LEAK_CANARY"]
    for link in planted:
        link.unlink()


def kubectl_attacks(target: Path) -> list[str]:
    """Every way of asking kubectl to read ``target`` that its flags and formats offer."""
    folder = target.parent
    return [
        f"get ns -o go-template-file={target}",
        f"get ns -o templatefile={target}",
        f"get ns -o jsonpath-file={target}",
        f"get ns -o custom-columns-file={target}",
        f"get ns -ogo-template-file={target}",
        f"get ns -o=templatefile={target}",
        f"get ns --output templatefile={target}",
        f"get ns --output=jsonpath-file={target}",
        f"get ns -o templatefile --template={target}",
        f"get ns --template={target} -o go-template-file",
        f"get -f {target}",
        f"get --filename={target}",
        f"get -Rf {folder}",
        f"describe -f {target}",
        f"get -k {folder}",
        f"--kubeconfig={target} get pods",
        f"get pods --kubeconfig {target}",
        f"get pods --cache-dir={folder}",
        f"get pods --kuberc={target}",
        f"get pods --certificate-authority={target}",
        f"get pods --client-key={target} --client-certificate={target}",
        f"get pods --token={target}",
        f"get pods --profile=cpu --profile-output={target}",
        f"get pods -v=9 --vmodule={target}",
        f"get pods --raw={target}",
        f"get --raw /api/v1/namespaces --server=file://{target}",
        "get pods --proxy-url=http://127.0.0.1:1",
        f"apply -f {target}",
        f"create -f {target}",
        f"diff -f {target}",
        f"kustomize {folder}",
        "config view --raw",
        f"plugin list --name-only {folder}",
        f"cp otel-demo/ad:{target} /tmp/x",
        f"logs ad-5d9f7c6b8-x2x9q -n otel-demo -- cat {target}",
        f"get pods -- {target}",
    ]


async def test_no_kubectl_command_reads_a_file_through_any_flag_or_format(
    client: Client, targets: list[Path]
) -> None:
    secrets = (GROUND_TRUTH_MARKER, OUTSIDE_MARKER, ENVIRONMENT_MARKER)
    for target in targets:
        for command in kubectl_attacks(target):
            result = await client.call_tool("kubectl", {"command": command})
            text = text_of(result)

            assert result.is_error, (command, text)
            assert not any(secret in text for secret in secrets), (command, text)


async def test_sql_cannot_read_a_file_by_any_function(client: Client, targets: list[Path]) -> None:
    secrets = (GROUND_TRUTH_MARKER, OUTSIDE_MARKER, ENVIRONMENT_MARKER)
    for target in targets:
        for sql in (
            f"SELECT * FROM read_text('{target}')",
            f"SELECT * FROM read_blob('{target}')",
            f"SELECT * FROM read_csv('{target}', header=false, all_varchar=true)",
            f"SELECT * FROM read_json_auto('{target}')",
            f"SELECT * FROM glob('{target.parent}/*')",
            f"SELECT * FROM '{target}'",
            f"ATTACH '{target}' AS leaked",
            f"COPY leaked FROM '{target}'",
            "SET enable_external_access = true",
        ):
            result = await client.call_tool("run_sql", {"sql": sql})
            text = text_of(result)

            assert result.is_error, (sql, text)
            assert not any(secret in text for secret in secrets), (sql, text)


@needs_bubblewrap
def test_with_the_allowlist_bypassed_the_sandbox_still_hides_every_target(
    snapshot: Snapshot, targets: list[Path]
) -> None:
    # A hole in the allowlist is simulated by handing kubectl pre-"checked" arguments.
    runner = KubectlRunner(snapshot, timeout=30)
    moment: datetime = snapshot.window.end
    try:
        for target in targets:
            for args in (
                ("get", "ns", "-o", f"go-template-file={target}"),
                ("get", "-f", str(target)),
                ("get", "ns", f"--kubeconfig={target}"),
            ):
                try:
                    text = runner.run(KubectlCommand(args, "get"), moment).text
                except Exception as error:  # the refusal is the point; its text is checked below
                    text = str(error)

                assert GROUND_TRUTH_MARKER not in text, (args, text)
                assert OUTSIDE_MARKER not in text, (args, text)
                assert ENVIRONMENT_MARKER not in text, (args, text)
                if not target.is_relative_to("/proc"):  # the sandbox has a /proc, of its own PIDs
                    assert "no such file or directory" in text or "does not exist" in text, (args, text)
    finally:
        runner.close()
