"""The hand-made incident index (see ``incident_index``), built once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from incident_index import build_index, incident_rows

from itbench_server.snapshot.snapshot import Snapshot


@pytest.fixture(scope="session")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snapshot]:
    snapshot = build_index(tmp_path_factory.mktemp("incident"), incident_rows())
    yield snapshot
    snapshot.close()
