"""factory_boy factories for the project's models."""

from __future__ import annotations

import hashlib
import math

import factory
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile

from accounts.models import Role, User
from media_analysis.choices import AnalysisStatus, MediaType, RunStatus
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media

DEFAULT_PASSWORD = "correct-horse-battery-staple"

_default_password_hashes: dict[tuple[str, ...], str] = {}


def default_password_hash() -> str:
    """DEFAULT_PASSWORD hashed by the configured hashers, once per configuration.

    One hash takes the full work factor of the production hasher (about a third of a second
    here), and nearly every test makes users. Sharing a salt between them changes nothing a
    login or a password check sees.
    """
    hashers = tuple(settings.PASSWORD_HASHERS)
    if hashers not in _default_password_hashes:
        _default_password_hashes[hashers] = make_password(DEFAULT_PASSWORD)
    return _default_password_hashes[hashers]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = "Ada"
    last_name = "Lovelace"
    role = Role.USER

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy signature
        """`set_password`, except that the default password is hashed once, not per user."""
        if extracted is None:
            obj.password = default_password_hash()
            obj._password = DEFAULT_PASSWORD  # as `set_password` leaves it for `save`
        else:
            obj.set_password(extracted)

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy signature
        if create:
            obj.save(update_fields=["password"])


class AdminUserFactory(UserFactory):
    email = factory.Sequence(lambda n: f"admin{n}@example.com")
    role = Role.ADMIN
    is_superuser = True


class MediaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Media

    owner = factory.SubFactory(UserFactory)
    original_filename = factory.Sequence(lambda n: f"clip-{n}.mp4")
    file = factory.LazyAttribute(
        lambda o: ContentFile(b"not really a video", name=f"videos/{o.original_filename}")
    )
    mimetype = "video/mp4"
    size = 18
    media_type = MediaType.VIDEO
    has_audio = False
    sha256 = factory.LazyAttribute(
        lambda o: hashlib.sha256(o.original_filename.encode()).hexdigest()
    )


class AnalysisRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnalysisRun

    media = factory.SubFactory(MediaFactory)
    run_number = factory.Sequence(lambda n: n + 1)
    status = RunStatus.QUEUED


class DeepfakeAnalysisFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeepfakeAnalysis

    run = factory.SubFactory(AnalysisRunFactory)
    model_name = factory.Sequence(lambda n: f"MODEL-{n}")
    status = AnalysisStatus.PENDING


def video_result_payload(
    *,
    frames: int = 300,
    frame_count: int | None = None,
    phase: float = 0.0,
    prediction: str = "FAKE",
    confidence: float = 0.8,
    processing_time: float = 10.0,
) -> dict:
    """A video `/analyze` result whose frame scores follow a sine of the index: deterministic.

    `frames` scores are indexed 0..frames-1; pass a larger `frame_count` to imitate a sequence
    model that scores windows of frames.
    """
    scores = [
        round(0.5 + 0.45 * math.sin(2 * math.pi * i / frames + phase), 4) for i in range(frames)
    ]
    mean = sum(scores) / len(scores)
    return {
        "prediction": prediction,
        "confidence": confidence,
        "processing_time": processing_time,
        "note": None,
        "media_type": "video",
        "frame_count": frames if frame_count is None else frame_count,
        "frames_analyzed": frames,
        "frame_predictions": [
            {"index": i, "score": score, "prediction": "FAKE" if score > 0.5 else "REAL"}
            for i, score in enumerate(scores)
        ],
        "metrics": {
            "rolling_average_scores": scores,
            "final_average_score": mean,
            "max_score": max(scores),
            "min_score": min(scores),
            "score_variance": sum((s - mean) ** 2 for s in scores) / len(scores),
            "suspicious_frames_count": sum(1 for s in scores if s > 0.5),
        },
        "visualization_path": None,
    }


def audio_result_payload(*, prediction: str = "REAL", confidence: float = 0.7) -> dict:
    """An audio `/analyze` result shaped like the public inference server's."""
    return {
        "prediction": prediction,
        "confidence": confidence,
        "processing_time": 3.2,
        "note": None,
        "media_type": "audio",
        "properties": {"duration_seconds": 2.0, "sample_rate": 16000, "channels": 1},
        "pitch": {"mean_pitch_hz": 150.5, "pitch_stability_score": 0.92},
        "energy": {"rms_energy": 0.04, "silence_ratio": 0.12},
        "spectral": {"spectral_centroid": 1830.2, "spectral_contrast": 21.7},
        "voice_quality": None,
        "visualization": {
            "spectrogram_url": None,
            "spectrogram_data": [
                [-80.0 + row + column for column in range(60)] for row in range(256)
            ],
        },
    }


def image_result_payload(
    *, prediction: str = "FAKE", confidence: float = 0.66, size: int = 64
) -> dict:
    """An image `/analyze` result with a `size` x `size` heatmap."""
    return {
        "prediction": prediction,
        "confidence": confidence,
        "processing_time": 1.4,
        "note": None,
        "media_type": "image",
        "dimensions": {"width": size, "height": size},
        "heatmap_scores": [
            [(row * column) % 10 / 10 for column in range(size)] for row in range(size)
        ],
        "visualization_path": None,
    }
