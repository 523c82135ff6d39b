"""A serializer's output, computed by a plan built once per serializer instead of per object.

DRF's `Serializer.to_representation` walks its fields for every object: a generator over the
readable fields, a guarded attribute lookup, a conversion. On a list page of media, each with every
run and each run's analyses, that is thousands of field visits and it was most of the page's time.
`representation_plan(serializer)` reads the serializer's fields once and returns a function that
gives, for one object, exactly the dict DRF's walk gives: the same keys in the same order, the same
values (tests compare the two over varied data).

What the read-only serializers of this project use is specialised: plain attributes and keys,
nested serializers (single and `many=True`), method fields, UUIDs and ISO 8601 datetimes. Every
other field keeps its own `to_representation`; relations, dotted or `*` sources, callables and
missing attributes keep the field's own `get_attribute`; a nested serializer whose class overrides
`to_representation` is asked itself. A serializer that uses more than this is still represented as
DRF would.

Within one call, an object that two nested serializers of the same class present (a media item's
latest run, which is also one of its runs) is represented once and the result used in both places.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models.manager import BaseManager
from rest_framework import ISO_8601, relations, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

Step = Callable[[Any, dict], Any]
_CALLABLES = (types.FunctionType, types.MethodType, functools.partial)
_SKIP = object()


def walks_fields(method: Callable) -> Callable:
    """Mark a `to_representation` override that only hands over to the plan (see the mixin)."""
    method.walks_fields = True  # type: ignore[attr-defined]
    return method


def representation_plan(serializer: serializers.BaseSerializer) -> Callable[[Any], Any]:
    """`to_representation` of `serializer` (or of a `many=True` list of one), as a plan."""
    step = _plan(serializer, walk_self=True)
    return lambda instance: step(instance, {})


def _walks_fields(serializer: serializers.BaseSerializer) -> bool:
    method = type(serializer).to_representation
    if isinstance(serializer, serializers.ListSerializer):
        return method is serializers.ListSerializer.to_representation
    return method is serializers.Serializer.to_representation or getattr(
        method, "walks_fields", False
    )


def _plan(serializer: serializers.BaseSerializer, *, walk_self: bool = False) -> Step:
    if not (walk_self or _walks_fields(serializer)):
        return lambda value, memo: serializer.to_representation(value)
    if isinstance(serializer, serializers.ListSerializer):
        child = _plan(serializer.child)
        return lambda data, memo: [child(item, memo) for item in _iterable(data)]
    if not isinstance(serializer, serializers.Serializer):
        return lambda value, memo: serializer.to_representation(value)
    steps = [
        (field.field_name, _getter(field), _converter(field))
        for field in serializer._readable_fields
    ]

    def represent(instance: Any, memo: dict) -> dict[str, Any]:
        result = {}
        for name, get, convert in steps:
            value = get(instance)
            if value is None:
                result[name] = None
            elif value is not _SKIP:
                result[name] = convert(value, memo)
        return result

    if walk_self:
        return represent
    kind = type(serializer)

    def represent_once(instance: Any, memo: dict) -> dict[str, Any]:
        key = (kind, id(instance))
        known = memo.get(key)
        if known is None:
            # The instance is kept with its result so that its id cannot be reused meanwhile.
            known = memo[key] = (instance, represent(instance, memo))
        return known[1]

    return represent_once


def _iterable(data: Any) -> Any:
    return data.all() if isinstance(data, BaseManager) else data


def _getter(field: serializers.Field) -> Callable[[Any], Any]:
    def drf_get(instance: Any) -> Any:
        try:
            value = field.get_attribute(instance)
        except SkipField:
            return _SKIP
        return None if isinstance(value, PKOnlyObject) and value.pk is None else value

    source_attrs = field.source_attrs
    if len(source_attrs) != 1 or isinstance(
        field, relations.RelatedField | relations.ManyRelatedField
    ):
        return drf_get
    (attr,) = source_attrs

    def get(instance: Any) -> Any:
        try:
            value = instance[attr] if isinstance(instance, Mapping) else getattr(instance, attr)
        except ObjectDoesNotExist:
            return None
        except (KeyError, AttributeError):
            # A default, a null or an omitted field: the field decides.
            return drf_get(instance)
        if isinstance(value, _CALLABLES):
            return drf_get(instance)  # DRF calls a method named as the source
        return value

    return get


def _converter(field: serializers.Field) -> Step:
    if isinstance(field, serializers.BaseSerializer):
        return _plan(field)
    if isinstance(field, serializers.SerializerMethodField):
        method = getattr(field.parent, field.method_name)
        return lambda value, memo: method(value)
    if isinstance(field, serializers.UUIDField) and field.uuid_format == "hex_verbose":
        return lambda value, memo: str(value)
    if type(field) is serializers.DateTimeField and _is_iso_8601(field):
        return _iso_8601_converter(field)
    convert = field.to_representation
    return lambda value, memo: convert(value)


def _is_iso_8601(field: serializers.DateTimeField) -> bool:
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    return isinstance(output_format, str) and output_format.lower() == ISO_8601


def _iso_8601_converter(field: serializers.DateTimeField) -> Step:
    """`DateTimeField.to_representation` for aware datetimes; anything else goes to DRF."""
    zone = getattr(field, "timezone", None) or field.default_timezone()

    def convert(value: Any, memo: dict) -> Any:
        if zone is None or not isinstance(value, datetime) or value.tzinfo is None:
            return field.to_representation(value)
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return convert
