"""One tiny scenario per fault, generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from itbench_server.synth import FAULTS, generate_scenario

TINY_SEED = 7


@pytest.fixture(scope="session")
def tiny_scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """fault name -> a tiny default-variant scenario directory."""
    root = tmp_path_factory.mktemp("synth")
    return {fault: generate_scenario(fault, TINY_SEED, root / fault, size="tiny") for fault in FAULTS}


class _SmallScenarios:
    """Small scenarios (more traffic than tiny), generated on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[str, Path] = {}

    def __getitem__(self, fault: str) -> Path:
        if fault not in self.made:
            self.made[fault] = generate_scenario(fault, TINY_SEED, self.root / fault, size="small")
        return self.made[fault]


@pytest.fixture(scope="session")
def small_scenarios(tmp_path_factory: pytest.TempPathFactory) -> _SmallScenarios:
    """fault name -> a small default-variant scenario directory (for checks on request text)."""
    return _SmallScenarios(tmp_path_factory.mktemp("synth-small"))
