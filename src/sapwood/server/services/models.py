"""The model registry: push versions, read them, move aliases, delete what no Service uses.

Versions are immutable, numbered 1, 2, 3… per (team, model) and never renumbered, and
addressed by the sha256 of their bytes: pushing bytes a model already has returns that
version. Who may push: members and admins of the team, and a Job's own workload token
(recorded as the version's lineage). Workload tokens read their team's models. Moving an
alias rolls the Services that name it (a new generation each, in the same transaction).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sapwood.schemas.models import (
    Lineage,
    Model,
    ModelSummary,
    ModelVersion,
    PushedModel,
    split_model_ref,
)
from sapwood.server.registry.artifacts import ArtifactStore
from sapwood.server.registry.loader import ModelLoadError, inspect_file
from sapwood.server.registry.onnx_metadata import OnnxMetadata
from sapwood.server.registry.resolve import (
    aliases_of,
    resolve,
    services_naming_alias,
    services_using,
)
from sapwood.server.registry.uploads import Spooled, discard, spool
from sapwood.server.services.access import Caller, require_read, require_write
from sapwood.server.services.errors import (
    ConflictError,
    Detail,
    InvalidError,
    NotFoundError,
)
from sapwood.server.services.model_aliases import set_alias_row
from sapwood.server.services.model_rules import (
    PushOptions,
    check_alias,
    check_model_name,
    check_options,
    lineage_for,
    require_push,
    row_to_version,
    tensors_of,
    users_kinds,
    users_text,
)
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import (
    ModelAliasRow,
    ModelRow,
    ModelVersionRow,
    ObjectRow,
    TeamRow,
)

log = logging.getLogger("sapwood.registry")

PUSH_ATTEMPTS = 5


# reads


async def _aliases(session: AsyncSession, team: str, name: str) -> dict[str, int]:
    query = select(ModelAliasRow).where(ModelAliasRow.team == team, ModelAliasRow.name == name)
    return {a.alias: a.version for a in await session.scalars(query)}


async def _versions(session: AsyncSession, team: str, name: str) -> list[ModelVersionRow]:
    query = (
        select(ModelVersionRow)
        .where(ModelVersionRow.team == team, ModelVersionRow.name == name)
        .order_by(ModelVersionRow.version.desc())
    )
    return list(await session.scalars(query))


async def _model_row(session: AsyncSession, team: str, name: str) -> ModelRow:
    row = await session.get(ModelRow, (team, name))
    if row is None:
        raise NotFoundError(f"model/{name} not found in team {team}")
    return row


async def list_models(session: AsyncSession, caller: Caller, team: str) -> list[ModelSummary]:
    require_read(caller, team, "models")
    models = list(
        await session.scalars(select(ModelRow).where(ModelRow.team == team).order_by(ModelRow.name))
    )
    counts = {
        name: (count, latest)
        for name, count, latest in await session.execute(
            select(
                ModelVersionRow.name,
                func.count(),
                func.max(ModelVersionRow.version),
            )
            .where(ModelVersionRow.team == team)
            .group_by(ModelVersionRow.name)
        )
    }
    aliases: dict[str, dict[str, int]] = {}
    for a in await session.scalars(select(ModelAliasRow).where(ModelAliasRow.team == team)):
        aliases.setdefault(a.name, {})[a.alias] = a.version
    return [
        ModelSummary(
            team=m.team,
            name=m.name,
            versions=counts.get(m.name, (0, None))[0],
            latest_version=counts.get(m.name, (0, None))[1],
            aliases=dict(sorted(aliases.get(m.name, {}).items())),
            updated_at=m.updated_at,
        )
        for m in models
    ]


async def get_model(session: AsyncSession, caller: Caller, team: str, name: str) -> Model:
    require_read(caller, team, f"model/{name}")
    model = await _model_row(session, team, name)
    aliases = await _aliases(session, team, name)
    versions = await _versions(session, team, name)
    return Model(
        team=team,
        name=name,
        aliases=dict(sorted(aliases.items())),
        versions=[row_to_version(v, aliases) for v in versions],
        created_at=model.created_at,
        updated_at=model.updated_at,
    )


async def find_version(
    session: AsyncSession, team: str, name: str, ref: str
) -> ModelVersion | None:
    """The version ``name@ref`` means in ``team`` now, or None. No access check: callers
    inside the server (controllers) use it."""
    rows = {v.version: v for v in await _versions(session, team, name)}
    aliases = await _aliases(session, team, name)
    number = resolve(ref, rows.keys(), aliases)
    return row_to_version(rows[number], aliases) if number is not None else None


async def find_model_ref(session: AsyncSession, team: str, model_ref: str) -> ModelVersion | None:
    """``NAME@REF`` (as a Service spec names it) resolved in ``team``, or None."""
    name, ref = split_model_ref(model_ref)
    return await find_version(session, team, name, ref)


async def get_version(
    session: AsyncSession, caller: Caller, team: str, name: str, ref: str
) -> ModelVersion:
    """The version ``ref`` (a number or an alias) names; NotFoundError saying what exists."""
    require_read(caller, team, f"model/{name}")
    await _model_row(session, team, name)
    found = await find_version(session, team, name, ref)
    if found is None:
        aliases = await _aliases(session, team, name)
        known = ", ".join(sorted(aliases)) or "none"
        raise NotFoundError(
            f"model/{name}@{ref} not found in team {team}",
            hint=f"give a version number or an alias (aliases: {known})",
        )
    return found


# push


async def push_model(
    session: AsyncSession,
    caller: Caller,
    team: str,
    name: str,
    body: AsyncIterator[bytes],
    options: PushOptions,
    *,
    store: ArtifactStore,
    now: datetime,
) -> PushedModel:
    """Stores a new version, or returns the one with these bytes (``created`` False).

    The body is checked (onnx.checker, then ONNX Runtime) before anything is written; a
    push that fails leaves no version and no blob. ``alias`` moves to the version either way.
    """
    require_push(caller, team, name)
    check_model_name(name)
    check_options(options)
    # Nothing is read from the store while the upload streams and is checked.
    await session.rollback()
    upload = await spool(body, store.staging_dir)
    try:
        if upload.size == 0:
            raise InvalidError(
                "the request body is empty: send the ONNX file's bytes",
                details=[Detail("body", "empty")],
            )
        try:
            metadata = await asyncio.to_thread(inspect_file, upload.path)
        except ModelLoadError as exc:
            raise InvalidError(
                f"model/{name} was refused: {exc}", details=[Detail("body", str(exc))]
            ) from None
        if await session.get(TeamRow, team) is None:
            raise NotFoundError(f"team {team} not found")
        existing = await _version_by_sha(session, team, name, upload.sha256)
        if existing is None:
            uid = await _workload_uid(session, caller)
            lineage = lineage_for(caller, uid=uid, source=options.source)
            await asyncio.to_thread(store.put, upload.sha256, upload.path)
            try:
                existing, created = await _insert_version(
                    session, team, name, upload, metadata, options, lineage, now=now
                )
            except BaseException:
                await session.rollback()
                await _forget_blob_if_unused(session, store, upload.sha256)
                raise
        else:
            created = False
        if options.alias is not None:
            await set_alias_row(session, team, name, options.alias, existing.version, now=now)
            await session.commit()
        aliases = await _aliases(session, team, name)
        version = row_to_version(existing, aliases)
        return PushedModel(**version.model_dump(), created=created)
    finally:
        await discard(upload)


async def _version_by_sha(
    session: AsyncSession, team: str, name: str, sha256: str
) -> ModelVersionRow | None:
    query = select(ModelVersionRow).where(
        ModelVersionRow.team == team,
        ModelVersionRow.name == name,
        ModelVersionRow.sha256 == sha256,
    )
    return (await session.scalars(query)).first()


async def _workload_uid(session: AsyncSession, caller: Caller) -> str | None:
    if caller.scope is None:
        return None
    scope = caller.scope
    query = select(ObjectRow.uid).where(
        ObjectRow.kind == scope.kind, ObjectRow.team == scope.team, ObjectRow.name == scope.name
    )
    return (await session.scalars(query)).first()


async def _insert_version(
    session: AsyncSession,
    team: str,
    name: str,
    upload: Spooled,
    metadata: OnnxMetadata,
    options: PushOptions,
    lineage: Lineage,
    *,
    now: datetime,
) -> tuple[ModelVersionRow, bool]:
    """Numbers and stores the version; a racing push of the same bytes wins (returns its row)."""
    for _ in range(PUSH_ATTEMPTS):
        model = await session.get(ModelRow, (team, name))
        if model is None:
            model = ModelRow(team=team, name=name, last_version=0, created_at=now)
            session.add(model)
        model.last_version += 1
        model.updated_at = now
        row = ModelVersionRow(
            team=team,
            name=name,
            version=model.last_version,
            sha256=upload.sha256,
            size=upload.size,
            inputs=tensors_of(metadata.inputs),
            outputs=tensors_of(metadata.outputs),
            opset=metadata.opset,
            features=metadata.features,
            props=metadata.props,
            framework=options.framework,
            metrics=options.metrics,
            lineage=lineage.model_dump(mode="json", exclude_none=True),
            created_at=now,
        )
        session.add(row)
        try:
            await session.commit()
            return row, True
        except IntegrityError:
            # Another push numbered the same version or stored the same bytes first.
            await session.rollback()
            same = await _version_by_sha(session, team, name, upload.sha256)
            if same is not None:
                return same, False
    raise ConflictError(f"model/{name} is being pushed concurrently; try again")


async def _forget_blob_if_unused(session: AsyncSession, store: ArtifactStore, sha256: str) -> None:
    query = (
        select(func.count()).select_from(ModelVersionRow).where(ModelVersionRow.sha256 == sha256)
    )
    if (await session.scalar(query)) == 0:
        await asyncio.to_thread(store.delete, sha256)


# aliases


async def set_alias(
    session: AsyncSession,
    caller: Caller,
    team: str,
    name: str,
    alias: str,
    version: int,
    *,
    now: datetime,
) -> ModelVersion:
    """Points ``alias`` at ``version`` (creating or moving it); idempotent. A move rolls the
    Services that name the alias (a new generation and a ``ModelAliasMoved`` event each)."""
    require_write(caller, team, f"model/{name}")
    check_alias(alias)
    await _model_row(session, team, name)
    row = await session.get(ModelVersionRow, (team, name, version))
    if row is None:
        raise NotFoundError(f"model/{name} has no version {version} in team {team}")
    await set_alias_row(session, team, name, alias, version, now=now)
    await session.commit()
    return row_to_version(row, await _aliases(session, team, name))


async def _service_specs(
    session: AsyncSession, team: str, *, kind: str = "Service"
) -> dict[str, dict[str, Any]]:
    """Name → spec of the team's objects of ``kind`` (Services, or Feeds: both name models)."""
    query = select(ObjectRow.name, ObjectRow.spec).where(
        ObjectRow.kind == kind, ObjectRow.team == team
    )
    return {service: spec for service, spec in await session.execute(query)}


