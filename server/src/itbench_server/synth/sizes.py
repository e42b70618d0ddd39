"""How much telemetry an incident holds: the named sizes (kept apart from the generator, which
imports much more, so that a command line can list them cheaply)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from itbench_server.synth.cluster import MINUTE, SECOND

__all__ = ["SIZES", "SizePreset"]


@dataclass(frozen=True)
class SizePreset:
    """How much telemetry to write: traces per minute and the metric sampling step."""

    traces_per_minute: float
    metric_step: int  # ns
    log_share: float  # share of ordinary server spans that log a line
    access_log_share: float
    listing_every: int = 5 * MINUTE  # ns between two listings of every object
    background_every: int = MINUTE  # ns between two rounds of infrastructure log lines
    replay_events: bool = True  # start the event stream with the events of the hour before the window


SIZES: Final[dict[str, SizePreset]] = {
    "tiny": SizePreset(
        0.5,
        600 * SECOND,
        0.3,
        0.3,
        listing_every=10 * MINUTE,
        background_every=5 * MINUTE,
        replay_events=False,
    ),
    "small": SizePreset(4, 60 * SECOND, 0.5, 0.5),
    "large": SizePreset(6100, 30 * SECOND, 0.8, 1.0),  # about 1 GB, like a real recording
}
