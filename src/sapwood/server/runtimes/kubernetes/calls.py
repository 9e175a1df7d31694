"""Blocking client calls, run off the event loop, with errors translated at the seam."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sapwood.server.runtimes.kubernetes.client import TRANSPORT_ERRORS
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError, translate, unreachable

P = ParamSpec("P")
T = TypeVar("T")


async def call(action: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Runs `fn` in a worker thread; raises RuntimeTemporaryError/RuntimePermanentError.

    `action` completes "kubernetes refused to ..." in the error's message.
    """
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except ApiStatusError as error:
        raise translate(error, action=action) from error
    except TRANSPORT_ERRORS as error:
        raise unreachable(error, action=action) from error


async def call_unless(
    action: str, statuses: frozenset[int], fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T | None:
    """As `call`, but an answer with one of `statuses` returns None instead of raising."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except ApiStatusError as error:
        if error.status in statuses:
            return None
        raise translate(error, action=action) from error
    except TRANSPORT_ERRORS as error:
        raise unreachable(error, action=action) from error
