"""Suite-wide set-up: bundled Node for jsii, no real AWS, one bundle cache per run."""

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import api_direct  # noqa: F401  (first: points jsii at the bundled Node.js)
import botocore.session
import pytest

from tests.example_project import copy_example

# One botocore data loader for the whole process: each new session otherwise parses botocore's JSON (endpoints and
# service models) again, and moto's mock starts every test on new sessions, so most of a test's set-up was that
# parsing. The loader only reads files that never change while the suite runs.
botocore.session.create_loader = functools.cache(botocore.session.create_loader)  # type: ignore[attr-defined]

# Whatever the developer's shell holds, no test may find real credentials.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
)
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session", autouse=True)
def bundle_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cold bundle cache for this run, shared by its modules (one pip install each): ``$APID_CACHE_DIR``,
    where the bundler, the CLI and the constructs all look (never the developer's own cache)."""
    cache = tmp_path_factory.mktemp("apid-cache")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("APID_CACHE_DIR", str(cache))
        yield cache


@pytest.fixture
def pip_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record every pip run the bundler makes, while still running it."""
    from api_direct.bundling import build as bundling

    calls: list[list[str]] = []
    real = bundling.run_pip

    def recording(command: list[str]) -> None:
        calls.append(list(command))
        real(command)

    monkeypatch.setattr(bundling, "run_pip", recording)
    return calls


@pytest.fixture
def copy_of_example(tmp_path: Path) -> Path:
    """A writable copy of the example project, for tests that edit it."""
    return copy_example(tmp_path)
