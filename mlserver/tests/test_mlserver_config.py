"""Settings come from the environment only, with defaults and clear errors."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from mlserver.config import DEFAULT_API_KEY, Settings


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.api_key == DEFAULT_API_KEY
    assert (settings.host, settings.port) == ("127.0.0.1", 8001)
    assert settings.active_models is None
    assert settings.redis_url is None
    assert settings.progress_channel == "media-progress-events"
    assert settings.max_image_pixels == 50_000_000
    assert settings.temp_dir == Path(tempfile.gettempdir()) / "drishtiksha-mlserver"


def test_environment_overrides_defaults() -> None:
    settings = Settings.from_env(
        {
            "MLSERVER_API_KEY": "secret",
            "MLSERVER_PORT": "9100",
            "MLSERVER_ACTIVE_MODELS": " ELA-JPEG-V1 , AUDIO-SPECTRUM-V1 ,",
            "MLSERVER_REDIS_URL": "redis://cache:6379/2",
            "REDIS_URL": "redis://ignored:6379/0",
            "MEDIA_PROGRESS_CHANNEL_NAME": "media-progress-channel",
            "MLSERVER_MAX_SAMPLED_FRAMES": "12",
            "MLSERVER_AUDIO_MAX_SECONDS": "30.5",
            "MLSERVER_MAX_IMAGE_PIXELS": "1000000",
            "MLSERVER_TEMP_DIR": "/srv/mlserver-uploads",
        }
    )
    assert settings.api_key == "secret"
    assert settings.port == 9100
    assert settings.active_models == ("ELA-JPEG-V1", "AUDIO-SPECTRUM-V1")
    assert settings.redis_url == "redis://cache:6379/2"
    assert settings.progress_channel == "media-progress-channel"
    assert settings.max_sampled_frames == 12
    assert settings.audio_max_seconds == 30.5
    assert settings.max_image_pixels == 1_000_000
    assert settings.temp_dir == Path("/srv/mlserver-uploads")


def test_redis_url_falls_back_to_the_shared_variable() -> None:
    assert Settings.from_env({"REDIS_URL": "redis://shared:6379/0"}).redis_url == (
        "redis://shared:6379/0"
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MLSERVER_PORT", "http"),
        ("MLSERVER_PORT", "70000"),
        ("MLSERVER_MAX_SAMPLED_FRAMES", "0"),
        ("MLSERVER_ACTIVE_MODELS", " , "),
    ],
)
def test_invalid_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        Settings.from_env({variable: value})
