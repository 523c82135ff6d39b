"""A serializer's output, computed by a plan built once per response instead of per object.

DRF's `Serializer.to_representation` walks its fields for every object: a generator over the
readable fields, a guarded attribute lookup, a conversion. On a list page of media, each with every
run and each run's analyses, that is thousands of field visits and it was most of the page's time.
`representation_plan(serializer)` reads the serializer's fields once and returns a function that
gives, for one object, exactly the dict `serializer.to_representation(obj)` gives: the same keys in
the same order, the same values (tests compare the two over varied data).

Only what the read-only serializers of hot lists use is specialised: plain attributes, nested
serializers (single and `many=True`), method fields, UUIDs and ISO 8601 datetimes. Every other
field keeps its own `to_representation`, and a field with a dotted or `*` source keeps its own
`get_attribute`, so a serializer that uses more than that is still represented correctly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models.manager import BaseManager
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

Represent = Callable[[Any], Any]


def representation_plan(serializer: serializers.BaseSerializer) -> Represent:
    """`serializer.to_representation`, for a serializer (or a `many=True` list of one).

    An object that two nested serializers of the same class present (a media item's latest run,
    which is also one of its runs) is represented once and the result used in both places.
    """
    return _plan(serializer, memo={})


def _plan(serializer: serializers.BaseSerializer, memo: dict) -> Represent:
    if isinstance(serializer, serializers.ListSerializer):
        child = _plan(serializer.child, memo)
        return lambda data: [child(item) for item in _iterable(data)]
    if not isinstance(serializer, serializers.Serializer):
        return serializer.to_representation
    steps = [
        (field.field_name, _getter(field), _converter(field, memo))
        for field in serializer._readable_fields
    ]

    def represent(instance: Any) -> dict[str, Any]:
        result = {}
        for name, get, convert in steps:
            value = get(instance)
            result[name] = None if value is None else convert(value)
        return result

    if serializer.parent is None:
        return represent
    kind = type(serializer)

    def represent_once(instance: Any) -> dict[str, Any]:
        key = (kind, id(instance))
        known = memo.get(key)
        if known is None or known[0] is not instance:
            known = memo[key] = (instance, represent(instance))
        return known[1]

    return represent_once


def _iterable(data: Any) -> Any:
    return data.all() if isinstance(data, BaseManager) else data


def _getter(field: serializers.Field) -> Represent:
    source_attrs = field.source_attrs
    if len(source_attrs) != 1:
        return field.get_attribute
    (attr,) = source_attrs

    def get(instance: Any) -> Any:
        try:
            return getattr(instance, attr)
        except ObjectDoesNotExist:
            return None
        except AttributeError:
            # A missing attribute means a default, a null or an omitted field: DRF decides.
            return field.get_attribute(instance)

    return get


def _converter(field: serializers.Field, memo: dict) -> Represent:
    if isinstance(field, serializers.BaseSerializer):
        return _plan(field, memo)
    if isinstance(field, serializers.SerializerMethodField):
        return getattr(field.parent, field.method_name)
    if isinstance(field, serializers.UUIDField) and field.uuid_format == "hex_verbose":
        return str
    if type(field) is serializers.DateTimeField and _is_iso_8601(field):
        return _iso_8601_converter(field)
    return field.to_representation


def _is_iso_8601(field: serializers.DateTimeField) -> bool:
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    return isinstance(output_format, str) and output_format.lower() == ISO_8601


def _iso_8601_converter(field: serializers.DateTimeField) -> Represent:
    """`DateTimeField.to_representation` for aware datetimes; anything else goes to DRF."""
    zone = getattr(field, "timezone", None) or field.default_timezone()

    def convert(value: Any) -> Any:
        if zone is None or not isinstance(value, datetime) or value.tzinfo is None:
            return field.to_representation(value)
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return convert
