"""Fixtures the evaluator's tests share: the asyncio backend, the first bundled task, the index cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_agents import shared_index_cache

from itbench_eval.tasks import Task, discover_tasks


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def task() -> Task:
    """The first bundled fixture."""
    return discover_tasks()[0]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index cache for the whole session, so each fixture's index is built once."""
    return shared_index_cache(tmp_path_factory.getbasetemp())
