"""Which models a media item gets, from the cached `/stats`."""

from __future__ import annotations

import pytest

from media_analysis import discovery
from media_analysis.choices import MediaType
from media_analysis.discovery import InferenceModel
from media_analysis.ml_client import TransientInferenceError
from tests.fakes.inference_server import FakeModel
from tests.fixtures.pipeline import stored_media

pytestmark = pytest.mark.django_db


def model(**flags: bool) -> InferenceModel:
    values = {"loaded": True, "is_video": False, "is_audio": False, "is_image": False}
    values.update(flags)
    return InferenceModel(name="M", is_multimodal=values.pop("is_multimodal", False), **values)


@pytest.mark.parametrize(
    ("candidate", "media_type", "has_audio", "compatible"),
    [
        (model(is_video=True), MediaType.VIDEO, False, True),
        (model(is_video=True, loaded=False), MediaType.VIDEO, True, False),
        (model(is_video=True), MediaType.AUDIO, None, False),
        (model(is_audio=True), MediaType.AUDIO, None, True),
        (model(is_image=True), MediaType.IMAGE, None, True),
        (model(is_image=True, is_video=True), MediaType.VIDEO, True, True),
        (model(is_image=True), MediaType.VIDEO, True, False),
        # Audio-visual models need a video with an audio track.
        (model(is_video=True, is_multimodal=True), MediaType.VIDEO, True, True),
        (model(is_video=True, is_multimodal=True), MediaType.VIDEO, False, False),
        (model(is_multimodal=True), MediaType.VIDEO, True, True),
        # Audio + multimodal: audio files and videos with audio alike.
        (model(is_audio=True, is_multimodal=True), MediaType.AUDIO, None, True),
        (model(is_audio=True, is_multimodal=True), MediaType.VIDEO, True, True),
        (model(is_audio=True, is_multimodal=True), MediaType.VIDEO, False, False),
        (model(is_video=True, is_audio=True, is_image=True), MediaType.UNKNOWN, None, False),
    ],
)
def test_compatibility_rules(candidate, media_type, has_audio, compatible):
    assert (
        candidate.can_analyse(media_type=media_type, has_audio=has_audio, extension="mp4")
        is compatible
    )


@pytest.mark.parametrize(
    ("declared", "extension", "compatible"),
    [
        (None, "png", True),
        (frozenset({"jpg", "jpeg"}), "jpg", True),
        (frozenset({"jpg", "jpeg"}), "jpeg", True),
        (frozenset({"jpg", "jpeg"}), "png", False),
        (frozenset({"jpg", "jpeg"}), "", False),
    ],
)
def test_a_model_that_declares_its_formats_is_offered_only_those(declared, extension, compatible):
    candidate = InferenceModel(
        name="M",
        loaded=True,
        is_video=False,
        is_audio=False,
        is_image=True,
        is_multimodal=False,
        accepted_formats=declared,
    )
    assert (
        candidate.can_analyse(media_type=MediaType.IMAGE, has_audio=None, extension=extension)
        is compatible
    )


@pytest.mark.parametrize(
    ("sent", "parsed"),
    [
        (["JPG", ".jpeg", " png "], frozenset({"jpg", "jpeg", "png"})),
        ([], None),
        ("jpg", None),
        ([3, None], None),
    ],
)
def test_accepted_formats_are_read_leniently_from_stats(sent, parsed):
    entry = {"name": "M", "loaded": True, "isImage": True, "accepted_formats": sent}
    assert InferenceModel.from_stats_entry(entry).accepted_formats == parsed


def test_compatible_models_come_from_stats_flags(fake_inference_factory):
    fake_inference_factory(
        [
            FakeModel("SIGLIP-LSTM-V4", video=True),
            FakeModel("EYEBLINK-CNN-LSTM-V1", video=True, loaded=False),
            FakeModel("LIP-FD-V1", audio=True, multimodal=True),
            FakeModel("MFF-MOE-V1", video=True, image=True),
            FakeModel("MEL-SPECTROGRAM-CNN-V3", audio=True),
            FakeModel("DISTIL-DIRE-V1", image=True),
        ]
    )

    def names(**fields) -> list[str]:
        return [m.name for m in discovery.models_compatible(media=stored_media(**fields))]

    assert names(has_audio=True) == ["SIGLIP-LSTM-V4", "LIP-FD-V1", "MFF-MOE-V1"]
    assert names(has_audio=False) == ["SIGLIP-LSTM-V4", "MFF-MOE-V1"]
    assert names(media_type=MediaType.AUDIO, extension="wav", mimetype="audio/wav") == [
        "LIP-FD-V1",
        "MEL-SPECTROGRAM-CNN-V3",
    ]
    assert names(media_type=MediaType.IMAGE, extension="png", mimetype="image/png") == [
        "MFF-MOE-V1",
        "DISTIL-DIRE-V1",
    ]


def test_compatible_models_follow_the_declared_formats(fake_inference_factory):
    fake_inference_factory(
        [
            FakeModel("ELA-JPEG-V1", image=True, accepted_formats=["jpg", "jpeg"]),
            FakeModel("DISTIL-DIRE-V1", image=True),
        ]
    )

    def names(extension: str, mimetype: str) -> list[str]:
        media = stored_media(media_type=MediaType.IMAGE, extension=extension, mimetype=mimetype)
        return [m.name for m in discovery.models_compatible(media=media)]

    assert names("png", "image/png") == ["DISTIL-DIRE-V1"]
    assert names("jpg", "image/jpeg") == ["ELA-JPEG-V1", "DISTIL-DIRE-V1"]


def test_stats_are_cached_in_redis_for_the_configured_time(fake_inference, settings):
    def stats_requests() -> int:
        return len([r for r in fake_inference.requests if r.path == "/stats"])

    discovery.models_list()
    discovery.models_list()
    assert stats_requests() == 1

    discovery.models_list(refresh=True)
    assert stats_requests() == 2

    settings.ML_STATS_CACHE_SECONDS = 0
    discovery.cache.delete(discovery.stats_cache_key())
    discovery.models_list()
    discovery.models_list()
    assert stats_requests() == 4


def test_an_unreachable_server_raises_and_is_not_cached(fake_inference):
    fake_inference.stop()

    with pytest.raises(TransientInferenceError):
        discovery.models_list()

    fake_inference.start()
    assert len(discovery.models_list()) == 3
