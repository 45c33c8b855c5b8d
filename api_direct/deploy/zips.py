"""Bundle folders zipped as Lambda takes them: deterministic, kept by asset id, and made ahead of need.

An asset's id is the hash of its content and its zip is deterministic (sorted
entries, fixed timestamps and modes), so one zip, kept in the bundle cache
(``zips/<asset id>.zip``), serves every stage, account and re-deploy of the same
bundle; it is written under a temporary name and renamed, so a crash never leaves
a partial one.

A deploy asks for a zip early (:func:`zip_ahead`: the app's bundle as soon as it is
built, while jsii synthesizes or the app check runs) and takes it when it uploads
(:func:`zipped`), waiting only for what is left. zlib lets go of the GIL while it
compresses, so the zipping really runs beside the rest.
"""

import os
import tempfile
import threading
import zipfile
from concurrent.futures import Future
from pathlib import Path

from api_direct.contracts import user_cache_dir

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)

#: Zips made or being made in this process, by cache path: a second ask waits on the first.
_making: dict[Path, Future[Path]] = {}
_making_lock = threading.Lock()


def zip_ahead(asset_id: str, folder: Path) -> None:
    """Start zipping ``folder`` for a later :func:`zipped` of the same asset (a no-op when it is cached)."""
    _started(asset_id, folder)


def zipped(asset_id: str, folder: Path) -> Path:
    """The zip of ``folder`` in the bundle cache, made now unless it is there or under way."""
    return _started(asset_id, folder).result()


def _started(asset_id: str, folder: Path) -> Future[Path]:
    cached = user_cache_dir() / "zips" / f"{asset_id}.zip"
    with _making_lock:
        future = _making.get(cached)
        if future is not None:
            return future
        future = Future()
        future.set_running_or_notify_cancel()
        if cached.is_file():
            future.set_result(cached)
            return future
        _making[cached] = future
    # Not a daemon: a command that ends while a zip is being written waits for it, leaving no temporary file.
    threading.Thread(target=_make, args=(future, folder, cached), name=f"zip {asset_id[:12]}").start()
    return future


def _make(future: Future[Path], folder: Path, cached: Path) -> None:
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cached.parent, prefix=f".{cached.stem}.", delete=False) as scratch:
            temporary = Path(scratch.name)
        try:
            zip_folder(folder, temporary)
            os.replace(temporary, cached)
        finally:
            temporary.unlink(missing_ok=True)
        future.set_result(cached)
    except BaseException as error:  # raised where the zip is asked for; a later ask tries again
        with _making_lock:
            _making.pop(cached, None)
        future.set_exception(error)


def zip_folder(folder: Path, destination: Path) -> None:
    """Zip ``folder`` so that equal content gives byte-identical archives."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=_FIXED_TIME)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
