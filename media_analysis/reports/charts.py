"""The vector charts of the run report.

Charts are `reportlab.graphics` drawings: they go into the PDF as vector paths, so they stay sharp
when printed or zoomed, cost no image encoding, and need no rasteriser (ReportLab's bitmap renderer
depends on Cairo, a system library). Callers pass labels already made safe for the PDF fonts and
points already read from the payload (see `results`: anything that is not a finite number was
skipped there).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors

from media_analysis.reports.fonts import report_fonts
from media_analysis.results import format_percent, format_seconds

# A long video has thousands of frame scores; a line of a few hundred points looks the same at
# report size and keeps rendering fast (`results.downsample`). Statistics use every score.
CHART_MAX_POINTS = 200

FONT_SIZE = 7
AXIS_COLOR = colors.HexColor("#4b5563")
GRID_COLOR = colors.HexColor("#e5e7eb")
FAKE_COLOR = colors.HexColor("#c0392b")
REAL_COLOR = colors.HexColor("#1e8449")
NEUTRAL_COLOR = colors.HexColor("#2f6690")
FAILED_COLOR = colors.HexColor("#9ca3af")
# Ten colours that stay distinct in print; after ten, the dash pattern tells models apart.
SERIES_COLORS = [
    colors.HexColor(value)
    for value in (
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#7f7f7f",
        "#bcbd22",
        "#17becf",
    )
]
SERIES_DASHES: list[list[float] | None] = [None, [4, 2], [1, 2], [6, 2, 1, 2]]

LABEL_WIDTH = 150
LABEL_MAX_CHARS = 30
ROW_HEIGHT = 16
BAR_HEIGHT = 9
AXIS_BAND = 26
LEGEND_ROW_HEIGHT = 11
LEGEND_COLUMN_WIDTH = 160


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5, 10 times a power of ten that is at least `value`."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _tick_label(value: float) -> str:
    return f"{value:g}"


def shorten(label: str, limit: int = LABEL_MAX_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "\u2026"


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: float = FONT_SIZE):
    return String(
        x,
        y,
        text,
        fontName=report_fonts().regular,
        fontSize=size,
        fillColor=AXIS_COLOR,
        textAnchor=anchor,
    )


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[float, float]]


def timeline_chart(series: Sequence[Series], *, width: float, height: float = 190) -> Drawing:
    """Every model's frame scores on one 0-100 % timeline, with the 0.5 line and a legend."""
    left, right, bottom = 36, 10, 30
    columns = max(int(width // LEGEND_COLUMN_WIDTH), 1)
    legend_rows = math.ceil(len(series) / columns)
    legend_height = legend_rows * LEGEND_ROW_HEIGHT + 6
    drawing = Drawing(width, height + legend_height)
    plot_x, plot_y = left, legend_height + bottom
    plot_w, plot_h = width - left - right, height - bottom - 16

    for tick in range(0, 101, 25):
        y = plot_y + plot_h * tick / 100
        drawing.add(Line(plot_x, y, plot_x + plot_w, y, strokeColor=GRID_COLOR, strokeWidth=0.5))
        drawing.add(_text(plot_x - 4, y - 2.5, f"{tick}%", anchor="end"))
        x = plot_x + plot_w * tick / 100
        drawing.add(Line(x, plot_y, x, plot_y - 3, strokeColor=AXIS_COLOR, strokeWidth=0.5))
        drawing.add(_text(x, plot_y - 11, f"{tick}%", anchor="middle"))
    threshold_y = plot_y + plot_h / 2
    drawing.add(
        Line(
            plot_x,
            threshold_y,
            plot_x + plot_w,
            threshold_y,
            strokeColor=FAKE_COLOR,
            strokeWidth=0.6,
            strokeDashArray=[3, 2],
        )
    )
    drawing.add(Line(plot_x, plot_y, plot_x + plot_w, plot_y, strokeColor=AXIS_COLOR))
    drawing.add(Line(plot_x, plot_y, plot_x, plot_y + plot_h, strokeColor=AXIS_COLOR))
    drawing.add(_text(plot_x + plot_w / 2, plot_y - 23, "Position in media", anchor="middle"))
    drawing.add(_text(plot_x - 30, plot_y + plot_h + 7, "Fake score (above 50%: suspicious)"))

    for number, line in enumerate(series):
        color = SERIES_COLORS[number % len(SERIES_COLORS)]
        dash = SERIES_DASHES[(number // len(SERIES_COLORS)) % len(SERIES_DASHES)]
        coordinates: list[float] = []
        for position, score in line.points:
            coordinates.append(plot_x + plot_w * position / 100)
            coordinates.append(plot_y + plot_h * min(max(score, 0.0), 1.0))
        if len(coordinates) >= 4:
            drawing.add(
                PolyLine(coordinates, strokeColor=color, strokeWidth=0.9, strokeDashArray=dash)
            )
        elif coordinates:
            drawing.add(Circle(coordinates[0], coordinates[1], 2, fillColor=color, strokeWidth=0))

        column, row = number % columns, number // columns
        x = column * LEGEND_COLUMN_WIDTH + left
        y = legend_height - (row + 1) * LEGEND_ROW_HEIGHT
        drawing.add(
            Line(x, y + 3, x + 14, y + 3, strokeColor=color, strokeWidth=2, strokeDashArray=dash)
        )
        drawing.add(_text(x + 18, y, shorten(line.label, 28)))
    return drawing


def _legend(drawing: Drawing, entries: Sequence[tuple[colors.Color, str]], *, x: float) -> None:
    for color, label in entries:
        drawing.add(Rect(x, 2, 8, 8, fillColor=color, strokeWidth=0))
        drawing.add(_text(x + 11, 3, label))
        x += 11 + len(label) * FONT_SIZE * 0.5 + 16


def confidence_chart(rows: Sequence[tuple[str, str, float]], *, width: float) -> Drawing:
    """Diverging bars: FAKE predictions to the right, REAL to the left, length = confidence.

    `rows` are (label, prediction, confidence 0-1). Direction and colour both carry the
    prediction, so the chart reads correctly in greyscale too.
    """
    value_gap = 40
    half = (width - LABEL_WIDTH - 2 * value_gap) / 2
    centre = LABEL_WIDTH + value_gap + half
    top = AXIS_BAND + 14 + len(rows) * ROW_HEIGHT
    drawing = Drawing(width, top + 4)
    plot_bottom = AXIS_BAND + 14

    for fraction in (-1, -0.5, 0, 0.5, 1):
        x = centre + half * fraction
        drawing.add(Line(x, plot_bottom, x, top, strokeColor=GRID_COLOR, strokeWidth=0.5))
        label = "0" if fraction == 0 else f"{abs(fraction) * 100:g}%"
        drawing.add(_text(x, plot_bottom - 10, label, anchor="middle"))
    drawing.add(_text(centre - half / 2, plot_bottom - 20, "REAL confidence", anchor="middle"))
    drawing.add(_text(centre + half / 2, plot_bottom - 20, "FAKE confidence", anchor="middle"))

    for number, (label, prediction, confidence) in enumerate(rows):
        y = top - (number + 1) * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        drawing.add(_text(LABEL_WIDTH - 6, y + 2, shorten(label), anchor="end"))
        length = half * min(max(confidence, 0.0), 1.0)
        fake = prediction == "FAKE"
        x = centre if fake else centre - length
        color = FAKE_COLOR if fake else REAL_COLOR
        drawing.add(Rect(x, y, length, BAR_HEIGHT, fillColor=color, strokeWidth=0))
        value = f"{prediction} {format_percent(confidence)}"
        if fake:
            drawing.add(_text(centre + length + 3, y + 2, value))
        else:
            drawing.add(_text(centre - length - 3, y + 2, value, anchor="end"))
    drawing.add(Line(centre, plot_bottom, centre, top, strokeColor=AXIS_COLOR, strokeWidth=0.8))
    _legend(
        drawing,
        [(FAKE_COLOR, "FAKE prediction (right)"), (REAL_COLOR, "REAL prediction (left)")],
        x=LABEL_WIDTH,
    )
    return drawing


def processing_time_chart(rows: Sequence[tuple[str, float, bool]], *, width: float) -> Drawing:
    """Horizontal bars of seconds per model; `rows` are (label, seconds, completed)."""
    value_gap = 44
    plot_w = width - LABEL_WIDTH - value_gap
    scale_max = _nice_ceiling(max((seconds for _, seconds, _ in rows), default=0.0))
    has_legend = any(not completed for _, _, completed in rows)
    plot_bottom = AXIS_BAND + (14 if has_legend else 0)
    top = plot_bottom + len(rows) * ROW_HEIGHT
    drawing = Drawing(width, top + 4)

    for step in range(6):
        value = scale_max * step / 5
        x = LABEL_WIDTH + plot_w * step / 5
        drawing.add(Line(x, plot_bottom, x, top, strokeColor=GRID_COLOR, strokeWidth=0.5))
        drawing.add(_text(x, plot_bottom - 10, _tick_label(value), anchor="middle"))
    drawing.add(
        _text(LABEL_WIDTH + plot_w / 2, plot_bottom - 20, "Processing time (s)", anchor="middle")
    )

    for number, (label, seconds, completed) in enumerate(rows):
        y = top - (number + 1) * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        drawing.add(_text(LABEL_WIDTH - 6, y + 2, shorten(label), anchor="end"))
        length = plot_w * max(seconds, 0.0) / scale_max
        color = NEUTRAL_COLOR if completed else FAILED_COLOR
        drawing.add(Rect(LABEL_WIDTH, y, length, BAR_HEIGHT, fillColor=color, strokeWidth=0))
        drawing.add(_text(LABEL_WIDTH + length + 3, y + 2, format_seconds(seconds)))
    drawing.add(Line(LABEL_WIDTH, plot_bottom, LABEL_WIDTH, top, strokeColor=AXIS_COLOR))
    if has_legend:
        _legend(drawing, [(NEUTRAL_COLOR, "completed"), (FAILED_COLOR, "failed")], x=LABEL_WIDTH)
    return drawing
