"""Mutation testing of the security-sensitive modules with mutmut (see docs/security.md).

    python benchmarks/mutation.py [--max-children N] [--workspace DIR] [MODULE ...]

mutmut 3 expects the code under ``./src`` of the directory it runs in and the tests under
``./tests``; this repository keeps two distributions (``server/src``, ``evaluator/src``) and one
test tree. So the script builds a workspace (default ``benchmarks/out/mutation``): ``src/`` is a
copy of ``server/src/itbench_server``, ``tests/`` holds the targeted tests of the three modules with
``tests/support``, ``fixtures`` links to the repository's, and a ``pyproject.toml`` configures
mutmut and pytest (the repository's pytest settings without coverage). It then runs
``mutmut run`` there on the modules only (``only_mutate``), prints ``mutmut results`` and a
count per status, and ``mutmut show`` for each survivor. Survivors are read, one by one, in
docs/security.md ("Mutation testing").
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODULES = {
    "sql": "src/itbench_server/mcp/sql.py",
    "kubectl_args": "src/itbench_server/kube/kubectl_args.py",
    "sandbox": "src/itbench_server/sandbox/__init__.py",
}
"""The security-sensitive modules: what the SQL tool accepts, which kubectl commands pass, the sandbox."""

TESTS = [
    "tests/server/mcp/test_sql.py",
    "tests/server/kube/test_kubectl_args.py",
    "tests/server/sandbox/test_sandbox.py",
    "tests/server/mcp/test_hostile_arguments.py",
]
"""The tests aimed at those modules; mutmut runs, for each mutant, those of them that reach it."""

PYPROJECT = """\
[tool.mutmut]
source_paths = ["src"]
only_mutate = {only_mutate}
# The tests run inside mutants/; the scenario fixtures they open are found beside tests/.
also_copy = ["fixtures"]
pytest_add_cli_args_test_selection = {tests}
pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q"]
# Fork from a process that never imported pytest: DuckDB and the server's threads are not fork-safe.
process_isolation = "forkserver"
timeout_multiplier = 5.0

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-p anyio -p no:hypothesispytest -ra --strict-markers"
pythonpath = ["tests/support"]
filterwarnings = [
    "error",
    "ignore::DeprecationWarning:kubernetes.*",
    "ignore::pytest.PytestUnraisableExceptionWarning",
]
markers = ["slow: takes more than a few seconds (still part of the suite)"]
"""


def build_workspace(workspace: Path, modules: list[str]) -> None:
    if workspace.exists():
        shutil.rmtree(workspace)
    (workspace / "src").mkdir(parents=True)
    shutil.copytree(
        ROOT / "server/src/itbench_server",
        workspace / "src/itbench_server",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    conftests = {
        str(parent.relative_to(ROOT) / "conftest.py")
        for test in TESTS
        for parent in (ROOT / test).parents
        if parent.is_relative_to(ROOT / "tests") and (parent / "conftest.py").is_file()
    }
    for test in [*TESTS, *sorted(conftests), "tests/support"]:
        source = ROOT / test
        target = workspace / test
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    (workspace / "fixtures").symlink_to(ROOT / "fixtures")
    only = [MODULES[name] for name in modules]
    (workspace / "pyproject.toml").write_text(
        PYPROJECT.format(only_mutate=_toml_list(only), tests=_toml_list(TESTS)), encoding="utf-8"
    )


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def mutmut(workspace: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ)
    # The editable install puts server/src on sys.path; mutmut removes ./src only, so drop ours too.
    environment["PYTHONPATH"] = ""
    return subprocess.run(
        [sys.executable, "-m", "mutmut", *arguments],
        cwd=workspace,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Mutation testing of the security-sensitive modules (mutmut)."
    )
    parser.add_argument(
        "modules", nargs="*", metavar="MODULE", help=f"of {', '.join(MODULES)} (default: all)"
    )
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--workspace", type=Path, default=ROOT / "benchmarks/out/mutation")
    parser.add_argument("--keep", action="store_true", help="reuse the workspace and mutmut's results so far")
    args = parser.parse_args(argv)
    modules = args.modules or list(MODULES)
    if unknown := sorted(set(modules) - set(MODULES)):
        parser.error(f"unknown module {', '.join(unknown)}; expected {', '.join(MODULES)}")
    if not args.keep or not args.workspace.exists():
        build_workspace(args.workspace, modules)
    run = mutmut(args.workspace, "run", "--max-children", str(args.max_children))
    lines = [line for line in re.split(r"[\r\n]+", run.stdout + run.stderr) if line.strip()]
    print(
        "\n".join(line for line in lines if not re.match(r"^\S* *(Generating mutants|Running)", line))[-4000:]
    )
    results = mutmut(args.workspace, "results", "--all", "true")
    statuses = Counter(
        match.group(1) for match in re.finditer(r":\s*(\w[\w ]*)$", results.stdout, flags=re.MULTILINE)
    )
    print(results.stdout)
    print("mutants by status:", dict(sorted(statuses.items())))
    survivors = [
        line.split(":")[0].strip() for line in results.stdout.splitlines() if line.endswith(": survived")
    ]
    for name in survivors:
        print(mutmut(args.workspace, "show", name).stdout)
    return 0 if run.returncode == 0 else run.returncode


if __name__ == "__main__":
    sys.exit(main())
