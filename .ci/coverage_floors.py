"""Fail when the line coverage of either package falls under its floor.

Run after the test suite (the README's ``python3 -m pytest`` collects coverage into ``.coverage``,
see ``[tool.pytest.ini_options] addopts`` in pyproject.toml)::

    python3 .ci/coverage_floors.py [DATA_FILE]

It prints each package's line coverage and its floor. The floors sit a few points under the
coverage measured when they were set, so that a change which drops a package's tests shows up,
while the noise of a skipped optional test does not. Raise a floor when coverage has grown.
"""

from __future__ import annotations

import sys
from pathlib import Path

import coverage

FLOORS = {"itbench_server": 88.0, "itbench_eval": 87.0}
"""Percent of statements run, per package. Measured on 2026-12-01 (tests/server and tests/evaluator,
in-process lines only): itbench_server 91.8%, itbench_eval 91.0%."""


def package_of(path: str) -> str | None:
    parts = Path(path).parts
    return next((name for name in FLOORS if name in parts), None)


def line_coverage(data_file: str) -> dict[str, float]:
    """Per package: the percent of its statements that the run executed."""
    cov = coverage.Coverage(data_file=data_file)
    cov.load()
    data = cov.get_data()
    statements = dict.fromkeys(FLOORS, 0)
    executed = dict.fromkeys(FLOORS, 0)
    for path in data.measured_files():
        package = package_of(path)
        if package is None:
            continue
        _, lines, _, missing, _ = cov.analysis2(path)
        statements[package] += len(lines)
        executed[package] += len(lines) - len(missing)
    return {name: 100.0 * executed[name] / statements[name] if statements[name] else 0.0 for name in FLOORS}


def main(argv: list[str]) -> int:
    data_file = argv[0] if argv else ".coverage"
    if not Path(data_file).is_file():
        print(
            f"coverage floors: no coverage data at {data_file}; run python3 -m pytest first", file=sys.stderr
        )
        return 1
    failed = False
    for name, percent in line_coverage(data_file).items():
        ok = percent >= FLOORS[name]
        failed |= not ok
        print(
            f"{name}: {percent:.1f}% of lines (floor {FLOORS[name]:.1f}%){'' if ok else '  UNDER THE FLOOR'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
