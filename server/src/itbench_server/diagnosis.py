"""The published diagnosis schema: what ``submit_diagnosis`` accepts and writes.

Two forms are accepted, and both are stored as one :class:`Diagnosis`:

* ITBench-AA's: ``{"contributing_factors": [{"name", "reasoning", "evidence"}]}``
* IBM ITBench's: ``{"entities": [{"name", "contributing_factor", ...}], "propagations": [...],
  "alerts_explained": [...]}``; its root causes are the entities with ``contributing_factor``.

An entity name is ``namespace/Kind/name``; cluster-scoped objects use the namespace ``cluster``.
The evaluator reads the submission file written by the server with :func:`load_submission`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from itbench_server.errors import ItbenchError

__all__ = [
    "ENTITY_NAME_HELP",
    "ENTITY_NAME_PATTERN",
    "AlertExplained",
    "ContributingFactor",
    "Diagnosis",
    "Entity",
    "Propagation",
    "SubmissionFormatError",
    "describe_validation_error",
    "invalid_entity_names",
    "load_submission",
    "parse_submission",
]

ENTITY_NAME_PATTERN = re.compile(r"^[^/\s]+/[A-Za-z][A-Za-z0-9]*/[^/\s]+$")
ENTITY_NAME_HELP = (
    "an entity name is 'namespace/Kind/name', for example 'otel-demo/Deployment/ad' or, for a "
    "cluster-scoped object, 'cluster/Node/worker-1'"
)


class ContributingFactor(BaseModel):
    """One root cause in ITBench-AA's form."""

    model_config = ConfigDict(extra="ignore")

    name: Annotated[str, Field(description="namespace/Kind/name of the root-cause object")]
    reasoning: Annotated[str, Field(description="why this object is a root cause")] = ""
    evidence: Annotated[str, Field(description="the alerts, events, logs, metrics that show it")] = ""


class Entity(BaseModel):
    """One entity in IBM ITBench's form."""

    model_config = ConfigDict(extra="ignore")

    name: str
    contributing_factor: bool = False
    reasoning: str = ""
    evidence: str = ""


class Propagation(BaseModel):
    """One hop of how the fault spread (IBM's form)."""

    model_config = ConfigDict(extra="ignore")

    source: str
    target: str
    condition: str = ""
    effect: str = ""


class AlertExplained(BaseModel):
    """Which alert the diagnosis explains (IBM's form)."""

    model_config = ConfigDict(extra="ignore")

    alert: str
    explanation: str = ""
    explained: bool = True


class Diagnosis(BaseModel):
    """A submitted diagnosis in either form; ``root_causes`` gives the scored names in order."""

    model_config = ConfigDict(extra="ignore")

    contributing_factors: list[ContributingFactor] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    propagations: list[Propagation] = Field(default_factory=list)
    alerts_explained: list[AlertExplained] = Field(default_factory=list)

    def root_causes(self) -> list[str]:
        """The submitted root-cause names, in submission order (AA form first, then IBM's)."""
        names = [factor.name for factor in self.contributing_factors]
        names += [entity.name for entity in self.entities if entity.contributing_factor]
        return names


def invalid_entity_names(diagnosis: Diagnosis) -> list[str]:
    """Names in ``diagnosis`` that are not of the form ``namespace/Kind/name``."""
    names = [factor.name for factor in diagnosis.contributing_factors]
    names += [entity.name for entity in diagnosis.entities]
    names += [p.source for p in diagnosis.propagations] + [p.target for p in diagnosis.propagations]
    return [name for name in names if not ENTITY_NAME_PATTERN.match(name)]


class SubmissionFormatError(ItbenchError, ValueError):
    """A submission file is not a diagnosis; the message says what is wrong."""


def describe_validation_error(error: ValidationError) -> str:
    """Pydantic's errors on one line: ``contributing_factors.0.name: Field required; ...``."""
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "submission"
        parts.append(f"{where}: {item['msg']}")
    more = len(error.errors()) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_submission(payload: Any) -> Diagnosis:
    """Validate a decoded JSON submission.

    Raises:
        SubmissionFormatError: ``payload`` is not an object of either accepted form.
    """
    if isinstance(payload, list):
        # A bare list of factors is a common slip; accept it as ITBench-AA's list.
        payload = {"contributing_factors": payload}
    if not isinstance(payload, dict):
        raise SubmissionFormatError(
            f"a submission must be a JSON object with 'contributing_factors' or 'entities', "
            f"not {type(payload).__name__}"
        )
    if not ({"contributing_factors", "entities"} & payload.keys()):
        raise SubmissionFormatError("a submission needs 'contributing_factors' or 'entities'")
    try:
        return Diagnosis.model_validate(payload)
    except ValidationError as error:
        raise SubmissionFormatError(
            f"the submission does not have the expected shape: {describe_validation_error(error)}"
        ) from None


def load_submission(path: Path) -> Diagnosis:
    """Read a submission file.

    Raises:
        SubmissionFormatError: the file is missing, not JSON, or not a diagnosis.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SubmissionFormatError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise SubmissionFormatError(f"{path}: not UTF-8 text") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise SubmissionFormatError(f"{path}: not JSON: {error}") from None
    return parse_submission(payload)
