"""Synthetic ITBench-style incidents: a model of the OpenTelemetry Demo and a catalogue of faults.

``generate_scenario(fault, seed, out)`` writes one incident in the exact published ITBench-AA
layout (alerts, metrics, events, objects, logs, traces and ``ground_truth.yaml``), deterministic
per (fault, seed, size, variant), with the background noise of a real cluster around the fault
(``scenario_noise``). ``generate_lookalike(n, seed, out)`` writes an incident shaped like public
scenario ``n``; ``generate_suite("aa", out)`` writes all of them. See docs/generator.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Where each public name lives. The generator is imported on first use, not with the package:
# ``itbench-server serve`` builds the ``synth`` subcommand's parser but never generates.
_HOMES = {
    "FAULTS": "generator",
    "LOOKALIKES": "lookalike",
    "NOISE_CATALOGUE": "noise",
    "SIZES": "sizes",
    "SUITES": "lookalike",
    "VARIANTS": "formats",
    "describe_faults": "generator",
    "generate_lookalike": "generator",
    "generate_scenario": "generator",
    "generate_suite": "generator",
    "scenario_noise": "generator",
    "size_preset": "generator",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
