"""Label selectors as kubectl writes them: ``app=x,tier!=y,gpu,!spot``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sapwood.specs.base import check_label_key, check_label_value

_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_LABEL_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
# A key's prefix may be any DNS subdomain up to 253 characters; three labels (191 at most)
# is what the pattern can promise without counting.
_KEY = rf"(?:(?:{_DNS_LABEL}(?:\.{_DNS_LABEL}){{0,2}})?/)?{_LABEL_NAME}"
_TERM = rf"(?:{_KEY}\s*(?:!=|==|=)\s*(?:{_LABEL_NAME})?|!\s*{_KEY}|{_KEY})"
_SLOT = rf"\s*(?:{_TERM}\s*)?"
# The grammar parse_selector accepts, as a JSON Schema pattern (``\s`` as Python reads it:
# what str.strip removes). Longer key prefixes are accepted too, but not advertised.
SELECTOR_PATTERN = rf"^{_SLOT}(?:,{_SLOT})*$"


class Op(StrEnum):
    EQ = "="
    NE = "!="
    EXISTS = "exists"
    ABSENT = "!exists"


@dataclass(frozen=True)
class Requirement:
    key: str
    op: Op
    value: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op is Op.EQ:
            return labels.get(self.key) == self.value
        if self.op is Op.NE:
            return labels.get(self.key) != self.value
        if self.op is Op.EXISTS:
            return self.key in labels
        return self.key not in labels


def parse_selector(text: str) -> list[Requirement]:
    """Requirements that must all hold; ValueError naming the bad term otherwise."""
    out = []
    for raw in text.split(","):
        term = raw.strip()
        if not term:
            continue
        try:
            out.append(_parse_term(term))
        except ValueError as exc:
            raise ValueError(f"label selector term {term!r}: {exc}") from None
    return out


def _parse_term(term: str) -> Requirement:
    if "!=" in term:
        key, value = term.split("!=", 1)
        return Requirement(check_label_key(key.strip()), Op.NE, check_label_value(value.strip()))
    if "=" in term:
        key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
        return Requirement(check_label_key(key.strip()), Op.EQ, check_label_value(value.strip()))
    if term.startswith("!"):
        return Requirement(check_label_key(term[1:].strip()), Op.ABSENT)
    return Requirement(check_label_key(term), Op.EXISTS)


def matches(requirements: list[Requirement], labels: Mapping[str, str]) -> bool:
    return all(r.matches(labels) for r in requirements)
