"""The object a workload's own token belongs to (what it may call is
services/workload_scope.py's decision)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WorkloadScope:
    """The object a workload token belongs to, and the registry models that object names."""

    kind: str
    team: str
    name: str
    models: frozenset[str] = field(default=frozenset())

    @classmethod
    def parse(cls, text: str, *, models: frozenset[str] = frozenset()) -> WorkloadScope:
        """From ``Kind/team/name`` (as stored on the token); ValueError for another shape."""
        kind, team, name = text.split("/", 2)
        if not (kind and team and name):
            raise ValueError(f"a workload scope is Kind/team/name, got {text!r}")
        return cls(kind, team, name, models)

    def __str__(self) -> str:
        return f"{self.kind}/{self.team}/{self.name}"

    def owns(self, kind: str, team: str, name: str) -> bool:
        return (self.kind, self.team, self.name) == (kind, team, name)


def models_named(kind: str, spec: Mapping[str, object]) -> frozenset[str]:
    """The registry models an object's spec names (a Feed's, a Service's and its canary's)."""
    if kind not in ("Feed", "Service"):
        return frozenset()
    refs = [spec.get("model")]
    canary = spec.get("canary")
    if kind == "Service" and isinstance(canary, Mapping):
        refs.append(canary.get("model"))
    return frozenset(ref.partition("@")[0] for ref in refs if isinstance(ref, str) and ref)
