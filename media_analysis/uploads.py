"""Upload handling: every uploaded file goes straight to a temporary file on disk.

Django's default handlers keep small files in memory; ours never do, hash the content as it
arrives (so a 500 MiB upload is read once), and stop as soon as the size limit is passed so that
nothing of an oversized upload is kept.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from drishtiksha.asgi_limits import request_body_limit
from drishtiksha.errors import PayloadTooLarge


def upload_too_large_error() -> PayloadTooLarge:
    limit_mib = settings.MAX_UPLOAD_SIZE / (1024 * 1024)
    return PayloadTooLarge(f"The file is larger than the {limit_mib:g} MiB upload limit.")


class HashedUploadedFile(TemporaryUploadedFile):
    """A temporary upload that knows its SHA-256, computed while it was received."""

    sha256: str = ""


class StreamingUploadHandler(FileUploadHandler):
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
