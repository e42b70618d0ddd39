"""Layer 3: the recording served as a read-only, time-travelling Kubernetes API.

``KubeFacade(snapshot)`` serves the recorded cluster on ``127.0.0.1`` (HTTPS, bearer token) as
of any time in the recording: discovery, get and list with label and field selectors,
server-side Table output, ``pods/log``, ``metrics.k8s.io`` for ``kubectl top``, and events in
both API forms. Any Kubernetes client can read it; nothing can change it.

The names below are imported on first use, so that the command line does not load the HTTP
server and TLS stack unless it serves the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from itbench_server.kube.facade import KubeFacade
    from itbench_server.kube.store import ClusterRecording

__all__ = ["ClusterRecording", "KubeFacade"]


def __getattr__(name: str) -> Any:
    if name == "KubeFacade":
        from itbench_server.kube.facade import KubeFacade

        return KubeFacade
    if name == "ClusterRecording":
        from itbench_server.kube.store import ClusterRecording

        return ClusterRecording
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
