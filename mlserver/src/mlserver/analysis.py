"""Running one detector on one file and shaping the contract's result.

The common result fields are added here, once, so every detector answers alike: prediction
and confidence from the fake probability, processing time measured around the detector. An
abstaining detector gets this server's "no evidence" answer instead: ``abstained`` true, its
``reason``, and a null prediction and confidence (``CONTRACT.md``, Extensions).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from mlserver.detectors import AnalysisContext, Detector, DetectorResult
from mlserver.errors import InferenceError, MediaProcessingError
from mlserver.events import EventType, ProgressReporter
from mlserver.media import MediaFile
from mlserver.registry import ModelRegistry
from mlserver.scoring import rounded, verdict

logger = logging.getLogger(__name__)

# The client sees a one-line summary of an unexpected failure; the traceback is logged.
MAX_ERROR_SUMMARY_CHARS = 200


def run_analysis(
    detector: Detector,
    media: MediaFile,
    context: AnalysisContext,
    registry: ModelRegistry,
    correlation_id: str,
) -> dict[str, Any]:
    """Analyse ``media`` with ``detector`` (blocking; run it in a worker thread).

    Raises ``MediaProcessingError`` for unsuitable media and ``InferenceError`` for anything
    else, after publishing ``ANALYSIS_FAILED``.
    """
    reporter = context.reporter
    started = time.perf_counter()
    try:
        result = detector.analyze(media, context)
    except MediaProcessingError as exc:
        logger.info(
            "%s could not process %s: %s [correlation_id=%s]",
            detector.name,
            media.filename,
            exc,
            correlation_id,
        )
        reporter.emit(
            EventType.ANALYSIS_FAILED,
            f"Media could not be processed: {exc}",
            details={"error": str(exc)},
        )
        raise
    except Exception as exc:
        logger.exception(
            "%s failed on %s [correlation_id=%s]", detector.name, media.filename, correlation_id
        )
        summary = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_SUMMARY_CHARS]
        reporter.emit(EventType.ANALYSIS_FAILED, "Analysis failed", details={"error": summary})
        raise InferenceError(summary) from exc
    elapsed = time.perf_counter() - started
    registry.record_inference(detector.name)
    if result.abstained:
        return _abstention_data(detector, media, result, elapsed, correlation_id, reporter)

    prediction, confidence = verdict(result.fake_probability)
    data: dict[str, Any] = {
        "prediction": prediction,
        "confidence": rounded(confidence),
        "processing_time": rounded(elapsed),
        "note": result.note,
        "media_type": result.media_type.value,
        **result.payload,
    }
    reporter.emit(
        EventType.ANALYSIS_COMPLETE,
        f"Analysis complete: {prediction} ({confidence:.0%})",
        details={
            "prediction": prediction,
            "confidence": data["confidence"],
            "processing_time": data["processing_time"],
        },
    )
    logger.info(
        "%s on %s: %s %.3f in %.2f s [correlation_id=%s]",
        detector.name,
        media.filename,
        prediction,
        confidence,
        elapsed,
        correlation_id,
    )
    return data


def _abstention_data(
    detector: Detector,
    media: MediaFile,
    result: DetectorResult,
    elapsed: float,
    correlation_id: str,
    reporter: ProgressReporter,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        **result.payload,
        "abstained": True,
        "reason": result.abstain_reason,
        "prediction": None,
        "confidence": None,
        "processing_time": rounded(elapsed),
        "note": result.note,
        "media_type": result.media_type.value,
    }
    reporter.emit(
        EventType.ANALYSIS_COMPLETE,
        f"No evidence: {result.abstain_reason}",
        details={
            "abstained": True,
            "reason": result.abstain_reason,
            "processing_time": data["processing_time"],
        },
    )
    logger.info(
        "%s on %s: abstained in %.2f s (%s) [correlation_id=%s]",
        detector.name,
        media.filename,
        elapsed,
        result.abstain_reason,
        correlation_id,
    )
    return data
