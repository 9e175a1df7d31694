"""The blocking Client has exactly AsyncClient's verbs, with the same parameters."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest

from sapwood.client import AsyncClient, Client

# Lifecycle methods differ by design: ``async with``/``aclose`` against ``with``/``close``.
LIFECYCLE = {"aclose", "close"}


def public_verbs(cls: type) -> set[str]:
    return {
        name
        for name in dir(cls)
        if not name.startswith("_") and callable(getattr(cls, name)) and name not in LIFECYCLE
    }


@pytest.fixture
def clients() -> Iterator[tuple[AsyncClient, Client]]:
    blocking = Client("http://sapwood.test", token="t")
    try:
        yield blocking.aio, blocking
    finally:
        blocking.close()


def test_both_clients_have_the_same_verbs() -> None:
    only_async = public_verbs(AsyncClient) - public_verbs(Client)
    only_blocking = public_verbs(Client) - public_verbs(AsyncClient)
    assert not only_async, f"verbs missing from the blocking Client: {sorted(only_async)}"
    assert not only_blocking, f"verbs missing from AsyncClient: {sorted(only_blocking)}"


def test_every_verb_takes_the_same_parameters(clients: tuple[AsyncClient, Client]) -> None:
    aio, sync = clients
    for name in sorted(public_verbs(AsyncClient)):
        wanted = inspect.signature(getattr(aio, name)).parameters
        got = inspect.signature(getattr(sync, name)).parameters
        described = [(p.name, p.kind, p.default, p.annotation) for p in got.values()]
        assert described == [(p.name, p.kind, p.default, p.annotation) for p in wanted.values()], (
            name
        )


def test_async_generators_become_iterators_and_coroutines_results() -> None:
    for name in public_verbs(AsyncClient):
        verb = getattr(AsyncClient, name)
        assert inspect.isasyncgenfunction(verb) or inspect.iscoroutinefunction(verb), name


def test_both_clients_are_built_the_same_way() -> None:
    def parameters(fn: object) -> list[tuple[str, object, object]]:
        sig = inspect.signature(fn)  # type: ignore[arg-type]
        return [(p.name, p.kind, p.default) for p in sig.parameters.values()]

    assert parameters(Client.__init__) == parameters(AsyncClient.__init__)
