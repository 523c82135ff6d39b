"""Stored media read back: served to its owner with HTTP Range support so players can seek, and
given a local path for the programs that need one (ffprobe, ffmpeg, the upload to the inference
server).

Works with any storage backend: the file is opened through the storage API and streamed in
chunks, never read whole into memory, and never exposed through a public storage URL.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

STREAM_CHUNK_BYTES = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@contextmanager
def stored_copy(field_file: FieldFile) -> Iterator[Path]:
    """A local path holding the stored file: the file itself on local storage, else a temporary
    copy made in chunks (removed afterwards). Raises FileNotFoundError when it is missing."""
    storage = field_file.storage
    try:
        local = Path(storage.path(field_file.name))
    except NotImplementedError:
        local = None
    if local is not None:
        if not local.exists():
            raise FileNotFoundError(field_file.name)
        yield local
        return
    with (
        tempfile.TemporaryDirectory(prefix="stored-") as workdir,
        storage.open(field_file.name, "rb") as remote,
    ):
        path = Path(workdir) / f"copy{PurePosixPath(field_file.name).suffix}"
        with path.open("wb") as copy:
            shutil.copyfileobj(remote, copy, settings.ML_DOWNLOAD_CHUNK_BYTES)
        yield path


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The (start, end) inclusive byte range a single-range header asks for.

    Returns None when the header should be ignored (absent, malformed or multi-range: the whole
    file is sent), and raises ValueError when the range cannot be satisfied.
    """
    match = _RANGE.match(header.strip()) if header else None
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # "bytes=-N": the last N bytes
        length = int(last)
        if length == 0:
            raise ValueError("empty suffix range")
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise ValueError("range outside the file")
    return start, end


def _chunks(handle, start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(STREAM_CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def stored_file_response(
    *, name: str, content_type: str, range_header: str = "", download_name: str | None = None
) -> HttpResponse:
    size = default_storage.size(name)
    try:
        byte_range = _parse_range(range_header, size)
    except ValueError:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response

    handle = default_storage.open(name, "rb")
    if byte_range is None:
        start, end, status = 0, size - 1, 200
    else:
        (start, end), status = byte_range, 206
    length = end - start + 1 if size else 0
    response = StreamingHttpResponse(
        _chunks(handle, start, length), status=status, content_type=content_type
    )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=0"
    response["X-Content-Type-Options"] = "nosniff"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    if download_name:
        response["Content-Disposition"] = content_disposition_header(True, download_name)
    return response
