"""The SDK's model registry verbs; part of AsyncClient."""

from __future__ import annotations

import builtins
import hashlib
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import anyio
import httpx

from sapwood.client.base import API, ClientBase, _file_chunks
from sapwood.client.errors import ConnectionFailedError, SapwoodError, error_from
from sapwood.schemas.models import Model, ModelSummary, ModelVersion, PushedModel, split_model_ref


class RegistryVerbs(ClientBase):
    # model registry

    async def push_model(
        self,
        model: str | os.PathLike[str] | bytes,
        *,
        name: str,
        alias: str | None = None,
        metrics: Mapping[str, float] | None = None,
        framework: str | None = None,
        source: str | None = None,
        team: str | None = None,
    ) -> PushedModel:
        """Uploads an ONNX file (a path, or its bytes) as a new version of ``name``.

        The same bytes pushed again return the existing version (``created`` False); ``alias``
        then moves to it. The server refuses a file ONNX Runtime cannot load (InvalidError).
        """
        params: list[tuple[str, str]] = [
            (k, v)
            for k, v in (("alias", alias), ("framework", framework), ("source", source))
            if v is not None
        ]
        params += [("metric", f"{k}={float(v)!r}") for k, v in (metrics or {}).items()]
        headers = {"Content-Type": "application/octet-stream"}
        content: bytes | AsyncIterator[bytes]
        if isinstance(model, bytes):
            content = model
        else:
            path = Path(model)
            headers["Content-Length"] = str((await anyio.Path(path).stat()).st_size)
            content = _file_chunks(path)
        route = await self._team_path(team, f"models/{name}/versions")
        return await self._call(
            "POST", route, PushedModel, content=content, params=params, headers=headers
        )

    async def list_models(self, *, team: str | None = None) -> builtins.list[ModelSummary]:
        return await self._call_list("GET", await self._team_path(team, "models"), ModelSummary)

    async def get_model(self, name: str, *, team: str | None = None) -> Model:
        """The model with every version (newest first) and its aliases."""
        return await self._call("GET", await self._team_path(team, f"models/{name}"), Model)

    async def resolve_model(self, ref: str, *, team: str | None = None) -> ModelVersion:
        """The version ``NAME@VERSION`` or ``NAME@ALIAS`` names now (bare ``NAME``: latest)."""
        name, at = split_model_ref(ref)
        path = await self._team_path(team, f"models/{name}/versions/{at}")
        return await self._call("GET", path, ModelVersion)

    async def download_model(
        self, ref: str, dest: str | os.PathLike[str], *, team: str | None = None
    ) -> ModelVersion:
        """Writes the version ``ref`` names to ``dest`` (whole, checked against its sha256)."""
        version = await self.resolve_model(ref, team=team)
        path = await self._team_path(
            team, f"models/{version.name}/versions/{version.version}/artifact"
        )
        target = Path(dest)
        partial = target.with_name(f".{target.name}.part")
        digest = hashlib.sha256()
        try:
            async with self._http.stream("GET", API + path) as response:
                if not response.is_success:
                    await response.aread()
                    raise error_from(response)
                async with await anyio.open_file(partial, "wb") as out:
                    async for chunk in response.aiter_bytes():
                        digest.update(chunk)
                        await out.write(chunk)
        except httpx.TransportError as exc:
            await anyio.Path(partial).unlink(missing_ok=True)
            raise ConnectionFailedError(
                f"cannot reach the Sapwood server at {self.url}: {exc}"
            ) from exc
        except BaseException:
            await anyio.Path(partial).unlink(missing_ok=True)
            raise
        if digest.hexdigest() != version.sha256:
            await anyio.Path(partial).unlink(missing_ok=True)
            raise SapwoodError(
                f"the download of {ref} does not match its sha256; try again", status=0
            )
        await anyio.Path(partial).replace(target)
        return version

    async def set_alias(
        self, name: str, alias: str, version: int, *, team: str | None = None
    ) -> ModelVersion:
        """Points ``alias`` at ``version`` of ``name``, creating or moving it."""
        path = await self._team_path(team, f"models/{name}/aliases/{alias}")
        return await self._call("PUT", path, ModelVersion, json={"version": version})

    async def delete_alias(self, name: str, alias: str, *, team: str | None = None) -> None:
        await self._send("DELETE", await self._team_path(team, f"models/{name}/aliases/{alias}"))

    async def delete_model_version(
        self, name: str, version: int, *, team: str | None = None
    ) -> None:
        """Refused (ConflictError) while a Service serves it or an alias names it."""
        path = await self._team_path(team, f"models/{name}/versions/{version}")
        await self._send("DELETE", path)
