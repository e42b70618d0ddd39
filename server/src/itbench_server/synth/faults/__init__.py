"""The fault catalogue: what each fault changes in the cluster, how it disrupts traffic, and the
answer key it leaves.

One module per family: ``chaos`` (Chaos Mesh experiments), ``flags`` (the demo's feature flags),
``workload`` (a workload's spec), ``config`` (the cluster and the configuration around the
workloads), ``resources`` (quotas, autoscalers, limits), ``mesh`` (Istio's, on BookInfo),
``storage`` (volume claims); ``base`` holds the ``Fault`` protocol and
the parts of the answer key, ``lifecycle`` the pod lifecycles faults give their pods.
"""

from __future__ import annotations

from itbench_server.synth.faults.base import (
    Fault,
    FaultSet,
    Group,
    Incident,
    LogLine,
    Propagation,
    RootCause,
    chain,
    workload_alias,
    workload_groups,
)
from itbench_server.synth.faults.chaos import CHAOS_FAULTS
from itbench_server.synth.faults.config import CONFIG_FAULTS
from itbench_server.synth.faults.flags import FeatureFlagFault
from itbench_server.synth.faults.mesh import MESH_FAULTS
from itbench_server.synth.faults.resources import RESOURCE_FAULTS
from itbench_server.synth.faults.storage import STORAGE_FAULTS
from itbench_server.synth.faults.workload import WORKLOAD_FAULTS

FAULT_TYPES: tuple[type[Fault], ...] = (
    FeatureFlagFault,
    *CHAOS_FAULTS,
    *WORKLOAD_FAULTS,
    *CONFIG_FAULTS,
    *RESOURCE_FAULTS,
    *MESH_FAULTS,
    *STORAGE_FAULTS,
)

__all__ = [
    "FAULT_TYPES",
    "Fault",
    "FaultSet",
    "Group",
    "Incident",
    "LogLine",
    "Propagation",
    "RootCause",
    "chain",
    "workload_alias",
    "workload_groups",
]
