"""How the Kubernetes runtime reaches its cluster and what it puts in pods.

The settings are the server's own ``Settings.runtime.kubernetes`` group (server/settings.py),
handed to the runtime as they are rather than copied field by field.
"""

from __future__ import annotations

from sapwood.server.settings import KubernetesRuntimeSettings as KubernetesRuntimeSettings
