"""The price table: what a model's tokens cost, from a dated file shipped with the package.

The bundled table is ``prices.yaml`` beside this module; ``--prices FILE`` replaces it. Costs
are never fetched over the network, and a model the table does not list has no cost (unknown,
not zero).
"""

from __future__ import annotations

import datetime
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from itbench_eval.errors import EvalError

__all__ = ["BUNDLED_PRICES", "ModelPrice", "PriceTable", "PriceTableError", "TokenUsage", "load_price_table"]

BUNDLED_PRICES = "prices.yaml"
_NAME_BOUNDARY = "-:@._/"


class PriceTableError(EvalError, ValueError):
    """A price table cannot be read; the message names the file."""


class TokenUsage(BaseModel):
    """Tokens of one or more model calls, in the APIs' totals.

    ``input_tokens`` counts every prompt token, the ``cached_tokens`` read from a cache and the
    ``cache_write_tokens`` written to one included; ``output_tokens`` includes
    ``reasoning_tokens``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )


class ModelPrice(BaseModel):
    """Prices of one model per ``per_tokens`` tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0, description="default: the input price")
    cache_write: float | None = Field(default=None, ge=0, description="default: the input price")


class PriceTable(BaseModel):
    """Every priced model, and the date the prices were taken."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: datetime.date
    source: str = ""
    currency: str = "USD"
    per_tokens: int = Field(default=1_000_000, ge=1)
    models: dict[str, ModelPrice]

    def price_for(self, model: str) -> ModelPrice | None:
        """The price of ``model``: its exact name, else the longest listed name it starts with.

        A provider prefix (``openai/gpt-4o``) is dropped first.
        """
        for name in (model, model.rsplit("/", 1)[-1]):
            if name in self.models:
                return self.models[name]
            prefixes = [
                listed
                for listed in self.models
                if name.startswith(listed) and name[len(listed) : len(listed) + 1] in _NAME_BOUNDARY
            ]
            if prefixes:
                return self.models[max(prefixes, key=len)]
        return None

    def cost_usd(self, model: str, usage: TokenUsage) -> float | None:
        """What ``usage`` costs with ``model``'s prices; None when the model is not listed."""
        price = self.price_for(model)
        if price is None:
            return None
        cached_price = price.cached_input if price.cached_input is not None else price.input
        write_price = price.cache_write if price.cache_write is not None else price.input
        uncached = max(usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
        total = (
            uncached * price.input
            + usage.cached_tokens * cached_price
            + usage.cache_write_tokens * write_price
            + usage.output_tokens * price.output
        )
        return round(total / self.per_tokens, 8)


def load_price_table(path: Path | None = None) -> PriceTable:
    """The table in ``path``, or the bundled one.

    Raises:
        PriceTableError: the file cannot be read or is not a price table.
    """
    where = f"--prices {path}" if path is not None else f"bundled {BUNDLED_PRICES}"
    try:
        if path is None:
            text = resources.files("itbench_eval.agents").joinpath(BUNDLED_PRICES).read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as error:
        raise PriceTableError(f"{where}: cannot read: {error}") from None
    except yaml.YAMLError as error:
        raise PriceTableError(f"{where}: not YAML or JSON: {str(error).splitlines()[0]}") from None
    try:
        return PriceTable.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "(top)"
        raise PriceTableError(f"{where}: {location}: {first['msg']}") from None
