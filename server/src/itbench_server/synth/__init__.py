"""Synthetic ITBench-style incidents: a model of the OpenTelemetry Demo and a catalogue of faults.

``generate_scenario(fault, seed, out)`` writes one incident in the exact published ITBench-AA
layout (alerts, metrics, events, objects, logs, traces and ``ground_truth.yaml``), deterministic
per (fault, seed, size, variant). See docs/generator.md.
"""

from itbench_server.synth.formats import VARIANTS
from itbench_server.synth.generator import FAULTS, SIZES, describe_faults, generate_scenario, size_preset

__all__ = ["FAULTS", "SIZES", "VARIANTS", "describe_faults", "generate_scenario", "size_preset"]
