"""The ``itbench-eval score`` subcommand: score one submission file against one ground truth.

    itbench-eval score --ground-truth GT.yaml --submission SUB.json [--matcher deterministic|llm]
                       [--ranked] [--duplicates count|once]

It prints one JSON object: the ITBench-AA score (``score``, ``tp``, ``fp``, ``fn``, ``matches``,
...), the matcher used, the judge's report when it was asked for, and IBM's metrics (``ibm``).
Bad input (an unreadable ground truth, a missing submission file, a judge without a URL or model)
is one line on stderr and exit status 2. A submission file that exists but is not a diagnosis
scores 0 with the reason in ``submission_error``: that is the submission's fault, not the
command's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from itbench_eval.errors import EvalError
from itbench_eval.groundtruth import GroundTruthError, load_ground_truth
from itbench_eval.judge import DEFAULT_API_KEY_ENV, JudgeSettings, LlmJudgeMatcher
from itbench_eval.matching import match_names
from itbench_eval.metrics import ibm_metrics_for_diagnosis
from itbench_eval.scoring import (
    DuplicatePolicy,
    Matcher,
    ScoreOptions,
    score_names,
    submission_error_message,
)
from itbench_server.diagnosis import Diagnosis, SubmissionFormatError, load_submission

__all__ = ["add_score_command", "run_score"]

EXIT_USAGE = 2


class _ScoreInputError(EvalError):
    """Input the command cannot score against; printed as one line."""


def add_score_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``score`` on the ``itbench-eval`` parser."""
    parser = subparsers.add_parser(
        "score",
        help="score one submission against one ground truth (JSON on stdout)",
        description="Score a diagnosis the way ITBench-AA does, plus IBM ITBench's metrics; prints JSON.",
    )
    parser.add_argument(
        "--ground-truth", required=True, type=Path, metavar="GT.yaml", help="a v1 ground-truth YAML file"
    )
    parser.add_argument(
        "--submission", required=True, type=Path, metavar="SUB.json", help="a submission JSON file"
    )
    parser.add_argument(
        "--matcher",
        choices=("deterministic", "llm"),
        default="deterministic",
        help="how names are matched to ground-truth groups (default: deterministic)",
    )
    parser.add_argument(
        "--ranked",
        action="store_true",
        help="ignore the names listed after the last root cause needed for full recall",
    )
    parser.add_argument(
        "--duplicates",
        choices=[policy.value for policy in DuplicatePolicy],
        default=DuplicatePolicy.COUNT.value,
        help="a second name in one root-cause set is a true positive ('count', default) or not ('once')",
    )
    judge = parser.add_argument_group("LLM judge (with --matcher llm)")
    judge.add_argument(
        "--judge-base-url",
        default=os.environ.get("ITBENCH_JUDGE_BASE_URL"),
        metavar="URL",
        help="OpenAI-compatible base URL, e.g. https://api.openai.com/v1 (default: $ITBENCH_JUDGE_BASE_URL)",
    )
    judge.add_argument(
        "--judge-model",
        default=os.environ.get("ITBENCH_JUDGE_MODEL"),
        metavar="MODEL",
        help="model name (default: $ITBENCH_JUDGE_MODEL)",
    )
    judge.add_argument(
        "--judge-api-key-env",
        default=DEFAULT_API_KEY_ENV,
        metavar="VAR",
        help=f"environment variable holding the API key (default {DEFAULT_API_KEY_ENV})",
    )
    parser.set_defaults(handler=run_score)


def _score(arguments: argparse.Namespace) -> dict[str, Any]:
    try:
        ground_truth = load_ground_truth(arguments.ground_truth)
    except GroundTruthError as error:
        raise _ScoreInputError(f"ground truth: {error}") from None
    submission_path: Path = arguments.submission
    if not submission_path.is_file():
        raise _ScoreInputError(f"submission: {submission_path}: no such file")

    judge: LlmJudgeMatcher | None = None
    matcher: Matcher = match_names
    if arguments.matcher == "llm":
        if not arguments.judge_base_url or not arguments.judge_model:
            raise _ScoreInputError("--matcher llm needs --judge-base-url and --judge-model")
        judge = LlmJudgeMatcher(
            JudgeSettings(
                base_url=arguments.judge_base_url,
                model=arguments.judge_model,
                api_key_env=arguments.judge_api_key_env,
            )
        )
        matcher = judge

    submission_error: str | None = None
    try:
        diagnosis = load_submission(submission_path)
    except SubmissionFormatError as error:
        submission_error = submission_error_message(error)
        diagnosis = Diagnosis()
    options = ScoreOptions(duplicates=DuplicatePolicy(arguments.duplicates), ranked=arguments.ranked)
    names = diagnosis.root_causes()
    result = score_names(ground_truth, names, options=options, matcher=matcher)
    if submission_error is not None:
        update = {"reason": "unreadable submission", "submission_error": submission_error}
        result = result.model_copy(update=update)
    output: dict[str, Any] = result.model_dump(mode="json")
    output["matcher"] = arguments.matcher
    if judge is not None:
        # The first judge call matched the scored names; any later ones served the IBM metrics.
        first = judge.outcomes[0] if judge.outcomes else None
        output["judge"] = first.model_dump(mode="json", exclude={"matches"}) if first else None
    output["ibm"] = ibm_metrics_for_diagnosis(ground_truth, diagnosis, matcher=matcher).model_dump(
        mode="json"
    )
    return output


def run_score(arguments: argparse.Namespace) -> int:
    """Handle ``itbench-eval score``; returns the exit status."""
    try:
        output = _score(arguments)
    except _ScoreInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if output["submission_error"] is not None:
        print(f"warning: the submission scores 0: {output['submission_error']}", file=sys.stderr)
    print(json.dumps(output, indent=2))
    return 0
