"""Fixtures for the inference-server tests: settings, clients and generated media.

All media is generated into temporary directories with NumPy, Pillow and ffmpeg from fixed
seeds, so the tests are reproducible and no binary fixture is committed. Pictures use a
1/f ("pink") texture, whose power spectrum falls like a natural photograph's, because the
spectral statistics are meaningless on flat or purely synthetic patterns.
"""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, PngImagePlugin

from mlserver.app import create_app
from mlserver.config import Settings
from mlserver.detectors import AnalysisContext, Detector, DetectorResult
from mlserver.events import ProgressReporter
from mlserver.media import MediaFile, media_type_for_filename

TEST_API_KEY = "test-api-key"
TEXTURE_CONTRAST = 40.0
TEXTURE_MEAN = 128.0
# How much each colour channel follows the shared luminance texture.
CHANNEL_SHARED_WEIGHT = 0.8
CHANNEL_OWN_WEIGHT = 0.6
PCM_FULL_SCALE = 32767
VIDEO_FPS = 30


def pink_texture(height: int, width: int, seed: int) -> np.ndarray:
    """Zero-mean, unit-variance 2-D noise with a 1/f amplitude spectrum."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    radius[0, 0] = 1.0
    shape = (height, width // 2 + 1)
    spectrum = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / radius
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=(height, width))
    return (field - field.mean()) / field.std()


def pink_rgb(height: int, width: int, seed: int) -> np.ndarray:
    """A colour picture (uint8, H x W x 3) with natural-looking second-order statistics."""
    shared = pink_texture(height, width, seed)
    channels = [
        CHANNEL_SHARED_WEIGHT * shared
        + CHANNEL_OWN_WEIGHT * pink_texture(height, width, seed + 1 + index)
        for index in range(3)
    ]
    picture = TEXTURE_MEAN + TEXTURE_CONTRAST * np.stack(channels, axis=-1)
    return np.clip(picture, 0, 255).astype(np.uint8)


def synthetic_voice(seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """A broadband voice-like signal: a gliding harmonic source plus breath noise, in syllables.

    Harmonics run up to Nyquist and the noise is white, so the signal fills the whole band
    the way a microphone recording does.
    """
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * sample_rate)) / sample_rate
    pitch = 140.0 + 20.0 * np.sin(2 * np.pi * 0.7 * time) + 5.0 * np.sin(2 * np.pi * 5.0 * time)
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    harmonics = np.zeros_like(time)
    for order in range(1, int(sample_rate / 2 / 180.0)):
        harmonics += np.sin(order * phase) / order
    syllables = 0.5 * (1 + np.sin(2 * np.pi * 3.0 * time)) ** 2
    noise = rng.standard_normal(time.size)
    signal = 0.3 * harmonics * syllables + 0.02 * noise
    return (0.8 * signal / np.abs(signal).max()).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> Path:
    pcm = np.clip(samples * PCM_FULL_SCALE, -PCM_FULL_SCALE, PCM_FULL_SCALE).astype("<i2")
    with wave.open(str(path), "wb") as output:
        output.setnchannels(1)
        output.setsampwidth(2)
        output.setframerate(sample_rate)
        output.writeframes(pcm.tobytes())
    return path


def run_ffmpeg(*arguments: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", *arguments], check=True)


def write_video(
    path: Path,
    frames: Iterable[np.ndarray],
    *,
    audio: Path | None = None,
    crf: int = 18,
) -> Path:
    """Encode RGB frames (H x W x 3 uint8) as H.264 at 30 fps, optionally muxing an audio file."""
    iterator = iter(frames)
    first = next(iterator)
    height, width = first.shape[:2]
    command = [
        "ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-s", f"{width}x{height}", "-r", str(VIDEO_FPS), "-i", "pipe:0",
    ]  # fmt: skip
    if audio is not None:
        command += ["-i", str(audio), "-c:a", "aac", "-shortest"]
    command += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf)]
    command += ["-pix_fmt", "yuv420p", str(path)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write(np.ascontiguousarray(first).tobytes())
    for frame in iterator:
        process.stdin.write(np.ascontiguousarray(frame).tobytes())
    process.stdin.close()
    assert process.wait() == 0
    return path


def panning_frames(texture: np.ndarray, count: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """A smooth camera pan (2 px right, 1 px down per frame) across a larger texture."""
    height, width = size
    for index in range(count):
        yield texture[index : index + height, 2 * index : 2 * index + width]


def save_png(path: Path, picture: np.ndarray, text: dict[str, str] | None = None) -> Path:
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    Image.fromarray(picture).save(path, format="PNG", pnginfo=info)
    return path


def save_jpeg(path: Path, picture: np.ndarray, quality: int, **options: object) -> Path:
    Image.fromarray(picture).save(path, format="JPEG", quality=quality, **options)
    return path


@pytest.fixture
def server_settings(tmp_path: Path) -> Settings:
    """In-process server settings: the test key, few sampled frames, a private upload folder."""
    return Settings(api_key=TEST_API_KEY, max_sampled_frames=16, temp_dir=tmp_path / "uploads")


@pytest.fixture
def auth() -> dict[str, str]:
    return {"X-API-Key": TEST_API_KEY}


@pytest.fixture
def ml_client(server_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(server_settings)) as test_client:
        yield test_client


@pytest.fixture
def analyze(server_settings: Settings) -> Callable[[Detector, Path], DetectorResult]:
    """Run a detector directly on a file, without HTTP and without events."""

    def run(detector: Detector, path: Path) -> DetectorResult:
        media_type = media_type_for_filename(path.name)
        assert media_type is not None, path
        reporter = ProgressReporter(
            None, model_name=detector.name, media_id=None, user_id=None, correlation_id="test"
        )
        return detector.analyze(
            MediaFile(path=path, media_type=media_type, filename=path.name),
            AnalysisContext(settings=server_settings, reporter=reporter),
        )

    return run


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mlserver-media")


@pytest.fixture(scope="session")
def voice_wav(media_dir: Path) -> Path:
    """Three seconds of full-band voice-like audio at 44.1 kHz."""
    return write_wav(media_dir / "voice.wav", synthetic_voice(3.0, 44_100, seed=7), 44_100)


@pytest.fixture(scope="session")
def smooth_video(media_dir: Path) -> Path:
    """Two seconds of a smooth pan over a pink texture, 320x240, with a voice track."""
    texture = pink_rgb(320, 480, seed=21)
    audio = write_wav(media_dir / "track.wav", synthetic_voice(2.0, 44_100, seed=8), 44_100)
    return write_video(
        media_dir / "smooth.mp4", panning_frames(texture, 60, (240, 320)), audio=audio
    )


@pytest.fixture(scope="session")
def silent_video(media_dir: Path) -> Path:
    texture = pink_rgb(300, 400, seed=22)
    return write_video(media_dir / "silent.mp4", panning_frames(texture, 20, (240, 320)))


@pytest.fixture(scope="session")
def pink_png(media_dir: Path) -> Path:
    return save_png(media_dir / "pink.png", pink_rgb(256, 256, seed=3))


@pytest.fixture(scope="session")
def pink_jpeg(media_dir: Path) -> Path:
    return save_jpeg(media_dir / "pink.jpg", pink_rgb(256, 256, seed=3), quality=90)


# The contract's examples (CONTRACT.md), used to compare field names and JSON types.
# Values only matter for their type; ``None`` means the contract allows null.
CONTRACT_STATS = {
    "service_name": "Drishtiksha: Deepfake Detection",
    "version": "3.0.0",
    "status": "running",
    "uptime_seconds": 812.4,
    "device_info": {
        "type": "cuda", "name": "NVIDIA H200", "total_memory": 139.8, "used_memory": 6.1,
        "free_memory": 133.7, "memory_usage_percent": 4.36, "compute_capability": "9.0",
        "cuda_version": "12.8",
    },
    "system_info": {
        "python_version": "3.12.11", "platform": "Linux-x", "cpu_count": 16, "total_ram": 125.7,
        "used_ram": 14.2, "ram_usage_percent": 11.3, "uptime_seconds": 812.4,
    },
    "models_info": [
        {
            "name": "SIGLIP-LSTM-V4", "class_name": "SiglipLSTMV4", "description": "x",
            "loaded": True, "device": "cuda", "model_path": "models/x.pth",
            "isAudio": False, "isVideo": True, "isImage": False, "isMultiModal": False,
            "memory_usage_mb": None, "load_time": None, "inference_count": 0,
        }
    ],
    "active_models_count": 1,
    "total_models_count": 1,
    "configuration": {
        "project_name": "x", "device": "cuda", "default_model": "SIGLIP-LSTM-V4",
        "active_models": ["SIGLIP-LSTM-V4"], "torch_version": "2.8.0+cu128",
        "cuda_available": True,
    },
}  # fmt: skip
CONTRACT_ROOT = {
    "status": "ok",
    "active_models": [{"name": "x", "loaded": True, "description": "x"}],
    "default_model": "x",
}
CONTRACT_MODELS_SUMMARY = {
    "total_configured": 1, "currently_loaded": 1, "active_models": ["x"], "loaded_models": ["x"],
}  # fmt: skip
CONTRACT_ANALYZE = {
    "success": True, "model_used": "x", "timestamp": "2025-10-12T10:00:00.123456", "data": {},
}  # fmt: skip
CONTRACT_COMMON = {
    "prediction": "REAL", "confidence": 0.5, "processing_time": 1.0, "note": None,
    "media_type": "video",
}  # fmt: skip
CONTRACT_VIDEO = {
    **CONTRACT_COMMON,
    "frame_count": None,
    "frames_analyzed": 50,
    "frame_predictions": [{"index": 0, "score": 0.91, "prediction": "FAKE"}],
    "metrics": {
        "rolling_average_scores": [0.91], "final_average_score": 0.9, "max_score": 0.97,
        "min_score": 0.71, "score_variance": 0.004, "suspicious_frames_count": 48,
    },
    "visualization_path": None,
}  # fmt: skip
CONTRACT_AUDIO = {
    **CONTRACT_COMMON,
    "properties": {"duration_seconds": 2.0, "sample_rate": 16000, "channels": 1},
    "pitch": {"mean_pitch_hz": 150.5, "pitch_stability_score": 0.92},
    "energy": {"rms_energy": 0.04, "silence_ratio": 0.12},
    "spectral": {"spectral_centroid": 1830.2, "spectral_contrast": 21.7},
    "voice_quality": None,
    "visualization": {"spectrogram_url": None, "spectrogram_data": [[-80.0, -42.1]]},
}
CONTRACT_IMAGE = {
    **CONTRACT_COMMON,
    "dimensions": {"width": 512, "height": 512},
    "heatmap_scores": None,
    "visualization_path": None,
}
CONTRACT_EVENT = {
    "media_id": "x",
    "user_id": "x",
    "event": "FRAME_ANALYSIS_PROGRESS",
    "message": "Processed window 12/50",
    "data": {"model_name": "x", "progress": 12, "total": 50, "details": None},
}


def assert_contract_shape(actual: object, example: object, where: str = "$") -> None:
    """Assert ``actual`` has every field of ``example`` with the same JSON type.

    Integers are accepted where the example has a float (JSON has one number type); a
    ``None`` in the example accepts anything, since the contract allows null there; a null
    in ``actual`` is accepted only where the example is ``None``.
    """
    if example is None:
        return
    if isinstance(example, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        missing = set(example) - set(actual)
        assert not missing, f"{where}: missing fields {sorted(missing)}"
        for key, value in example.items():
            assert_contract_shape(actual[key], value, f"{where}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list), f"{where}: expected an array, got {actual!r}"
        if example and actual:
            for index, item in enumerate(actual):
                assert_contract_shape(item, example[0], f"{where}[{index}]")
    elif isinstance(example, bool):
        assert isinstance(actual, bool), f"{where}: expected a boolean, got {actual!r}"
    elif isinstance(example, float):
        assert isinstance(actual, int | float) and not isinstance(actual, bool), (
            f"{where}: expected a number, got {actual!r}"
        )
    else:
        assert type(actual) is type(example), f"{where}: expected {type(example).__name__}"


@pytest.fixture
def contract() -> SimpleNamespace:
    """The contract's examples and the shape assertion, for the contract tests."""
    return SimpleNamespace(
        stats=CONTRACT_STATS,
        root=CONTRACT_ROOT,
        models_summary=CONTRACT_MODELS_SUMMARY,
        analyze=CONTRACT_ANALYZE,
        video=CONTRACT_VIDEO,
        audio=CONTRACT_AUDIO,
        image=CONTRACT_IMAGE,
        event=CONTRACT_EVENT,
        check=assert_contract_shape,
    )


@pytest.fixture(scope="session")
def media_tools() -> SimpleNamespace:
    """The media generators above, for tests (conftest modules are not importable)."""
    return SimpleNamespace(
        pink_rgb=pink_rgb,
        panning_frames=panning_frames,
        synthetic_voice=synthetic_voice,
        write_wav=write_wav,
        write_video=write_video,
        save_png=save_png,
        save_jpeg=save_jpeg,
        run_ffmpeg=run_ffmpeg,
    )
