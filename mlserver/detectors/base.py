"""The detector interface every analysis method implements.

A detector returns a fake probability, a note and its media-type-specific payload; the
common fields of the contract (prediction, confidence, processing_time, ...) are added in
one place (:mod:`mlserver.analysis`) so every detector answers the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mlserver.config import Settings
from mlserver.events import ProgressReporter
from mlserver.media import MediaFile, MediaType


@dataclass(frozen=True)
class AnalysisContext:
    """What a detector may use besides the file: limits and the progress reporter."""

    settings: Settings
    reporter: ProgressReporter


@dataclass(frozen=True)
class DetectorResult:
    """A detector's answer before the common contract fields are added.

    ``media_type`` is the kind of payload returned; it differs from the upload's type when a
    detector analyses one part of it (the audio track of a video).
    """

    fake_probability: float
    note: str | None
    media_type: MediaType
    payload: dict[str, Any] = field(default_factory=dict)


class Detector(ABC):
    """A named analysis method with the contract's media-type flags.

    ``is_multimodal`` follows the contract's meaning: the backend runs such a model on a
    VIDEO that has an audio track, so :meth:`supports` accepts video for it.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    is_audio: ClassVar[bool] = False
    is_video: ClassVar[bool] = False
    is_image: ClassVar[bool] = False
    is_multimodal: ClassVar[bool] = False

    def supports(self, media_type: MediaType) -> bool:
        if media_type is MediaType.VIDEO:
            return self.is_video or self.is_multimodal
        if media_type is MediaType.AUDIO:
            return self.is_audio
        return self.is_image

    @abstractmethod
    def analyze(self, media: MediaFile, context: AnalysisContext) -> DetectorResult:
        """Analyse ``media``; raise ``MediaProcessingError`` when the media is unsuitable."""
