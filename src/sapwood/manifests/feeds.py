"""A Sapwood Feed's workers as an ``apps/v1`` Deployment running the feed worker."""

from __future__ import annotations

from sapwood.manifests.names import Manifest
from sapwood.manifests.options import RenderOptions
from sapwood.manifests.pods import container, elastic_deployment, image_of, team_volume_claims
from sapwood.manifests.services import leave_replicas_to_the_scaler
from sapwood.specs.objects import Feed

WORKER_COMMAND = ("python", "-m", "sapwood.feeds.worker")


def render_feed(feed: Feed, team: str, *, namespace: str, options: RenderOptions) -> list[Manifest]:
    """The workers' Deployment (its count left to the scaler when ``workers.min`` <
    ``workers.max``: ``leave_replicas_to_the_scaler``) and a PVC per volume. Workers serve
    no port; they run Sapwood's feed worker, from ``options.server_image`` unless the spec
    names one."""
    image, annotations = image_of(feed, default=options.server_image)
    main = container(feed, team, image=image, command=WORKER_COMMAND, options=options, port=False)
    workers = feed.spec.workers
    deployment = elastic_deployment(
        feed,
        team,
        main,
        namespace=namespace,
        options=options,
        annotations=annotations,
        replicas=workers.min,
        replicas_max=workers.max,
    )
    leave_replicas_to_the_scaler(deployment, minimum=workers.min, maximum=workers.max)
    return [deployment, *team_volume_claims(feed, team, namespace=namespace, options=options)]
