"""A Sapwood Service as an ``apps/v1`` Deployment and a core Service in front of it."""

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
    PORT_NAME,
    container,
    elastic_deployment,
    image_of,
    render_probe,
    team_volume_claims,
)
from sapwood.specs.objects import Service


def render_service(
    service: Service,
    team: str,
    *,
    namespace: str,
    options: RenderOptions,
    owner_uid: str | None = None,
) -> list[Manifest]:
    """The Deployment (see ``leave_replicas_to_the_scaler`` for its replica count), the
    core Service (port 80 to the container's ``PORT``) and a PVC per volume.

    ``owner_uid`` (the Deployment's uid) makes the core Service go with the Deployment.
    A ``model`` service runs Sapwood's model server from ``options.server_image`` (unless
    the spec names an image), ready once its model has loaded. Canary replicas are not
    rendered: the gateway places and splits them, so they exist under the runtime only.
    """
    spec = service.spec
    command = spec.command
    if command is None:
        assert spec.model is not None  # the spec requires one of them
        command = spec.serving_command(spec.model)
    name = object_name("Service", service.metadata.name)
    labels = object_labels(service, team)
    default = options.default_image if spec.command is not None else options.server_image
    image, annotations = image_of(service, default=default)
    main = container(service, team, image=image, command=command, options=options, port=True)
    readiness = spec.readiness_probe()
    if readiness is not None:
        main["readinessProbe"] = render_probe(readiness, options=options, liveness=False)
    if spec.liveness is not None:
        main["livenessProbe"] = render_probe(spec.liveness, options=options, liveness=True)
    deployment = elastic_deployment(
        service,
        team,
        main,
        namespace=namespace,
        options=options,
        annotations=annotations,
        replicas=spec.replicas.min,
        replicas_max=spec.replicas.max,
    )
    leave_replicas_to_the_scaler(deployment, minimum=spec.replicas.min, maximum=spec.replicas.max)
    selector = selector_labels("Service", team, service.metadata.name)
    front = core_service(
        name, labels, selector, namespace=namespace, owner=owner_reference(deployment, owner_uid)
    )
    return [
        deployment,
        front,
        *team_volume_claims(service, team, namespace=namespace, options=options),
    ]


REPLICAS_MIN = "sapwood.dev/replicas-min"


def leave_replicas_to_the_scaler(deployment: Manifest, *, minimum: int, maximum: int) -> None:
    """Takes ``spec.replicas`` out of an autoscaled Deployment (``minimum < maximum``).

    Whoever applies a manifest owns the fields it names: a ``replicas`` in it would reset,
    on every re-apply (server-side or not), the count the scaler set through the scale
    subresource, as Kubernetes' own advice for autoscaled Deployments says. The scaler
    reads its bounds from the annotations ``sapwood.dev/replicas-min`` and
    ``sapwood.dev/replicas-max``; until it acts, a new Deployment runs one replica. A fixed
    count (``minimum == maximum``) stays in the manifest: nothing else sets it.
    """
    deployment["metadata"].setdefault("annotations", {})[REPLICAS_MIN] = str(minimum)
    if minimum < maximum:
        del deployment["spec"]["replicas"]


def core_service(
    name: str,
    labels: dict[str, str],
    selector: dict[str, str],
    *,
    namespace: str,
    owner: Manifest | None,
) -> Manifest:
    """A ClusterIP Service: port 80 (``http``) to the pods' ``http`` port."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, labels, namespace=namespace, owner=owner),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": PORT_NAME, "port": 80, "targetPort": PORT_NAME, "protocol": "TCP"}],
        },
    }
