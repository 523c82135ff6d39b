"""The per-model table of an evaluation, as the command prints it and the admin shows it."""

from __future__ import annotations

from media_analysis.evaluation.models import Evaluation

COLUMNS = (
    "Model",
    "Media type",
    "n",
    "AUC",
    "Accuracy",
    "Precision",
    "Recall",
    "Abstained",
    "Failed",
)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def reliability_rows(*, evaluation: Evaluation) -> list[tuple[str, ...]]:
    """One row of strings per (model, media type), in the order of COLUMNS."""
    return [
        (
            row.model_name,
            row.get_media_type_display(),
            str(row.count),
            _number(row.auc),
            _number(row.accuracy),
            _number(row.precision),
            _number(row.recall),
            str(row.abstained),
            str(row.failed),
        )
        for row in evaluation.reliabilities.all()
    ]


def reliability_text_table(*, evaluation: Evaluation) -> str:
    """The table in fixed-width columns (also valid Markdown)."""
    rows = [COLUMNS, *reliability_rows(evaluation=evaluation)]
    widths = [max(len(row[index]) for row in rows) for index in range(len(COLUMNS))]

    def line(cells: tuple[str, ...]) -> str:
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        return "| " + " | ".join(padded) + " |"

    ruler = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(rows[0]), ruler, *(line(row) for row in rows[1:])])
