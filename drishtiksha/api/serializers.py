"""Serializers whose field names are camelCase on the wire and snake_case in Python.

Declare fields (or `Meta.fields`) with their Python names; the wire name is derived. Only the
top-level field names are renamed: the value of a JSON field (an ML result payload, ffprobe
metadata, the inference server's stats) passes through verbatim, inner keys untouched. Nested
serializers rename their own fields when they are camelCase serializers too.

`validated_data` keeps Python names (each field's `source`), so it can be splatted into a service.
Field-level hooks therefore take the wire name (`validate_firstName`); prefer `validators=` on the
field or `validate()`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from drishtiksha.api.casing import camelize
from drishtiksha.api.representation import representation_plan, walks_fields

UNKNOWN_FIELD_MESSAGE = "'{key}' is not a field that can be set here."


class CamelCaseFieldsMixin:
    """Exposes each field under its camelCase name, reading and writing the snake_case attribute.

    Set `reject_unknown_fields = True` on input serializers where an unexpected key must be refused
    (400 naming the key) rather than silently ignored, e.g. to rule out mass assignment.
    """

    reject_unknown_fields = False

    def get_fields(self) -> dict[str, serializers.Field]:
        renamed: dict[str, serializers.Field] = {}
        for name, field in super().get_fields().items():  # type: ignore[misc]
            wire_name = camelize(name)
            if wire_name != name:
                if field.source is None:
                    field.source = name
                if isinstance(field, serializers.SerializerMethodField) and not field.method_name:
                    field.method_name = f"get_{name}"
            renamed[wire_name] = field
        return renamed

    @walks_fields
    def to_representation(self, instance: Any) -> Any:
        """DRF's representation, by a plan of the fields made once per serializer instance."""
        plan = self.__dict__.get("_representation_plan")
        if plan is None:
            plan = self._representation_plan = representation_plan(self)
        return plan(instance)

    def to_internal_value(self, data: Any) -> Any:
        if self.reject_unknown_fields and isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise serializers.ValidationError(
                    {key: [UNKNOWN_FIELD_MESSAGE.format(key=key)] for key in unknown}
                )
        return super().to_internal_value(data)  # type: ignore[misc]


class CamelCaseSerializer(CamelCaseFieldsMixin, serializers.Serializer):
    """Input and output shapes that are not a model."""


def _field_copy(field: serializers.Field) -> serializers.Field:
    """A field as new for binding to another serializer.

    DRF deep-copies a field by building it again from its arguments, which cost most of a short
    answer's serializer. A plain field keeps nothing from its use but its binding (`bind` sets its
    name, parent and source path anew); what a shallow copy shares with the others, its
    validators, error messages and choices, is only ever read. Fields with bound children
    (serializers, list and dict fields, many-related fields) are built again as DRF would.
    """
    if (
        isinstance(field, serializers.BaseSerializer)
        or hasattr(field, "child")
        or hasattr(field, "child_relation")
    ):
        return copy.deepcopy(field)
    return copy.copy(field)


class _ModelFieldsOncePerClass(serializers.ModelSerializer):
    """`ModelSerializer.get_fields`, worked out once per class and copied for each instance.

    Working them out reads the model's fields and builds a serializer field for each: on a list of
    media with nested runs and analyses, five serializers did it on every request. What it returns
    depends only on the class (its `Meta`, its declared fields and the model), so the fields are
    kept per class, unbound, and each instance gets a copy, exactly as each used to get new ones.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = type(self).__dict__.get("_model_fields_of_class")
        if fields is None:
            fields = super().get_fields()
            type(self)._model_fields_of_class = fields
        return {name: _field_copy(field) for name, field in fields.items()}


class CamelCaseModelSerializer(CamelCaseFieldsMixin, _ModelFieldsOncePerClass):
    """Model representations; `Meta.fields` lists model field names."""
