"""Every unit test is hermetic (no network, no processes) and short (a 10 s timeout; 60 s
for a property test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy.testing  # noqa: F401  # numpy 1.x runs `lscpu` when this is first imported
import pytest

from tests.unit.hermetic import PROPERTY_TIMEOUT_S, UNIT_TIMEOUT_S, Guard

UNIT = Path(__file__).parent


CALL_FAILED = pytest.StashKey[bool]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A unit test gets a short timeout unless it names its own (``@pytest.mark.timeout``);
    a Hypothesis property test, which runs many examples, a longer one."""
    for item in items:
        if item.path.is_relative_to(UNIT) and item.get_closest_marker("timeout") is None:
            is_property = getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
            seconds = PROPERTY_TIMEOUT_S if is_property else UNIT_TIMEOUT_S
            item.add_marker(pytest.mark.timeout(seconds))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None] | pytest.TestReport:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[None]:
    guard = Guard(monkeypatch)
    guard.install()
    yield
    # A test that failed already says why; one that passed had the error swallowed.
    if guard.attempts and not request.node.stash.get(CALL_FAILED, False):
        pytest.fail("a unit test reached outside its process: " + "; ".join(guard.attempts))


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every HTTP connection the SDK opens is refused, as by a port nothing listens on."""

    async def refused(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", refused)
