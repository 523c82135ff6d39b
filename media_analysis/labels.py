"""Human labels for the keys of models' result payloads, for pages and PDF reports.

Payloads are free-form (each model names its own metrics), so a reader would otherwise see
`final_average_score` or `suspicious_frames_count`. Known keys get a written label; any other key
is turned into words (snake_case and camelCase split, units named), never shown raw.
"""

from __future__ import annotations

import re

NESTING_SEPARATOR = " › "

# Keys the inference servers are known to send (see the contract), with what they mean.
KNOWN_LABELS = {
    "final_average_score": "Average fake score",
    "max_score": "Highest fake score",
    "min_score": "Lowest fake score",
    "score_variance": "Variance of the fake scores",
    "suspicious_frames_count": "Suspicious frames",
    "rolling_average_scores": "Rolling average of the fake scores",
    "total_faces_detected": "Faces detected",
    "blink_sequences_found": "Blink sequences found",
    "window_scores": "Fake score per window",
    "sequence_count": "Sequences analysed",
    "frame_count": "Frames in the media",
    "frames_analyzed": "Frames analysed",
    "processing_time": "Processing time (s)",
    "duration_seconds": "Duration (s)",
    "sample_rate": "Sample rate (Hz)",
    "channels": "Channels",
    "mean_pitch_hz": "Mean pitch (Hz)",
    "pitch_stability_score": "Pitch stability",
    "rms_energy": "Loudness (RMS energy)",
    "silence_ratio": "Share of silence",
    "spectral_centroid": "Spectral centroid (Hz)",
    "spectral_contrast": "Spectral contrast (dB)",
    "estimated_jpeg_quality": "Estimated JPEG quality",
    "evidence": "Evidence found",
    "model_used": "Model that answered",
    "media_type": "Media type",
    "note": "Note",
    "width": "Width (px)",
    "height": "Height (px)",
}

# Word endings that name a unit, written out.
_UNIT_SUFFIXES = {
    "hz": "(Hz)",
    "db": "(dB)",
    "ms": "(ms)",
    "seconds": "(s)",
    "sec": "(s)",
    "px": "(px)",
    "mb": "(MB)",
    "pct": "(%)",
    "percent": "(%)",
}
_ABBREVIATIONS = {
    "id": "ID",
    "jpeg": "JPEG",
    "rms": "RMS",
    "fft": "FFT",
    "ela": "ELA",
    "dct": "DCT",
}
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _words(key: str) -> str:
    words = [w for w in _CAMEL_BOUNDARY.sub("_", key).replace("-", "_").lower().split("_") if w]
    if not words:
        return key
    unit = _UNIT_SUFFIXES.get(words[-1]) if len(words) > 1 else None
    if unit:
        words = words[:-1]
    text = " ".join(_ABBREVIATIONS.get(word, word) for word in words)
    text = text[0].upper() + text[1:]
    return f"{text} {unit}" if unit else text


def field_label(key: str) -> str:
    """The label of one payload key; nested keys (`a.b`) are labelled part by part."""
    parts = str(key).split(".")
    return NESTING_SEPARATOR.join(KNOWN_LABELS.get(part) or _words(part) for part in parts)
