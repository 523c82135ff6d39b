"""Uploads on disk: one directory the server owns, and no file left behind.

Detectors need a path (ffmpeg, the C2PA reader), so each upload is copied to a file. A request
deletes its own file whatever happens to it, but a server that is killed (``kill -9``, the OOM
killer, a container stopped) cannot, so files live in one directory, ``MLSERVER_TEMP_DIR``,
named ``mlserver-upload-<pid>-…``, and start-up removes those left by a process that is gone.
The pid keeps a second server sharing the directory from losing files it is still reading.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import IO

import psutil

logger = logging.getLogger(__name__)

UPLOAD_PREFIX = "mlserver-upload-"
UPLOAD_CHUNK_BYTES = 1024 * 1024
_PRIVATE_DIRECTORY_MODE = 0o700


def prepare_upload_dir(directory: Path) -> None:
    """Create ``directory`` if needed, check the server owns it, and remove stale uploads.

    Raises ``RuntimeError`` when it is a symlink, not a directory, or someone else's: uploads
    are private files, and a directory planted by another user could expose or swap them.
    """
    _ensure_private_dir(directory)
    removed = 0
    for candidate in directory.glob(f"{UPLOAD_PREFIX}*"):
        if _is_stale(candidate):
            candidate.unlink(missing_ok=True)
            removed += 1
    if removed:
        logger.info("Removed %d upload(s) left in %s by a stopped server", removed, directory)


def store_upload(source: IO[bytes], *, directory: Path, suffix: str) -> tuple[Path, int]:
    """Copy the upload to a new file in ``directory`` in fixed-size chunks; return path and size.

    The file keeps the original extension (the C2PA reader uses it). The caller deletes it.
    """
    source.seek(0)
    # Again on every request: a temporary-files cleaner may remove an idle directory.
    _ensure_private_dir(directory)
    prefix = f"{UPLOAD_PREFIX}{os.getpid()}-"
    with tempfile.NamedTemporaryFile(
        prefix=prefix, suffix=suffix, dir=directory, delete=False
    ) as target:
        try:
            shutil.copyfileobj(source, target, UPLOAD_CHUNK_BYTES)
        except BaseException:
            Path(target.name).unlink(missing_ok=True)
            raise
        return Path(target.name), target.tell()


def _ensure_private_dir(directory: Path) -> None:
    directory.mkdir(mode=_PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)
    status = directory.lstat()
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.geteuid():
        raise RuntimeError(
            f"{directory} is not a directory owned by this user; set MLSERVER_TEMP_DIR to one"
        )


def _is_stale(path: Path) -> bool:
    """Whether the process that wrote ``path`` is gone.

    A pid can be reused, so a running process with that pid counts only if it started before
    the file was last written (this very process included: a server restarted in a container
    often gets the same pid as the one that was killed).
    """
    pid_text = path.name.removeprefix(UPLOAD_PREFIX).split("-", 1)[0]
    if not pid_text.isdigit():
        return True
    try:
        written = path.stat().st_mtime
        started = psutil.Process(int(pid_text)).create_time()
    except FileNotFoundError:
        return False
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return True
    return started > written
