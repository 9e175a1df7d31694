"""Base of every wire type: camelCase JSON, tolerant of fields a newer server adds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    # Clients ignore unknown fields so an older SDK keeps working against a newer server.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")
