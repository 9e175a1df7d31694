"""From an object to the UnitSpecs of its replicas: pure, so every runtime gets the same."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sapwood.server.controller.plan.gang import free_port_block, gang_env, master_port
from sapwood.server.controller.plan.reruns import run_number
from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.units import ImageProgram, UnitSpec, VolumeMount
from sapwood.specs.objects import Feed, Job, Service, Workspace
from sapwood.specs.paths import workspace_path
from sapwood.specs.probes import Probe
from sapwood.specs.programs import jupyter_command, jupyter_script
from sapwood.specs.workloads import WorkspaceTool


@dataclass(frozen=True)
class UnitContext:
    """What the controller adds to every unit: where the API is, and the workload's token."""

    api_url: str
    token: str
    runs_images: bool = False  # units run in container images: no host paths needed
    # A gang Job's block of loopback ports, by its size (the local runtime's replicas share
    # the host's network); not called when units run in images.
    pick_ports: Callable[[int], int] = free_port_block


CANARY_FIRST = 10000
"""Canary replicas of a Service are numbered from here, apart from its main replicas."""


def is_canary(replica: int) -> bool:
    return replica >= CANARY_FIRST


FEED_WORKER_COMMAND = (sys.executable, "-m", "sapwood.feeds.worker")


class UnitError(ValueError):
    """The object cannot be turned into a runnable unit; ``reason`` is the status reason."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def unit_spec(view: ObjectView, replica: int, context: UnitContext) -> UnitSpec:
    """The unit for one replica of a Job, Service or Workspace."""
    spec = view.obj.spec
    command = list(spec.command) if spec.command is not None else None
    program: ImageProgram | None = None
    if isinstance(view.obj, Workspace) and view.obj.spec.tool is WorkspaceTool.JUPYTER:
        program = ImageProgram(tuple(jupyter_command(view.obj, view.team)), image="jupyter")
        # In an image, JupyterLab comes with the image; on this host it must be installed.
        command = (
            list(program.command) if context.runs_images else _jupyter_command(view.obj, view.team)
        )
    if isinstance(view.obj, Service) and view.obj.spec.model is not None:
        model = view.obj.spec.model
        canary = view.obj.spec.canary
        if is_canary(replica) and canary is not None:
            model = canary.model
        portable = view.obj.spec.serving_command(model)
        command = [sys.executable, *portable[1:]]
        program = ImageProgram(tuple(portable), image="server")
    if isinstance(view.obj, Feed):
        command = list(FEED_WORKER_COMMAND)
        program = ImageProgram(("python", *FEED_WORKER_COMMAND[1:]), image="server")
    if command is None:  # pragma: no cover - the specs require a command otherwise
        raise UnitError("nothing to run", reason="InvalidSpec")
    return UnitSpec(
        key=view.key(replica),
        command=tuple(command),
        env=_env(view, replica, context, spec.env),
        workdir=spec.workdir,
        cpu_millis=spec.resources.cpu,
        memory_bytes=spec.resources.memory,
        gpus=spec.resources.gpu,
        wants_port=not isinstance(view.obj, Job | Feed),
        volumes=tuple(VolumeMount(v.name, v.mount_path) for v in spec.volumes),
        grace_period_s=spec.termination_grace_period.total_seconds(),
        generation=view.generation,
        image=spec.image,
        node_selector=dict(spec.node_selector),
        gpu_model=spec.resources.gpu_model,
        priority_class=spec.priority,
        readiness=_probe(view, liveness=False),
        liveness=_probe(view, liveness=True),
        program=program,
    )


def _probe(view: ObjectView, *, liveness: bool) -> Probe | None:
    """A Service's probe as declared (each runtime applies it in its own way); None for
    other kinds."""
    if not isinstance(view.obj, Service):
        return None
    spec = view.obj.spec
    return spec.liveness if liveness else spec.readiness_probe()


def _env(
    view: ObjectView, replica: int, context: UnitContext, user_env: Mapping[str, str]
) -> dict[str, str]:
    own = {
        "SAPWOOD_KIND": view.kind,
        "SAPWOOD_TEAM": view.team,
        "SAPWOOD_NAME": view.name,
        "SAPWOOD_UID": view.uid,
        "SAPWOOD_REPLICA": str(replica),
        "SAPWOOD_GENERATION": str(view.generation),
        "SAPWOOD_URL": context.api_url,
        "SAPWOOD_TOKEN": context.token,
    }
    torch: dict[str, str] = {}
    if isinstance(view.obj, Job):
        own["SAPWOOD_RUN"] = str(run_number(view.status))
        port = master_port(view.status)
        if view.obj.spec.replicas > 1 and port is not None:
            gang = gang_env(
                view.obj.spec.replicas,
                replica,
                master_port=port,
                shared_host=not context.runs_images,
            )
            for name, value in gang.items():
                (own if name.startswith("SAPWOOD_") else torch)[name] = value
    return {
        **torch,  # the user's env may set any of torchrun's variables itself
        **user_env,
        **own,
        "PYTHONUNBUFFERED": user_env.get("PYTHONUNBUFFERED", "1"),
    }


def _jupyter_command(workspace: Workspace, team: str) -> list[str]:
    jupyter = shutil.which("jupyter")
    if jupyter is None:
        raise UnitError(
            "JupyterLab is not installed where the server runs: install the extra "
            "(pip install 'sapwood[jupyter]', or pip install jupyterlab) and the workspace "
            "starts on its next restart, or use `tool: command`",
            reason="JupyterNotInstalled",
        )
    notebook_dir = (
        '"${SAPWOOD_VOLUME_' + workspace.spec.volumes[0].name.upper().replace("-", "_") + '}"'
        if workspace.spec.volumes
        else "."
    )
    script = jupyter_script(
        f'"{jupyter}"',
        ip="127.0.0.1",
        # A confined workspace has its token in a file (SAPWOOD_TOKEN_FILE), not its env.
        token='"${SAPWOOD_TOKEN:-$(cat "$SAPWOOD_TOKEN_FILE")}"',
        root=notebook_dir,
        base_url=workspace_path(team, workspace.metadata.name),
    )
    return ["/bin/sh", "-c", script]
