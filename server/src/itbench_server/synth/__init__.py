"""Synthetic ITBench-style incidents: a model of the OpenTelemetry Demo and a catalogue of faults.

``generate_scenario(fault, seed, out)`` writes one incident in the exact published ITBench-AA
layout (alerts, metrics, events, objects, logs, traces and ``ground_truth.yaml``), deterministic
per (fault, seed, size, variant), with the background noise of a real cluster around the fault
(``scenario_noise``). ``generate_lookalike(n, seed, out)`` writes an incident shaped like public
scenario ``n``; ``generate_suite("aa", out)`` writes all of them. See docs/generator.md.
"""

from itbench_server.synth.formats import VARIANTS
from itbench_server.synth.generator import (
    FAULTS,
    SIZES,
    describe_faults,
    generate_lookalike,
    generate_scenario,
    generate_suite,
    scenario_noise,
    size_preset,
)
from itbench_server.synth.lookalike import LOOKALIKES, SUITES
from itbench_server.synth.noise import NOISE_CATALOGUE

__all__ = [
    "FAULTS",
    "LOOKALIKES",
    "NOISE_CATALOGUE",
    "SIZES",
    "SUITES",
    "VARIANTS",
    "describe_faults",
    "generate_lookalike",
    "generate_scenario",
    "generate_suite",
    "scenario_noise",
    "size_preset",
]
