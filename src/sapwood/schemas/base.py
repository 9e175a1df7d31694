"""Base of every wire type: camelCase JSON, tolerant of fields a newer server adds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

MAX_BIGINT = 2**63 - 1
"""The largest integer a BIGINT column holds (SQLite and PostgreSQL): sequence numbers,
metric steps and ids are bounded by it on the wire, so a larger one is a 422, not a 500."""


class WireModel(BaseModel):
    # Clients ignore unknown fields so an older SDK keeps working against a newer server.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")
