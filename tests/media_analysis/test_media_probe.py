import pytest

from drishtiksha.errors import UnsupportedMediaType, ValidationFailed
from media_analysis.choices import MediaType
from media_analysis.probe import make_poster, probe_media


def test_video_metadata_has_format_video_and_audio_sections(media_file):
    path = media_file("clip.mp4", seconds=2, size="160x120")

    result = probe_media(path, media_type=MediaType.VIDEO)

    assert result.has_audio is True
    assert result.duration == pytest.approx(2.0, abs=0.2)
    video = result.metadata["video"]
    assert (video["codec"], video["width"], video["height"]) == ("h264", 160, 120)
    assert video["fps"] == pytest.approx(15.0)
    assert video["pixelFormat"] == "yuv420p"
    assert result.metadata["audio"]["codec"] == "aac"
    assert result.metadata["audio"]["sampleRate"] > 0
    assert result.metadata["format"]["size"] == path.stat().st_size


def test_silent_video_has_no_audio(media_file):
    result = probe_media(media_file("silent.mp4", audio=False), media_type=MediaType.VIDEO)

    assert result.has_audio is False
    assert "audio" not in result.metadata


def test_image_reports_dimensions(media_file):
    result = probe_media(media_file("still.png", size="64x48"), media_type=MediaType.IMAGE)

    assert (result.metadata["image"]["width"], result.metadata["image"]["height"]) == (64, 48)
    assert result.metadata["format"]["duration"] is None


def test_audio_reports_sample_rate_and_channels(media_file):
    result = probe_media(media_file("voice.wav", seconds=1), media_type=MediaType.AUDIO)

    assert result.metadata["audio"]["channels"] == 1
    assert result.metadata["audio"]["sampleRate"] == 44100
    assert result.duration == pytest.approx(1.0, abs=0.05)


def test_truncated_video_is_unreadable(media_file, tmp_path):
    whole = media_file("clip.mp4", seconds=2).read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole[: len(whole) // 2])

    with pytest.raises(ValidationFailed, match="could not be read as media"):
        probe_media(truncated, media_type=MediaType.VIDEO)


def test_audio_file_posing_as_video_does_not_match_its_extension(media_file, tmp_path):
    m4a = media_file("voice.m4a")
    renamed = tmp_path / "voice.mp4"
    renamed.write_bytes(m4a.read_bytes())

    with pytest.raises(UnsupportedMediaType, match=r"\(aac audio only\) does not match its video"):
        probe_media(renamed, media_type=MediaType.VIDEO)


def test_poster_is_a_small_jpeg(media_file, tmp_path, settings):
    settings.THUMBNAIL_WIDTH = 80
    target = tmp_path / "poster.jpg"

    make_poster(
        media_file("clip.mp4", size="320x240"), target, media_type=MediaType.VIDEO, duration=1.0
    )

    data = target.read_bytes()
    assert data.startswith(b"\xff\xd8\xff")
    poster = probe_media(target, media_type=MediaType.IMAGE)
    assert poster.metadata["image"]["width"] == 80


@pytest.mark.parametrize("name", ["still.jpg", "still.png", "still.webp", "still.gif"])
def test_every_image_format_gets_a_poster(media_file, tmp_path, name):
    target = tmp_path / "poster.jpg"

    make_poster(media_file(name), target, media_type=MediaType.IMAGE, duration=None)

    assert target.read_bytes().startswith(b"\xff\xd8\xff")
