"""All server configuration in one object, grouped by subsystem.

Nothing reads the environment at import time: ``Settings.from_env`` is called by the
``sapwood server`` command, and tests build ``Settings`` directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PRIORITIES = {"critical": 1000, "high": 100, "normal": 0, "low": -100, "best-effort": -1000}


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiSettings(_Group):
    host: str = "127.0.0.1"
    port: int = Field(default=8420, ge=0, le=65535)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    page_size: int = Field(default=100, ge=1)
    max_page_size: int = Field(default=1000, ge=1)


class StoreSettings(_Group):
    database_url: str | None = Field(default=None, description="default: SQLite in home")
    echo: bool = False


class ControllerSettings(_Group):
    enabled: bool = True
    # False: the controller exists but passes run only when run_pass() is called (tests,
    # debugging); its loop is not started.
    loop: bool = True
    resync_s: float = Field(default=5.0, gt=0)
    slow_pass_s: float = Field(default=1.0, gt=0)


class RuntimeSettings(_Group):
    kind: str = Field(default="local", pattern="^local$")
    reserve_cpu_millis: int = Field(default=0, ge=0)
    reserve_memory_bytes: int = Field(default=0, ge=0)
    use_cgroups: bool = True


class SchedulingSettings(_Group):
    priorities: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    fair_share: bool = False  # among equal priorities: the team with the least share first
    # Least attained service: GPU-hours (CPU-hours without GPUs) splitting each priority
    # into levels; less-served work goes first and may preempt more-served work of the
    # same priority (as Tiresias). Empty: off.
    service_levels_hours: tuple[float, ...] = ()


class Settings(_Group):
    home: Path = Field(default_factory=lambda: Path.home() / ".sapwood")
    api: ApiSettings = Field(default_factory=ApiSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    controller: ControllerSettings = Field(default_factory=ControllerSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)

    @property
    def database_url(self) -> str:
        return self.store.database_url or f"sqlite+aiosqlite:///{self.home / 'sapwood.db'}"

    @property
    def api_url(self) -> str:
        """Where workloads reach the API (loopback when bound to every address)."""
        host = "127.0.0.1" if self.api.host in ("0.0.0.0", "::", "") else self.api.host
        return f"http://{host}:{self.api.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from SAPWOOD_HOME, SAPWOOD_DATABASE_URL, SAPWOOD_HOST and SAPWOOD_PORT."""
        home = Path(env.get("SAPWOOD_HOME") or Path.home() / ".sapwood").expanduser()
        api = ApiSettings(
            host=env.get("SAPWOOD_HOST", "127.0.0.1"),
            port=int(env.get("SAPWOOD_PORT", "8420")),
        )
        store = StoreSettings(database_url=env.get("SAPWOOD_DATABASE_URL") or None)
        levels = tuple(
            float(h) for h in env.get("SAPWOOD_SERVICE_LEVELS_HOURS", "").split(",") if h
        )
        scheduling = SchedulingSettings(
            fair_share=env.get("SAPWOOD_FAIR_SHARE", "") == "1", service_levels_hours=levels
        )
        return cls(home=home, api=api, store=store, scheduling=scheduling)
