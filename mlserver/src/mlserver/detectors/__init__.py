"""The built-in detectors, in the order they are listed and tried as defaults."""

from __future__ import annotations

from mlserver.detectors.audio import AudioSpectrumDetector
from mlserver.detectors.base import AnalysisContext, Detector, DetectorResult
from mlserver.detectors.ela import ErrorLevelDetector
from mlserver.detectors.provenance import ProvenanceDetector
from mlserver.detectors.spectrum import FrequencySpectrumDetector
from mlserver.detectors.temporal import TemporalConsistencyDetector

BUILTIN_DETECTORS: tuple[type[Detector], ...] = (
    ProvenanceDetector,
    ErrorLevelDetector,
    FrequencySpectrumDetector,
    TemporalConsistencyDetector,
    AudioSpectrumDetector,
)

__all__ = [
    "BUILTIN_DETECTORS",
    "AnalysisContext",
    "AudioSpectrumDetector",
    "Detector",
    "DetectorResult",
    "ErrorLevelDetector",
    "FrequencySpectrumDetector",
    "ProvenanceDetector",
    "TemporalConsistencyDetector",
]
