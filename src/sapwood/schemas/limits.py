"""The server's size limits on the wire, so clients can keep under them."""

from __future__ import annotations

from pydantic import Field

from sapwood.schemas.base import WireModel


class ServerLimits(WireModel):
    max_body_bytes: int = Field(
        description="the largest request body (SAPWOOD_MAX_BODY_BYTES); larger ones get 413"
    )
    max_model_bytes: int = Field(description="the largest model upload (SAPWOOD_MAX_MODEL_BYTES)")
