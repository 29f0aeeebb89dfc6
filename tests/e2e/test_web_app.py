"""The riders' web app against the real server process, in Debian's Chromium (Playwright) on a 360×740 phone
screen: buy, pay through the VietQR read back from the screen, the ticket's QR read back from the screen and
accepted by a real gate, offline after a browser restart, CCCD passes, both languages, the keyboard alone,
refunds and recovery, and axe-core's WCAG 2.2 AA on every page. Set METRO_DOC_SCREENSHOTS to a folder to keep
the screenshots the README shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page, Playwright, expect
from support.server import ROOT, ServerProcess, running
from support.web import (
    axe_violations,
    browser_session,
    decoded_codes,
    image_shown,
    persistent_phone,
    phone_context,
)

pytestmark = pytest.mark.e2e

FEE = 2_000
CCCD = "079303001234"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("web-server")
    policy = folder / "policy.json"
    policy.write_text(json.dumps({"refunds_allowed": True, "refund_fee_vnd": FEE}), encoding="utf-8")
    process = ServerProcess(folder / "data")
    process.env["METRO_POLICY_FILE"] = str(policy)
    with running(process) as started:
        yield started


@pytest.fixture(scope="module")
def session() -> Iterator[tuple[Playwright, Browser]]:
    with browser_session() as started:
        yield started


@pytest.fixture
def page(session: tuple[Playwright, Browser]) -> Iterator[Page]:
    context = phone_context(session[1])
    opened = context.new_page()
    yield opened
    context.close()


def _keep_screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("METRO_DOC_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _wallet(page: Page) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(page.evaluate("localStorage.getItem('metro-qr.wallet.v1')"))
    return data


def _buy_single(page: Page, server: ServerProcess, destination: str = "L1-05") -> dict[str, Any]:
    """Buy one single ticket L1-01 → destination through the page; the paid order as the wallet holds it."""
    page.goto(server.url + "/")
    page.get_by_label("Ga đến").select_option(destination)
    expect(page.locator(".fares")).to_contain_text("₫")
    page.get_by_role("button", name="Đặt vé và thanh toán").click()
    expect(page.locator("img.vietqr")).to_be_visible()
    page.get_by_role("button", name="Giả lập ngân hàng xác nhận").click()
    expect(page.locator("ul.tickets img.qr")).to_be_visible()
    [held] = _wallet(page)["orders"].values()
    return dict(held["order"])


def _gate_accepts(server: ServerProcess, tmp_path: Path, payload: str, station: str = "L1-01") -> str:
    """Scan `payload` at a real gate provisioned offline from the server's bundle; its screen."""
    bundle, folder = tmp_path / "bundle.json", tmp_path / "gate"
    server.cli("gates", "bundle", "--station", station, "--gate", f"{station}-W1", "--out", str(bundle))
    cli = [sys.executable, str(ROOT / "scanner_cli.py"), "--data-dir", str(folder)]
    init = ["init", "--station", station, "--gate", f"{station}-W1", "--bundle", str(bundle)]
    subprocess.run([*cli, *init], cwd=ROOT, check=True, capture_output=True, timeout=60)
    scanned = subprocess.run(
        [*cli, "scan", "--direction", "entry", payload],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert scanned.returncode == 0, scanned.stdout + scanned.stderr
    return scanned.stdout


def test_a_rider_buys_a_single_pays_by_vietqr_and_a_real_gate_accepts_the_ticket_read_off_the_screen(
    page: Page, server: ServerProcess, tmp_path: Path
) -> None:
    page.goto(server.url + "/")
    page.get_by_label("Ga đến").select_option("L1-05")
    expect(page.locator(".fares")).to_contain_text("9.000 ₫")
    _keep_screenshot(page, "rider-app-buy")
    page.get_by_role("button", name="Đặt vé và thanh toán").click()
    expect(page.locator("img.vietqr")).to_be_visible()
    image_shown(page, "img.vietqr")
    [held] = _wallet(page)["orders"].values()
    on_screen = decoded_codes(page)
    _keep_screenshot(page, "rider-app-pay")

    page.get_by_role("button", name="Giả lập ngân hàng xác nhận").click()
    expect(page.locator("ul.tickets img.qr")).to_be_visible()
    image_shown(page, "ul.tickets img.qr")
    [paid] = _wallet(page)["orders"].values()
    ticket = paid["order"]["tickets"][0]
    shown = decoded_codes(page)
    _keep_screenshot(page, "rider-app-wallet")
    screen = _gate_accepts(server, tmp_path, shown[0])

    assert on_screen == [held["order"]["payment"]["vietqr_payload"]]
    assert shown == [ticket["qr_payload"]]
    assert "ACCEPT" in screen
    expect(page.locator(".ticket")).to_contain_text("Chưa dùng")
    expect(page.locator(".ticket")).to_contain_text("Bến Thành → Tân Cảng")


def test_the_ticket_shows_and_scans_offline_after_the_browser_restarts(
    session: tuple[Playwright, Browser], server: ServerProcess, tmp_path: Path
) -> None:
    playwright = session[0]
    online = persistent_phone(playwright, tmp_path / "profile")
    page = online.pages[0] if online.pages else online.new_page()
    ticket = _buy_single(page, server)["tickets"][0]
    page.evaluate("navigator.serviceWorker.ready")  # the shell is cached before the browser closes
    online.close()

    restarted = persistent_phone(playwright, tmp_path / "profile")
    restarted.set_offline(True)
    page = restarted.pages[0] if restarted.pages else restarted.new_page()
    page.goto(server.url + "/#/wallet")
    expect(page.locator("ul.tickets img.qr")).to_be_visible()
    image_shown(page, "ul.tickets img.qr")
    offline_codes = decoded_codes(page)
    page.get_by_role("link", name="Đưa mã ra cổng").click()
    expect(page.locator("img.qr.big")).to_be_visible()
    image_shown(page, "img.qr.big")
    at_the_gate = decoded_codes(page)
    restarted.close()

    assert offline_codes == [ticket["qr_payload"]]
    assert at_the_gate == [ticket["qr_payload"]]


def test_a_monthly_pass_with_a_bad_cccd_is_refused_in_the_page_and_a_good_one_never_shows_the_number(
    page: Page, server: ServerProcess
) -> None:
    page.goto(server.url + "/")
    page.get_by_label("Vé tháng", exact=True).check()
    page.get_by_label("Số CCCD (12 chữ số)").fill("999303001234")
    page.get_by_label("Họ và tên").fill("Nguyễn Thị Mẫu")
    page.get_by_label("Ngày sinh").fill("2003-06-15")
    page.get_by_role("button", name="Đặt vé và thanh toán").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("Ba số đầu của CCCD không phải mã tỉnh nào.")
    orders_before = (
        _wallet(page) if page.evaluate("localStorage.getItem('metro-qr.wallet.v1')") else {"orders": {}}
    )

    page.get_by_label("Số CCCD (12 chữ số)").fill(CCCD)
    page.get_by_role("button", name="Đặt vé và thanh toán").click()
    expect(page.locator("img.vietqr")).to_be_visible()
    page.get_by_role("button", name="Giả lập ngân hàng xác nhận").click()
    expect(page.locator(".ticket")).to_contain_text("Vé tháng")
    text = page.locator("body").inner_text()
    kept = page.evaluate("JSON.stringify(localStorage)")

    assert orders_before["orders"] == {}
    assert CCCD not in text
    assert CCCD not in kept
    assert CCCD not in page.content()


def test_the_app_is_in_vietnamese_first_and_in_english_one_tap_away(
    page: Page, server: ServerProcess
) -> None:
    page.goto(server.url + "/")
    expect(page.locator("h1")).to_have_text("Mua vé Metro Tuyến 1")
    assert page.evaluate("document.documentElement.lang") == "vi"

    page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_have_text("Buy a Metro Line 1 ticket")
    page.get_by_label("To").select_option("L1-14")
    expect(page.locator(".fares")).to_contain_text("19.000 ₫")
    english = page.evaluate("document.documentElement.lang")
    page.reload()
    expect(page.locator("h1")).to_have_text("Buy a Metro Line 1 ticket")  # the choice is remembered
    page.get_by_role("button", name="Tiếng Việt").click()

    assert english == "en"
    expect(page.locator("h1")).to_have_text("Mua vé Metro Tuyến 1")


def test_a_rider_buys_a_day_pass_with_the_keyboard_alone(page: Page, server: ServerProcess) -> None:
    page.goto(server.url + "/")
    expect(page.locator("h1")).to_be_focused()
    page.keyboard.press("Tab")  # the first radio of the product choice
    for _ in range(8):
        if page.evaluate("document.activeElement.name") == "product":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # single → day pass
    assert page.evaluate("document.activeElement.value") == "day"
    while page.evaluate("document.activeElement.type") != "submit":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("img.vietqr")).to_be_visible()
    for _ in range(30):
        if (page.evaluate("document.activeElement.textContent") or "").startswith("Giả lập"):
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    expect(page.locator(".ticket")).to_contain_text("Vé 1 ngày")


