"""What a unit becomes (pure): names, labels, env, errors."""

from __future__ import annotations

from sapwood.server.runtimes.base import (
    RuntimePermanentError,
    RuntimeTemporaryError,
    UnitKey,
    UnitSpec,
)
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError, translate
from sapwood.server.runtimes.kubernetes.manifests import (
    key_of,
    pod_manifest,
    pod_name,
    secret_manifest,
)


def test_names_are_dns_labels_even_for_long_names() -> None:
    key = UnitKey("Workspace", "research", "x" * 63, 12)
    name = pod_name(key, 100)
    assert len(name) <= 63
    assert name.startswith("ws-x")
    assert pod_name(key, 100) != pod_name(UnitKey("Workspace", "research", "x" * 62, 12), 100)


def test_the_key_round_trips_through_labels() -> None:
    key = UnitKey("Service", "vision", "api", 3)
    unit = UnitSpec(key=key, command=("serve",), env={})
    assert key_of(pod_manifest(unit, namespace="ns", run=1, image="img")) == key


def test_only_credentials_go_to_the_secret() -> None:
    unit = UnitSpec(
        key=UnitKey("Job", "t", "j"),
        command=("run",),
        env={"SAPWOOD_TOKEN": "a", "DB_PASSWORD": "b", "EPOCHS": "3"},
    )
    secret = secret_manifest(unit, namespace="ns")
    assert secret is not None
    assert secret["stringData"] == {"SAPWOOD_TOKEN": "a", "DB_PASSWORD": "b"}
    no_secrets = UnitSpec(key=unit.key, command=("run",), env={"EPOCHS": "3"})
    assert secret_manifest(no_secrets, namespace="ns") is None


def test_error_translation() -> None:
    assert isinstance(translate(ApiStatusError(409, "conflict"), action="x"), RuntimeTemporaryError)
    assert isinstance(
        translate(ApiStatusError(429, "slow down"), action="x"), RuntimeTemporaryError
    )
    assert isinstance(translate(ApiStatusError(502, "bad gw"), action="x"), RuntimeTemporaryError)
    denied = translate(ApiStatusError(403, "no", reason="Forbidden"), action="create a pod")
    assert isinstance(denied, RuntimePermanentError)
    assert denied.reason == "Forbidden"
    assert str(denied) == "kubernetes refused to create a pod: no"
    parsed = ApiStatusError.from_body(422, b'{"kind":"Status","message":"bad","reason":"Invalid"}')
    assert (parsed.message, parsed.reason) == ("bad", "Invalid")
    assert ApiStatusError.from_body(502, b"<html>").message == "<html>"
