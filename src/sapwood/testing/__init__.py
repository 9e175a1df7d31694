"""Test doubles that ship with Sapwood, so users can test their code against them too.

The names below are resolved on first use, so ``from sapwood.testing.documents import job``
does not import the server for ``FakeRuntime``.

- ``FakeClock``: time that moves only when a test says so.
- ``FakeRuntime``: a runtime whose units start, run and exit when a test says so.
- ``eventually``/``eventually_sync``: wait for a state with a deadline.
- ``documents``: valid documents to apply, one module per kind (``documents.job``...).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sapwood.testing import documents
    from sapwood.testing.clock import FakeClock
    from sapwood.testing.fake_runtime import FakeRuntime
    from sapwood.testing.waiting import eventually, eventually_sync

__all__ = ["FakeClock", "FakeRuntime", "documents", "eventually", "eventually_sync"]

_HOMES = {
    "FakeClock": "sapwood.testing.clock",
    "FakeRuntime": "sapwood.testing.fake_runtime",
    "eventually": "sapwood.testing.waiting",
    "eventually_sync": "sapwood.testing.waiting",
}


def __getattr__(name: str) -> Any:
    if name == "documents":
        return importlib.import_module("sapwood.testing.documents")
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'sapwood.testing' has no attribute {name!r}")
