"""Bounded tool output: every result fits the budget and says how to get the rest."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["clip_text", "page_lines", "truncation_marker"]


def truncation_marker(more: int, next_offset: int, unit: str = "lines") -> str:
    return f"[truncated: {more} more {unit}; call again with offset={next_offset}]"


def page_lines(lines: Sequence[str], *, offset: int, limit: int, budget: int, header: str = "") -> str:
    """Render ``lines[offset:offset+limit]`` under ``header`` within ``budget`` characters.

    When lines are left out (by ``limit`` or by the budget), the text ends with a marker that
    gives the count left and the offset to ask for next. A single line longer than the budget is
    cut, with a note, rather than dropped.
    """
    parts: list[str] = [header] if header else []
    used = len(header) + 1 if header else 0
    reserve = 120  # room for the truncation marker
    shown = 0
    for line in lines[offset : offset + limit]:
        if used + len(line) + 1 > budget - reserve:
            if shown == 0:
                room = max(budget - reserve - used - 40, 0)
                parts.append(line[:room] + f" …[line cut at {room} of {len(line)} chars]")
                shown = 1
            break
        parts.append(line)
        used += len(line) + 1
        shown += 1
    next_offset = offset + shown
    remaining = len(lines) - next_offset
    if remaining > 0:
        parts.append(truncation_marker(remaining, next_offset))
    return "\n".join(parts)


def clip_text(text: str, budget: int) -> str:
    """Cut free text to ``budget`` characters with a note saying how much was left out."""
    if len(text) <= budget:
        return text
    keep = max(budget - 100, 0)
    return text[:keep] + f"\n[truncated: {len(text) - keep} more characters; narrow the query]"
