"""One fixture: the apps of ``apps/`` a test module uses, each started on both sides at its first test."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.differential import Fleet


@pytest.fixture(scope="module")
def running(
    request: pytest.FixtureRequest, bundle_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    """Each app under uvicorn and in its Lambda container, started once per module (its lifespan runs once),
    in the order of the module's ``CASES``."""
    fleet = Fleet(bundle_cache_dir, tmp_path_factory.mktemp("compat"), order=list(getattr(request.module, "CASES", ())))
    try:
        yield fleet
    finally:
        fleet.close()
