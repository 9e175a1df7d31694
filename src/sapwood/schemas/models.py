"""The model registry on the wire: models, their immutable versions, and aliases."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from sapwood.schemas.base import WireModel
from sapwood.specs.base import friendly

# An alias is a DNS label that is not all digits: NAME@3 means version 3.
ALIAS_PATTERN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")  # fullmatch: no "\n"
# The same rules as one JSON Schema (ECMA-262) pattern, with no lookahead: a label that
# starts with a letter, or digits followed by a letter or '-' (with maxLength 63).
ALIAS_SCHEMA_PATTERN = (
    r"^(?:[a-z](?:[-a-z0-9]*[a-z0-9])?|[0-9]+(?:[a-z]|[-a-z][-a-z0-9]*[a-z0-9]))$"
)
LATEST = "latest"
MAX_VERSION = 2**31 - 1  # versions are INTEGER columns: 32 bits on PostgreSQL


def alias_problem(alias: str) -> str | None:
    """Why ``alias`` cannot name an alias, or None when it can."""
    if len(alias) > 63 or not ALIAS_PATTERN.fullmatch(alias):
        return (
            f"alias {alias!r} is invalid: use lowercase letters, digits and '-' "
            "(at most 63), starting and ending with a letter or digit"
        )
    if alias.isdigit():
        return f"alias {alias!r} is all digits, which would read as a version number"
    return None


def check_alias_text(alias: str) -> str:
    """``alias`` when it can name an alias; ValueError saying why otherwise."""
    problem = alias_problem(alias)
    if problem is not None:
        raise ValueError(problem)
    return alias


Alias = Annotated[
    str,
    StringConstraints(max_length=63, pattern=ALIAS_SCHEMA_PATTERN),
    friendly(check_alias_text),
]


def split_model_ref(ref: str) -> tuple[str, str]:
    """``NAME@REF`` → (NAME, REF); a bare ``NAME`` means its latest version."""
    name, sep, version = ref.partition("@")
    return name, (version if sep else LATEST)


class TensorInfo(WireModel):
    name: str
    dtype: str = Field(description="numpy dtype name (float32), or the ONNX type for non-tensors")
    shape: list[int | str | None] | None = Field(
        default=None, description="dims: a size, a symbolic name, or null when unknown"
    )


class Lineage(WireModel):
    """Where a version came from: the workload that pushed it, and a free note on the data."""

    kind: str | None = None
    team: str | None = None
    name: str | None = None
    uid: str | None = None
    user: str | None = Field(default=None, description="whose token pushed it")
    source: str | None = Field(default=None, description="free text: data set, commit, run")


class ModelVersion(WireModel):
    team: str
    name: str
    version: int
    sha256: str
    size: int = Field(description="bytes")
    inputs: list[TensorInfo] = Field(default_factory=list)
    outputs: list[TensorInfo] = Field(default_factory=list)
    opset: int | None = None
    features: list[str] | None = Field(
        default=None, description="feature names from the model's `features` metadata prop"
    )
    props: dict[str, str] = Field(default_factory=dict, description="graph metadata_props")
    framework: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    lineage: Lineage = Field(default_factory=Lineage)
    created_at: datetime
    aliases: list[str] = Field(default_factory=list)


class PushedModel(ModelVersion):
    created: bool = Field(description="false when these bytes were already a version")


class ModelSummary(WireModel):
    team: str
    name: str
    latest_version: int | None = None
    versions: int = 0
    aliases: dict[str, int] = Field(default_factory=dict)
    updated_at: datetime


class Model(WireModel):
    team: str
    name: str
    aliases: dict[str, int] = Field(default_factory=dict)
    versions: list[ModelVersion] = Field(default_factory=list, description="newest first")
    created_at: datetime
    updated_at: datetime


class AliasRequest(WireModel):
    version: int = Field(ge=1, le=MAX_VERSION)
