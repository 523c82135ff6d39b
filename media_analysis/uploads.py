"""Upload handling: every uploaded file goes straight to a temporary file on disk.

Django's default handlers keep small files in memory; ours never do, hash the content as it
arrives (so a 500 MiB upload is read once), and stop as soon as the size limit is passed so that
nothing of an oversized upload is kept.

With local storage the temporary file is made in a `.incoming` folder inside the storage's own
folder (unless FILE_UPLOAD_TEMP_DIR names another): on the same filesystem, storing the upload is
a rename, not a second copy of the whole file (which it would be from a /tmp on another disk, or
from a container's /tmp to the media volume).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from drishtiksha.asgi_limits import request_body_limit
from drishtiksha.asgi_streaming import StreamedBody
from drishtiksha.errors import PayloadTooLarge


def upload_too_large_error() -> PayloadTooLarge:
    limit_mib = settings.MAX_UPLOAD_SIZE / (1024 * 1024)
    return PayloadTooLarge(f"The file is larger than the {limit_mib:g} MiB upload limit.")


INCOMING_FOLDER = ".incoming"
# Bytes handed to the handler at a time (Django's default is 64 KiB): fewer, larger writes and hash
# updates, each of which runs without holding the GIL.
UPLOAD_CHUNK_BYTES = 1024 * 1024


def upload_temp_dir() -> str | None:
    """Where uploads stream to: FILE_UPLOAD_TEMP_DIR, else beside local storage, else /tmp."""
    if settings.FILE_UPLOAD_TEMP_DIR:
        return settings.FILE_UPLOAD_TEMP_DIR
    if isinstance(default_storage, FileSystemStorage):
        folder = Path(default_storage.location) / INCOMING_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)
    return None


class HashedUploadedFile(TemporaryUploadedFile):
    """A temporary upload that knows its SHA-256, computed while it was received."""

    sha256: str = ""

    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        _, ext = os.path.splitext(name)
        # Closed by Django with the upload, or by this module when the upload fails.
        file = tempfile.NamedTemporaryFile(suffix=".upload" + ext, dir=upload_temp_dir())  # noqa: SIM115
        UploadedFile.__init__(self, file, name, content_type, size, charset, content_type_extra)


class StreamingUploadHandler(FileUploadHandler):
    chunk_size = UPLOAD_CHUNK_BYTES

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # The same bound as drishtiksha.asgi_limits, which refuses such a body before Django
        # reads it when served over ASGI; here for any other way in (WSGI, the test client).
        if content_length and content_length > request_body_limit():
            raise upload_too_large_error()

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.file = HashedUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )
        self._digest = hashlib.sha256()
        self._received = 0
        body = getattr(self.request, "_stream", None)
        if isinstance(body, StreamedBody):
            # A body streamed from the connection can stop mid-file (client gone, cut off at the
            # limit): the half-written file goes at once.
            body.when_aborted(self.file.close)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._received += len(raw_data)
        if self._received > settings.MAX_UPLOAD_SIZE:
            self.file.close()
            raise upload_too_large_error()
        self._digest.update(raw_data)
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> HashedUploadedFile:
        self.file.seek(0)
        self.file.size = file_size
        self.file.sha256 = self._digest.hexdigest()
        return self.file

    def upload_interrupted(self) -> None:
        if hasattr(self, "file"):
            self.file.close()
