"""The one error body every 4xx and 5xx carries."""

from __future__ import annotations

from sapwood.schemas.base import WireModel


class ErrorDetail(WireModel):
    path: str
    message: str


class ErrorInfo(WireModel):
    code: str
    message: str
    details: list[ErrorDetail] = []
    hint: str | None = None


class ErrorBody(WireModel):
    error: ErrorInfo
