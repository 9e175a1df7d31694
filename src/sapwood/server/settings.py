"""All server configuration in one object, grouped by subsystem.

Nothing reads the environment at import time: ``Settings.from_env`` is called by the
``sapwood server`` command, and tests build ``Settings`` directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from sapwood.images import DEFAULT_IMAGE, DEFAULT_JUPYTER_IMAGE, DEFAULT_SERVER_IMAGE
from sapwood.server.webhook_addresses import AddressPolicy
from sapwood.specs.quantity import parse_duration

_NAMESPACE_PREFIX = re.compile("[a-z0-9]([-a-z0-9]*)?")
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
DEFAULT_PRIORITIES = {"critical": 1000, "high": 100, "normal": 0, "low": -100, "best-effort": -1000}


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiSettings(_Group):
    host: str = "127.0.0.1"
    port: int = Field(default=8420, ge=0, le=65535)
    # SAPWOOD_MAX_BODY_BYTES: larger request bodies get 413 (model uploads have their own)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    page_size: int = Field(default=100, ge=1)
    max_page_size: int = Field(default=1000, ge=1)
    # SAPWOOD_MAX_STREAMS_PER_TOKEN: follow streams (logs) one token may hold open at once
    # in this server process; the next one gets 429.
    max_streams_per_token: int = Field(default=8, ge=1)


class StoreSettings(_Group):
    database_url: str | None = Field(default=None, description="default: SQLite in home")
    echo: bool = False


class ControllerSettings(_Group):
    enabled: bool = True
    # The safety net: a full comparison of the store with the controller's cache, for a
    # change whose notification was lost. Changes themselves arrive at once.
    resync_s: float = Field(default=60.0, gt=0)
    # How often a running object (units, or admitted) is looked at although nothing about
    # it changed: backoff, deadlines, idle windows and autoscaling come due this often.
    recheck_s: float = Field(default=1.0, gt=0)
    # While units run, how often the runtime is asked what they do (exits are seen so).
    observe_s: float = Field(default=1.0, gt=0)
    # The next round after one that did something (its writes may need a follow-up).
    busy_interval_s: float = Field(default=0.05, ge=0)
    slow_pass_s: float = Field(default=1.0, gt=0)
    utilisation_interval_s: float = Field(default=15.0, gt=0)  # SAPWOOD_UTILISATION_INTERVAL
    # SAPWOOD_UTILISATION_RETENTION: utilisation samples older than this are deleted;
    # training metrics are kept.
    utilisation_retention_s: float = Field(default=7 * 86400.0, gt=0)
    # Several replicas on one database: only the holder of the "controller" lease runs
    # the controller and notifier (SAPWOOD_LEADER_ELECTION=1). Off: this process always does.
    leader_election: bool = False
    leader_lease_s: float = Field(default=15.0, gt=0)


def in_cluster_api_url(cluster_domain: str = DEFAULT_CLUSTER_DOMAIN) -> str:
    """The install's Service ``sapwood`` in namespace ``sapwood``, by its cluster DNS name."""
    return f"http://sapwood.sapwood.svc.{cluster_domain}"


@dataclass(frozen=True)
class KubernetesRuntimeSettings:
    """How the Kubernetes runtime reaches its cluster and what it puts in pods.

    `kubeconfig` None: the in-cluster service account (the server runs in a pod).
    `image` is the image of units whose spec names none; `server_image` runs Sapwood's own
    programs (model servers, feed workers) and `jupyter_image` JupyterLab workspaces when
    the spec names no image; `api_url` is how workloads reach the Sapwood API from inside
    the cluster (the server's Service). Unit pods meet Pod Security `pod_security`
    ("restricted", running as non-root `workload_uid`; "baseline" lets images run as their
    own user, root included), SAPWOOD_KUBE_POD_SECURITY and SAPWOOD_KUBE_WORKLOAD_UID.
    """

    kubeconfig: Path | None = None
    context: str | None = None
    namespace_prefix: str = "sapwood-"
    image: str = DEFAULT_IMAGE
    server_image: str = DEFAULT_SERVER_IMAGE
    jupyter_image: str = DEFAULT_JUPYTER_IMAGE
    api_url: str = in_cluster_api_url()
    request_timeout_s: float = 30.0
    watch_timeout_s: int = 300  # a watch is re-opened (from its bookmark) this often
    stop_poll_s: float = 0.2
    pod_wait_s: float = 15.0  # how long start() waits for the Job controller to make a Pod
    capacity_ttl_s: float = 30.0  # nodes and pods are listed at most this often
    workload_role: str = "sapwood-workloads"
    server_namespace: str = "sapwood"
    server_service_account: str = "sapwood"
    pod_security: str = "restricted"
    workload_uid: int = 1000  # Jupyter's images run as uid 1000

    def __post_init__(self) -> None:
        if self.pod_security not in ("restricted", "baseline"):
            raise ValueError(
                f"pod security {self.pod_security!r} is invalid: use restricted or baseline"
            )
        if self.workload_uid < (1 if self.pod_security == "restricted" else 0):
            raise ValueError(
                f"workload uid {self.workload_uid} is invalid: Pod Security restricted "
                "needs a uid above 0"
            )
        if not _NAMESPACE_PREFIX.fullmatch(self.namespace_prefix):
            raise ValueError(
                f"namespace prefix {self.namespace_prefix!r} must match {_NAMESPACE_PREFIX.pattern}"
            )


