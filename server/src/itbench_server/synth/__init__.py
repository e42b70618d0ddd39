"""Synthetic ITBench-style incidents: a model of the OpenTelemetry Demo and a catalogue of faults.

``generate_scenario(fault, seed, out)`` writes one incident in the exact published ITBench-AA
layout (alerts, metrics, events, objects, logs, traces and ``ground_truth.yaml``), deterministic
per (fault, seed, size, variant), with the background noise of a real cluster around the fault
(``scenario_noise``). See docs/generator.md.
"""

from itbench_server.synth.formats import VARIANTS
from itbench_server.synth.generator import (
    FAULTS,
    SIZES,
    describe_faults,
    generate_scenario,
    scenario_noise,
    size_preset,
)
from itbench_server.synth.noise import NOISE_CATALOGUE

__all__ = [
    "FAULTS",
    "NOISE_CATALOGUE",
    "SIZES",
    "VARIANTS",
    "describe_faults",
    "generate_scenario",
    "scenario_noise",
    "size_preset",
]
