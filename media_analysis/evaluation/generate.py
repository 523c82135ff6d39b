"""A small labelled evaluation set the project makes itself: nothing downloaded, seeded.

REAL items imitate what a camera or a microphone records: smooth scenes with texture and
sensor-like noise (JPEG, PNG), broadband room noise with tones (WAV), and slowly panned noisy
footage (MP4). FAKE items are the manipulations the reference detectors claim to see, made from
such originals: a region spliced in from another JPEG saved at another quality, an image or clip
upscaled from a quarter of its size, a region swapped into some frames of a clip, audio
resampled through 16 kHz, a fully synthetic Mandelbrot render (image and clip), and speech
synthesised by espeak-ng when it is installed (WAV, and MP3).

Not a benchmark: a few dozen items that say whether a detector separates these cases at all.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tempfile
import wave
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from media_analysis.choices import Prediction
from media_analysis.evaluation.services import LABELS_FILENAME

IMAGE_SIZE = (320, 240)
VIDEO_SIZE = (320, 240)
VIDEO_FRAMES = 24
VIDEO_FPS = 12
AUDIO_RATE = 48_000
AUDIO_SECONDS = 3.0
ORIGINAL_JPEG_QUALITY = 92
SPLICE_JPEG_QUALITY = 55
FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
SPOKEN = (
    "The committee will publish its report on Tuesday morning.",
    "Please confirm the transfer before the end of the day.",
)


@dataclass(frozen=True)
class GeneratedItem:
    filename: str
    label: str
    how: str


def _ffmpeg(*args: str, data: bytes | None = None) -> None:
    subprocess.run([*FFMPEG, *args], input=data, check=True, capture_output=True)  # noqa: S603


# --- Pictures -------------------------------------------------------------------------------------


def _scene(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A smooth, textured RGB scene in 0-255 floats: gradient, soft blobs, low-frequency detail."""
    y, x = np.mgrid[0:height, 0:width]
    x, y = x / width, y / height
    image = np.empty((height, width, 3))
    for channel in range(3):
        a, b, c = rng.uniform(-60, 60), rng.uniform(-60, 60), rng.uniform(70, 170)
        image[..., channel] = a * x + b * y + c
    for _ in range(6):
        cx, cy, radius = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius**2))
        image += blob[..., None] * rng.uniform(-70, 70, size=3)
    coarse = rng.normal(0, 10, size=(height // 16 + 1, width // 16 + 1, 1)) + rng.normal(
        0, 3, size=(height // 16 + 1, width // 16 + 1, 3)
    )
    detail = Image.fromarray(np.uint8(np.clip(coarse + 128, 0, 255))).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    return image + (np.asarray(detail, dtype=float) - 128)


def _sensor(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Photon (signal-dependent) and read noise, then 8-bit quantisation."""
    clipped = np.clip(image, 0, 255)
    shot = rng.normal(0, 1, image.shape) * np.sqrt(clipped) * 0.35
    read = rng.normal(0, 2.0, image.shape)
    return np.uint8(np.clip(clipped + shot + read, 0, 255))


def _photo(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    return _sensor(rng, _scene(rng, width, height))


def _jpeg_bytes(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _save_image(pixels: np.ndarray, path: Path) -> None:
    if path.suffix == ".png":
        Image.fromarray(pixels).save(path, format="PNG")
    else:
        path.write_bytes(_jpeg_bytes(pixels, ORIGINAL_JPEG_QUALITY))


def _spliced(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A photo with a region from another photo that went through a coarser JPEG."""
    base = _photo(rng, width, height)
    donor = np.asarray(Image.open(io.BytesIO(_jpeg_bytes(_photo(rng, width, height), 55))))
    w, h = width // 3, height // 3
    # Off the 8x8 JPEG grid, as a pasted region usually is.
    x0 = int(rng.integers(3, width - w - 3)) | 3
    y0 = int(rng.integers(3, height - h - 3)) | 5
    result = base.copy()
    result[y0 : y0 + h, x0 : x0 + w] = donor[y0 : y0 + h, x0 : x0 + w]
    return result


def _upscaled(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    small = Image.fromarray(_photo(rng, width // 4, height // 4))
    return np.asarray(small.resize((width, height), Image.Resampling.BICUBIC))


def _mandelbrot(width: int, height: int, *, zoom: float = 1.0) -> np.ndarray:
    """An escape-time render with smooth colouring: computer-generated from the first pixel."""
    y, x = np.mgrid[0:height, 0:width]
    span = 3.0 / zoom
    c = (-0.75 + (x / width - 0.5) * span) + 1j * ((y / height - 0.5) * span * height / width)
    z = np.zeros_like(c)
    # Points that never escape (the set itself) stay 0: dark.
    escape = np.zeros(c.shape)
    for step in range(64):
        inside = np.abs(z) <= 2
        z[inside] = z[inside] ** 2 + c[inside]
        escape[inside & (np.abs(z) > 2)] = step
    shade = escape / 64
    rgb = np.stack([shade**0.5, shade**1.5, 0.4 + 0.6 * shade], axis=-1)
    return np.uint8(np.clip(rgb * 255, 0, 255))


# --- Clips ----------------------------------------------------------------------------------------


def _encode_clip(frames: list[np.ndarray], path: Path) -> None:
    height, width = frames[0].shape[:2]
    _ffmpeg(
        *("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}"),
        *("-r", str(VIDEO_FPS), "-i", "-"),
        *("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-threads", "1"),
        str(path),
        data=b"".join(frame.tobytes() for frame in frames),
    )


def _pan(rng: np.random.Generator, width: int, height: int) -> list[np.ndarray]:
    """A slow pan over a larger scene, with fresh sensor noise in every frame."""
    scene = _scene(rng, width + VIDEO_FRAMES * 2, height + VIDEO_FRAMES)
    return [
        _sensor(rng, scene[step : step + height, 2 * step : 2 * step + width])
        for step in range(VIDEO_FRAMES)
    ]


def _clip_original(rng: np.random.Generator, path: Path) -> None:
    _encode_clip(_pan(rng, *VIDEO_SIZE), path)


def _clip_spliced(rng: np.random.Generator, path: Path) -> None:
    """A region of another clip swapped into the middle third of the frames."""
    frames, donor = _pan(rng, *VIDEO_SIZE), _pan(rng, *VIDEO_SIZE)
    width, height = VIDEO_SIZE
    third = VIDEO_FRAMES // 3
    for index in range(third, 2 * third):
        frames[index][height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = donor[index][
            height // 4 : 3 * height // 4, width // 4 : 3 * width // 4
        ]
    _encode_clip(frames, path)


def _clip_upscaled(rng: np.random.Generator, path: Path) -> None:
    width, height = VIDEO_SIZE
    small = _pan(rng, width // 4, height // 4)
    _encode_clip(
        [
            np.asarray(Image.fromarray(f).resize((width, height), Image.Resampling.BICUBIC))
            for f in small
        ],
        path,
    )


def _clip_mandelbrot(rng: np.random.Generator, path: Path) -> None:
    width, height = VIDEO_SIZE
    _encode_clip(
        [_mandelbrot(width, height, zoom=1 + step * 0.04) for step in range(VIDEO_FRAMES)], path
    )


# --- Sound ----------------------------------------------------------------------------------------


def _write_wav(samples: np.ndarray, path: Path, rate: int = AUDIO_RATE) -> None:
    pcm = np.int16(np.clip(samples, -1, 1) * 32767)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())


def _recording(rng: np.random.Generator) -> np.ndarray:
    """Room noise over the whole band, a hum, a few tones with vibrato and some clicks."""
    count = int(AUDIO_RATE * AUDIO_SECONDS)
    t = np.arange(count) / AUDIO_RATE
    white = rng.normal(0, 1, count)
    brown = np.cumsum(white)
    brown = (brown - np.convolve(brown, np.ones(2001) / 2001, mode="same")) / 60
    signal = 0.02 * white + 0.05 * brown + 0.03 * np.sin(2 * np.pi * 50 * t)
    for _ in range(3):
        pitch = rng.uniform(140, 400)
        vibrato = 1 + 0.01 * np.sin(2 * np.pi * rng.uniform(4, 6) * t)
        envelope = np.clip(np.sin(np.pi * (t / AUDIO_SECONDS) * rng.uniform(1, 3)), 0, None)
        for harmonic in range(1, 6):
            phase = 2 * np.pi * pitch * harmonic * np.cumsum(vibrato) / AUDIO_RATE
            signal += envelope * 0.12 / harmonic * np.sin(phase)
    for position in rng.integers(0, count - 100, size=5):
        signal[position : position + 40] += rng.normal(0, 0.3, 40)
    return signal / max(1.0, np.abs(signal).max() / 0.9)


def _audio_original(rng: np.random.Generator, path: Path) -> None:
    _write_wav(_recording(rng), path)


def _audio_resampled(rng: np.random.Generator, path: Path) -> None:
    """A recording that went through 16 kHz and back: the top of its band is gone."""
    with tempfile.TemporaryDirectory() as workdir:
        source = Path(workdir) / "source.wav"
        _write_wav(_recording(rng), source)
        _ffmpeg("-i", str(source), "-af", "aresample=16000,aresample=48000", str(path))


def _speech(text: str) -> Callable[[np.random.Generator, Path], None]:
    def make(rng: np.random.Generator, path: Path) -> None:
        with tempfile.TemporaryDirectory() as workdir:
            spoken = Path(workdir) / "spoken.wav"
            subprocess.run(  # noqa: S603
                ["espeak-ng", "-w", str(spoken), text],  # noqa: S607
                check=True,
                capture_output=True,
            )
            codec = ["-b:a", "128k"] if path.suffix == ".mp3" else []
            _ffmpeg("-i", str(spoken), "-ar", str(AUDIO_RATE), *codec, str(path))

    return make


# --- The set --------------------------------------------------------------------------------------


def _image_item(
    make: Callable[[np.random.Generator, int, int], np.ndarray],
) -> Callable[[np.random.Generator, Path], None]:
    def item(rng: np.random.Generator, path: Path) -> None:
        _save_image(make(rng, *IMAGE_SIZE), path)

    return item


def _mandelbrot_item(rng: np.random.Generator, path: Path) -> None:
    _save_image(_mandelbrot(*IMAGE_SIZE, zoom=float(rng.uniform(1, 3))), path)


Maker = Callable[[np.random.Generator, Path], None]


def _plan(*, speech: bool) -> list[tuple[str, str, str, Maker]]:
    """(filename, label, how it was made, maker) of every item."""
    real, fake = Prediction.REAL, Prediction.FAKE
    plan = [
        *(
            (f"image-original-{n}.jpg", real, "camera-like photo", _image_item(_photo))
            for n in range(1, 7)
        ),
        *(
            (f"image-original-{n}.png", real, "camera-like photo", _image_item(_photo))
            for n in range(7, 9)
        ),
        *(
            (f"image-spliced-{n}.jpg", fake, "region from a q55 JPEG", _image_item(_spliced))
            for n in range(1, 4)
        ),
        *(
            (f"image-upscaled-{n}.jpg", fake, "upscaled 4x", _image_item(_upscaled))
            for n in range(1, 3)
        ),
        ("image-mandelbrot-1.jpg", fake, "computer-generated render", _mandelbrot_item),
        ("image-mandelbrot-2.png", fake, "computer-generated render", _mandelbrot_item),
        *(
            (f"audio-original-{n}.wav", real, "room noise and tones", _audio_original)
            for n in range(1, 5)
        ),
        *(
            (f"audio-resampled-{n}.wav", fake, "through 16 kHz and back", _audio_resampled)
            for n in range(1, 3)
        ),
        *(
            (f"video-original-{n}.mp4", real, "panned noisy footage", _clip_original)
            for n in range(1, 4)
        ),
        ("video-spliced-1.mp4", fake, "region swapped into frames", _clip_spliced),
        ("video-upscaled-1.mp4", fake, "upscaled 4x", _clip_upscaled),
        ("video-mandelbrot-1.mp4", fake, "computer-generated render", _clip_mandelbrot),
    ]
    if speech:
        plan += [
            ("audio-speech-1.wav", fake, "espeak-ng speech", _speech(SPOKEN[0])),
            ("audio-speech-2.wav", fake, "espeak-ng speech", _speech(SPOKEN[1])),
            ("audio-speech-3.mp3", fake, "espeak-ng speech, MP3", _speech(SPOKEN[0])),
        ]
    return plan


def evaluation_set_make(*, folder: Path, seed: int = 15) -> list[GeneratedItem]:
    """Write the set and its labels.csv into `folder`; the same seed writes the same set.

    The speech items need espeak-ng; without it they are left out (and the returned list says
    what was written).
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, label, how, make in _plan(speech=shutil.which("espeak-ng") is not None):
        # One generator per item, seeded by its name: an item does not change when another one
        # is added or dropped.
        make(np.random.default_rng([seed, zlib.crc32(filename.encode())]), folder / filename)
        written.append(GeneratedItem(filename=filename, label=label, how=how))
    with (folder / LABELS_FILENAME).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "label"])
        writer.writerows((item.filename, item.label) for item in written)
    return written
