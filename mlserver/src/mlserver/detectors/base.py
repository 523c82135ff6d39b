"""The detector interface every analysis method implements.

A detector returns a fake probability, a note and its media-type-specific payload; the
common fields of the contract (prediction, confidence, processing_time, ...) are added in
one place (:mod:`mlserver.analysis`) so every detector answers the same way. A detector that
looked and found nothing to judge by abstains instead (see :meth:`DetectorResult.abstention`):
a guess dressed up as a probability would be counted in a verdict as if it were evidence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mlserver.config import Settings
from mlserver.events import ProgressReporter
from mlserver.media import MediaFile, MediaType, extensions_for


@dataclass(frozen=True)
class AnalysisContext:
    """What a detector may use besides the file: limits and the progress reporter."""

    settings: Settings
    reporter: ProgressReporter


@dataclass(frozen=True)
class DetectorResult:
    """A detector's answer before the common contract fields are added.

    ``media_type`` is the kind of payload returned; it differs from the upload's type when a
    detector analyses one part of it (the audio track of a video). ``fake_probability`` is
    ``None`` exactly when the detector abstains, and then ``abstain_reason`` says why.
    """

    fake_probability: float | None
    note: str | None
    media_type: MediaType
    payload: dict[str, Any] = field(default_factory=dict)
    abstain_reason: str | None = None

    def __post_init__(self) -> None:
        if (self.fake_probability is None) != (self.abstain_reason is not None):
            raise ValueError("a result has either a fake probability or an abstain reason")

    @classmethod
    def abstention(
        cls,
        reason: str,
        *,
        media_type: MediaType,
        note: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> DetectorResult:
        """No evidence: the detector looked and has nothing to judge the media by."""
        return cls(
            fake_probability=None,
            note=note,
            media_type=media_type,
            payload=payload or {},
            abstain_reason=reason,
        )

    @property
    def abstained(self) -> bool:
        return self.abstain_reason is not None


class Detector(ABC):
    """A named analysis method with the contract's media-type flags.

    ``is_multimodal`` follows the contract's meaning: the backend runs such a model on a
    VIDEO that has an audio track, so :meth:`supports` accepts video for it.
    ``accepted_formats`` names the file extensions the detector reads when it reads only some
    of its media types' formats; ``None`` means every format the server reads for them.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    is_audio: ClassVar[bool] = False
    is_video: ClassVar[bool] = False
    is_image: ClassVar[bool] = False
    is_multimodal: ClassVar[bool] = False
    accepted_formats: ClassVar[frozenset[str] | None] = None

    def formats(self) -> list[str]:
        """The lower-case extensions this detector reads, as published in ``models_info``."""
        if self.accepted_formats is not None:
            return sorted(self.accepted_formats)
        return sorted(extensions_for([kind for kind in MediaType if self.supports(kind)]))

    def reads(self, extension: str) -> bool:
        return extension in self.formats()

    def supports(self, media_type: MediaType) -> bool:
        if media_type is MediaType.VIDEO:
            return self.is_video or self.is_multimodal
        if media_type is MediaType.AUDIO:
            return self.is_audio
        return self.is_image

    @abstractmethod
    def analyze(self, media: MediaFile, context: AnalysisContext) -> DetectorResult:
        """Analyse ``media``; raise ``MediaProcessingError`` when the media is unsuitable.

        Return :meth:`DetectorResult.abstention` when the media is readable but holds nothing
        this detector can judge by.
        """
