"""ELA-JPEG-V1: error-level analysis of JPEG images.

Re-encoding a JPEG changes each region by an amount that depends on how much detail that
region still has above the quantiser's step. A region pasted from a different source (or
compressed a different number of times) keeps a different amount, so its error level stands
out from regions of similar texture. We measure the recompression residual of the luminance
plane on a coarse grid, explain each cell's error level by its texture with a robust line
in log-log space, and score the cells the texture does not explain.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import stats

from mlserver.detectors.base import AnalysisContext, Detector, DetectorResult
from mlserver.errors import MediaProcessingError
from mlserver.media import MediaFile, MediaType, load_luminance, open_image
from mlserver.scoring import bounded_probability, robust_zscores, rounded

# The IJG standard luminance quantisation table (ITU T.81, Annex K), natural order.
# fmt: off
_IJG_LUMINANCE_TABLE = np.array(
    [
        16, 11, 10, 16, 24, 40, 51, 61,
        12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56,
        14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77,
        24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101,
        72, 92, 95, 98, 112, 100, 103, 99,
    ],
    dtype=np.float64,
)
# fmt: on
_IJG_QUALITIES = np.arange(1, 101)
_IJG_HALF_QUALITY = 50
_IJG_PERCENT = 100.0
_QUANTISER_MAX = 255

# Re-encoding at the file's own quality is almost lossless for every region (JPEG is nearly
# idempotent), which hides all differences; a few steps below it separates them.
RESAVE_QUALITY_STEP_BELOW = 7
RESAVE_QUALITY_RANGE = (50, 95)
# When the file has no quantisation table (never for real JPEGs), assume a common camera quality.
ASSUMED_QUALITY = 90

GRID_CELLS = 32
# A cell must span at least one 8x8 JPEG block.
MIN_CELL_PIXELS = 8
# Added before taking logs so flat, error-free cells stay finite (gray levels).
LOG_OFFSET = 0.05
# Lower bound on the spread of the texture-adjusted error levels (natural log units), so an
# image whose cells agree almost perfectly does not turn tiny differences into large scores.
SPREAD_FLOOR = 0.05
# The statistic is the mean robust z-score of the most anomalous 2 % of cells: a pasted
# region covering a few percent of the picture moves it, single noisy cells do not.
TOP_CELL_FRACTION = 0.02
SUSPICIOUS_CELL_ZSCORE = 3.5
# Untouched JPEGs score about 2-2.5 (the top 2 % of a normal sample); a pasted region
# re-saved once scores 5-10. Local edits are evidence of manipulation, not proof of a
# deepfake, so the probability stays within 0.3-0.9.
STATISTIC_CENTRE = 4.0
STATISTIC_SCALE = 0.75
PROBABILITY_FLOOR = 0.3
PROBABILITY_CEILING = 0.9


class ErrorLevelDetector(Detector):
    name = "ELA-JPEG-V1"
    is_image = True
    # Error levels are only meaningful for JPEG quantisation.
    accepted_formats = frozenset({"jpg", "jpeg"})
    description = (
        "Heuristic baseline, not a trained deepfake model; JPEG images only (it declares the "
        "formats jpg and jpeg, so other images are never offered to it, and a file that is not a "
        "JPEG inside is refused with a media processing error, because error levels are only "
        "meaningful for JPEG quantisation). Error-level analysis: the luminance plane is "
        "re-encoded a few quality steps below the file's own quality (estimated from its "
        "quantisation table) and the absolute difference is averaged over a 32x32 grid, returned "
        "as heatmap_scores (1.0 = the cell with the highest error level). Because error levels "
        "grow with texture, each cell's error is compared with what its texture predicts (a "
        "robust log-log line fitted over all cells); the statistic is the mean robust z-score of "
        "the 2 % most unexplained cells, mapped to a fake probability by a logistic curve (even "
        "at 4, scale 0.75) bounded to 0.30-0.90. Untouched JPEGs score about 2; a region pasted "
        "from another source and saved once scores 5 or more. Known failure modes: it detects "
        "local editing, not synthesis (a fully generated JPEG is uniform and passes); very "
        "low-quality files, files re-saved many times and resized images flatten all error "
        "levels; saturated, clipped or text regions can stand out without any edit."
    )

    def analyze(self, media: MediaFile, context: AnalysisContext) -> DetectorResult:
        max_pixels = context.settings.max_image_pixels
        with open_image(media.path, max_pixels=max_pixels) as image:
            if image.format != "JPEG":
                actual = image.format or "an unknown format"
                raise MediaProcessingError(
                    f"error-level analysis needs a JPEG image; this file is {actual}"
                )
            tables = getattr(image, "quantization", None) or {}
            luminance_table = tables.get(0)
        estimated_quality = (
            estimate_jpeg_quality(luminance_table) if luminance_table else ASSUMED_QUALITY
        )
        resave_quality = int(
            np.clip(estimated_quality - RESAVE_QUALITY_STEP_BELOW, *RESAVE_QUALITY_RANGE)
        )
        image = load_luminance(media.path, max_pixels=max_pixels)
        plane = image.luminance
        grid_rows = min(GRID_CELLS, plane.shape[0] // MIN_CELL_PIXELS)
        grid_columns = min(GRID_CELLS, plane.shape[1] // MIN_CELL_PIXELS)
        if grid_rows < 2 or grid_columns < 2:
            raise MediaProcessingError("the image is too small for error-level analysis")

        residual = np.abs(plane.astype(np.int16) - _recompressed(plane, resave_quality))
        error_levels = _cell_means(residual.astype(np.float32), grid_rows, grid_columns)
        texture = _cell_means(_gradient_magnitude(plane), grid_rows, grid_columns)
        zscores, slope = _unexplained_error_zscores(error_levels, texture)

        top_count = max(1, round(TOP_CELL_FRACTION * zscores.size))
        statistic = float(np.sort(zscores.ravel())[-top_count:].mean())
        probability = bounded_probability(
            statistic,
            centre=STATISTIC_CENTRE,
            scale=STATISTIC_SCALE,
            floor=PROBABILITY_FLOOR,
            ceiling=PROBABILITY_CEILING,
        )
        suspicious = int(np.count_nonzero(zscores > SUSPICIOUS_CELL_ZSCORE))
        peak_level = float(error_levels.max())
        heatmap = error_levels / peak_level if peak_level > 0 else np.zeros_like(error_levels)
        worst_row, worst_column = np.unravel_index(int(np.argmax(zscores)), zscores.shape)
        return DetectorResult(
            fake_probability=probability,
            note=_note(statistic, suspicious, (int(worst_row), int(worst_column)), resave_quality),
            media_type=MediaType.IMAGE,
            payload={
                "dimensions": {"width": image.width, "height": image.height},
                "heatmap_scores": [[rounded(v) for v in row] for row in heatmap],
                "visualization_path": None,
                "metrics": {
                    "estimated_jpeg_quality": estimated_quality,
                    "resave_quality": resave_quality,
                    "mean_error_level": rounded(float(residual.mean())),
                    "max_cell_error_level": rounded(peak_level),
                    "texture_slope": rounded(slope),
                    "top_cell_zscore": rounded(statistic),
                    "suspicious_cells": suspicious,
                    "most_unexplained_cell": [int(worst_row), int(worst_column)],
                    "grid": [grid_rows, grid_columns],
                },
            },
        )


def estimate_jpeg_quality(luminance_table: object) -> int:
    """The IJG quality whose scaled standard table is closest in total to the file's table.

    Comparing sums makes the estimate independent of the table's storage order.
    """
    total = float(np.sum(np.asarray(luminance_table, dtype=np.float64)))
    scales = np.where(
        _IJG_QUALITIES < _IJG_HALF_QUALITY,
        5000.0 / _IJG_QUALITIES,
        200.0 - 2.0 * _IJG_QUALITIES,
    )
    tables = np.clip(
        np.floor(
            (_IJG_LUMINANCE_TABLE[None, :] * scales[:, None] + _IJG_PERCENT / 2) / _IJG_PERCENT
        ),
        1,
        _QUANTISER_MAX,
    )
    return int(_IJG_QUALITIES[np.argmin(np.abs(tables.sum(axis=1) - total))])


def _recompressed(plane: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(plane, mode="L").save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as reopened:
        return np.asarray(reopened, dtype=np.int16)


def _gradient_magnitude(plane: np.ndarray) -> np.ndarray:
    """Sum of absolute horizontal and vertical neighbour differences (L1 gradient)."""
    values = plane.astype(np.int16)
    gradient = np.zeros(values.shape, dtype=np.float32)
    gradient[:, :-1] += np.abs(np.diff(values, axis=1))
    gradient[:-1, :] += np.abs(np.diff(values, axis=0))
    return gradient


def _cell_means(values: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """Mean of ``values`` over a rows x columns grid (the remainder pixels are ignored)."""
    cell_height, cell_width = values.shape[0] // rows, values.shape[1] // columns
    cropped = values[: rows * cell_height, : columns * cell_width]
    return cropped.reshape(rows, cell_height, columns, cell_width).mean(axis=(1, 3))


def _unexplained_error_zscores(
    error_levels: np.ndarray, texture: np.ndarray
) -> tuple[np.ndarray, float]:
    """Robust z-scores of log error level minus a Theil-Sen line in log texture."""
    log_error = np.log(error_levels + LOG_OFFSET).ravel()
    log_texture = np.log(texture + LOG_OFFSET).ravel()
    if np.ptp(log_texture) > 0:
        slope, intercept, _, _ = stats.theilslopes(log_error, log_texture)
    else:
        slope, intercept = 0.0, float(np.median(log_error))
    unexplained = log_error - (slope * log_texture + intercept)
    zscores = robust_zscores(unexplained, scale_floor=SPREAD_FLOOR)
    return zscores.reshape(error_levels.shape), float(slope)


def _note(statistic: float, suspicious: int, worst: tuple[int, int], resave_quality: int) -> str:
    if statistic >= STATISTIC_CENTRE:
        return (
            f"{suspicious} grid cells have error levels their texture does not explain (strongest "
            f"at row {worst[0]}, column {worst[1]} of the heatmap; re-saved at quality "
            f"{resave_quality}); consistent with a locally edited or pasted region."
        )
    return (
        f"Error levels are consistent with texture across the image (score {statistic:.2f}); "
        "no sign of local editing. This says nothing about fully generated images."
    )