def test_a_refund_shows_the_fee_first_and_the_ticket_is_then_refunded(
    page: Page, server: ServerProcess
) -> None:
    order = _buy_single(page, server)
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    page.get_by_role("button", name="Hoàn vé").click()
    expect(page.locator(".ticket .badge")).to_have_text("Đã hoàn tiền")

    fare = order["tickets"][0]["fare_vnd"]
    amount = f"{fare - FEE:,} ₫".replace(",", ".")
    refund = f"Hoàn vé này? Hoàn {amount} (phí 2.000 ₫). Tiền được chuyển sau 24 giờ nếu vé không được dùng."
    assert asked == [refund]


def test_a_rider_who_cleared_the_browser_recovers_the_order_from_the_bank_transfer(
    page: Page, server: ServerProcess
) -> None:
    order = _buy_single(page, server)
    page.evaluate("localStorage.clear()")
    page.goto(server.url + "/#/recover")
    paid_on = page.evaluate(
        "(iso) => new Intl.DateTimeFormat('en-CA', {timeZone: 'Asia/Ho_Chi_Minh'}).format(new Date(iso))",
        order["paid_at"],
    )
    page.get_by_label("Nội dung chuyển khoản").fill(order["payment"]["reference"].lower())
    page.get_by_label("Số tiền").fill(str(order["amount_vnd"]))
    page.get_by_label("Ngày chuyển khoản").fill(paid_on)
    page.get_by_role("button", name="Tìm đơn hàng").click()

    expect(page.locator("ul.tickets img.qr")).to_be_visible()
    image_shown(page, "ul.tickets img.qr")
    assert decoded_codes(page) == [order["tickets"][0]["qr_payload"]]


