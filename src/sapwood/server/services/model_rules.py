"""The model registry's pure rules: push options, who may push, lineage, which Services an
alias move rolls, and how a stored version reads on the wire."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sapwood.schemas.models import (
    Lineage,
    ModelVersion,
    TensorInfo,
    alias_problem,
)
from sapwood.server.registry.resolve import aliases_of, services_naming_alias
from sapwood.server.services.access import Caller, require_read, require_write
from sapwood.server.services.errors import Detail, ForbiddenError, InvalidError
from sapwood.server.store.tables import ModelVersionRow
from sapwood.specs.base import check_name

MAX_SOURCE = 1000
ALIAS_MOVED = "ModelAliasMoved"
"""The event reason on each Service an alias move rolls."""


@dataclass(frozen=True)
class PushOptions:
    alias: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    framework: str | None = None
    source: str | None = None


def parse_metrics(items: Sequence[str]) -> dict[str, float]:
    """``["accuracy=0.97", …]`` → {"accuracy": 0.97}; InvalidError naming the bad item."""
    metrics: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            number = float(value)
        except ValueError:
            raise InvalidError(
                f"metric {item!r} is not NAME=NUMBER",
                details=[Detail("metric", f"{item!r}: expected NAME=NUMBER, e.g. accuracy=0.97")],
            ) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidError(
                f"metric {key.strip()!r} must be a finite number",
                details=[Detail("metric", f"{item!r} is not finite")],
            )
        metrics[key.strip()] = number
    return metrics


def check_options(options: PushOptions) -> None:
    if options.alias is not None:
        check_alias(options.alias)
    if options.framework is not None and not 0 < len(options.framework) <= 63:
        raise InvalidError(
            "framework must be 1 to 63 characters",
            details=[Detail("framework", "1 to 63 characters, e.g. sklearn")],
        )
    if options.source is not None and len(options.source) > MAX_SOURCE:
        raise InvalidError(
            f"source is longer than {MAX_SOURCE} characters",
            details=[Detail("source", f"at most {MAX_SOURCE} characters")],
        )


def check_alias(alias: str) -> None:
    problem = alias_problem(alias)
    if problem is not None:
        raise InvalidError(problem, details=[Detail("alias", problem)])


def check_model_name(name: str) -> None:
    try:
        check_name(name)
    except ValueError as exc:
        raise InvalidError(
            f"invalid model name {name!r}", details=[Detail("name", str(exc))]
        ) from None


def require_push(caller: Caller, team: str, name: str) -> None:
    """Members and admins push; so does a Job's own token, into its own team."""
    what = f"model/{name}"
    if caller.scope is not None:
        require_read(caller, team, what)
        if caller.scope.kind != "Job" or caller.scope.team != team:
            raise ForbiddenError(
                f"the workload token of {caller.scope} reads models; only a Job's token "
                f"pushes them, into its own team"
            )
        return
    require_write(caller, team, what)


def lineage_for(caller: Caller, *, uid: str | None, source: str | None) -> Lineage:
    if caller.scope is not None:
        scope = caller.scope
        return Lineage(
            kind=scope.kind,
            team=scope.team,
            name=scope.name,
            uid=uid,
            user=caller.user,
            source=source,
        )
    return Lineage(user=caller.user, source=source)


# alias moves


@dataclass(frozen=True)
class AliasMove:
    """``name@alias`` now points at ``version`` (``previous`` None: the alias is new), and
    the Services that name it, which roll to the new version."""

    name: str
    alias: str
    version: int
    previous: int | None
    services: list[str]

    def message(self, generation: int) -> str:
        was = "a new alias" if self.previous is None else f"was {self.previous}"
        return (
            f"{self.name}@{self.alias} now points at version {self.version} ({was}): "
            f"rolling out generation {generation}"
        )


def alias_move(
    name: str,
    alias: str,
    services: Mapping[str, Mapping[str, object]],
    *,
    version: int,
    previous: int | None,
) -> AliasMove | None:
    """What pointing ``name@alias`` at ``version`` rolls; None when it already points there.

    ``services`` maps each Service's name to its spec. A Service rolls when its
    ``spec.model`` or ``spec.canary.model`` is ``name@alias``: its replicas resolved the
    alias when they started, so they serve the old version until replaced. Services that
    name a version number, another alias or another model are left alone.
    """
    if previous == version:
        return None
    users = services_naming_alias(name, alias, services)
    return AliasMove(name=name, alias=alias, version=version, previous=previous, services=users)


def users_text(services: Sequence[str], feeds: Sequence[str]) -> str:
    """``service(s) web, api and feed(s) traffic``: who uses a model version or alias."""
    parts = [f"service(s) {', '.join(services)}"] if services else []
    parts += [f"feed(s) {', '.join(feeds)}"] if feeds else []
    return " and ".join(parts)


def users_kinds(services: Sequence[str], feeds: Sequence[str]) -> str:
    return " and ".join(w for w, names in (("services", services), ("feeds", feeds)) if names)


# conversions


def row_to_version(row: ModelVersionRow, aliases: dict[str, int]) -> ModelVersion:
    return ModelVersion(
        team=row.team,
        name=row.name,
        version=row.version,
        sha256=row.sha256,
        size=row.size,
        inputs=[TensorInfo.model_validate(t) for t in row.inputs],
        outputs=[TensorInfo.model_validate(t) for t in row.outputs],
        opset=row.opset,
        features=row.features,
        props=row.props,
        framework=row.framework,
        metrics=row.metrics,
        lineage=Lineage.model_validate(row.lineage),
        created_at=row.created_at,
        aliases=aliases_of(row.version, aliases),
    )


def tensors_of(items: list[TensorInfo]) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json") for t in items]
