"""The object envelope (apiVersion, kind, metadata, spec) and parsing of user documents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from sapwood.specs.base import API_VERSION, Metadata, SpecModel
from sapwood.specs.feeds import FeedSpec
from sapwood.specs.suggest import did_you_mean
from sapwood.specs.workloads import JobSpec, ServiceSpec, WorkspaceSpec


class _Envelope(SpecModel):
    api_version: Literal["sapwood/v1"] = Field(alias="apiVersion")
    metadata: Metadata
    # Written by controllers only: accepted on apply so exported objects re-apply, ignored.
    status: dict[str, Any] | None = None


class Workspace(_Envelope):
    kind: Literal["Workspace"]
    spec: WorkspaceSpec


class Job(_Envelope):
    kind: Literal["Job"]
    spec: JobSpec


class Service(_Envelope):
    kind: Literal["Service"]
    spec: ServiceSpec


class Feed(_Envelope):
    kind: Literal["Feed"]
    spec: FeedSpec


AnyObject = Workspace | Job | Service | Feed
KINDS: dict[str, type[AnyObject]] = {
    "Workspace": Workspace,
    "Job": Job,
    "Service": Service,
    "Feed": Feed,
}
PLURALS = {"workspaces": "Workspace", "jobs": "Job", "services": "Service", "feeds": "Feed"}
_ALIASES = {
    **{k.lower(): k for k in KINDS},
    **PLURALS,
    "ws": "Workspace",
    "svc": "Service",
}


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with a document: where (``spec.resources.cpu``) and why."""

    path: str
    message: str


class SpecError(ValueError):
    """A document that is not a valid object; ``errors`` names every bad field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(
            "; ".join(f"{e.path}: {e.message}" if e.path else e.message for e in errors)
        )


def kind_of(word: str) -> str:
    """The canonical kind for ``job``, ``jobs``, ``Job`` or ``svc``; ValueError otherwise."""
    kind = _ALIASES.get(word.lower())
    if kind is None:
        allowed = ", ".join(sorted(PLURALS))
        hint = did_you_mean(word, _ALIASES, ignore_case=True)
        raise ValueError(f"unknown kind {word!r}: expected one of {allowed}{hint}")
    return kind


def kinds_help() -> str:
    """Every kind a command takes, for --help: ``workspaces (ws), jobs, services (svc), feeds``."""
    short = {kind: word for word, kind in _ALIASES.items() if len(word) < len(kind)}
    words = [f"{p} ({short[k]})" if k in short else p for p, k in PLURALS.items()]
    return ", ".join(words) + "; singular works too"


def plural_of(kind: str) -> str:
    return kind.lower() + "s"


def parse_object(document: object) -> AnyObject:
    """Validate one document into its kind's model, or raise SpecError naming each field."""
    if not isinstance(document, Mapping):
        raise SpecError([FieldError("", f"expected a mapping, got {type(document).__name__}")])
    api_version = document.get("apiVersion")
    if api_version != API_VERSION:
        message = f"must be {API_VERSION!r}" + (f", got {api_version!r}" if api_version else "")
        raise SpecError([FieldError("apiVersion", message)])
    kind = document.get("kind")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        allowed = ", ".join(KINDS)
        hint = did_you_mean(kind, KINDS, ignore_case=True) if isinstance(kind, str) else ""
        message = f"unknown kind {kind!r}: expected one of {allowed}{hint}"
        raise SpecError([FieldError("kind", message)])
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise SpecError(field_errors(exc)) from None


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors as dotted paths with plain messages."""
    out: list[FieldError] = []
    for error in exc.errors(include_url=False):
        path = _dotted(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "literal_error":
            message = f"{message}, got {error.get('input')!r}"
        if out and out[-1].path == path:
            # the branches of a union fail together: one line per field reads better
            out[-1] = FieldError(path, f"{out[-1].message}, or {message[0].lower()}{message[1:]}")
        else:
            out.append(FieldError(path, message))
    return out


def _dotted(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "[" in part or "(" in part:
            # pydantic names validators in loc (e.g. "function-after[...]"); users never
            # wrote those, and no valid field or key contains brackets
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def spec_dict(obj: BaseModel) -> dict[str, Any]:
    """The canonical JSON form of a spec: aliases, defaults filled, quantities normalised."""
    return obj.model_dump(mode="json", by_alias=True)
