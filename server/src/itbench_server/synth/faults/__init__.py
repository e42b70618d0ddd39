"""The fault catalogue: what each fault changes in the cluster, how it disrupts traffic, and the
answer key it leaves.

One module per family: ``chaos`` (Chaos Mesh experiments), ``flags`` (the demo's feature flags),
``workload`` (a workload's spec), ``resources`` (quotas and autoscalers); ``base`` holds the
``Fault`` protocol and the parts of the answer key.
"""

from __future__ import annotations

from itbench_server.synth.faults.base import (
    Fault,
    Group,
    Incident,
    LogLine,
    Propagation,
    RootCause,
    chain,
    workload_alias,
    workload_groups,
)
from itbench_server.synth.faults.chaos import NetworkPartitionFault
from itbench_server.synth.faults.flags import FeatureFlagFault
from itbench_server.synth.faults.resources import HpaFault, ResourceQuotaFault
from itbench_server.synth.faults.workload import BadEnvFault, BadImageFault, NodeSelectorFault, ValkeyOomFault

FAULT_TYPES: tuple[type[Fault], ...] = (
    ResourceQuotaFault,
    FeatureFlagFault,
    NetworkPartitionFault,
    BadImageFault,
    BadEnvFault,
    HpaFault,
    NodeSelectorFault,
    ValkeyOomFault,
)

__all__ = [
    "FAULT_TYPES",
    "BadEnvFault",
    "BadImageFault",
    "Fault",
    "FeatureFlagFault",
    "Group",
    "HpaFault",
    "Incident",
    "LogLine",
    "NetworkPartitionFault",
    "NodeSelectorFault",
    "Propagation",
    "ResourceQuotaFault",
    "RootCause",
    "ValkeyOomFault",
    "chain",
    "workload_alias",
    "workload_groups",
]
