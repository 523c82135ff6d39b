"""The fonts of the PDF report.

ReportLab's built-in fonts (Helvetica) cover Windows-1252 only: a Cyrillic, Greek or Polish
filename would print as "?". When a Unicode TrueType font is configured (`REPORT_FONT_PATH` and
`REPORT_FONT_BOLD_PATH`, by default DejaVu Sans from Debian's `fonts-dejavu-core`), the report
embeds a subset of it and prints every character the font has. When the files are missing or
unreadable the report still renders, with the built-in fonts, and says so in the log once.

`ReportFonts.draws(char)` tells whether the chosen font has a glyph for a character; `pdf_text`
uses it to decide what to replace.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

logger = logging.getLogger(__name__)

BUILTIN_REGULAR = "Helvetica"
BUILTIN_BOLD = "Helvetica-Bold"
EMBEDDED_REGULAR = "ReportSans"
EMBEDDED_BOLD = "ReportSans-Bold"


@dataclass(frozen=True)
class ReportFonts:
    regular: str
    bold: str
    # Code points the embedded font can draw; None for the built-in fonts (Windows-1252).
    codepoints: frozenset[int] | None = field(default=None, repr=False)

    @property
    def embedded(self) -> bool:
        return self.codepoints is not None

    def draws(self, char: str) -> bool:
        if self.codepoints is not None:
            return ord(char) in self.codepoints
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            return False
        return True


BUILTIN_FONTS = ReportFonts(regular=BUILTIN_REGULAR, bold=BUILTIN_BOLD)


def report_fonts() -> ReportFonts:
    """The fonts the report draws with, from the settings (loaded once per pair of paths)."""
    return _load(settings.REPORT_FONT_PATH, settings.REPORT_FONT_BOLD_PATH)


@functools.cache
def _load(regular_path: str, bold_path: str) -> ReportFonts:
    if not regular_path:
        return BUILTIN_FONTS
    # Names are unique per pair of files: ReportLab's font registry is process-wide.
    suffix = f"-{abs(hash((regular_path, bold_path))):x}"
    try:
        regular = TTFont(EMBEDDED_REGULAR + suffix, regular_path)
        bold = TTFont(EMBEDDED_BOLD + suffix, bold_path or regular_path)
    except (OSError, TTFError) as exc:
        logger.warning(
            "report font %s cannot be used (%s); reports print with the built-in fonts, which "
            "cover Windows-1252 only",
            Path(regular_path).name,
            exc,
        )
        return BUILTIN_FONTS
    for font in (regular, bold):
        pdfmetrics.registerFont(font)
    pdfmetrics.registerFontFamily(
        regular.fontName,
        normal=regular.fontName,
        bold=bold.fontName,
        italic=regular.fontName,
        boldItalic=bold.fontName,
    )
    codepoints = frozenset(regular.face.charToGlyph) & frozenset(bold.face.charToGlyph)
    return ReportFonts(regular=regular.fontName, bold=bold.fontName, codepoints=codepoints)
