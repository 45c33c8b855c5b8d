"""Fixtures the deploy engine's zip and asset tests share."""

from pathlib import Path

import pytest


@pytest.fixture
def zip_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of the test's own: the assets in these tests share ids that real ones (content hashes) never would."""
    monkeypatch.setenv("APID_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "zips"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A small bundle folder: a handler and a package."""
    root = tmp_path / "bundle"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "handler.py").write_text("def handler(e, c):\n    return e\n")
    return root
