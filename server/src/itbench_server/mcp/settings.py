"""Settings of one MCP server instance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_OUTPUT_BUDGET", "ServerSettings", "default_concurrent_calls"]

DEFAULT_OUTPUT_BUDGET = 20_000


def default_concurrent_calls(cores: int | None) -> int:
    """Two tool calls at once per core, from 2 to 8.

    A query already uses every core DuckDB is given, so calls beyond a couple per core only
    contend: on 2 cores, 32 clients calling back to back had a p95 of 1.0 s with 8 calls at once
    and 0.89 s with 4, for the same throughput (docs/benchmarks.md). The rest wait their turn,
    in order.
    """
    return min(8, max(2, 2 * (cores or 1)))


class ServerSettings(BaseModel):
    """How a server built by ``create_server`` behaves; the CLI fills it from its flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: Literal["full", "aa"] = Field(
        default="full",
        description="the tools served: 'full' (the investigation tools) or 'aa' (ITBench-AA's "
        "protocol: run_shell over the files, and submit_diagnosis)",
    )
    output_budget: int = Field(
        default=DEFAULT_OUTPUT_BUDGET,
        ge=1_000,
        description="most characters any one tool result may hold (far below 25k tokens)",
    )
    call_timeout: float = Field(
        default=30.0,
        gt=0,
        description="seconds one tool call may run; also how long a call waits for a free slot when "
        "max_concurrent_calls are running, before it answers that the server is busy",
    )
    max_concurrent_calls: int = Field(
        default_factory=lambda: default_concurrent_calls(os.cpu_count()),
        ge=1,
        le=32,
        description="most tool calls run at once (default: two per core, from 2 to 8); sync tools each "
        "hold one of anyio's 40 worker threads",
    )
    sql_row_limit: int = Field(
        default=500, ge=1, le=100_000, description="most rows run_sql returns per page"
    )
    max_tool_calls: int | None = Field(
        default=None,
        ge=1,
        description="most tool calls the server answers (submit_diagnosis excepted); past them every "
        "call answers that the budget is spent. None: no budget",
    )
    submission_out: Path | None = None
    audit_log: Path | None = None
