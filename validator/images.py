"""Read QR codes from image files behind one small interface, with zxing-cpp (default) or pyzbar.

zxing-cpp is the default: on degraded gate-camera frames it decodes more and faster, and with its retries
(`try_invert`) it reads an inverted "dark mode" phone screen that zbar does not
(figures: benchmarks/bench_gate.py).

Both decoders get a grayscale ('L') picture: converting in PIL is cheaper than letting them do it per pixel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PIL import Image, UnidentifiedImageError

from fare_rules.reasons import Reason

__all__ = [
    "DECODERS",
    "IMAGE_SUFFIXES",
    "PyzbarDecoder",
    "QrDecoder",
    "ZxingDecoder",
    "decode_image",
    "decode_image_file",
    "get_decoder",
    "looks_like_image_path",
]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})


class QrDecoder(Protocol):
    """Find every QR code in a picture and return their texts (empty list: none found)."""

    name: str

    def decode(self, image: Image.Image) -> list[str]: ...


class ZxingDecoder:
    """zxing-cpp in two passes. The fast pass (fixed threshold, one scale, no inverted retry) reads a phone
    held to the reader in a fraction of the time. Only a frame where it finds nothing pays for the full
    default search (local-average binariser, rotations, downscales, inverted image), which reads the degraded
    and the dark-mode frames. A code found by either pass is found, so the decode rate is never lower than
    the full search's alone (benchmarks/bench_gate.py measures both).
    """

    name = "zxing"

    def decode(self, image: Image.Image) -> list[str]:
        # Imported on first use: a gate that only reads typed payloads never loads the native library.
        # The options are built per call (about a microsecond): nanobind objects held by a long-lived
        # decoder outlive the module at interpreter exit and nanobind reports them as leaks.
        import zxingcpp  # noqa: PLC0415

        formats = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
        found = zxingcpp.read_barcodes(
            image,
            formats=formats,
            binarizer=zxingcpp.Binarizer.FixedThreshold,
            try_rotate=False,  # for linear barcodes; QR finder patterns are found at any angle
            try_downscale=False,
            try_invert=False,
        )
        if not any(b.valid for b in found):
            found = zxingcpp.read_barcodes(image, formats=formats)
        return [str(b.text) for b in found if b.valid]


class PyzbarDecoder:
    name = "pyzbar"

    def decode(self, image: Image.Image) -> list[str]:
        # Lazy for the same reason; pyzbar also needs the system libzbar, missing on some gates.
        from pyzbar.pyzbar import ZBarSymbol  # noqa: PLC0415
        from pyzbar.pyzbar import decode as zbar_decode  # noqa: PLC0415

        return [r.data.decode("utf-8", "replace") for r in zbar_decode(image, symbols=[ZBarSymbol.QRCODE])]


DECODERS: dict[str, type[ZxingDecoder] | type[PyzbarDecoder]] = {
    "zxing": ZxingDecoder,
    "pyzbar": PyzbarDecoder,
}


def get_decoder(name: str = "zxing") -> QrDecoder:
    """A decoder by name (`zxing`, the default, or `pyzbar`); KeyError for another name."""
    return DECODERS[name]()


def looks_like_image_path(item: str) -> bool:
    """An existing file, or text ending like an image file name (a mistyped path is not a payload)."""
    if "\n" in item or len(item) > 4096:
        return False
    path = Path(item)
    try:
        return path.is_file() or path.suffix.lower() in IMAGE_SUFFIXES
    except OSError:
        return False


def decode_image(image: Image.Image, decoder: QrDecoder) -> str | Reason:
    """The one QR text in `image`, or NO_CODE_IN_IMAGE / MULTIPLE_CODES."""
    gray = image if image.mode == "L" else image.convert("L")
    texts = list(dict.fromkeys(decoder.decode(gray)))  # the same code found twice is still one code
    if not texts:
        return Reason.NO_CODE_IN_IMAGE
    if len(texts) > 1:
        return Reason.MULTIPLE_CODES
    return texts[0]


def decode_image_file(path: Path | str, decoder: QrDecoder) -> str | Reason:
    """The one QR text in an image file, or a Reason: UNREADABLE_IMAGE (missing, not an image, corrupt),
    NO_CODE_IN_IMAGE, MULTIPLE_CODES. Never raises for a bad file."""
    try:
        with Image.open(path) as image:
            image.load()
            return decode_image(image, decoder)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return Reason.UNREADABLE_IMAGE
