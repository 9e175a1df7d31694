"""Path parameters as the API states them: names are DNS labels, aliases follow the
registry's rules, and ``{plural}`` is one of the kinds there are.

Importing this module registers the ``plural`` path convertor (Starlette keeps convertors
in one registry), so a ``/{plural:plural}`` route matches only the plurals of
specs/objects.py and every other path falls through to the routes after it: GET
/api/v1/apply answers 405 with ``Allow: POST`` rather than "no such resource 'apply'".
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from starlette.convertors import Convertor, register_url_convertor

from sapwood.schemas.models import Alias
from sapwood.specs.base import Name
from sapwood.specs.objects import PLURALS


class PluralConvertor(Convertor[str]):
    """Matches the plurals of the kinds (``jobs``, ``services``, ...), nothing else."""

    regex = "|".join(sorted(PLURALS))

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("plural", PluralConvertor())

NamePath = Annotated[Name, Path(description="lowercase letters, digits and '-' (at most 63)")]
TeamPath = Annotated[Name, Path(description="the team's name")]
AliasPath = Annotated[Alias, Path(description="a name that is not all digits")]
