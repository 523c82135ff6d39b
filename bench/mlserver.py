"""Benchmark of the CPU reference inference server on this machine.

Generates a 12-megapixel picture (JPEG and PNG), a 10 s 720p H.264 video with an AAC voice
track, and 30 s of voice-like audio (WAV and MP3) into a temporary directory, then times
every applicable detector on every file twice: directly through the detector API (the
``processing_time`` the server reports) and over HTTP against ``python -m mlserver`` on a
free local port (the client's wall-clock time for the whole request, upload included).

Usage: ``.venv/bin/python bench/mlserver.py``
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from scipy import fft

BENCH_DIR = Path(__file__).resolve().parent
REPOSITORY_ROOT = BENCH_DIR.parent
# Run as a script, this file's directory comes first on sys.path and this very file would
# shadow the installed ``mlserver`` package (its own distribution, mlserver/): it must go.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR]

from mlserver.analysis import run_analysis  # noqa: E402 - after the sys.path fix above
from mlserver.config import Settings  # noqa: E402
from mlserver.detectors import AnalysisContext  # noqa: E402
from mlserver.errors import MediaProcessingError  # noqa: E402
from mlserver.events import ProgressReporter  # noqa: E402
from mlserver.media import MediaFile, MediaType, media_type_for_filename  # noqa: E402
from mlserver.registry import ModelRegistry  # noqa: E402

# Performance targets per detector and file, on a 2-core machine.
TARGET_SECONDS = {MediaType.IMAGE: 1.0, MediaType.VIDEO: 10.0, MediaType.AUDIO: 3.0}

IMAGE_SIZE = (3000, 4000)  # 12 megapixels
VIDEO_SIZE = (720, 1280)
VIDEO_SECONDS = 10
VIDEO_FPS = 30
# Pixels the camera pans per frame across the larger texture (right, down).
PAN_STEP = (1, 2)
AUDIO_SECONDS = 30
SAMPLE_RATE = 44_100
JPEG_QUALITY = 92
VIDEO_CRF = 23
SEED = 2024
TEXTURE_CONTRAST = 40.0
TEXTURE_MEAN = 128.0
VOICE_PITCH_HZ = 140.0
PCM_FULL_SCALE = 32767

API_KEY = "bench-key"
START_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 600.0
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class BenchMedia:
    label: str
    path: Path

    @property
    def media_type(self) -> MediaType:
        media_type = media_type_for_filename(self.path.name)
        assert media_type is not None
        return media_type


def pink_texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """float32 noise with a 1/f amplitude spectrum, like natural images."""
    fy = fft.fftfreq(height).astype(np.float32)[:, None]
    fx = fft.rfftfreq(width).astype(np.float32)[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    radius[0, 0] = 1.0
    shape = (height, width // 2 + 1)
    spectrum = rng.standard_normal(shape, np.float32) + 1j * rng.standard_normal(shape, np.float32)
    spectrum /= radius
    spectrum[0, 0] = 0
    field = fft.irfft2(spectrum, s=(height, width), workers=-1)
    return (field - field.mean()) / field.std()


def pink_picture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    luminance = pink_texture(height, width, rng)
    chroma = pink_texture(height, width, rng)
    channels = [luminance + 0.3 * chroma, luminance, luminance - 0.3 * chroma]
    picture = TEXTURE_MEAN + TEXTURE_CONTRAST * np.stack(channels, axis=-1)
    return np.clip(picture, 0, 255).astype(np.uint8)


def voice(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Full-band voice-like audio: gliding harmonics up to Nyquist, breath noise, syllables."""
    time_axis = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = VOICE_PITCH_HZ + 20 * np.sin(2 * np.pi * 0.7 * time_axis)
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    harmonics = sum(np.sin(k * phase) / k for k in range(1, int(SAMPLE_RATE / 2 / 180)))
    syllables = 0.5 * (1 + np.sin(2 * np.pi * 3.0 * time_axis)) ** 2
    signal = 0.3 * harmonics * syllables + 0.02 * rng.standard_normal(time_axis.size)
    return (0.8 * signal / np.abs(signal).max()).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as output:
        output.setnchannels(1)
        output.setsampwidth(2)
        output.setframerate(SAMPLE_RATE)
        output.writeframes((samples * PCM_FULL_SCALE).astype("<i2").tobytes())
    return path


def ffmpeg(*arguments: str, stdin: bytes | None = None) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *arguments], input=stdin, check=True)


