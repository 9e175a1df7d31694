"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import httpx

from sapwood.client import AsyncClient
from sapwood.testing.documents import job, service, workspace

__all__ = ["Api", "job", "service", "workspace"]


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
