"""From a parsed Sapwood object to its Kubernetes manifests: the one entry point per object."""

from __future__ import annotations

from collections.abc import Iterable

import yaml

from sapwood.manifests.feeds import render_feed
from sapwood.manifests.jobs import render_job
from sapwood.manifests.names import Manifest, namespace_for
from sapwood.manifests.options import DEFAULT_OPTIONS, RenderError, RenderOptions
from sapwood.manifests.services import render_service
from sapwood.manifests.workspaces import render_workspace
from sapwood.specs.objects import AnyObject, Feed, Job, Service, Workspace


def render_object(
    obj: AnyObject,
    team: str | None = None,
    *,
    namespace: str | None = None,
    options: RenderOptions = DEFAULT_OPTIONS,
    owner_uid: str | None = None,
) -> list[Manifest]:
    """Plain-dict manifests for one object, owners first; pure and deterministic.

    ``team`` defaults to ``metadata.team`` (RenderError when neither is set), ``namespace``
    to the team's (``sapwood-<team>``). ``owner_uid`` is the uid of the workload object
    (Job, Deployment or StatefulSet) once it exists: dependants then carry an
    ownerReference to it. Raises RenderError for a valid spec Kubernetes cannot run.
    """
    team = team or obj.metadata.team
    if team is None:
        raise RenderError("metadata.team", "no team: set metadata.team or pass a team")
    namespace = namespace or namespace_for(team, options=options)
    if isinstance(obj, Job):
        return render_job(obj, team, namespace=namespace, options=options, owner_uid=owner_uid)
    if isinstance(obj, Service):
        return render_service(obj, team, namespace=namespace, options=options, owner_uid=owner_uid)
    if isinstance(obj, Feed):
        return render_feed(obj, team, namespace=namespace, options=options)
    if isinstance(obj, Workspace):
        return render_workspace(
            obj, team, namespace=namespace, options=options, owner_uid=owner_uid
        )
    raise RenderError("kind", f"cannot render kind {obj.kind!r}")  # pragma: no cover


def dump_manifests(manifests: Iterable[Manifest]) -> str:
    """Multi-document YAML (``---`` between documents), keys in rendered order."""
    return "---\n".join(
        yaml.safe_dump(m, sort_keys=False, default_flow_style=False, allow_unicode=True)
        for m in manifests
    )