def test_every_page_has_no_wcag_22_aa_violation(page: Page, server: ServerProcess) -> None:
    found: dict[str, list[str]] = {}
    page.goto(server.url + "/")
    expect(page.locator("form")).to_be_visible()
    found["buy"] = axe_violations(page)
    page.get_by_label("Vé tháng", exact=True).check()
    found["buy, monthly pass"] = axe_violations(page)
    page.get_by_label("Vé lượt", exact=True).check()
    page.get_by_role("button", name="Đặt vé và thanh toán").click()
    expect(page.locator("img.vietqr")).to_be_visible()
    found["pay"] = axe_violations(page)
    page.get_by_role("button", name="Giả lập ngân hàng xác nhận").click()
    expect(page.locator("ul.tickets img.qr")).to_be_visible()
    found["wallet"] = axe_violations(page)
    order_id = next(iter(_wallet(page)["orders"]))
    page.get_by_role("link", name="Đưa mã ra cổng").click()
    expect(page.locator("img.qr.big")).to_be_visible()
    found["gate"] = axe_violations(page)
    page.goto(server.url + f"/#/receipt/{order_id}")
    expect(page.locator("h1")).to_have_text("Biên nhận đơn hàng")
    found["receipt"] = axe_violations(page)
    page.goto(server.url + "/#/recover")
    expect(page.locator("form")).to_be_visible()
    found["recover"] = axe_violations(page)
    page.get_by_role("button", name="English").click()
    found["recover, English"] = axe_violations(page)

    assert {name: rules for name, rules in found.items() if rules} == {}