def generate_media(directory: Path) -> list[BenchMedia]:
    rng = np.random.default_rng(SEED)
    print("Generating media ...", flush=True)
    picture = pink_picture(*IMAGE_SIZE, rng)
    jpeg = directory / "photo-12mp.jpg"
    png = directory / "photo-12mp.png"
    Image.fromarray(picture).save(jpeg, quality=JPEG_QUALITY)
    Image.fromarray(picture).save(png)

    track = write_wav(directory / "track.wav", voice(VIDEO_SECONDS, rng))
    frames = VIDEO_SECONDS * VIDEO_FPS
    height, width = VIDEO_SIZE
    texture = pink_picture(height + PAN_STEP[0] * frames, width + PAN_STEP[1] * frames, rng)
    video = directory / "clip-720p-10s.mp4"
    encoder = subprocess.Popen(
        [
            "ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{width}x{height}", "-r", str(VIDEO_FPS), "-i", "pipe:0", "-i", str(track),
            "-c:v", "libx264", "-preset", "veryfast", "-crf", str(VIDEO_CRF),
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(video),
        ],
        stdin=subprocess.PIPE,
    )  # fmt: skip
    assert encoder.stdin is not None
    for index in range(frames):
        top, left = PAN_STEP[0] * index, PAN_STEP[1] * index
        frame = texture[top : top + height, left : left + width]
        encoder.stdin.write(np.ascontiguousarray(frame).tobytes())
    encoder.stdin.close()
    assert encoder.wait() == 0

    wav = write_wav(directory / "voice-30s.wav", voice(AUDIO_SECONDS, rng))
    mp3 = directory / "voice-30s.mp3"
    ffmpeg("-i", str(wav), "-b:a", "192k", str(mp3))
    return [
        BenchMedia("12 MP JPEG", jpeg),
        BenchMedia("12 MP PNG", png),
        BenchMedia("720p 10 s MP4", video),
        BenchMedia("30 s WAV", wav),
        BenchMedia("30 s MP3", mp3),
    ]


def time_direct(
    registry: ModelRegistry, settings: Settings, media: BenchMedia, model: str
) -> float:
    detector = registry.select(model, media.media_type)
    reporter = ProgressReporter(
        None, model_name=model, media_id=None, user_id=None, correlation_id="bench"
    )
    data = run_analysis(
        detector,
        MediaFile(path=media.path, media_type=media.media_type, filename=media.path.name),
        AnalysisContext(settings=settings, reporter=reporter),
        registry,
        "bench",
    )
    return float(data["processing_time"])


def time_http(client: httpx.Client, media: BenchMedia, model: str) -> float:
    started = time.perf_counter()
    with media.path.open("rb") as handle:
        response = client.post(
            "/analyze",
            files={"media": (media.path.name, handle)},
            data={"model": model},
        )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    assert response.json()["model_used"] == model
    return elapsed


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        **os.environ,
        "MLSERVER_API_KEY": API_KEY,
        "MLSERVER_PORT": str(port),
        "MLSERVER_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mlserver"], cwd=REPOSITORY_ROOT, env=environment
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ping").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(POLL_SECONDS)
    process.terminate()
    raise RuntimeError("the server did not start")


def main() -> None:
    settings = Settings.from_env({})
    registry = ModelRegistry.from_builtin(None)
    rows: list[tuple[str, str, float, float, float]] = []
    refused: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mlserver-bench-") as directory:
        media_files = generate_media(Path(directory))
        pairs = [
            (detector.name, media)
            for media in media_files
            for detector in registry.detectors()
            if detector.supports(media.media_type)
        ]
        print(f"Timing {len(pairs)} analyses directly ...", flush=True)
        direct: dict[tuple[str, str], float] = {}
        for name, media in pairs:
            try:
                direct[(name, media.label)] = time_direct(registry, settings, media, name)
            except MediaProcessingError as exc:
                refused.append(f"{name} on {media.label}: {exc}")
        print("Timing the same analyses over HTTP ...", flush=True)
        process, url = start_server()
        try:
            with httpx.Client(
                base_url=url, headers={"X-API-Key": API_KEY}, timeout=REQUEST_TIMEOUT_SECONDS
            ) as client:
                for name, media in pairs:
                    if (name, media.label) not in direct:
                        continue
                    http_seconds = time_http(client, media, name)
                    target = TARGET_SECONDS[media.media_type]
                    rows.append(
                        (name, media.label, direct[(name, media.label)], http_seconds, target)
                    )
        finally:
            process.terminate()
            process.wait()
    print_table(rows)
    for line in refused:
        print(f"Not applicable (media processing error, as designed): {line}")


def print_table(rows: list[tuple[str, str, float, float, float]]) -> None:
    header = ("Detector", "Media", "Direct (s)", "HTTP (s)", "Target (s)", "Met")
    lines = [
        (name, label, f"{direct:.2f}", f"{http:.2f}", f"{target:.0f}",
         "yes" if max(direct, http) <= target else "NO")
        for name, label, direct, http, target in rows
    ]  # fmt: skip
    widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)))
    print(
        f"\nCPU: {os.cpu_count()} logical cores. Direct = the server's processing_time; "
        "HTTP = client wall-clock time including the upload. Met = both within target."
    )


if __name__ == "__main__":
    main()
