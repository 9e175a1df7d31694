"""The receivers here listen on loopback: the server is told to allow it, as an admin would."""

from __future__ import annotations

import pytest

from sapwood.server.settings import NotificationSettings, Settings

LOOPBACK = ("127.0.0.1/32",)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    allow = NotificationSettings(webhook_allow=LOOPBACK)
    return settings.model_copy(update={"notifications": allow})
