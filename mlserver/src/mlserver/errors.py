"""Domain errors, mapped to HTTP answers in one place (``mlserver.app``)."""

from __future__ import annotations


class MediaProcessingError(Exception):
    """The media cannot be analysed by the chosen detector: corrupt, truncated or unsuitable.

    Answered with 422 and the contract's ``Media Processing Error`` body; the message is
    shown to users, so it says what is wrong with the file, not where the code failed.
    """


class UnsupportedContainerError(MediaProcessingError):
    """The file's content is not a container this server reads (415).

    Raised before any decoder runs when the first bytes match no accepted format, and when
    ffprobe names a format outside the accepted set. Playlists and concat lists (which would
    make ffmpeg open other files on the server) are refused this way, with an answer that does
    not depend on what they point at.
    """


class ModelSelectionError(Exception):
    """The requested model is unknown, inactive, or does not accept this media type (422)."""


class InferenceError(Exception):
    """A detector failed for a reason that is not the media's fault (500).

    ``primary_error`` is a one-line summary for the client; the traceback stays in the log.
    """

    def __init__(self, primary_error: str) -> None:
        super().__init__(primary_error)
        self.primary_error = primary_error
