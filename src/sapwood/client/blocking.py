"""Turns AsyncClient's verbs into blocking ones, so each verb is written once.

``Client`` declares ``apply = blocking(AsyncClient.apply)``: the descriptor keeps the async
verb's parameters (names, kinds, defaults and types, through ``ParamSpec``), so mypy and
editors see the same signature, and runs each call on the client's private event loop
thread. ``blocking_iter`` does the same for async generators (``iter``, ``logs``), which
become plain iterators. Nothing is generated at runtime that a type checker cannot see.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from anyio.from_thread import BlockingPortal, start_blocking_portal

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sapwood.client.aio import AsyncClient

P = ParamSpec("P")
T = TypeVar("T")


class LoopThread:
    """A private event loop on its own thread: blocking code hands it coroutines to run.

    It works from plain scripts and from inside a running loop (notebooks) alike, since the
    loop is never the caller's.
    """

    def __init__(self) -> None:
        self._cm: AbstractContextManager[BlockingPortal] | None = start_blocking_portal()
        self._portal = self._cm.__enter__()

    def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Runs ``fn()`` on the loop and waits for its result (or its exception)."""

        async def run() -> T:
            return await fn()

        return self._portal.call(run)

    def iterate(self, items: AsyncIterator[T]) -> Iterator[T]:
        """``items`` as a blocking iterator; stopping early closes the async generator."""
        try:
            while True:
                try:
                    yield self._portal.call(items.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None and self._cm is not None:
                self._portal.call(aclose)

    def close(self) -> None:
        """Stops the loop and joins its thread; idempotent."""
        if self._cm is None:
            return
        cm, self._cm = self._cm, None
        cm.__exit__(None, None, None)


class Blocking(Protocol):
    """What a blocking facade holds: the async client and the loop that runs it."""

    @property
    def aio(self) -> AsyncClient: ...

    @property
    def loop_thread(self) -> LoopThread: ...


class _Verb(Generic[P, T]):
    """Common part of both descriptors: the async verb, its name and its docstring."""

    def __init__(self, verb: Callable[Concatenate[AsyncClient, P], Any]) -> None:
        self.verb = verb
        self.name: str = verb.__name__
        self.__doc__ = verb.__doc__
        self.__wrapped__ = verb

    def __set_name__(self, owner: type[Any], name: str) -> None:
        if name != self.name:
            raise TypeError(f"{owner.__name__}.{name} wraps {self.name}: keep the verb's name")

    def _bound(self, obj: Blocking) -> Callable[P, Any]:
        method: Callable[P, Any] = getattr(obj.aio, self.name)
        return method

    def _keep(self, obj: Blocking, call: Callable[P, Any]) -> None:
        """Caches the bound blocking method on the instance, as a plain method would be
        looked up: later calls skip the descriptor."""
        vars(obj)[self.name] = call


class blocking(_Verb[P, T]):  # noqa: N801 - used like a decorator, as property is
    """A blocking method from an async one: same parameters, the same result, waited for."""

    def __init__(self, verb: Callable[Concatenate[AsyncClient, P], Awaitable[T]]) -> None:
        super().__init__(verb)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> blocking[P, T]: ...

    @overload
    def __get__(self, obj: Blocking, owner: type[Any]) -> Callable[P, T]: ...

    def __get__(self, obj: Blocking | None, owner: type[Any]) -> blocking[P, T] | Callable[P, T]:
        if obj is None:
            return self
        method = self._bound(obj)
        loop = obj.loop_thread

        @functools.wraps(method)
        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            result: T = loop.call(functools.partial(method, *args, **kwargs))
            return result

        self._keep(obj, call)
        return call

    def __call__(self, obj: Blocking, /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``Client.get(client, ...)``, as with a plain method looked up on the class."""
        return self.__get__(obj, type(obj))(*args, **kwargs)


class blocking_iter(_Verb[P, T]):  # noqa: N801 - used like a decorator, as property is
    """A blocking iterator from an async generator method: same parameters, same items."""

    def __init__(self, verb: Callable[Concatenate[AsyncClient, P], AsyncIterator[T]]) -> None:
        super().__init__(verb)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> blocking_iter[P, T]: ...

    @overload
    def __get__(self, obj: Blocking, owner: type[Any]) -> Callable[P, Iterator[T]]: ...

    def __get__(
        self, obj: Blocking | None, owner: type[Any]
    ) -> blocking_iter[P, T] | Callable[P, Iterator[T]]:
        if obj is None:
            return self
        method = self._bound(obj)
        loop = obj.loop_thread

        @functools.wraps(method)
        def call(*args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
            items: AsyncIterator[T] = method(*args, **kwargs)
            return loop.iterate(items)

        self._keep(obj, call)
        return call

    def __call__(self, obj: Blocking, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        """``Client.iter(client, ...)``, as with a plain method looked up on the class."""
        return self.__get__(obj, type(obj))(*args, **kwargs)
