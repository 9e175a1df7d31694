"""A member scraping /metrics sees the gateway's samples of its own teams only."""

from __future__ import annotations

from sapwood.schemas import Role
from sapwood.server.observe.gateway_metrics import scoped
from sapwood.server.services.access import Caller

EXPOSITION = """# HELP sapwood_gateway_requests_total Requests answered.
# TYPE sapwood_gateway_requests_total counter
sapwood_gateway_requests_total{team="research",service="a",code="200"} 3.0
sapwood_gateway_requests_total{service="b",team="ops",code="200"} 5.0
sapwood_gateway_held 0.0
"""


def test_samples_of_other_teams_are_left_out() -> None:
    member = Caller(user="ann", admin=False, roles={"research": Role.MEMBER})
    text = scoped(EXPOSITION, member)
    assert 'team="research"' in text
    assert 'team="ops"' not in text
    assert "# TYPE sapwood_gateway_requests_total counter" in text
    assert "sapwood_gateway_held 0.0" in text


def test_an_admin_sees_every_team() -> None:
    assert scoped(EXPOSITION, Caller(user="root", admin=True)) == EXPOSITION
