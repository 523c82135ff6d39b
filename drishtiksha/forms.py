"""Helpers for server-rendered forms that call services."""

from __future__ import annotations

from django import forms

from drishtiksha.api.casing import snakeize
from drishtiksha.errors import DomainError


def form_add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's error on a form the way the API shows it in `errors`.

    Field errors (wire names such as `newPassword`) go under the matching form field
    (`new_password`); anything without a matching field, or an error without fields, goes on top.
    """
    placed = False
    for wire_name, message in error.field_errors.items():
        name = snakeize(wire_name)
        form.add_error(name if name in form.fields else None, message)
        placed = True
    if not placed:
        form.add_error(None, error.message)
