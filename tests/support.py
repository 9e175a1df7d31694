"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

import httpx

from sapwood.client import AsyncClient


class Api:
    """An app with its lifespan running, reachable in-process; ``admin`` holds the SDK."""

    def __init__(self, app: object, admin_token: str) -> None:
        self.transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.admin_token = admin_token
        self.admin = self.client(admin_token)

    def client(self, token: str | None, *, team: str | None = None) -> AsyncClient:
        return AsyncClient("http://sapwood.test", token=token, team=team, transport=self.transport)

    def http(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(
            transport=self.transport, base_url="http://sapwood.test", headers=headers
        )


def job(name: str, *, team: str | None = None, **spec: Any) -> dict[str, Any]:
    """A minimal valid Job document; keyword arguments override spec fields."""
    metadata: dict[str, Any] = {"name": name}
    if team:
        metadata["team"] = team
    return {
        "apiVersion": "sapwood/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {"command": ["python", "-c", "print('hi')"], **spec},
    }


def service(name: str, *, team: str | None = None, **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if team:
        metadata["team"] = team
    return {
        "apiVersion": "sapwood/v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"command": ["python", "-m", "http.server"], **spec},
    }


def workspace(name: str, *, team: str | None = None, **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if team:
        metadata["team"] = team
    return {
        "apiVersion": "sapwood/v1",
        "kind": "Workspace",
        "metadata": metadata,
        "spec": {"tool": "command", "command": ["sleep", "3600"], **spec},
    }
