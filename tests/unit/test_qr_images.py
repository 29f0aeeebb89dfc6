import io
import re
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image
from pyzbar import pyzbar

from ticketing.qr_images import BORDER_MODULES, MODULE_PX, module_matrix, render_png, render_svg
from validator.vietqr import build_vietqr_payload

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
# Shaped like a single ticket: scheme prefix and ~150 characters of Base45 (about 100 bytes signed).
TICKET = "MQR:" + "".join(BASE45[(7 * i + 3) % 45] for i in range(150))
PAYLOADS = [
    pytest.param(TICKET, id="ticket"),
    pytest.param("MQR:" + BASE45 * 6, id="pass"),
    pytest.param(
        build_vietqr_payload("970436", "0011001234567", 20_000, "MQR8F3K2Q", "METRO HCM"), id="vietqr"
    ),
    pytest.param("https://metro.example/v1/orders/ord_1?token=abc-XYZ_9", id="mixed-case-bytes"),
]
SVG_NS = "{http://www.w3.org/2000/svg}"


def png_image(payload: str) -> Image.Image:
    return Image.open(io.BytesIO(render_png(payload)))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_png_decodes_to_the_payload_with_pyzbar_and_with_zxing_cpp(payload: str) -> None:
    image = png_image(payload)

    zbar_texts = [symbol.data.decode() for symbol in pyzbar.decode(image)]
    zxing_texts = [barcode.text for barcode in zxingcpp.read_barcodes(image)]

    assert zbar_texts == [payload]
    assert zxing_texts == [payload]


def test_the_png_is_one_bit_with_eight_pixels_per_module_and_a_four_module_quiet_zone() -> None:
    image = png_image(TICKET)
    modules = len(module_matrix(TICKET))

    assert render_png(TICKET).startswith(b"\x89PNG\r\n\x1a\n")
    assert image.mode == "1"
    assert image.size == (modules * MODULE_PX, modules * MODULE_PX)
    quiet = BORDER_MODULES * MODULE_PX
    assert image.crop((0, 0, image.width, quiet)).getextrema() == (255, 255)
    assert image.crop((0, 0, quiet, image.height)).getextrema() == (255, 255)


def test_the_matrix_is_a_square_code_of_a_valid_version_inside_its_quiet_zone() -> None:
    matrix = module_matrix(TICKET)
    code_width = len(matrix) - 2 * BORDER_MODULES

    assert all(len(row) == len(matrix) for row in matrix)
    assert (code_width - 17) % 4 == 0
    assert 1 <= (code_width - 17) // 4 <= 40
    assert not any(matrix[0])
    assert not any(matrix[-1])
    assert not any(row[0] or row[-1] for row in matrix)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_svg_is_xml_that_draws_exactly_the_dark_modules(payload: str) -> None:
    svg = render_svg(payload)
    root = ET.fromstring(svg)
    matrix = module_matrix(payload)
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", root.findall(f"{SVG_NS}path")[0].attrib["d"])

    drawn = {(int(x) + dx, int(y)) for x, y, length, _ in runs for dx in range(int(length))}

    assert svg.startswith(b"<?xml")
    assert root.tag == f"{SVG_NS}svg"
    assert drawn == {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}


def test_the_svg_has_the_same_size_as_the_png_and_an_opaque_white_background() -> None:
    root = ET.fromstring(render_svg(TICKET))
    modules = len(module_matrix(TICKET))

    assert root.attrib["width"] == root.attrib["height"] == str(modules * MODULE_PX)
    assert root.attrib["viewBox"] == f"0 0 {modules} {modules}"
    assert root.findall(f"{SVG_NS}rect")[0].attrib["fill"] == "#fff"


def test_a_second_render_of_a_payload_returns_the_cached_image() -> None:
    assert render_png(TICKET) is render_png(TICKET)
    assert render_svg(TICKET) is render_svg(TICKET)


def test_different_payloads_give_different_images() -> None:
    assert render_png(TICKET) != render_png(TICKET + "0")
    assert render_svg(TICKET) != render_svg(TICKET + "0")


@pytest.mark.parametrize("payload", ["", "MQR:" + "A" * 5000])
def test_a_payload_that_cannot_be_a_qr_code_is_refused(payload: str) -> None:
    with pytest.raises(ValueError, match="payload"):
        render_png(payload)
    with pytest.raises(ValueError, match="payload"):
        render_svg(payload)
