"""Several files in one multipart body, each to become its own media.

`BatchUploadHandler` streams every file to disk as a single upload does, under the batch's body
limit (UPLOAD_BATCH_MAX_BYTES), and keeps the parts in the order they came so that each gets its
own result. Used by POST /api/v1/media/batch; the upload page sends one request per file instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadhandler import SkipFile

from drishtiksha.asgi_limits import batch_body_limit, batch_too_large_message
from drishtiksha.errors import DomainError, PayloadTooLarge, ValidationFailed
from media_analysis.uploads import HashedUploadedFile, StreamingUploadHandler

# The multipart fields a file may come in, as for a single upload.
BATCH_FILE_FIELDS = ("media", "file")


def too_many_files_error() -> ValidationFailed:
    message = f"A batch may hold at most {settings.UPLOAD_BATCH_MAX_FILES} files."
    return ValidationFailed(message, field_errors={"media": message})


@dataclass
class BatchPart:
    """One file part of the body, in the order it came: stored to disk, or skipped as too large."""

    filename: str
    upload: HashedUploadedFile | None = None
    too_large: bool = False


class BatchUploadHandler(StreamingUploadHandler):
    """The single upload's handler, with the batch's body limit and a per-file size limit.

    A file over MAX_UPLOAD_SIZE is skipped (its bytes are read and dropped, never written) and
    remembered, so that it gets its own 413 result while the files after it are still stored.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.parts: list[BatchPart] = []
        self._part: BatchPart | None = None

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > batch_body_limit():
            raise PayloadTooLarge(batch_too_large_message())

    def new_file(self, field_name, file_name, *args, **kwargs) -> None:
        self._part = None
        if field_name in BATCH_FILE_FIELDS:
            if len(self.parts) >= settings.UPLOAD_BATCH_MAX_FILES:
                # Refused as soon as the part begins: nothing more of the body is written.
                raise too_many_files_error()
            self._part = BatchPart(filename=file_name)
            self.parts.append(self._part)
        super().new_file(field_name, file_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self._received + len(raw_data) > settings.MAX_UPLOAD_SIZE:
            self.file.close()
            if self._part is not None:
                self._part.too_large = True
            raise SkipFile
        super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int) -> HashedUploadedFile:
        upload = super().file_complete(file_size)
        if self._part is not None:
            self._part.upload = upload
        return upload


def batch_error_code(error: DomainError) -> str:
    # PayloadTooLarge -> payload_too_large: one code per domain error class, none to maintain.
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()