class RuntimeSettings(_Group):
    kind: Literal["local", "kubernetes"] = "local"
    reserve_cpu_millis: int = Field(default=0, ge=0)
    reserve_memory_bytes: int = Field(default=0, ge=0)
    use_cgroups: bool = True
    # SAPWOOD_ISOLATION=auto|off: confine local workloads (bubblewrap namespaces, a uid per
    # team as root); what the machine cannot enforce is logged and shown in status.limits.
    isolation: bool = True
    # SAPWOOD_SINGLE_TENANT=1 / --single-tenant: without isolation, still run several
    # teams' workloads at once (otherwise one team's wait while another's run).
    single_tenant: bool = False
    # More folders workloads never see, besides the home: `sapwood server` adds the folder
    # of the CLI config where it saves the admin token.
    hidden: tuple[Path, ...] = ()
    # The Kubernetes runtime's own settings (SAPWOOD_KUBE*), handed to it as they are.
    kubernetes: KubernetesRuntimeSettings = Field(
        default_factory=lambda: KubernetesRuntimeSettings()
    )


class SchedulingSettings(_Group):
    priorities: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    fair_share: bool = False  # among equal priorities: the team with the least share first
    # Least attained service: GPU-hours (CPU-hours without GPUs) splitting each priority
    # into levels; less-served work goes first and may preempt more-served work of the
    # same priority (as Tiresias). Empty: off.
    service_levels_hours: tuple[float, ...] = ()


class RegistrySettings(_Group):
    # A folder path or an fsspec URL (s3://bucket/prefix needs `sapwood[s3]`); None: home/models.
    store_url: str | None = None
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)


class GatewaySettings(_Group):
    # The gateway is a child process of `sapwood server` (python -m sapwood.server.gateway).
    enabled: bool = True
    port: int = Field(default=8421, ge=0, le=65535)  # SAPWOOD_GATEWAY_PORT
    # SAPWOOD_GATEWAY_HOST: the address it binds; 0.0.0.0 in a pod, so its Service reaches it.
    host: str = "127.0.0.1"
    # SAPWOOD_GATEWAY_TOKEN_MAX_STALE (e.g. 10m): while the store is unreachable, a token
    # that passed a check at most this long ago keeps passing (docs/gateway.md).
    token_max_stale_s: float = Field(default=600.0, ge=0)
    # SAPWOOD_ADVERTISE_ADDRESS: the address other server replicas reach this one's gateway
    # at (the pod IP in Kubernetes), so the leader reads every replica's load; None: no
    # other replica can (one process, the local case).
    advertise_address: str | None = None


class FeedSettings(_Group):
    redis_url: str | None = Field(
        default=None, description="Redis Streams broker; default: the store"
    )
    visibility_timeout_s: float = Field(default=60.0, gt=0)
    max_lease_wait_s: float = Field(default=30.0, ge=0)


class NotificationSettings(_Group):
    # Channels post to public addresses only; these CIDRs, addresses and host names too
    # (SAPWOOD_WEBHOOK_ALLOW, comma-separated; see docs/notifications.md).
    webhook_allow: tuple[str, ...] = ()

    @field_validator("webhook_allow")
    @classmethod
    def _parses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        AddressPolicy.parse(value)
        return value

    @property
    def webhook_policy(self) -> AddressPolicy:
        return AddressPolicy.parse(self.webhook_allow)


SLACK_API_URL = "https://slack.com/api/"


