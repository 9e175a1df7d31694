import pytest
from tests.integration.controller_fake.conftest import Harness
from tests.support import job, service

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("n", range(15))
@pytest.mark.parametrize("combo", ["heavy", "svc2"])
async def test_probe(sw: Harness, n: int, combo: str) -> None:
    docs = {
        "svc2": [service("web", replicas=2)],
        "heavy": [job("a"), service("web", replicas=3), job("b"), service("api", replicas=3)],
    }[combo]
    await sw.apply(*docs)
    await sw.step()
