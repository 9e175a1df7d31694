from __future__ import annotations

import json
from datetime import timedelta

import pytest

from sapwood.server.gateway.sources import parse_routes_file


def test_a_routes_file_becomes_a_table() -> None:
    text = """
services:
  - team: lab
    service: echo
    endpoints: ["127.0.0.1:9001"]
    canaryEndpoints: ["127.0.0.1:9101"]
    canaryWeight: 10
    shadow: true
    gateway: {auth: public, holdTimeout: 5s, rateLimit: {requestsPerSecond: 2}}
"""
    route = parse_routes_file(text, source="routes.yaml")[("lab", "echo")]
    assert route.endpoints == ("127.0.0.1:9001",)
    assert route.canary_endpoints == ("127.0.0.1:9101",)
    assert (route.canary_weight, route.shadow) == (10, True)
    assert route.gateway.auth == "public"
    assert route.gateway.hold_timeout == timedelta(seconds=5)
    assert route.gateway.rate_limit is not None
    assert route.gateway.rate_limit.capacity == 2


def test_json_works_too_and_defaults_apply() -> None:
    text = json.dumps({"services": [{"team": "lab", "service": "echo"}]})
    route = parse_routes_file(text, source="routes.json")[("lab", "echo")]
    assert route.endpoints == ()
    assert route.gateway.auth == "token"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            "services:\n  - team: t\n    service: s\n    canaryWeight: 150\n",
            "services.0.canaryWeight",
        ),
        ("services:\n  - team: t\n", "services.0.service"),
        ("services:\n  - {team: t, service: s, colour: red}\n", "services.0.colour"),
        ("services: [", "not YAML or JSON"),
    ],
)
def test_bad_files_name_the_problem(text: str, named: str) -> None:
    with pytest.raises(ValueError, match=named) as raised:
        parse_routes_file(text, source="routes.yaml")
    assert str(raised.value).startswith("routes.yaml: ")
