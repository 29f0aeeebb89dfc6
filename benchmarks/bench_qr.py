"""QR image rendering: first render and cached render of PNG and SVG, against qrcode's own encoding time.

Target (DESIGN.md): <= 15 ms first render, <= 1 ms cached. Baselines measured in the same run:
qrcode's make() alone (the encoding every image needs), and qrcode's own image factories (what a naive
renderer would cost). Run: .venv/bin/python benchmarks/bench_qr.py [--count N]
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M

from benchmarks._support import pct
from ticketing import qr_images

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
FIRST_RENDER_TARGET_MS = 15.0
CACHED_TARGET_MS = 1.0


def ticket_payloads(count: int, seed: int = 20260101) -> list[str]:
    rng = random.Random(seed)
    return ["MQR:" + "".join(rng.choice(BASE45) for _ in range(150)) for _ in range(count)]


def timings_ms(render: Callable[[str], object], payloads: Sequence[str]) -> list[float]:
    times = []
    for payload in payloads:
        start = time.perf_counter()
        render(payload)
        times.append((time.perf_counter() - start) * 1000)
    return times


def report(label: str, times: Sequence[float], target_ms: float | None = None) -> bool:
    p50, p99 = statistics.median(times), pct(times, 0.99)
    verdict = ""
    if target_ms is not None:
        verdict = f"  target p99 <= {target_ms:g} ms: {'met' if p99 <= target_ms else 'MISSED'}"
    print(f"{label:<40} p50 {p50:9.4f} ms   p99 {p99:9.4f} ms{verdict}")
    return target_ms is None or p99 <= target_ms


def qrcode_make(payload: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=qr_images.MODULE_PX, border=4)
    code.add_data(payload)
    code.make(fit=True)
    return code


def qrcode_png(payload: str) -> bytes:
    out = io.BytesIO()
    qrcode_make(payload).make_image().save(out)
    return out.getvalue()


def qrcode_svg(payload: str) -> bytes:
    out = io.BytesIO()
    qrcode_make(payload).make_image(image_factory=qrcode.image.svg.SvgPathImage).save(out)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="distinct payloads per measurement")
    count = parser.parse_args(argv).count

    # The very first render in a process pays one-off costs (lazy imports inside qrcode); shown apart.
    cold = timings_ms(qr_images.render_png, ticket_payloads(1, seed=1))[0]
    payloads = ticket_payloads(count)
    version = (len(qr_images.module_matrix(payloads[0])) - 2 * qr_images.BORDER_MODULES - 17) // 4
    print(
        f"{count} payloads of {len(payloads[0])} characters (QR version {version}, ECC M), "
        f"Python {sys.version.split()[0]}"
    )
    print(f"first render in this process (PNG): {cold:.3f} ms")
    print("baselines")
    report("  qrcode make() alone", timings_ms(qrcode_make, payloads))
    report("  qrcode make_image() PIL -> PNG", timings_ms(qrcode_png, payloads))
    report("  qrcode make_image() SvgPathImage", timings_ms(qrcode_svg, payloads))
    print("ticketing.qr_images")
    met = True
    for name, render in (("PNG", qr_images.render_png), ("SVG", qr_images.render_svg)):
        qr_images.clear_cache()  # cold for each format, so the SVG pass cannot reuse the PNG pass's matrices
        met &= report(f"  {name} first render", timings_ms(render, payloads), FIRST_RENDER_TARGET_MS)
        met &= report(f"  {name} cached render", timings_ms(render, payloads), CACHED_TARGET_MS)
    qr_images.clear_cache()
    both = timings_ms(
        lambda payload: (qr_images.render_png(payload), qr_images.render_svg(payload)), payloads
    )
    report("  PNG then SVG of one ticket, first", both)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
