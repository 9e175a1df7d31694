"""Where the gateway serves what users declare: one rule, shared by the controller (which
starts JupyterLab under it), the gateway (which routes it), the CLI and the dashboard."""

from __future__ import annotations

SERVICE_PREFIX = "/s/"
WORKSPACE_PREFIX = "/w/"


def workspace_path(team: str, name: str) -> str:
    """The gateway path of a workspace, ``/w/{team}/{name}/``: JupyterLab's base URL, so its
    links and API calls work behind the gateway."""
    return f"{WORKSPACE_PREFIX}{team}/{name}/"


def service_path(team: str, name: str) -> str:
    """The gateway path of a service, ``/s/{team}/{name}/``."""
    return f"{SERVICE_PREFIX}{team}/{name}/"
