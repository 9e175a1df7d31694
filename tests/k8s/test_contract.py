"""The runtime contract suite, against a real cluster (see conftest.py for how to run it)."""

from __future__ import annotations

import pytest

from tests.contract.test_runtime_contract import *  # noqa: F403 - the same cases, this harness

pytestmark = [pytest.mark.anyio, pytest.mark.k8s, pytest.mark.timeout(900)]
