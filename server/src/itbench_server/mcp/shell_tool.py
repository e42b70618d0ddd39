"""``run_shell``: the one investigation tool of the ``aa`` profile (ITBench-AA's own protocol).

A thin wrapper over :class:`~itbench_server.sandbox.shell.ScenarioShell`: it words the result
(stdout, then stderr and the exit status when there is something to say) and refuses to run at
all where no sandbox can be made.
"""

from __future__ import annotations

import atexit
from typing import Annotated, Any, Final

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from itbench_server.mcp.calls import tool_errors
from itbench_server.mcp.settings import ServerSettings
from itbench_server.sandbox.shell import (
    DRAIN_LIMIT,
    SCRATCH,
    ScenarioShell,
    ShellResult,
    scenario_path_inside,
)
from itbench_server.snapshot import Snapshot

__all__ = [
    "AA_INSTRUCTIONS",
    "MAX_SHELL_COMMAND_CHARS",
    "aa_instructions",
    "register_shell_tool",
    "shell_reply",
]

MAX_SHELL_COMMAND_CHARS: Final = 16_384

SHELL = ToolAnnotations(
    title="Run a shell command over the incident's files",
    read_only_hint=True,  # it can write only its own scratch directory
    destructive_hint=False,
    idempotent_hint=False,
    open_world_hint=False,
)

AA_INSTRUCTIONS = """\
This server holds one recorded Kubernetes incident as files, and gives you a bash shell over \
them. Nothing is live and nothing can be changed.

The files are in {data_dir} (read-only; your working directory). They are what the cluster's \
observability stack recorded over a window of about 15-30 minutes:
- alerts/*.json: the Prometheus alerts that were firing, with labels and start times;
- k8s_events*.tsv: Kubernetes events (reason, message, involved object, counts, times);
- k8s_objects*.tsv: listings of the cluster's objects (one JSON body per row, re-listed every few minutes);
- otel_logs*.tsv: container logs; otel_traces*.tsv: spans (service, operation, status, duration, parent);
- metrics/pod_*.tsv and metrics/service_*.tsv: metric samples per pod and per service.
The TSV files can be large: read them with Python 3 and pandas (pandas.read_csv(path, sep='\\t')), \
or grep, awk, head and wc. {scratch} is yours to write intermediate files; there is no network.

Find the root causes of the incident: the minimal set of independent causes, not their \
symptoms; a cause that is explained by another is not a root cause. Name every entity \
namespace/Kind/name, e.g. otel-demo/Deployment/ad or otel-demo/Pod/ad-5d9f7c6b8-x2x9q; \
cluster-scoped objects use the namespace 'cluster', e.g. cluster/Node/worker-1. When you are \
done, call submit_diagnosis once with the root causes, each with its reasoning and evidence."""


def shell_reply(result: ShellResult, timeout: float) -> str:
    """The tool's text: stdout, then stderr and the exit status when they say something."""
    stdout, stderr, exit_status = result.stdout, result.stderr, result.exit_status
    parts = [stdout.rstrip("\n")] if stdout.strip() else []
    if stderr.strip():
        parts.append(f"[stderr]\n{stderr.rstrip()}")
    if result.timed_out:
        parts.append(f"[stopped after {timeout:g} s: the command did not finish in time]")
    elif result.output_stopped:
        parts.append(f"[stopped: the command printed more than {DRAIN_LIMIT >> 20} MiB]")
    elif exit_status != 0:
        parts.append(f"[exit status {exit_status}]")
    return "\n".join(parts) or "(no output)"


def aa_instructions(snapshot: Snapshot) -> str:
    """The server instructions of the ``aa`` profile, naming where the files are."""
    return AA_INSTRUCTIONS.format(data_dir=scenario_path_inside(snapshot.scenario_dir), scratch=SCRATCH)


def register_shell_tool(server: MCPServer[Any], snapshot: Snapshot, settings: ServerSettings) -> None:
    """Add ``run_shell`` over the scenario's files to ``server``."""
    shell = ScenarioShell(
        snapshot.scenario_dir, timeout=settings.call_timeout, output_budget=settings.output_budget
    )
    atexit.register(shell.close)

    @server.tool(annotations=SHELL, structured_output=False)
    @tool_errors
    def run_shell(
        command: Annotated[
            str,
            Field(
                min_length=1,
                max_length=MAX_SHELL_COMMAND_CHARS,
                description="a bash command line, e.g. 'ls -la', 'grep -c ERROR otel_logs_raw.tsv', "
                "or a python3 -c / heredoc script using pandas",
            ),
        ],
    ) -> str:
        """Run a bash command over the incident's files (read-only, your working directory).

        Python 3 with pandas and numpy, and the usual Unix tools (grep, awk, sed, head, sort, wc,
        jq where installed). Each call starts a fresh shell in the data directory; files you
        write in /scratch stay for later calls. No network. Long output keeps its beginning and
        end.
        """
        result = shell.run(command)
        return shell_reply(result, shell.timeout)
