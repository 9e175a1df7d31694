"""Which version a reference means: ``3`` is version 3, anything else an alias. Pure."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sapwood.schemas.models import LATEST


def resolve(ref: str, versions: Collection[int], aliases: Mapping[str, int]) -> int | None:
    """The version ``ref`` names, or None when it names nothing.

    Digits name a version number; otherwise an alias. ``latest``, unless an alias of that
    name exists, is the newest version.
    """
    if ref.isascii() and ref.isdigit():  # not '²', which isdigit() but int() refuses
        number = int(ref)
        return number if number in versions else None
    if ref in aliases:
        target = aliases[ref]
        return target if target in versions else None
    if ref == LATEST and versions:
        return max(versions)
    return None


def aliases_of(version: int, aliases: Mapping[str, int]) -> list[str]:
    return sorted(a for a, v in aliases.items() if v == version)


def model_refs(spec: Mapping[str, object]) -> list[str]:
    """The ``NAME@REF`` strings a Service spec serves: its model and its canary's model."""
    refs = []
    if isinstance(spec.get("model"), str):
        refs.append(str(spec["model"]))
    canary = spec.get("canary")
    if isinstance(canary, Mapping) and isinstance(canary.get("model"), str):
        refs.append(str(canary["model"]))
    return refs


def services_using(
    name: str,
    version: int,
    services: Mapping[str, Mapping[str, object]],
    *,
    versions: Collection[int],
    aliases: Mapping[str, int],
) -> list[str]:
    """The services (name → spec) that serve ``name`` at ``version``, directly or by alias."""
    using = []
    for service, spec in services.items():
        for ref in model_refs(spec):
            model, _, at = ref.partition("@")
            if model == name and resolve(at, versions, aliases) == version:
                using.append(service)
                break
    return sorted(using)


def services_naming_alias(
    name: str, alias: str, services: Mapping[str, Mapping[str, object]]
) -> list[str]:
    """The services whose spec names ``name@alias``."""
    return sorted(
        service for service, spec in services.items() if f"{name}@{alias}" in model_refs(spec)
    )