async def delete_alias(
    session: AsyncSession, caller: Caller, team: str, name: str, alias: str
) -> None:
    """Removes the alias unless a Service serves ``name@alias`` or a Feed scores with it
    (409 naming them), so a delete never leaves replicas or feed workers on an alias that
    no longer resolves."""
    require_write(caller, team, f"model/{name}")
    row = await session.get(ModelAliasRow, (team, name, alias))
    if row is None:
        raise NotFoundError(f"model/{name} has no alias {alias} in team {team}")
    services = services_naming_alias(name, alias, await _service_specs(session, team))
    feeds = services_naming_alias(name, alias, await _service_specs(session, team, kind="Feed"))
    if services or feeds:
        raise ConflictError(
            f"alias {name}@{alias} is used by {users_text(services, feeds)}",
            hint=f"point those {users_kinds(services, feeds)} at another version or alias first",
        )
    await session.delete(row)
    await session.commit()


async def delete_version(
    session: AsyncSession,
    caller: Caller,
    team: str,
    name: str,
    version: int,
    *,
    store: ArtifactStore,
) -> None:
    """Removes a version no Service serves, no Feed scores with and no alias names; its
    blob goes with the last version (of any model) that shares its bytes."""
    require_write(caller, team, f"model/{name}")
    row = await session.get(ModelVersionRow, (team, name, version))
    if row is None:
        raise NotFoundError(f"model/{name} has no version {version} in team {team}")
    versions = {v.version for v in await _versions(session, team, name)}
    aliases = await _aliases(session, team, name)
    services = services_using(
        name, version, await _service_specs(session, team), versions=versions, aliases=aliases
    )
    feed_specs = await _service_specs(session, team, kind="Feed")
    feeds = services_using(name, version, feed_specs, versions=versions, aliases=aliases)
    if services or feeds:
        raise ConflictError(
            f"model/{name} version {version} is used by {users_text(services, feeds)}",
            hint=f"point those {users_kinds(services, feeds)} at another version first",
        )
    pointing = aliases_of(version, aliases)
    if pointing:
        raise ConflictError(
            f"model/{name} version {version} is named by alias(es) {', '.join(pointing)}",
            hint=f"move them (sapwood models alias {name} ALIAS VERSION) or delete them first",
        )
    sha256 = row.sha256
    await session.delete(row)
    await session.commit()
    await _forget_blob_if_unused(session, store, sha256)


# artifacts


async def artifact(
    session: AsyncSession, caller: Caller, team: str, name: str, ref: str, *, store: ArtifactStore
) -> tuple[ModelVersion, Iterator[bytes]]:
    """The version and an iterator over its bytes (blocking reads: iterate in a thread)."""
    version = await get_version(session, caller, team, name, ref)
    exists = await asyncio.to_thread(store.exists, version.sha256)
    if not exists:
        log.error("model/%s version %d: blob %s is missing", name, version.version, version.sha256)
        raise NotFoundError(
            f"the bytes of model/{name} version {version.version} are missing from the store",
            hint="push the file again",
        )
    return version, store.read(version.sha256)
