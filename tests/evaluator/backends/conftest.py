"""A real Ray cluster on loopback: a head node and a second worker node, one CPU each, torn down after."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parents[2] / "support"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ray(*args: str, env: dict[str, str]) -> None:
    ray = Path(sys.executable).with_name("ray")
    command = [str(ray)] if ray.is_file() else [sys.executable, "-m", "ray.scripts.scripts"]
    subprocess.run([*command, *args], check=True, env=env, capture_output=True, timeout=180)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """The address of a two-node Ray cluster on 127.0.0.1 (workers see tests/support)."""
    pytest.importorskip("ray")
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths have a length limit
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")])),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    env.pop("RAY_ADDRESS", None)
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
    try:
        _ray(
            "start", "--head", "--port", str(port), "--temp-dir", temp_dir, "--include-dashboard", "false",
            *common, env=env,
        )  # fmt: skip
        _ray("start", "--address", address, *common, env=env)
        yield address
    finally:
        subprocess.run(
            [str(Path(sys.executable).with_name("ray")), "stop", "--force"],
            env=env,
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(temp_dir, ignore_errors=True)
