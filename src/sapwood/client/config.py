"""Where the SDK and CLI find the server and the token.

Order: explicit arguments, then ``SAPWOOD_URL`` / ``SAPWOOD_TOKEN``, then the config file
(``$SAPWOOD_CONFIG``, else ``$SAPWOOD_HOME/config.yaml``, else ``~/.sapwood/config.yaml``),
which ``sapwood server`` writes on first start and ``sapwood login`` rewrites.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_URL = "http://127.0.0.1:8420"


@dataclass(frozen=True)
class ClientConfig:
    url: str = DEFAULT_URL
    token: str | None = None
    team: str | None = None


def home_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("SAPWOOD_HOME") or Path.home() / ".sapwood").expanduser()


def config_path(env: Mapping[str, str]) -> Path:
    explicit = env.get("SAPWOOD_CONFIG")
    return Path(explicit).expanduser() if explicit else home_dir(env) / "config.yaml"


def read_config(path: Path) -> ClientConfig:
    """The file's settings; defaults when it does not exist. ValueError when unreadable."""
    if not path.exists():
        return ClientConfig()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping with url and token")
    return ClientConfig(
        url=str(data.get("url") or DEFAULT_URL),
        token=data.get("token"),
        team=data.get("team"),
    )


def write_config(path: Path, config: ClientConfig) -> None:
    """Writes atomically, readable by the owner only (it holds a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"url": config.url, "token": config.token}
    if config.team:
        body["team"] = config.team
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        yaml.safe_dump(body, out, sort_keys=False)
    tmp.replace(path)


TOKEN_FILE_ENV = "SAPWOOD_TOKEN_FILE"


def with_token(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with SAPWOOD_TOKEN filled from the file SAPWOOD_TOKEN_FILE names, when only
    the file is given: a confined workload gets its token that way, not in its
    environment. An unreadable file leaves SAPWOOD_TOKEN unset."""
    out = dict(env)
    path = out.get(TOKEN_FILE_ENV)
    if not out.get("SAPWOOD_TOKEN") and path:
        try:
            out["SAPWOOD_TOKEN"] = Path(path).read_text(encoding="utf-8").strip()
        except OSError:
            pass
    return out


def resolve_config(
    env: Mapping[str, str],
    *,
    url: str | None = None,
    token: str | None = None,
    team: str | None = None,
) -> ClientConfig:
    env = with_token(env)
    url = url or env.get("SAPWOOD_URL")
    token = token or env.get("SAPWOOD_TOKEN")
    team = team or env.get("SAPWOOD_TEAM")
    # Read the file only for what is missing, so `login` can repair a broken one.
    stored = ClientConfig() if url and token else read_config(config_path(env))
    return ClientConfig(
        url=url or stored.url,
        token=token or stored.token,
        team=team or stored.team,
    )
