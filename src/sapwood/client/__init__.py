"""The Python SDK: ``Client`` (blocking) and ``AsyncClient`` over the REST API."""

from sapwood.client.aio import AsyncClient
from sapwood.client.errors import (
    ConflictError,
    ConnectionFailedError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    SapwoodError,
    UnauthorizedError,
)
from sapwood.client.sync import Client

__all__ = [
    "AsyncClient",
    "Client",
    "ConflictError",
    "ConnectionFailedError",
    "ForbiddenError",
    "InvalidError",
    "NotFoundError",
    "SapwoodError",
    "UnauthorizedError",
]
