"""Pictures for the PDF report: the media's thumbnail, an image model's heatmap over the picture,
and an audio model's spectrogram, as JPEG bytes ReportLab embeds as they are.

Every picture is downscaled to REPORT_IMAGE_MAX_PIXELS on its longest side, so a report stays a
few hundred kilobytes whatever the upload's resolution. Anything unreadable (a missing file, a
payload matrix of the wrong shape) yields None, and the report then shows no picture.
"""

from __future__ import annotations

import io
import logging

from django.conf import settings
from django.db.models.fields.files import FieldFile
from PIL import Image, UnidentifiedImageError

from media_analysis.choices import MediaType
from media_analysis.models import Media
from media_analysis.results import reduce_matrix

logger = logging.getLogger(__name__)

JPEG_QUALITY = 80
# The share of the heatmap's colour in each pixel drawn over the picture: the picture stays
# recognisable under it.
HEATMAP_OPACITY = 0.45
# Colour stops of the heatmap (low to high score) and of the spectrogram (low to high level).
HEATMAP_STOPS = ((0.0, (49, 54, 149)), (0.5, (255, 255, 191)), (1.0, (165, 0, 38)))
SPECTROGRAM_ASPECT = 3  # width : height of the printed spectrogram
SPECTROGRAM_STOPS = (
    (0.0, (0, 0, 4)),
    (0.35, (120, 28, 109)),
    (0.7, (237, 105, 37)),
    (1.0, (252, 255, 164)),
)


def _max_pixels() -> int:
    return max(settings.REPORT_IMAGE_MAX_PIXELS, 32)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def _open_stored(field_file: FieldFile) -> Image.Image | None:
    if not field_file:
        return None
    try:
        with field_file.storage.open(field_file.name, "rb") as handle:
            image = Image.open(handle)
            image.draft("RGB", (_max_pixels(), _max_pixels()))
            image = image.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as error:
        logger.warning("The picture %s cannot be read for the report: %s", field_file.name, error)
        return None
    image.thumbnail((_max_pixels(), _max_pixels()))
    return image


def media_picture(media: Media) -> Image.Image | None:
    """The media's thumbnail, downscaled; for an image without one, the image itself."""
    picture = _open_stored(media.thumbnail)
    if picture is None and media.media_type == MediaType.IMAGE:
        picture = _open_stored(media.file)
    return picture


def media_picture_jpeg(media: Media) -> bytes | None:
    picture = media_picture(media)
    return _jpeg(picture) if picture is not None else None


def _colour(value: float, stops: tuple[tuple[float, tuple[int, int, int]], ...]) -> tuple:
    for (low, low_rgb), (high, high_rgb) in zip(stops, stops[1:], strict=False):
        if value <= high:
            share = 0.0 if high == low else (value - low) / (high - low)
            return tuple(round(a + (b - a) * share) for a, b in zip(low_rgb, high_rgb, strict=True))
    return stops[-1][1]


def _matrix_image(value: object, *, stops, low: float | None = None, high: float | None = None):
    """A 2-D payload matrix as a small RGB picture (one pixel per reduced cell), or None."""
    matrix = reduce_matrix(value, limit=_max_pixels())
    if matrix is None:
        return None
    rows = matrix["rows"]
    low = matrix["min"] if low is None else low
    high = matrix["max"] if high is None else high
    span = (high - low) or 1.0
    image = Image.new("RGB", (len(rows[0]), len(rows)))
    image.putdata(
        [
            _colour(min(max((cell - low) / span, 0.0), 1.0), stops)
            if cell is not None
            else (128, 128, 128)
            for row in rows
            for cell in row
        ]
    )
    return image


def heatmap_jpeg(*, scores: object, media: Media) -> bytes | None:
    """The heatmap (scores 0-1) laid over the picture when there is one, else on its own."""
    heat = _matrix_image(scores, stops=HEATMAP_STOPS, low=0.0, high=1.0)
    if heat is None:
        return None
    picture = media_picture(media)
    if picture is None:
        heat = heat.resize(_fit(heat.size), Image.Resampling.NEAREST)
        return _jpeg(heat)
    heat = heat.resize(picture.size, Image.Resampling.BILINEAR)
    return _jpeg(Image.blend(picture, heat, HEATMAP_OPACITY))


def spectrogram_jpeg(*, data: object) -> bytes | None:
    """A spectrogram matrix (rows are frequency bins, low first) with low frequencies at the
    bottom, as it is usually read."""
    image = _matrix_image(data, stops=SPECTROGRAM_STOPS)
    if image is None:
        return None
    image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    # Stretched into a fixed wide box, as spectrograms are read, whatever the number of bins
    # and frames: a 256-bin x 60-frame matrix would otherwise print as a thin strip.
    size = (_max_pixels(), max(_max_pixels() // SPECTROGRAM_ASPECT, 1))
    return _jpeg(image.resize(size, Image.Resampling.BILINEAR))


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    """`size` scaled so its longest side is the report's picture size (up or down)."""
    width, height = size
    scale = _max_pixels() / max(width, height)
    return max(round(width * scale), 1), max(round(height * scale), 1)