def test_an_order_link_carries_the_token_in_the_fragment_only_and_opens_the_tickets_on_another_device(
    session: tuple[Playwright, Browser], page: Page, server: ServerProcess
) -> None:
    order = _buy_single(page, server)
    [held] = _wallet(page)["orders"].values()
    link = page.evaluate(
        "([id, token]) => import('/app/wallet.js').then((w) => w.orderLink(id, token))",
        [held["id"], held["token"]],
    )
    other = phone_context(session[1])
    device = other.new_page()
    requested: list[str] = []
    device.on("request", lambda request: requested.append(request.url))
    device.goto(link)
    expect(device.locator("ul.tickets img.qr")).to_be_visible()
    image_shown(device, "ul.tickets img.qr")
    address = device.url
    codes = decoded_codes(device)
    other.close()

    path_and_query, _, fragment = link.partition("#")
    assert held["token"] in fragment
    assert held["token"] not in path_and_query
    assert not [url for url in requested if held["token"] in url]  # never sent in any request's URL
    assert held["token"] not in address  # and dropped from the address bar
    assert codes == [order["tickets"][0]["qr_payload"]]


def test_an_old_order_link_opened_after_a_recovery_says_so_and_keeps_the_working_token(
    page: Page, server: ServerProcess
) -> None:
    _buy_single(page, server)
    [held] = _wallet(page)["orders"].values()
    old_link = page.evaluate(
        "([id, token]) => import('/app/wallet.js').then((w) => w.orderLink(id, token))",
        [held["id"], held["token"]],
    )
    order = held["order"]
    paid_on = page.evaluate(
        "(iso) => new Intl.DateTimeFormat('en-CA', {timeZone: 'Asia/Ho_Chi_Minh'}).format(new Date(iso))",
        order["paid_at"],
    )
    page.goto(server.url + "/#/recover")
    page.get_by_label("Nội dung chuyển khoản").fill(order["payment"]["reference"])
    page.get_by_label("Số tiền").fill(str(order["amount_vnd"]))
    page.get_by_label("Ngày chuyển khoản").fill(paid_on)
    page.get_by_role("button", name="Tìm đơn hàng").click()
    expect(page.locator("ul.tickets img.qr")).to_be_visible()
    working = _wallet(page)["orders"][held["id"]]["token"]

    page.goto(old_link)
    expect(page.get_by_role("alert")).to_contain_text("Đường dẫn này không còn dùng được")

    assert working != held["token"]
    assert _wallet(page)["orders"][held["id"]]["token"] == working


def test_the_skip_link_moves_focus_to_the_content_without_leaving_the_screen(
    page: Page, server: ServerProcess
) -> None:
    page.goto(server.url + "/#/recover")
    expect(page.locator("h1")).to_have_text("Tìm lại vé đã mua")
    page.keyboard.press("Shift+Tab")
    while page.evaluate("document.activeElement.id") != "skip":
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("Tìm lại vé đã mua")
    assert page.evaluate("document.activeElement.id") == "main"


def test_after_its_key_is_revoked_the_wallet_shows_the_reissued_qr_in_place_of_the_one_it_kept(
    page: Page, server: ServerProcess
) -> None:
    kept = _buy_single(page, server)["tickets"][0]

    revoked = server.cli("keys", "revoke", str(kept["key_id"]))
    page.reload()  # the wallet, opened again: it asks the service for its orders
    expect(page.locator(".ticket .notice")).to_contain_text("mã mới")
    image_shown(page, "ul.tickets img.qr")
    [held] = _wallet(page)["orders"].values()
    reissued = held["order"]["tickets"][0]

    assert f"key {kept['key_id']} revoked" in revoked
    assert (reissued["serial"], reissued["key_id"] != kept["key_id"]) == (kept["serial"], True)
    assert decoded_codes(page) == [reissued["qr_payload"]]
