"""Forms of the media pages. They check shape only; the services decide what a file may be, which
models may run and how long a description may be, exactly as for the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from media_analysis.discovery import InferenceModel
from media_analysis.models import DESCRIPTION_MAX_LENGTH

MODELS_HELP = "Leave every box unticked to run all compatible models."


def _description_field() -> forms.CharField:
    return forms.CharField(
        label="Description",
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        help_text=f"Optional, up to {DESCRIPTION_MAX_LENGTH} characters.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ModelChoiceMixin:
    """A `models` field offering the given inference models (none when the server is down)."""

    def _add_models_field(self, models: Sequence[InferenceModel] | None) -> None:
        self.fields["models"] = forms.MultipleChoiceField(
            label="Models",
            required=False,
            choices=[(model.name, model.name) for model in models or []],
            help_text=MODELS_HELP,
            widget=forms.CheckboxSelectMultiple,
        )


ROBUSTNESS_FIELD = "robustnessCheck"


class UploadForm(ModelChoiceMixin, forms.Form):
    media = forms.FileField(label="File", allow_empty_file=True)
    description = _description_field()

    def __init__(self, *args: Any, models: Sequence[InferenceModel] | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._add_models_field(models)
        # Named as the API names it: with JavaScript, upload.js sends this form to the API.
        self.fields[ROBUSTNESS_FIELD] = forms.BooleanField(
            required=False,
            label="Also analyse a re-encoded copy (robustness check)",
            help_text=(
                "A copy re-encoded as social networks do (JPEG, MP3 or H.264) is analysed too, "
                "and the page says whether the verdict survives it."
            ),
        )


class AnalyzeForm(ModelChoiceMixin, forms.Form):
    def __init__(self, *args: Any, models: Sequence[InferenceModel] | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._add_models_field(models)


class DescriptionForm(forms.Form):
    description = _description_field()
