"""A Sapwood Feed's workers as an ``apps/v1`` Deployment running the feed worker."""

from __future__ import annotations

from sapwood.kubernetes.names import (
    Manifest,
    metadata,
    object_labels,
    object_name,
    selector_labels,
)
from sapwood.kubernetes.options import RenderOptions
from sapwood.kubernetes.pods import container, image_of, pod_template, team_volume_claims
from sapwood.specs.objects import Feed

WORKER_COMMAND = ("python", "-m", "sapwood.feeds.worker")


def render_feed(feed: Feed, team: str, *, namespace: str, options: RenderOptions) -> list[Manifest]:
    """The workers' Deployment (``workers.min`` replicas; the controller moves it up to
    ``workers.max`` with the backlog) and a PVC per volume. Workers serve no port; they
    run Sapwood's feed worker, from ``options.server_image`` unless the spec names one."""
    spec = feed.spec
    name = object_name("Feed", feed.metadata.name)
    labels = object_labels(feed, team)
    image, annotations = image_of(feed, default=options.server_image)
    main = container(feed, team, image=image, command=WORKER_COMMAND, options=options, port=False)
    selector = selector_labels("Feed", team, feed.metadata.name)
    annotations = {**annotations, "sapwood.dev/replicas-max": str(spec.workers.max)}
    deployment: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, labels, namespace=namespace, annotations=annotations),
        "spec": {
            "replicas": spec.workers.min,
            "selector": {"matchLabels": selector},
            "template": pod_template(feed, team, main, options=options),
        },
    }
    return [deployment, *team_volume_claims(feed, team, namespace=namespace, options=options)]
