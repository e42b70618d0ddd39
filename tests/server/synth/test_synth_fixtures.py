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


def test_the_fixtures_cover_the_original_eight_faults_each_with_a_ground_truth() -> None:
    regenerate = load_regenerate()
    faults = sorted(
        regenerate.fault_of(source) for _directory, source, _seed, _variant, _params in regenerate.FIXTURES
    )
    assert faults == sorted(
        ("resource-quota", "feature-flag", "network-partition", "bad-image", "bad-env", "hpa-misconfig",
         "node-selector", "valkey-oom")
    )  # fmt: skip
    for directory, _source, _seed, _variant, _params in regenerate.FIXTURES:
        if not (FIXTURES / directory).is_dir():
            pytest.skip(f"fixtures/{directory} is not generated")
        assert (FIXTURES / directory / "ground_truth.yaml").is_file()
        size = sum(len(data) for data in files_of(FIXTURES / directory).values())
        assert size <= 8_000_000


@pytest.mark.parametrize("directory", ["Scenario-synth-3", "Scenario-synth-5"])
def test_committed_fixture_is_reproduced_byte_for_byte(tmp_path: Path, directory: str) -> None:
    if not (FIXTURES / directory).is_dir():
        pytest.skip(f"fixtures/{directory} is not generated")
    regenerate = load_regenerate()
    (written,) = regenerate.regenerate(tmp_path, [directory])
    assert files_of(written) == files_of(FIXTURES / directory)
