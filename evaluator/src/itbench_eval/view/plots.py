"""The view's plots, drawn by matplotlib as SVG (text kept as text, so it scales and wraps with
the page's font)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

__all__ = ["score_bars"]

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

plt.rcParams.update(
    {
        "svg.fonttype": "none",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "itbench-view",
    }
)


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def score_bars(
    labels: Sequence[str], scores: Sequence[float], intervals: Sequence[tuple[float, float]]
) -> str:
    """Horizontal bars of scores (fractions) with their 95% intervals, in percent."""
    height = 0.9 + 0.42 * max(1, len(labels))
    figure, axes = plt.subplots(figsize=(7.0, height))
    positions = list(range(len(labels)))[::-1]
    values = [100 * score for score in scores]
    low = [100 * (score - ci[0]) for score, ci in zip(scores, intervals, strict=True)]
    high = [100 * (ci[1] - score) for score, ci in zip(scores, intervals, strict=True)]
    axes.barh(positions, values, color="#4c72b0", height=0.6)
    axes.errorbar(values, positions, xerr=[low, high], fmt="none", ecolor="#222222", capsize=3, linewidth=1)
    axes.set_yticks(positions, labels=list(labels))
    axes.set_xlim(0, 100)
    axes.set_xlabel("score, % (bars: 95% interval)")
    axes.grid(axis="x", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    return _svg(figure)
