"""PNG and SVG images of QR payloads, cached after the first render.

qrcode encodes the payload (mode, smallest version at ECC M, best of the eight masks), which is most of the
cost of a first render. The images are then drawn straight from its module matrix: PIL upscales a one-byte-
per-module image in C, and the SVG is one path of horizontal runs. That drawing step is 1.5 to 5 times
quicker than qrcode's own factories (a rectangle per module, an element tree); see benchmarks/bench_qr.py.

Payloads are signed and never change, so an image can be cached for as long as the process lives; the caches
are bounded LRUs so a flood of distinct tickets cannot grow memory without limit.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

__all__ = ["BORDER_MODULES", "MODULE_PX", "clear_cache", "module_matrix", "render_png", "render_svg"]

MODULE_PX = (
    8  # a version 6-8 ticket comes out 392-456 px wide: fills a phone screen, crisp at any gate camera
)
BORDER_MODULES = 4  # the quiet zone ISO/IEC 18004 requires
_IMAGES_CACHED = 1024  # per format; a ticket PNG is ~1-2 KB and its SVG ~10 KB
_MATRICES_CACHED = 64  # short-lived: lets the PNG and SVG of one ticket share one encoding

# PIL loads its file-format plugins on the first save, ~12 ms: pay that when the service starts, not in the
# first rider's request.
Image.preinit()


def render_png(payload: str) -> bytes:
    """A 1-bit PNG of `payload` as a QR code (ECC M, 4-module quiet zone, 8 px per module)."""
    return _png(payload)


def render_svg(payload: str) -> bytes:
    """An SVG of `payload` as a QR code, sized like `render_png` and scaling without blur."""
    return _svg(payload)


def clear_cache() -> None:
    """Forget every cached image and matrix (for benchmarks and tests that measure a first render)."""
    _png.cache_clear()
    _svg.cache_clear()
    module_matrix.cache_clear()


@lru_cache(maxsize=_MATRICES_CACHED)
def module_matrix(payload: str) -> tuple[tuple[bool, ...], ...]:
    """The QR modules of `payload` (True = dark), quiet zone included. ValueError if it cannot be a QR."""
    if not payload:
        raise ValueError("cannot render an empty payload")
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(payload)  # qrcode picks the densest mode; Base45 ticket text is all QR-alphanumeric
    try:
        code.make(fit=True)
    except (DataOverflowError, ValueError):  # qrcode 8 says "Invalid version (was 41 ...)" when nothing fits
        raise ValueError(f"payload of {len(payload)} characters does not fit in a QR code") from None
    modules: Sequence[Sequence[bool]] = code.modules
    width = len(modules) + 2 * BORDER_MODULES
    quiet_row = (False,) * width
    quiet_side = (False,) * BORDER_MODULES
    body = tuple(quiet_side + tuple(bool(module) for module in row) + quiet_side for row in modules)
    return (quiet_row,) * BORDER_MODULES + body + (quiet_row,) * BORDER_MODULES


@lru_cache(maxsize=_IMAGES_CACHED)
def _png(payload: str) -> bytes:
    matrix = module_matrix(payload)
    width = len(matrix)
    # One grey byte per module, then a nearest-neighbour upscale: PIL does the per-pixel work in C.
    grey = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = (
        Image.frombytes("L", (width, width), grey)
        .resize((width * MODULE_PX, width * MODULE_PX), Image.Resampling.NEAREST)
        .convert("1", dither=Image.Dither.NONE)
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@lru_cache(maxsize=_IMAGES_CACHED)
def _svg(payload: str) -> bytes:
    matrix = module_matrix(payload)
    width = len(matrix)
    pixels = width * MODULE_PX
    # One path of horizontal runs, in module units; viewBox scales it to any size without blur.
    runs = "".join(
        f"M{x} {y}h{length}v1h-{length}z" for y, row in enumerate(matrix) for x, length in _runs(row)
    )
    # The white rectangle matters: a transparent background on a dark-mode page makes an unreadable code.
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{pixels}" height="{pixels}" '
        f'viewBox="0 0 {width} {width}" shape-rendering="crispEdges">'
        f'<rect width="{width}" height="{width}" fill="#fff"/>'
        f'<path fill="#000" d="{runs}"/></svg>\n'
    ).encode()


def _runs(row: Sequence[bool]) -> list[tuple[int, int]]:
    """(start, length) of each run of dark modules in `row`."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for x, dark in enumerate((*row, False)):
        if dark and start is None:
            start = x
        elif not dark and start is not None:
            runs.append((start, x - start))
            start = None
    return runs
