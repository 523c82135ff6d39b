"""snake_case (Python, the database) to camelCase (the wire)."""

from __future__ import annotations

import functools
import re
from typing import Any

_SNAKE_SEGMENT = re.compile(r"(?<=[A-Za-z0-9])_([A-Za-z0-9])")


@functools.lru_cache(maxsize=4096)
def camelize(name: str) -> str:
    """`first_name` -> `firstName`; names already in camelCase are returned unchanged.

    Remembered: the same few hundred names are camelized on every answer."""
    return _SNAKE_SEGMENT.sub(lambda match: match.group(1).upper(), name)


_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snakeize(name: str) -> str:
    """`firstName` -> `first_name`: the inverse of `camelize`, for matching wire names to forms."""
    return _CAMEL_HUMP.sub(lambda match: "_" + match.group(1).lower(), name)


def camelize_keys(value: Any) -> Any:
    """Every dict key at every depth camelized, for documents we re-present as our own.

    Serializers deliberately leave JSON values verbatim (an ML result is the server's record);
    this is for the few answers, like the inference server's status, that we describe ourselves.
    """
    if isinstance(value, dict):
        return {
            camelize(key) if isinstance(key, str) else key: camelize_keys(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [camelize_keys(item) for item in value]
    return value
