"""The size of every frame of a GIF, read from its block headers without decoding a pixel.

ffprobe reports a GIF's logical screen, but each frame carries its own position and size, and
decoders grow the picture to hold the largest one: a 1 × 1 screen may hold a 65535 × 65535 frame
that takes gigabytes to decode. The pixel limit is checked against what is walked here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_EXTENSION = b"\x21"
_IMAGE_DESCRIPTOR = b"\x2c"
_HAS_COLOR_TABLE = 0x80


def _skip_color_table(handle: BinaryIO, packed: int) -> None:
    if packed & _HAS_COLOR_TABLE:
        handle.seek(3 * 2 ** ((packed & 0x07) + 1), 1)


def _skip_sub_blocks(handle: BinaryIO) -> bool:
    """Skip data sub-blocks up to their terminator; False when the file ends first."""
    while length := handle.read(1):
        if length == b"\x00":
            return True
        handle.seek(length[0], 1)
    return False


def gif_frame_extents(path: Path) -> Iterator[tuple[int, int]]:
    """(width, height) of the logical screen, then of the canvas each frame needs (its offset
    plus its size). Stops quietly at the first malformed block: ffprobe judges damage."""
    with path.open("rb") as handle:
        header = handle.read(13)
        if len(header) < 13 or header[:3] != b"GIF":
            return
        width, height, packed = struct.unpack("<HHB", header[6:11])
        yield width, height
        _skip_color_table(handle, packed)
        while block := handle.read(1):
            if block == _EXTENSION:
                if not handle.read(1) or not _skip_sub_blocks(handle):
                    return
            elif block == _IMAGE_DESCRIPTOR:
                descriptor = handle.read(9)
                if len(descriptor) < 9:
                    return
                left, top, width, height, packed = struct.unpack("<HHHHB", descriptor)
                yield left + width, top + height
                _skip_color_table(handle, packed)
                if not handle.read(1) or not _skip_sub_blocks(handle):  # LZW code size, data
                    return
            else:  # the trailer, or something that is not a GIF block
                return
