"""Text forms of snapshot values for each format variant, and a Go-compatible TSV writer.

The published datasets were exported by a Python/pandas exporter (``default``); IBM's current Go
recorder prints ClickHouse values with Go's ``%v`` (``go``); some tools emit JSON maps (``json``);
the recorder's own directory layout is ``raw``. The writer quotes fields exactly like Go's
``encoding/csv`` with a tab delimiter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Final

__all__ = ["VARIANTS", "Style", "TsvWriter", "needs_quotes", "quote"]

VARIANTS: Final = ("default", "go", "json", "raw")

_NS: Final = 1_000_000_000


def needs_quotes(field: str) -> bool:
    """Whether Go's ``encoding/csv`` (tab delimiter) wraps this field in double quotes."""
    if not field:
        return False
    if field == "\\.":
        return True
    if '"' in field or "\t" in field or "\n" in field or "\r" in field:
        return True
    return field[0].isspace()


def quote(field: str) -> str:
    """The field as Go's ``encoding/csv`` writes it with a tab delimiter."""
    if needs_quotes(field):
        return '"' + field.replace('"', '""') + '"'
    return field


class TsvWriter:
    """Buffered TSV output: a header row, then rows of already-formatted strings."""

    def __init__(self, stream: IO[str], header: Sequence[str]) -> None:
        self._stream = stream
        self._buffer: list[str] = []
        self._pending = 0
        self.rows = 0
        self.write_row(header)
        self.rows = 0

    def write_row(self, fields: Iterable[str]) -> None:
        self._buffer.append("\t".join([quote(f) for f in fields]))
        self._buffer.append("\n")
        self.rows += 1
        self._pending += 1
        if self._pending >= 2000:
            self.flush()

    def write_line(self, line: str) -> None:
        """Append a row the caller already joined and quoted (the fast path of large sizes)."""
        self._buffer.append(line)
        self.rows += 1
        self._pending += 1
        if self._pending >= 2000:
            self.flush()

    def flush(self) -> None:
        self._stream.write("".join(self._buffer))
        self._buffer.clear()
        self._pending = 0


def _go_float(value: float) -> str:
    """``fmt.Sprint(float64)``: shortest digits; %e form when the exponent is < -4 or >= 6."""
    if value == 0:
        return "0"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    number = Decimal(repr(float(value))).normalize()
    sign, digit_tuple, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(str(d) for d in digit_tuple)
    decimal_exponent = len(digits) + exponent - 1
    prefix = "-" if sign else ""
    if decimal_exponent < -4 or decimal_exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        exp_sign = "+" if decimal_exponent >= 0 else "-"
        return f"{prefix}{mantissa}e{exp_sign}{abs(decimal_exponent):02d}"
    return format(number, "f")


class Style:
    """How one variant prints timestamps, maps, enums, lists and object bodies."""

    def __init__(self, variant: str) -> None:
        self.variant = variant
        self.go = variant == "go"
        self._seconds: dict[int, str] = {}

    # --- timestamps -------------------------------------------------------------------------
    def _second(self, seconds: int) -> str:
        text = self._seconds.get(seconds)
        if text is None:
            text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
            self._seconds[seconds] = text
        return text

    def ts(self, ns: int) -> str:
        """A ClickHouse DateTime64(9) value."""
        seconds, fraction = divmod(ns, _NS)
        if self.go:
            if fraction:
                return f"{self._second(seconds)}.{fraction:09d}".rstrip("0") + " +0000 UTC"
            return f"{self._second(seconds)} +0000 UTC"
        return f"{self._second(seconds)}.{fraction:09d}"

    def ts_seconds(self, ns: int) -> str:
        """A ClickHouse DateTime value (the logs' ``TimestampTime``)."""
        text = self._second(ns // _NS)
        return text + " +0000 UTC" if self.go else text

    # --- maps and lists ---------------------------------------------------------------------
    def attrs(self, values: Mapping[str, str]) -> str:
        """A ClickHouse Map(String, String) value."""
        if self.go:
            return "map[" + " ".join(f"{k}:{values[k]}" for k in sorted(values)) + "]"
        if self.variant == "json":
            return json.dumps(dict(values), separators=(",", ":"), ensure_ascii=False)
        return repr(dict(values))

    def str_list(self, items: Sequence[str]) -> str:
        if self.go:
            return "[" + " ".join(items) + "]"
        if self.variant == "json":
            return json.dumps(list(items), separators=(",", ":"))
        return repr(list(items))

    def ts_list(self, items: Sequence[int]) -> str:
        return self.str_list([self.ts(ns) for ns in items])

    def map_list(self, items: Sequence[Mapping[str, str]]) -> str:
        if self.go:
            return "[" + " ".join(self.attrs(m) for m in items) + "]"
        if self.variant == "json":
            return json.dumps([dict(m) for m in items], separators=(",", ":"), ensure_ascii=False)
        return repr([dict(m) for m in items])

    # --- enums and numbers ------------------------------------------------------------------
    def span_kind(self, kind: str) -> str:
        return f"SPAN_KIND_{kind.upper()}" if self.go else kind

    def status_code(self, status: str) -> str:
        return f"STATUS_CODE_{status.upper()}" if self.go else status

    def number(self, value: float) -> str:
        if self.go:
            return _go_float(value)
        return repr(float(value))

    # --- JSON bodies --------------------------------------------------------------------------
    def object_body(self, obj: Mapping[str, object]) -> str:
        """A Kubernetes object as the ``Body`` of k8s_objects_raw.tsv."""
        text = json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        return json.dumps(text) if self.go else text

    def event_body(self, envelope: Mapping[str, object]) -> str:
        return json.dumps(envelope, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
