"""Models from the registry: resolve ``NAME@REF`` through the API, download the artifact once.

Artifacts are cached by sha256 under ``$SAPWOOD_HOME/cache/models`` (or the temp folder), so
a replica that restarts, or a second replica on the same machine, does not download again.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from sapwood.client.config import with_token
from sapwood.client.errors import SapwoodError, error_from

REF = re.compile(r"^(?P<name>[a-z0-9]([-a-z0-9]*[a-z0-9])?)@(?P<ref>[A-Za-z0-9][-A-Za-z0-9_.]*)$")
ENV = ("SAPWOOD_URL", "SAPWOOD_TOKEN", "SAPWOOD_TEAM")
_CHUNK_BYTES = 1 << 20


class FetchError(RuntimeError):
    """The model could not be fetched from the registry; the message says why."""


@dataclass(frozen=True)
class ModelSource:
    """A model file to serve, and the name, version and feature names to serve it under."""

    name: str
    version: str
    path: Path
    features: list[str] | None = None


def parse_model_ref(ref: str) -> tuple[str, str]:
    """``NAME@REF`` as (name, ref); ValueError naming the expected form otherwise."""
    match = REF.match(ref)
    if match is None:
        raise ValueError(
            f"{ref!r} is not a model reference: expected NAME@VERSION or NAME@ALIAS "
            "(for example antinex@production)"
        )
    return match["name"], match["ref"]


def cache_dir(env: Mapping[str, str]) -> Path:
    """Where artifacts are kept: under SAPWOOD_HOME when set, else the temp folder."""
    home = env.get("SAPWOOD_HOME")
    base = Path(home) / "cache" if home else Path(tempfile.gettempdir()) / "sapwood-cache"
    return base / "models"


def fetch_model(
    ref: str,
    *,
    env: Mapping[str, str],
    cache: Path,
    transport: httpx.BaseTransport | None = None,
    timeout_s: float = 60.0,
) -> ModelSource:
    """Resolves ``ref`` and returns the cached artifact, downloading it when absent.

    Raises FetchError when the environment lacks the API's address or token, the registry
    refuses or does not know the model, or the bytes do not match their sha256.
    """
    name, wanted = parse_model_ref(ref)
    env = with_token(env)
    missing = [k for k in ENV if not env.get(k)]
    if missing:
        raise FetchError(
            f"{', '.join(missing)} must be set to fetch {ref} from the registry "
            "(the server sets them for every workload); or serve a file with --model-path"
        )
    base = f"/api/v1/teams/{quote(env['SAPWOOD_TEAM'])}/models/{quote(name)}/versions"
    with httpx.Client(
        base_url=env["SAPWOOD_URL"],
        headers={"Authorization": f"Bearer {env['SAPWOOD_TOKEN']}"},
        transport=transport,
        timeout=timeout_s,
    ) as http:
        try:
            info = _version_info(http, f"{base}/{quote(wanted)}", ref)
            version = str(info["version"])
            digest = str(info["sha256"]).lower()
            path = cache / f"{digest}.onnx"
            if not path.exists():
                _download(http, f"{base}/{quote(version)}/artifact", path, digest, ref)
        except httpx.TransportError as e:
            raise FetchError(f"cannot reach the registry at {env['SAPWOOD_URL']}: {e}") from e
    features = info.get("features")
    return ModelSource(
        name=name,
        version=version,
        path=path,
        features=[str(f) for f in features] if isinstance(features, list) else None,
    )


def _version_info(http: httpx.Client, url: str, ref: str) -> dict[str, Any]:
    response = http.get(url)
    if response.status_code != 200:
        raise FetchError(f"the registry refused {ref}: {_reason(response)}")
    info = response.json()
    if not isinstance(info, dict) or "version" not in info or "sha256" not in info:
        raise FetchError(f"the registry's answer for {ref} has no version and sha256")
    return info


def _download(http: httpx.Client, url: str, path: Path, digest: str, ref: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    hasher = hashlib.sha256()
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".download-")
    try:
        with os.fdopen(fd, "wb") as out, http.stream("GET", url) as response:
            if response.status_code != 200:
                response.read()
                raise FetchError(f"the registry refused the artifact of {ref}: {_reason(response)}")
            for chunk in response.iter_bytes(_CHUNK_BYTES):
                hasher.update(chunk)
                out.write(chunk)
        if hasher.hexdigest() != digest:
            raise FetchError(
                f"the artifact of {ref} has sha256 {hasher.hexdigest()}, not {digest} as the "
                "registry says: refusing it"
            )
        os.replace(temp_name, path)  # atomic: a concurrent replica sees all of it or none
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def _reason(response: httpx.Response) -> str:
    error: SapwoodError = error_from(response)
    return f"HTTP {response.status_code}: {error}"
