"""Sapwood objects as Kubernetes manifests: pure functions from specs to plain dicts.

This package stands on ``sapwood.specs``, the standard library and PyYAML only; it never
imports the Kubernetes client. The CLI prints what it renders (``sapwood render``,
``sapwood install kubernetes``), and the Kubernetes runtime sends the same dicts to a
cluster. ``sapwood.manifests.install`` renders the control plane itself.
"""

from __future__ import annotations

from sapwood.manifests.names import (
    Manifest,
    namespace_for,
    object_name,
    token_secret_name,
    volume_claim_name,
)
from sapwood.manifests.options import (
    DEFAULT_OPTIONS,
    DEFAULT_PRIORITIES,
    RenderError,
    RenderOptions,
)
from sapwood.manifests.render import dump_manifests, render_object
from sapwood.manifests.team import (
    render_namespace,
    render_priority_classes,
    render_team,
    render_team_access,
)

__all__ = [
    "DEFAULT_OPTIONS",
    "DEFAULT_PRIORITIES",
    "Manifest",
    "RenderError",
    "RenderOptions",
    "dump_manifests",
    "namespace_for",
    "object_name",
    "render_namespace",
    "render_object",
    "render_priority_classes",
    "render_team",
    "render_team_access",
    "token_secret_name",
    "volume_claim_name",
]
