"""One API facade per test module over the hand-made recording of ``kube_recording``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kube_recording import Kubectl, build_cluster_index

from itbench_server.kube.facade import KubeFacade
from itbench_server.snapshot.snapshot import Snapshot


@pytest.fixture(scope="module")
def cluster_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snapshot]:
    with build_cluster_index(tmp_path_factory.mktemp("cluster")) as snapshot:
        yield snapshot


@pytest.fixture(scope="module")
def facade(cluster_snapshot: Snapshot) -> Iterator[KubeFacade]:
    with KubeFacade(cluster_snapshot) as running:
        yield running


@pytest.fixture(scope="module")
def kubectl(facade: KubeFacade, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(facade, tmp_path_factory.mktemp("kubectl"))
