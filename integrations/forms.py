from __future__ import annotations

from django import forms

from integrations.models import WEBHOOK_DESCRIPTION_MAX_LENGTH, WEBHOOK_URL_MAX_LENGTH


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="Payload URL",
        max_length=WEBHOOK_URL_MAX_LENGTH,
        assume_scheme="https",
        help_text="An https address on the public internet; it receives a POST per finished run.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/drishtiksha"}),
    )
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=WEBHOOK_DESCRIPTION_MAX_LENGTH,
        help_text="Optional: what receives these events.",
    )
