"""Which runtime the server runs units on: one entry per ``SAPWOOD_RUNTIME`` kind.

Adding a runtime is one entry here (and its package under runtimes/), not another
``if kind == ...`` in the app. Only the app imports this module: it is where the server
settings meet the runtimes' own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sapwood.server.runtimes.base import Runtime
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.local.runtime import LocalRuntime
from sapwood.server.runtimes.local.settings import LocalRuntimeSettings
from sapwood.server.settings import Settings

log = logging.getLogger("sapwood.server")


@dataclass(frozen=True)
class RuntimeKind:
    """How to open one kind of runtime, and what the rest of the server must know of it."""

    open: Callable[[Settings], Awaitable[Runtime]]
    api_url: Callable[[Settings], str]  # where its units reach the API
    runs_images: bool  # it runs containers from images, not processes on the server's host
    local_workdirs: bool  # a spec's workdir is a folder on the server's machine
    # Its reads (logs, capacity) answer the same from any server replica, so a replica
    # that does not lead opens it too, to read only (controller/reads.py).
    reads_anywhere: bool = False


async def open_local(settings: Settings) -> Runtime:
    """Supervised processes on this machine, confined as far as it allows (logged once)."""
    local = LocalRuntime(local_runtime_settings(settings))
    await asyncio.to_thread(_log_local_limits, local, single_tenant=settings.runtime.single_tenant)
    return local


async def open_kubernetes(settings: Settings) -> Runtime:
    """Kubernetes objects in one namespace per team."""
    # Loading the kubeconfig reads files: off the event loop.
    runtime = await asyncio.to_thread(KubernetesRuntime, settings.runtime.kubernetes)
    log.info(
        "kubernetes runtime: namespaces %s<team>", settings.runtime.kubernetes.namespace_prefix
    )
    return runtime


RUNTIMES: Mapping[str, RuntimeKind] = {
    "local": RuntimeKind(
        open=open_local,
        api_url=lambda settings: settings.api_url,
        runs_images=False,
        local_workdirs=True,
    ),
    "kubernetes": RuntimeKind(
        open=open_kubernetes,
        api_url=lambda settings: settings.runtime.kubernetes.api_url,
        runs_images=True,
        local_workdirs=False,
        reads_anywhere=True,  # the cluster's API server answers every replica
    ),
}


def runtime_kind(name: str) -> RuntimeKind:
    """The registry's entry for ``name``; ValueError naming the kinds there are."""
    kind = RUNTIMES.get(name)
    if kind is None:
        raise ValueError(f"unknown runtime {name!r}: expected one of {', '.join(RUNTIMES)}")
    return kind


def local_runtime_settings(settings: Settings) -> LocalRuntimeSettings:
    """The local runtime's settings from the server's (SAPWOOD_ISOLATION, ...)."""
    return LocalRuntimeSettings(
        data_dir=settings.home / "runtime",
        reserve_cpu_millis=settings.runtime.reserve_cpu_millis,
        reserve_memory_bytes=settings.runtime.reserve_memory_bytes,
        use_cgroups=settings.runtime.use_cgroups,
        isolation=settings.runtime.isolation,
        single_tenant=settings.runtime.single_tenant,
        hidden=(settings.home, *settings.runtime.hidden),
    )


def _log_local_limits(local: LocalRuntime, *, single_tenant: bool) -> None:
    """What the local runtime enforces on this machine, said once at start (blocking:
    it probes cgroupfs and bubblewrap)."""
    log.info("local runtime: limits enforced by %s", local.limits_mechanism)
    if local.limits_mechanism == "rlimit":
        log.warning("no writable cgroupfs: memory limits use rlimits, CPU quotas are off")
    sandbox = local.sandbox
    log.info("local runtime: workloads isolated by %s", sandbox.describe())
    for missing in sandbox.missing:
        log.warning("isolation: %s", missing)
    if not sandbox.isolates:
        if single_tenant:
            log.warning("isolation: teams are NOT kept apart (--single-tenant)")
        else:
            log.warning(
                "isolation: teams cannot be kept apart, so one team's workloads run at a "
                "time; start with --single-tenant if every team trusts every other"
            )
