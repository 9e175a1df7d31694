import pytest

from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_whoami(api: Api) -> None:
    me = await api.admin.whoami()
    assert me.user == "admin"
