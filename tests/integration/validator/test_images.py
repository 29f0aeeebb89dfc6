"""Both QR decoders on real rendered PNG and JPEG files, and the reasons for files without one code."""

from __future__ import annotations

from pathlib import Path

import pytest
import qrcode
from PIL import Image, ImageOps

from fare_rules.reasons import Reason
from validator.images import PyzbarDecoder, QrDecoder, ZxingDecoder, decode_image_file
from validator.testing import TestIssuer

DECODERS: list[QrDecoder] = [ZxingDecoder(), PyzbarDecoder()]


def _qr(text: str) -> Image.Image:
    image: Image.Image = qrcode.make(text, border=4, box_size=6).get_image().convert("L")
    return image


@pytest.fixture(scope="module")
def payload() -> str:
    return TestIssuer().ticket()[1]


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.name)
@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_ticket_rendered_to_an_image_file_decodes_to_its_payload(
    tmp_path: Path, payload: str, decoder: QrDecoder, suffix: str
) -> None:
    path = tmp_path / f"ticket{suffix}"
    _qr(payload).save(path, quality=80) if suffix == ".jpg" else _qr(payload).save(path)

    assert decode_image_file(path, decoder) == payload


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.name)
def test_an_image_without_a_code_says_so(tmp_path: Path, decoder: QrDecoder) -> None:
    path = tmp_path / "blank.png"
    Image.new("L", (320, 240), 255).save(path)

    assert decode_image_file(path, decoder) is Reason.NO_CODE_IN_IMAGE


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.name)
def test_an_image_with_two_codes_asks_for_one_at_a_time(tmp_path: Path, decoder: QrDecoder) -> None:
    a, b = _qr("MQR:FIRST"), _qr("MQR:SECOND")
    canvas = Image.new("L", (a.width + b.width + 40, max(a.height, b.height)), 255)
    canvas.paste(a, (0, 0))
    canvas.paste(b, (a.width + 40, 0))
    path = tmp_path / "two.png"
    canvas.save(path)

    assert decode_image_file(path, decoder) is Reason.MULTIPLE_CODES


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.name)
@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n truncated"])
def test_a_file_that_is_not_an_image_is_unreadable(
    tmp_path: Path, decoder: QrDecoder, content: bytes
) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(content)

    assert decode_image_file(path, decoder) is Reason.UNREADABLE_IMAGE


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    assert decode_image_file(tmp_path / "nope.png", ZxingDecoder()) is Reason.UNREADABLE_IMAGE


def test_only_zxing_reads_an_inverted_dark_mode_screen(tmp_path: Path, payload: str) -> None:
    path = tmp_path / "dark.png"
    ImageOps.invert(_qr(payload)).save(path)

    assert decode_image_file(path, ZxingDecoder()) == payload
    assert decode_image_file(path, PyzbarDecoder()) is Reason.NO_CODE_IN_IMAGE


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.name)
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "1"])
def test_a_colour_or_palette_image_decodes_like_a_gray_one(
    tmp_path: Path, payload: str, decoder: QrDecoder, mode: str
) -> None:
    path = tmp_path / f"ticket-{mode}.png"
    _qr(payload).convert(mode).save(path)

    assert decode_image_file(path, decoder) == payload


def test_zxing_reads_an_underexposed_frame_that_a_fixed_threshold_misses(
    tmp_path: Path, payload: str
) -> None:
    # All below mid-gray: the fast pass (fixed threshold) sees only black; the full search still reads it.
    dark = _qr(payload).point(lambda v: 20 if v < 128 else 70)
    path = tmp_path / "dim.png"
    dark.save(path)

    assert decode_image_file(path, ZxingDecoder()) == payload