class SlackSettings(_Group):
    """The Slack app (docs/slack.md). Off unless a bot token is set. Socket Mode when an
    app token is set (the server dials out: no public URL needed), else HTTP mode at
    ``POST /slack/events``, which needs the signing secret. The secrets come from
    SAPWOOD_SLACK_SIGNING_SECRET, SAPWOOD_SLACK_BOT_TOKEN and SAPWOOD_SLACK_APP_TOKEN, or
    from the files named by the same settings with ``_FILE``; a SecretStr never prints."""

    signing_secret: SecretStr | None = None
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    # SAPWOOD_SLACK_API_URL: Slack's Web API base (tests point it at a fake Slack).
    api_url: str = SLACK_API_URL
    # SAPWOOD_PUBLIC_URL: where people reach this server's dashboard (link confirmations,
    # the app manifest's request URL); None: the API's own address.
    public_url: str | None = None
    # SAPWOOD_GATEWAY_URL: where people reach the gateway (a workspace's Open button);
    # None: the API's host on the gateway's port.
    gateway_url: str | None = None
    # A Socket Mode connection older than this is replaced by a fresh one (ended sockets are
    # replaced at once): a connection that went deaf without closing does not stay.
    socket_max_age_s: float = Field(default=3600.0, gt=0)

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None

    @property
    def socket_mode(self) -> bool:
        return self.bot_token is not None and self.app_token is not None


