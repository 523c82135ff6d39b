"""Structured logs: one JSON object per line, for log shippers in production."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record was passed by the caller as `extra`.
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "requestId": getattr(record, "request_id", None),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and key != "request":
                entry[key] = value if isinstance(value, str | int | float | bool) else repr(value)
        if record.exc_info:
            # Stack traces belong in the server's logs (never in a response body).
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
