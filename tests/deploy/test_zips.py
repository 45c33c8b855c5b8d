"""A bundle's zip is made once, early when asked, and a second ask waits for the first instead of zipping again."""

import threading
import zipfile
from pathlib import Path

import pytest

from api_direct.deploy import zips
from api_direct.deploy.zips import zip_ahead, zipped


pytestmark = pytest.mark.usefixtures("zip_cache")


def test_a_zip_asked_for_ahead_is_the_one_the_upload_takes(
    folder: Path, zip_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    made: list[Path] = []
    real = zips.zip_folder

    def slow(source: Path, destination: Path) -> None:
        made.append(destination)
        started.set()
        release.wait(10)  # still zipping when the upload asks for it
        real(source, destination)

    monkeypatch.setattr(zips, "zip_folder", slow)
    zip_ahead("asset-1", folder)
    assert started.wait(10)
    waiting: list[Path] = []
    asker = threading.Thread(target=lambda: waiting.append(zipped("asset-1", folder)))
    asker.start()
    asker.join(0.2)
    assert asker.is_alive() and not waiting  # it waits for the zip under way
    release.set()
    asker.join(10)
    assert waiting == [zip_cache / "asset-1.zip"] and len(made) == 1
    assert zipfile.ZipFile(waiting[0]).namelist() == ["handler.py", "pkg/__init__.py"]
    assert [p.name for p in zip_cache.iterdir()] == ["asset-1.zip"]  # no temporary left


def test_a_zip_on_disk_is_taken_without_zipping(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = zipped("asset-2", folder)
    monkeypatch.setattr(zips, "zip_folder", lambda source, destination: pytest.fail("zipped again"))
    zip_ahead("asset-2", folder)
    assert zipped("asset-2", folder) == first


def test_a_failed_zip_is_raised_where_it_is_asked_for_and_a_later_ask_tries_again(
    folder: Path, zip_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = zips.zip_folder

    def full_disk(source: Path, destination: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zips, "zip_folder", full_disk)
    zip_ahead("asset-3", folder)
    with pytest.raises(OSError, match="No space left"):
        zipped("asset-3", folder)
    assert not zip_cache.exists() or list(zip_cache.iterdir()) == []
    monkeypatch.setattr(zips, "zip_folder", real)
    assert zipped("asset-3", folder).is_file()
