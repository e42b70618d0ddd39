"""``itbench-eval view``: a read-only local web app over one or more results directories.

The leaderboard, the task x agent x repeat matrix, one run's trajectory beside its answer key,
and two results directories side by side, read afresh whenever ``results.jsonl`` changes (so a
running evaluation can be watched). It listens on loopback only and serves nothing outside the
results directories it was given (see docs/evaluator.md).
"""

from itbench_eval.view.server import ViewError, create_app, serve

__all__ = ["ViewError", "create_app", "serve"]
