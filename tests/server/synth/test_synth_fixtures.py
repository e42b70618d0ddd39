"""The committed fixtures are exactly what fixtures/regenerate.py writes."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def load_regenerate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fixtures_regenerate", FIXTURES / "regenerate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def files_of(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_every_fault_has_a_fixture_with_a_ground_truth() -> None:
    from itbench_server.synth import FAULTS

    regenerate = load_regenerate()
    assert sorted(fault for _directory, fault, _seed, _variant in regenerate.FIXTURES) == sorted(FAULTS)
    for directory, _fault, _seed, _variant in regenerate.FIXTURES:
        if not (FIXTURES / directory).is_dir():
            pytest.skip(f"fixtures/{directory} is not generated")
        assert (FIXTURES / directory / "ground_truth.yaml").is_file()
        size = sum(len(data) for data in files_of(FIXTURES / directory).values())
        assert size <= 5_000_000


@pytest.mark.parametrize("directory", ["Scenario-synth-3", "Scenario-synth-5"])
def test_committed_fixture_is_reproduced_byte_for_byte(tmp_path: Path, directory: str) -> None:
    if not (FIXTURES / directory).is_dir():
        pytest.skip(f"fixtures/{directory} is not generated")
    regenerate = load_regenerate()
    (written,) = regenerate.regenerate(tmp_path, [directory])
    assert files_of(written) == files_of(FIXTURES / directory)
