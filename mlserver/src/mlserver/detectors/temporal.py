"""TEMPORAL-CONSISTENCY-V1: abrupt frame-to-frame changes and face-region flicker.

Face swaps and spliced segments change a video between two frames more than the motion
around them explains. We decode frames at reduced width (every frame for short videos,
evenly decimated for long ones) and compare consecutive frames *coarsely*: the whole picture
at 64 pixels wide and each face found by OpenCV's bundled Haar cascade as a 16x16 thumbnail.
At that scale the motion of fine texture averages out, while changes of brightness, colour
or content (a splice, a flickering blend) do not. Each transition is scored by how far it
stands above what is typical for *this* video (a robust z-score), so a shaky handheld clip
and a static interview are each judged against themselves.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy.special import expit

from mlserver.detectors.base import AnalysisContext, Detector, DetectorResult
from mlserver.errors import MediaProcessingError
from mlserver.media import MediaFile, MediaType, VideoStream, iter_video_frames, probe
from mlserver.scoring import frame_results, robust_zscores, rounded

_CASCADE_FILE = "haarcascade_frontalface_default.xml"
# Detection parameters: a scale step of 1.2 (OpenCV's default is 1.1) halves detection
# time and still finds frontal faces; the usual 5 neighbours; faces under 32 pixels at the
# analysis width (about 85 pixels in a 1280-wide video) are too small to judge anyway.
FACE_SCALE_FACTOR = 1.2
FACE_MIN_NEIGHBOURS = 5
MIN_FACE_PIXELS = 32

# Scales at which consecutive frames are compared (see the module docstring).
COARSE_WIDTH = 64
FACE_THUMBNAIL = (16, 16)

# At least two transitions are needed for a median; faces must be seen in a few
# transitions before their own typical change means anything.
MIN_TRANSITIONS = 2
MIN_FACE_TRANSITIONS = 5
# The z-score's spread never drops below 10 % of the typical change or half a gray level,
# so near-static videos do not turn encoder noise into anomalies.
RELATIVE_SCALE_FLOOR = 0.1
ABSOLUTE_SCALE_FLOOR = 0.5
# A transition 6 robust standard deviations above typical is even evidence; a hard cut or
# a flicker burst is typically 10-40. Edited footage has legitimate cuts, so the ceiling
# stays at 0.9, and smooth footage is only weak evidence of authenticity (floor 0.25).
ZSCORE_CENTRE = 6.0
ZSCORE_SCALE = 1.0
PROBABILITY_FLOOR = 0.25
PROBABILITY_CEILING = 0.9


# A face box as (left, top, width, height) in analysis-frame pixels.
Face = tuple[int, int, int, int]


@dataclass
class _Transitions:
    """Per-transition measurements (transition i ends at frame ``indices[i]``) and counters."""

    stride: int
    indices: list[int] = field(default_factory=list)
    picture_changes: list[float] = field(default_factory=list)
    face_changes: list[float] = field(default_factory=list)
    frames_decoded: int = 0
    detection_frames: int = 0
    detection_frames_with_faces: int = 0
    faces_detected: int = 0


class TemporalConsistencyDetector(Detector):
    name = "TEMPORAL-CONSISTENCY-V1"
    is_video = True
    description = (
        "Heuristic baseline, not a trained deepfake model. Decodes the video at reduced width "
        "(480 px by default; every frame of short videos, evenly decimated frames of long "
        "ones) and measures the mean absolute luminance change between consecutive frames at "
        "coarse scale, where fine-texture motion averages out but flicker and content changes "
        "do not: the whole picture at 64 px wide and each face found by OpenCV's Haar cascade "
        "as a 16x16 thumbnail. Each transition gets a robust z-score against the video's own "
        "median change (spread = 1.4826 x MAD, at least 10 % of the median), the larger of "
        "the picture and face "
        "z-scores is mapped to a fake probability by a logistic curve (even at z = 6, scale 1) "
        "bounded to 0.25-0.90, frame_predictions report the most anomalous transition in each "
        "of up to 48 evenly spaced windows, and the verdict follows the most anomalous window "
        "(one splice is enough to be suspicious). Known failure modes: every hard cut, flash, "
        "strobe or fast camera move in legitimate footage is flagged; flicker present through "
        "the whole video is the video's norm and is missed; Haar cascades miss profile, small "
        "and occluded faces, and face swaps with temporally smooth blending leave no trace."
    )

    def __init__(self) -> None:
        self._cascade_path = str(Path(cv2.data.haarcascades) / _CASCADE_FILE)
        if cv2.CascadeClassifier(self._cascade_path).empty():
            raise RuntimeError(f"OpenCV face cascade not found at {self._cascade_path}")
        # OpenCV cascades must not be shared between threads running at once.
        self._per_thread = threading.local()

    def _detect_faces(self, frame: np.ndarray) -> list[Face]:
        cascade = getattr(self._per_thread, "cascade", None)
        if cascade is None:
            cascade = cv2.CascadeClassifier(self._cascade_path)
            self._per_thread.cascade = cascade
        faces = cascade.detectMultiScale(
            frame,
            scaleFactor=FACE_SCALE_FACTOR,
            minNeighbors=FACE_MIN_NEIGHBOURS,
            minSize=(MIN_FACE_PIXELS, MIN_FACE_PIXELS),
        )
        return [tuple(int(v) for v in face) for face in faces]

    def analyze(self, media: MediaFile, context: AnalysisContext) -> DetectorResult:
        settings = context.settings
        info = probe(media.path, timeout=settings.ffmpeg_timeout_seconds, count_frames=True)
        if info.video is None:
            raise MediaProcessingError("the file has no video stream")
        measured = self._measure(media, info.video, context)
        if len(measured.indices) < MIN_TRANSITIONS:
            raise MediaProcessingError(
                f"temporal analysis needs at least {MIN_TRANSITIONS + 1} frames; "
                f"{measured.frames_decoded} could be decoded"
            )

        picture = np.asarray(measured.picture_changes)
        face = np.asarray(measured.face_changes)
        picture_z = _zscores(picture)
        face_transitions = int(np.count_nonzero(np.isfinite(face)))
        face_z = (
            _zscores(face)
            if face_transitions >= MIN_FACE_TRANSITIONS
            else np.full_like(picture, np.nan)
        )
        combined_z = np.fmax(picture_z, face_z)
        probabilities = PROBABILITY_FLOOR + (PROBABILITY_CEILING - PROBABILITY_FLOOR) * expit(
            (combined_z - ZSCORE_CENTRE) / ZSCORE_SCALE
        )

        indices = measured.indices
        windows = np.array_split(
            np.arange(len(indices)), min(settings.max_sampled_frames, len(indices))
        )
        window_scores = [float(probabilities[window].max()) for window in windows]
        frame_predictions, metrics = frame_results(
            [indices[window[0]] for window in windows], window_scores
        )
        worst = int(np.argmax(combined_z))
        in_face = bool(face_z[worst] > picture_z[worst])
        worst_series = face if in_face else picture
        metrics.update(
            {
                "frame_stride": measured.stride,
                "transitions_analyzed": len(indices),
                "residual_median": rounded(float(np.median(picture))),
                "max_residual_zscore": rounded(float(np.max(picture_z))),
                "most_anomalous_frame": indices[worst],
                "face_detection_frames": measured.detection_frames,
                "frames_with_faces": measured.detection_frames_with_faces,
                "total_faces_detected": measured.faces_detected,
                "face_transitions": face_transitions,
                "face_residual_median": (
                    rounded(float(np.nanmedian(face))) if face_transitions else None
                ),
                "max_face_residual_zscore": (
                    rounded(float(np.nanmax(face_z)))
                    if face_transitions >= MIN_FACE_TRANSITIONS
                    else None
                ),
            }
        )
        return DetectorResult(
            fake_probability=max(window_scores),
            note=_note(
                float(combined_z[worst]),
                indices[worst],
                float(worst_series[worst]),
                float(np.nanmedian(worst_series)),
                in_face=in_face,
            ),
            media_type=MediaType.VIDEO,
            payload={
                "frame_count": info.video.frame_count,
                "frames_analyzed": measured.frames_decoded,
                "frame_predictions": frame_predictions,
                "metrics": metrics,
                "visualization_path": None,
            },
        )

    def _measure(
        self, media: MediaFile, video: VideoStream, context: AnalysisContext
    ) -> _Transitions:
        """Decode once, measuring each transition's coarse picture and face change."""
        settings = context.settings
        stride = max(1, -(-(video.frame_count or 1) // settings.temporal_max_frames))
        expected = -(-(video.frame_count or 1) // stride)
        detection_interval = max(1, -(-expected // settings.max_sampled_frames))
        measured = _Transitions(stride=stride)
        faces: list[Face] = []
        previous: np.ndarray | None = None
        previous_coarse: np.ndarray | None = None
        for position, (index, frame) in enumerate(
            iter_video_frames(
                media.path,
                video,
                stride=stride,
                max_frames=settings.temporal_max_frames,
                timeout=settings.ffmpeg_timeout_seconds,
                width=settings.temporal_frame_width,
            )
        ):
            measured.frames_decoded += 1
            if position % detection_interval == 0:
                faces = self._detect_faces(frame)
                measured.detection_frames += 1
                measured.faces_detected += len(faces)
                measured.detection_frames_with_faces += bool(faces)
                context.reporter.frame_progress(
                    measured.frames_decoded, max(expected, measured.frames_decoded)
                )
            coarse = _coarse(frame)
            if previous is not None and previous_coarse is not None:
                measured.indices.append(index)
                measured.picture_changes.append(float(np.abs(coarse - previous_coarse).mean()))
                measured.face_changes.append(_face_change(frame, previous, faces))
            previous, previous_coarse = frame, coarse
        return measured


def _coarse(frame: np.ndarray) -> np.ndarray:
    height = max(1, round(frame.shape[0] * COARSE_WIDTH / frame.shape[1]))
    width = min(COARSE_WIDTH, frame.shape[1])
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)


def _face_change(frame: np.ndarray, previous: np.ndarray, faces: list[Face]) -> float:
    """Mean absolute change of the face thumbnails between two frames (NaN without faces)."""
    if not faces:
        return float("nan")
    changes = []
    for left, top, width, height in faces:
        now = frame[top : top + height, left : left + width]
        before = previous[top : top + height, left : left + width]
        changes.append(
            np.abs(
                cv2.resize(now, FACE_THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.float32)
                - cv2.resize(before, FACE_THUMBNAIL, interpolation=cv2.INTER_AREA)
            ).mean()
        )
    return float(np.mean(changes))


def _zscores(series: np.ndarray) -> np.ndarray:
    finite = series[np.isfinite(series)]
    floor = max(ABSOLUTE_SCALE_FLOOR, RELATIVE_SCALE_FLOOR * float(np.median(finite)))
    return robust_zscores(series, scale_floor=floor)


def _note(zscore: float, frame: int, change: float, typical: float, *, in_face: bool) -> str:
    region = "in a face region" if in_face else "in the picture"
    if zscore >= ZSCORE_CENTRE:
        return (
            f"Abrupt change {region} at frame {frame}: mean change {change:.1f} gray levels "
            f"against a typical {typical:.1f} (robust z = {zscore:.1f}); consistent with a "
            "splice, flicker or a hard cut."
        )
    return (
        f"Frame-to-frame change is consistent (largest robust z = {zscore:.1f}, {region} at "
        f"frame {frame}). Smooth motion does not prove authenticity."
    )
