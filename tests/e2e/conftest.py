"""End-to-end fixtures: a patched moto server on loopback, reached with fake credentials."""

import os
from collections.abc import Iterator

import pytest

from api_direct.local.emulator import running_moto_server
from tests.e2e.moto_account import REGION


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """One moto server per test module, so modules never see each other's stacks.

    Fake credentials and the region are set for the whole module (the suite's
    conftest already keeps real ones out); loopback never goes through a proxy.
    """
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "NO_PROXY": ",".join(filter(None, ["127.0.0.1", os.environ.get("NO_PROXY")])),
        }.items():
            env.setenv(name, value)
        with running_moto_server() as endpoint:
            yield endpoint
