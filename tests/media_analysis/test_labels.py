"""Payload keys become words a reader understands; no raw key reaches a page or a report."""

from __future__ import annotations

import pytest

from media_analysis.labels import field_label


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("final_average_score", "Average fake score"),
        ("suspicious_frames_count", "Suspicious frames"),
        ("pitch.mean_pitch_hz", "Pitch › Mean pitch (Hz)"),
        ("energy.silence_ratio", "Energy › Share of silence"),
        # Keys no one listed: split into words, units named, abbreviations kept.
        ("blockiness_score", "Blockiness score"),
        ("noiseFloorDb", "Noise floor (dB)"),
        ("latency_ms", "Latency (ms)"),
        ("jpeg_grid_offset", "JPEG grid offset"),
        ("x", "X"),
    ],
)
def test_keys_are_labelled_in_words(key, label):
    assert field_label(key) == label
