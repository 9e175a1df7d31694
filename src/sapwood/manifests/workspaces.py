"""A Sapwood Workspace as a one-replica ``apps/v1`` StatefulSet with its own volumes."""

from __future__ import annotations

from sapwood.manifests.names import (
    Manifest,
    metadata,
    object_labels,
    object_name,
    owner_reference,
    selector_labels,
)
from sapwood.manifests.options import RenderOptions
from sapwood.manifests.pods import (
    claim_spec,
    container,
    env_value,
    image_of,
    pod_template,
)
from sapwood.manifests.services import core_service
from sapwood.specs.objects import Workspace
from sapwood.specs.programs import jupyter_command
from sapwood.specs.workloads import WorkspaceTool


def render_workspace(
    workspace: Workspace,
    team: str,
    *,
    namespace: str,
    options: RenderOptions,
    owner_uid: str | None = None,
) -> list[Manifest]:
    """The StatefulSet (1 replica, 0 while paused) with a volumeClaimTemplate per volume,
    and the core Service in front of it.

    Scaling to 0 keeps the claims, so a paused workspace keeps its files. ``tool: jupyter``
    runs JupyterLab on ``PORT`` with the workspace token under ``/w/{team}/{name}/`` (the
    gateway's path for it), in ``options.jupyter_image`` unless the spec names an image.
    ``owner_uid`` (the StatefulSet's uid) makes the core Service go with the StatefulSet.
    """
    spec = workspace.spec
    name = object_name("Workspace", workspace.metadata.name)
    labels = object_labels(workspace, team)
    jupyter = spec.tool is WorkspaceTool.JUPYTER
    default = options.jupyter_image if jupyter else options.default_image
    image, annotations = image_of(workspace, default=default)
    command = jupyter_command(workspace, team) if jupyter else spec.command
    main = container(
        workspace,
        team,
        image=image,
        command=command,
        options=options,
        port=True,
        extra_env=[env_value("SAPWOOD_REPLICA", "0")],
    )
    selector = selector_labels("Workspace", team, workspace.metadata.name)
    stateful_set: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(name, labels, namespace=namespace, annotations=annotations),
        "spec": {
            "replicas": 0 if spec.paused else 1,
            "serviceName": name,
            "selector": {"matchLabels": selector},
            "template": pod_template(workspace, team, main, options=options, claim_volumes=False),
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": v.name, "labels": labels},
                    "spec": claim_spec(v, options=options),
                }
                for v in spec.volumes
            ],
        },
    }
    if not spec.volumes:
        del stateful_set["spec"]["volumeClaimTemplates"]
    front = core_service(
        name, labels, selector, namespace=namespace, owner=owner_reference(stateful_set, owner_uid)
    )
    return [stateful_set, front]