class Settings(_Group):
    home: Path = Field(default_factory=lambda: Path.home() / ".sapwood")
    # SAPWOOD_SECRET_KEY_FILE: the key workload tokens derive from, read from this file
    # (a mounted Secret) and never created there; None: home/secret.key, made on first use.
    secret_key_file: Path | None = None
    api: ApiSettings = Field(default_factory=ApiSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    controller: ControllerSettings = Field(default_factory=ControllerSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    feeds: FeedSettings = Field(default_factory=FeedSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)

    @property
    def public_url(self) -> str:
        """Where people reach the dashboard: SAPWOOD_PUBLIC_URL, else the API's address."""
        return (self.slack.public_url or self.api_url).rstrip("/")

    @property
    def database_url(self) -> str:
        return self.store.database_url or f"sqlite+aiosqlite:///{self.home / 'sapwood.db'}"

    @property
    def api_url(self) -> str:
        """Where workloads reach the API (loopback when bound to every address)."""
        host = "127.0.0.1" if self.api.host in ("0.0.0.0", "::", "") else self.api.host
        return f"http://{host}:{self.api.port}"

    @property
    def gateway_port(self) -> int:
        return self.gateway.port

    @property
    def gateway_url(self) -> str:
        """Where the controller reads the gateway's request stats (loopback when it binds
        every address)."""
        host = self.gateway.host
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        return f"http://{host}:{self.gateway.port}"

    @property
    def advertised_gateway_url(self) -> str | None:
        """Where other replicas read this one's gateway stats; None when not advertised."""
        address = self.gateway.advertise_address
        if not address:
            return None
        host = f"[{address}]" if ":" in address else address  # an IPv6 pod IP
        return f"http://{host}:{self.gateway.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from SAPWOOD_HOME, SAPWOOD_DATABASE_URL, SAPWOOD_HOST and SAPWOOD_PORT."""
        home = Path(env.get("SAPWOOD_HOME") or Path.home() / ".sapwood").expanduser()
        key_file = env.get("SAPWOOD_SECRET_KEY_FILE")
        api = ApiSettings(
            host=env.get("SAPWOOD_HOST", "127.0.0.1"),
            port=int(env.get("SAPWOOD_PORT", "8420")),
            max_streams_per_token=int(env.get("SAPWOOD_MAX_STREAMS_PER_TOKEN") or 8),
            max_body_bytes=int(env.get("SAPWOOD_MAX_BODY_BYTES") or 8 * 1024 * 1024),
        )
        store = StoreSettings(database_url=env.get("SAPWOOD_DATABASE_URL") or None)
        levels = tuple(
            float(h) for h in env.get("SAPWOOD_SERVICE_LEVELS_HOURS", "").split(",") if h
        )
        scheduling = SchedulingSettings(
            fair_share=env.get("SAPWOOD_FAIR_SHARE", "") == "1", service_levels_hours=levels
        )
        registry = RegistrySettings(
            store_url=env.get("SAPWOOD_MODEL_STORE") or None,
            max_upload_bytes=int(env.get("SAPWOOD_MAX_MODEL_BYTES") or 512 * 1024 * 1024),
        )
        controller = ControllerSettings(
            utilisation_interval_s=float(env.get("SAPWOOD_UTILISATION_INTERVAL") or 15.0),
            utilisation_retention_s=_duration_s(env, "SAPWOOD_UTILISATION_RETENTION", 7 * 86400.0),
            leader_election=env.get("SAPWOOD_LEADER_ELECTION", "") == "1",
        )
        gateway = GatewaySettings(
            port=int(env.get("SAPWOOD_GATEWAY_PORT") or 8421),
            host=env.get("SAPWOOD_GATEWAY_HOST") or "127.0.0.1",
            token_max_stale_s=_duration_s(env, "SAPWOOD_GATEWAY_TOKEN_MAX_STALE", 600.0),
            advertise_address=env.get("SAPWOOD_ADVERTISE_ADDRESS") or None,
        )
        kubeconfig = env.get("SAPWOOD_KUBECONFIG")
        runtime = RuntimeSettings(
            kind=env.get("SAPWOOD_RUNTIME") or "local",
            isolation=_isolation(env),
            single_tenant=env.get("SAPWOOD_SINGLE_TENANT", "") in ("1", "true"),
            kubernetes=KubernetesRuntimeSettings(
                kubeconfig=Path(kubeconfig).expanduser() if kubeconfig else None,
                context=env.get("SAPWOOD_KUBE_CONTEXT") or None,
                namespace_prefix=env.get("SAPWOOD_KUBE_NAMESPACE_PREFIX") or "sapwood-",
                image=env.get("SAPWOOD_KUBE_IMAGE") or DEFAULT_IMAGE,
                server_image=env.get("SAPWOOD_KUBE_SERVER_IMAGE") or DEFAULT_SERVER_IMAGE,
                jupyter_image=env.get("SAPWOOD_KUBE_JUPYTER_IMAGE") or DEFAULT_JUPYTER_IMAGE,
                api_url=env.get("SAPWOOD_KUBE_API_URL")
                or in_cluster_api_url(
                    env.get("SAPWOOD_KUBE_CLUSTER_DOMAIN") or DEFAULT_CLUSTER_DOMAIN
                ),
                pod_security=env.get("SAPWOOD_KUBE_POD_SECURITY") or "restricted",
                workload_uid=int(env.get("SAPWOOD_KUBE_WORKLOAD_UID") or 1000),
            ),
        )
        feeds = FeedSettings(redis_url=env.get("SAPWOOD_REDIS_URL") or None)
        allow = tuple(
            e.strip() for e in env.get("SAPWOOD_WEBHOOK_ALLOW", "").split(",") if e.strip()
        )
        notifications = NotificationSettings(webhook_allow=allow)
        slack = SlackSettings(
            signing_secret=_secret(env, "SAPWOOD_SLACK_SIGNING_SECRET"),
            bot_token=_secret(env, "SAPWOOD_SLACK_BOT_TOKEN"),
            app_token=_secret(env, "SAPWOOD_SLACK_APP_TOKEN"),
            api_url=env.get("SAPWOOD_SLACK_API_URL") or SLACK_API_URL,
            public_url=env.get("SAPWOOD_PUBLIC_URL") or None,
            gateway_url=env.get("SAPWOOD_GATEWAY_URL") or None,
        )
        return cls(
            notifications=notifications,
            slack=slack,
            home=home,
            secret_key_file=Path(key_file).expanduser() if key_file else None,
            feeds=feeds,
            gateway=gateway,
            api=api,
            store=store,
            scheduling=scheduling,
            registry=registry,
            controller=controller,
            runtime=runtime,
        )


def _secret(env: Mapping[str, str], name: str) -> SecretStr | None:
    """A secret from ``name`` or from the file ``name_FILE`` names (a mounted Secret);
    None when neither is set. Setting both is an error; the value never appears in one."""
    value = env.get(name) or None
    path = env.get(f"{name}_FILE") or None
    if value is not None and path is not None:
        raise ValueError(f"set {name} or {name}_FILE, not both")
    if path is None:
        return SecretStr(value) if value is not None else None
    try:
        text = Path(path).expanduser().read_text().strip()
    except OSError as exc:
        raise ValueError(f"{name}_FILE={path}: cannot read it ({exc.strerror})") from None
    if not text:
        raise ValueError(f"{name}_FILE={path} is empty")
    return SecretStr(text)


def _isolation(env: Mapping[str, str]) -> bool:
    value = (env.get("SAPWOOD_ISOLATION") or "auto").strip().lower()
    if value not in ("auto", "off"):
        raise ValueError(f"SAPWOOD_ISOLATION={value!r} is invalid: use auto or off")
    return value == "auto"


def _duration_s(env: Mapping[str, str], name: str, default_s: float) -> float:
    """Seconds from ``name`` in plain seconds or a duration (``7d``, ``12h``); more than 0."""
    text = (env.get(name) or "").strip()
    if not text:
        return default_s
    positive = ValueError(f"{name}={text!r} is invalid: it must be more than 0 seconds, like 7d")
    if re.fullmatch(r"[+-]?\d+(?:\.\d+)?", text) and float(text) <= 0:
        raise positive
    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError as exc:
        raise ValueError(
            f"{name}={text!r} is invalid: {exc}; give seconds or a duration like 7d"
        ) from None
    if seconds <= 0:
        raise positive
    return seconds
