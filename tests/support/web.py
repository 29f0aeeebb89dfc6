"""The riders' web app in a real browser: Debian's Chromium driven by Playwright, QR codes read back from
screenshots with zxing-cpp, accessibility checked by axe-core."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, ViewportSize, sync_playwright

__all__ = [
    "CHROMIUM",
    "PHONE",
    "WCAG",
    "axe_violations",
    "browser_session",
    "decoded_codes",
    "image_shown",
    "persistent_phone",
    "phone_context",
]

CHROMIUM = "/usr/bin/chromium"
# As root in a container: no sandbox, no GPU, nothing that phones home or updates itself.
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: ViewportSize = {"width": 360, "height": 740}
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def _chromium_or_skip() -> None:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing under CI: `make test` installs it (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; `make test` does it as root)")


@contextmanager
def browser_session() -> Iterator[tuple[Playwright, Browser]]:
    _chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=_ARGS)
        try:
            yield playwright, browser
        finally:
            browser.close()


def phone_context(browser: Browser, **options: Any) -> BrowserContext:
    return browser.new_context(viewport=PHONE, device_scale_factor=2, **options)


def persistent_phone(playwright: Playwright, profile: Path) -> BrowserContext:
    """A browser with a profile on disk: closing and opening it again is a browser restart."""
    _chromium_or_skip()
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=_ARGS, viewport=PHONE, device_scale_factor=2
    )


def image_shown(page: Page, selector: str) -> None:
    """Wait until the image is decoded and drawn. (Not page.wait_for_function: its polling evaluates a string,
    which the app's CSP, rightly, refuses.)"""
    # decode() rejects (EncodingError) when the image's source changes under it, as when the app replaces a
    # QR it kept with the service's fresh one: try again on the new source, for at most 10 s.
    page.locator(selector).evaluate(
        """async image => {
            for (let tries = 0; ; tries++) {
                try { return await image.decode(); }
                catch (error) { if (tries >= 100) throw error; }
                await new Promise(done => setTimeout(done, 100));
            }
        }"""
    )


def decoded_codes(page: Page) -> list[str]:
    """The text of every QR code visible in a full-page screenshot."""
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True)))
    return [str(found.text) for found in zxingcpp.read_barcodes(shot)]


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.2 AA violations on the page as it is now: `rule: selector` lines."""
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
    return [
        f"{v['id']}: {', '.join(str(n['target']) for n in v['nodes'])}"
        for v in results.response["violations"]
    ]
