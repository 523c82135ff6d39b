"""JSON parsing with Django's request-size limit applied."""

from __future__ import annotations

import io
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.parsers import JSONParser


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser reads the body stream directly, bypassing `DATA_UPLOAD_MAX_MEMORY_SIZE`.

    Reading at most one byte past the limit keeps an oversized body from being loaded whole; the
    exception handler answers 413.
    """

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise RequestDataTooBig("Request body exceeded DATA_UPLOAD_MAX_MEMORY_SIZE.")
            stream = io.BytesIO(body)
        return super().parse(stream, media_type, parser_context)
