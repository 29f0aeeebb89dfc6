"""The auditors' dashboard against the real server process, in Debian's Chromium (Playwright) on a desktop
screen, over a morning uploaded through the real enrolment and journal upload (support.dashboard): sign-in,
every view's numbers read from the page equal to the API's for the same filters, the drill-down from an
anomaly to its scans (staff fields too), each view's CSV equal to the API's, the keyboard alone, both
languages, axe-core's WCAG 2.2 AA on every view, and /docs and /redoc with no request to another host and no
CSP violation. Set METRO_DOC_SCREENSHOTS to a folder to keep the screenshots docs/audit.md shows."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect
from support.dashboard import Seeded, auditor_token, seed_morning
from support.server import ServerProcess, running
from support.web import axe_violations, browser_session

from fare_rules.overrides import OverrideReason, override_message

pytestmark = pytest.mark.e2e
World = tuple[ServerProcess, Seeded, str]  # the server, what was seeded, an auditor token

DESKTOP = {"width": 1280, "height": 900}
VIEWS = ["ridership", "od", "revenue", "denials", "anomalies", "gates"]
# Each view's API path under /v1/audit/, and how many days of the seeded morning it is shown over (revenue:
# the ride day and today, when the tickets were sold).
API = {
    "ridership": "reports/ridership",
    "od": "reports/od",
    "revenue": "reports/revenue",
    "denials": "reports/denials",
    "anomalies": "anomalies",
    "gates": "gates",
}
DAYS = {"revenue": 2}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("dashboard")
    with running(ServerProcess(folder / "server")) as server:
        seeded = seed_morning(server, folder)
        yield server, seeded, auditor_token(server)


@pytest.fixture(scope="module")
def session() -> Iterator[tuple[Playwright, Browser]]:
    with browser_session() as started:
        yield started


@pytest.fixture
def page(session: tuple[Playwright, Browser]) -> Iterator[Page]:
    context = session[1].new_context(viewport=DESKTOP, accept_downloads=True)  # type: ignore[arg-type]
    opened = context.new_page()
    yield opened
    context.close()


def _filters(view: str, seeded: Seeded) -> dict[str, str]:
    return {} if view == "gates" else seeded.days(DAYS.get(view, 1))


def _api(world: World, path: str, **params: str) -> httpx.Response:
    server, _, token = world
    answer = httpx.get(
        f"{server.url}/v1/audit/{path}", params=params, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    return answer


def _sign_in(page: Page, world: World, label: str = "Mã truy cập kiểm toán") -> None:
    server, _, token = world
    page.goto(server.url + "/audit/")
    page.get_by_label(label).fill(token)
    page.get_by_label(label).press("Enter")
    expect(page.locator("#nav a").first).to_be_visible()


def _open(page: Page, world: World, view: str, **params: str) -> None:
    server, seeded, _ = world
    page.goto(f"{server.url}/audit/#/{view}?{urlencode(params or _filters(view, seeded))}")
    expect(page.locator("section.results")).to_be_visible()


def _table(page: Page, selector: str) -> list[dict[str, str]]:
    """A table of the page as rows of header -> cell text."""
    table = page.locator(selector).locator("table")
    headers = [t.strip() for t in table.locator("thead th").all_inner_texts()]
    rows = []
    for row in table.locator("tbody tr").all():
        cells = [c.strip() for c in row.locator("th, td").all_inner_texts()]
        rows.append(dict(zip(headers, cells, strict=True)))
    return rows


def _number(text: str) -> int:
    """A number as the page writes it (`54.000 ₫`, `2.340`, `-600`)."""
    return int(re.sub(r"[^\d-]", "", text))


_KEYS = ("product", "station")  # the text columns of the revenue rows


def _steady(text: str) -> list[list[str]]:
    """A CSV's rows less gate health's ages (upload_age_s, lists_age_s, revocations_age_s, ...), which the
    clock moves between two requests."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    keep = [i for i, name in enumerate(rows[0]) if not name.endswith("age_s")]
    return [[r[i] for i in keep] for r in rows]


def _age(text: str) -> int | None:
    return None if text == "—" else _number(text)


def _keep_screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("METRO_DOC_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


# --- signing in ---------------------------------------------------------------------------------------------


def test_a_wrong_token_gets_a_clear_message_and_the_right_one_is_kept_in_the_tab_only(
    page: Page, world: World
) -> None:
    server, _, token = world
    page.goto(server.url + "/audit/")
    page.get_by_label("Mã truy cập kiểm toán").fill("mqa_auditor_not-a-real-token")
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("alert")).to_contain_text("Mã này không được chấp nhận")
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_hidden()  # signed out: nothing to sign out of
    _keep_screenshot(page, "dashboard-sign-in")

    _sign_in(page, world)

    assert page.evaluate("sessionStorage.getItem('metro-qr.audit.token')") == token
    assert token not in page.url
    assert token not in page.evaluate("JSON.stringify(localStorage)")
    page.get_by_role("button", name="Đăng xuất").click()
    expect(page.get_by_label("Mã truy cập kiểm toán")).to_be_visible()
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('metro-qr.audit.token')") is None


def test_a_revoked_token_ends_the_session_with_a_message(page: Page, world: World) -> None:
    server, _, _ = world
    created = server.cli("tokens", "create", "--role", "auditor", "--label", "revoked-in-the-test")
    token = created.strip().splitlines()[-1]
    page.goto(server.url + "/audit/")
    page.get_by_label("Mã truy cập kiểm toán").fill(token)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("#nav a").first).to_be_visible()
    listed = [line.split() for line in server.cli("tokens", "list").splitlines()]
    server.cli("tokens", "revoke", next(words[0] for words in listed if words[-1] == "revoked-in-the-test"))

    page.locator("#nav a", has_text="Tình trạng cổng").click()

    expect(page.get_by_role("alert")).to_contain_text("Phiên đã kết thúc")


# --- each view shows what the API answers -------------------------------------------------------------------


def test_ridership_shows_the_apis_rows_and_per_hour_totals_with_denials(page: Page, world: World) -> None:
    _, seeded, _ = world
    _sign_in(page, world)
    _open(page, world, "ridership")
    rows = _api(world, "reports/ridership", **seeded.days()).json()["rows"]
    day = seeded.day.isoformat()
    eight = {"from": f"{day}T08:00", "to": f"{day}T09:00"}
    denied_8h = _api(world, "reports/denials", **eight).json()["rows"]

    shown = _table(page, "[data-api=rows]")
    chart = {r["Giờ"]: r for r in _table(page, "figure")}

    assert shown == [{k: str(r[k]) for k in ("station", "hour", "entries", "exits", "denials")} for r in rows]
    for hour in ("07", "08"):
        in_hour = [r for r in rows if r["hour"].startswith(f"{day}T{hour}")]
        assert _number(chart[f"{hour}h"]["Lượt vào"]) == sum(r["entries"] for r in in_hour)
        assert _number(chart[f"{hour}h"]["Lượt ra"]) == sum(r["exits"] for r in in_hour)
        assert _number(chart[f"{hour}h"]["Lượt bị từ chối"]) == sum(r["denials"] for r in in_hour)
    assert _number(chart["08h"]["Lượt bị từ chối"]) == sum(r["denials"] for r in denied_8h) > 0
    assert len(chart) == 24
    _keep_screenshot(page, "dashboard-ridership")


def test_the_od_heat_map_shows_trips_and_revenue_per_cell_as_the_api_does(page: Page, world: World) -> None:
    _, seeded, _ = world
    _sign_in(page, world)
    _open(page, world, "od")
    rows = _api(world, "reports/od", **seeded.days()).json()["rows"]

    matrix = {r["Điểm đi \\ Điểm đến"].split()[0]: r for r in _table(page, "figure")}
    shown = _table(page, "[data-api=rows]")

    assert len(matrix) == 14
    for row in rows:
        cell = matrix[row["origin"]][row["destination"].removeprefix("L1-")]
        trips, revenue = cell.split(" · ")
        assert (_number(trips), _number(revenue)) == (row["trips"], row["fare_vnd"])
    assert [(r["origin"], r["destination"], _number(r["trips"]), _number(r["fare_vnd"])) for r in shown] == [
        (r["origin"], r["destination"], r["trips"], r["fare_vnd"]) for r in rows
    ]
    assert page.locator("figure svg rect.h5").count() == 1  # the busiest cell, darkest
    _keep_screenshot(page, "dashboard-od")


def test_revenue_per_day_by_product_adds_up_to_the_apis_answer_for_each_day(page: Page, world: World) -> None:
    _, seeded, _ = world
    _sign_in(page, world)
    _open(page, world, "revenue")
    whole = _api(world, "reports/revenue", **seeded.days(2)).json()["rows"]
    ride_day = _api(world, "reports/revenue", **seeded.days()).json()["rows"]
    today = seeded.day + timedelta(days=1)
    sold_today = _api(world, "reports/revenue", **{"from": today.isoformat(), "to": seeded.days(2)["to"]})

    chart = _table(page, "figure >> nth=0")
    free = _api(world, "reports/free_rides", **seeded.days(2)).json()["rows"]
    shown = _table(page, "[data-api=rows]")

    assert [r["Ngày"] for r in chart] == [seeded.day.isoformat()[5:], today.isoformat()[5:]]
    assert _number(chart[0]["Cước các chuyến đã đi"]) == sum(r["fares_ridden_vnd"] for r in ride_day) > 0
    assert _number(chart[1]["Bán Vé lượt"]) == sum(r["sold_vnd"] for r in sold_today.json()["rows"]) > 0
    assert [{k: v if k in _KEYS else _number(v) for k, v in r.items()} for r in shown] == whole
    free_shown = _table(page, "[data-api=free_rides]")
    free_chart = _table(page, "figure >> nth=1")
    assert [
        (r["category"], r["station"], _number(r["entries"]), _number(r["exits"])) for r in free_shown
    ] == [(r["category"], r["station"], r["entries"], r["exits"]) for r in free]
    assert _number(free_chart[0]["senior"]) == sum(r["entries"] for r in free) == 1
    _keep_screenshot(page, "dashboard-revenue")


def test_denials_by_reason_and_by_gate_are_the_apis_rows_summed(page: Page, world: World) -> None:
    _, seeded, _ = world
    _sign_in(page, world)
    _open(page, world, "denials")
    rows = _api(world, "reports/denials", **seeded.days()).json()["rows"]

    by_reason, by_gate = page.locator("figure").all()
    reasons = {r["Lý do"]: _number(r["Lượt bị từ chối"]) for r in _table(page, "figure >> nth=0")}
    gates = {r["Cổng"]: _number(r["Lượt bị từ chối"]) for r in _table(page, "figure >> nth=1")}

    assert by_reason.is_visible()
    assert by_gate.is_visible()
    assert reasons == {
        reason: sum(r["denials"] for r in rows if r["reason"] == reason)
        for reason in {r["reason"] for r in rows}
    }
    assert gates == {
        gate: sum(r["denials"] for r in rows if r["gate"] == gate) for gate in {r["gate"] for r in rows}
    }
    assert [(r["reason"], r["gate"], _number(r["denials"])) for r in _table(page, "[data-api=rows]")] == [
        (r["reason"], r["gate"], r["denials"]) for r in rows
    ]
    _keep_screenshot(page, "dashboard-denials")


def test_gate_health_lists_the_gates_needing_a_visit_first(page: Page, world: World) -> None:
    _sign_in(page, world)
    _open(page, world, "gates")
    gates = _api(world, "gates").json()["gates"]

    shown = _table(page, "[data-api=rows]")

    assert [r["gate"] for r in shown] == [g["gate"] for g in gates]
    assert shown[0]["gate"] == "L1-09-G1"
    assert "nhật ký bị hở" in shown[0]["needs_visit"]
    assert [_number(r["missing_events"]) for r in shown] == [g["missing_events"] for g in gates]
    assert [_number(r["journal_head"]) for r in shown] == [g["journal_head"] for g in gates]
    _keep_screenshot(page, "dashboard-gates")


def test_gate_health_shows_each_gates_list_ages_in_both_languages(page: Page, world: World) -> None:
    _, seeded, _ = world
    _sign_in(page, world)
    _open(page, world, "gates")
    gates = {g["gate"]: g for g in _api(world, "gates").json()["gates"]}

    shown = {r["gate"]: r for r in _table(page, "[data-api=rows]")}
    never = page.locator("td[data-key=lists]").nth(0)  # L1-09-G1 comes first
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Gate health")
    english = {r["gate"]: r for r in _table(page, "[data-api=rows]")}

    for gate_id, gate in gates.items():
        age, page_age = gate["lists_age_s"], _age(shown[gate_id]["lists_age_s"])
        # The page asked a moment before the test did: the same fetches, a few seconds apart at most.
        assert page_age is None if age is None else abs(page_age - age) < 60, gate_id
    for gate_id in seeded.synced:
        assert gates[gate_id]["lists_age_s"] is not None
        assert "danh sách cũ" not in shown[gate_id]["needs_visit"]
        for label in ("Vé bị thu hồi: ", "Vé tháng: ", "Người đi miễn phí: "):
            assert label in shown[gate_id]["lists"]
        assert "Revocations: " in english[gate_id]["lists"]
        assert "never fetched" not in english[gate_id]["lists"]
    assert gates["L1-09-G1"]["lists_age_s"] is None
    assert "danh sách cũ" in shown["L1-09-G1"]["needs_visit"]
    assert shown["L1-09-G1"]["lists"].count("chưa từng lấy") == 3
    assert english["L1-09-G1"]["lists"].count("never fetched") == 3
    assert "stale lists" in english["L1-09-G1"]["needs_visit"]
    expect(never.locator("li[data-list=revocations]")).to_have_text("Revocations: never fetched")


# How the trail words a scan's kind, in each language (an override's reason is fare_rules.overrides' text).
_KIND_WORDS = {
    "vi": {"scan": "Quét vé", "settlement": "Thu bù cước", "override": "Nhân viên xử lý"},
    "en": {"scan": "Scan", "settlement": "Settlement", "override": "Staff override"},
}
_METHOD_WORDS = {"vi": {"cash": "Tiền mặt", "vietqr": "VietQR"}, "en": {"cash": "Cash", "vietqr": "VietQR"}}
_STAFF = ("kind", "agent", "override_reason", "gate_reason", "method", "collected_vnd")


def _staff_words(scan: dict[str, Any], language: str) -> dict[str, str]:
    """The staff fields of an API scan as the trail shows them."""
    reason = scan["override_reason"]
    words = {
        "kind": _KIND_WORDS[language][scan["kind"]],
        "agent": scan["agent"],
        "override_reason": getattr(override_message(OverrideReason(reason)), language) if reason else None,
        "gate_reason": scan["gate_reason"],
        "method": _METHOD_WORDS[language][scan["method"]] if scan["method"] else None,
        "collected_vnd": _vnd(scan["collected_vnd"], language) if scan["collected_vnd"] is not None else None,
    }
    return {k: "—" if v is None else str(v) for k, v in words.items()}


def _vnd(amount: int, language: str) -> str:
    """An amount as the page writes it: `12.000 ₫` in Vietnamese, `12,000 ₫` in English."""
    grouped = f"{amount:,}"
    return f"{grouped.replace(',', '.') if language == 'vi' else grouped} ₫"


def test_an_anomaly_opens_the_scans_and_trips_behind_it(page: Page, world: World) -> None:
    _, seeded, _ = world
    _sign_in(page, world)
    _open(page, world, "anomalies")
    found = _api(world, "anomalies", **seeded.days()).json()["anomalies"]
    credential = f"t:{seeded.doubled['serial']}"
    counts = {r["Loại"]: _number(r["Số lượng"]) for r in _table(page, "figure")}
    doubled = page.locator("section[data-kind=double_use]")

    assert counts["Dùng hai lần"] == found["double_use"]["count"] == 1
    assert counts["Nhật ký bị hở"] == found["journal_gap"]["count"] == 1
    expect(doubled).to_contain_text(credential)
    expect(doubled).to_contain_text("revoked.reason: double_use")  # the item's own fields, from its JSON
    _keep_screenshot(page, "dashboard-anomalies")

    doubled.get_by_role("link", name="Xem lượt quét và chuyến đi").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Lượt quét và chuyến đi liên quan")
    scans = _api(world, "scans", ticket=seeded.doubled["serial"]).json()["items"]
    shown = _table(page, "section.results >> [role=region] >> nth=0")
    assert [(r["credential"], r["station"], r["at"]) for r in shown] == [
        (s["credential"], s["station"], s["at"]) for s in scans
    ]
    assert {r["station"] for r in shown} == {"L1-01", "L1-06", "L1-05"}
    assert [{k: r[k] for k in _STAFF} for r in shown] == [_staff_words(s, "vi") for s in scans]
    _keep_screenshot(page, "dashboard-trail")


# The staff events seeded: the double use's second rider refused by hand at the exit, and a rider who rode
# past her station and settled the fare owed (the settlement, then the exit it let out).
_STAFF_SEEDED = {
    "doubled": [("override", "A17", "staff_judgement", None, None)],
    "far": [("settlement", "B02", None, "vietqr", "owed"), ("scan", "B02", None, "vietqr", "owed")],
}


@pytest.mark.parametrize("ticket", sorted(_STAFF_SEEDED))
def test_the_trail_shows_who_acted_at_the_gate_why_and_how_as_the_api_does_in_both_languages(
    page: Page, world: World, ticket: str
) -> None:
    _, seeded, _ = world
    serial = getattr(seeded, ticket)["serial"]
    _sign_in(page, world)
    _open(page, world, "trail", ticket=serial, credential=f"t:{serial}")
    scans = _api(world, "scans", ticket=serial).json()["items"]

    def staff_shown() -> list[dict[str, str]]:
        return [{k: r[k] for k in _STAFF} for r in _table(page, "section.results >> [role=region] >> nth=0")]

    vietnamese = staff_shown()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The scans and trips behind it")
    english = staff_shown()

    owed = max(s["owed_vnd"] for s in scans)  # the fare owed of the refused exit, if any

    def staff(scan: dict[str, Any]) -> tuple[object, ...]:
        collected = "owed" if scan["collected_vnd"] == owed > 0 else scan["collected_vnd"]
        return (scan["kind"], scan["agent"], scan["override_reason"], scan["method"], collected)

    assert [staff(s) for s in scans if s["agent"] is not None] == _STAFF_SEEDED[ticket]
    assert vietnamese == [_staff_words(s, "vi") for s in scans]
    assert english == [_staff_words(s, "en") for s in scans]


def test_an_override_reads_in_the_gates_own_words_in_each_language(page: Page, world: World) -> None:
    _, seeded, _ = world
    serial = seeded.doubled["serial"]
    _sign_in(page, world)
    _open(page, world, "trail", ticket=serial, credential=f"t:{serial}")
    override = page.locator("section.results tbody tr", has_text="A17")

    expect(override.locator("[data-key=kind]")).to_have_text("Nhân viên xử lý")
    expect(override.locator("[data-key=override_reason]")).to_have_text("Nhân viên nhà ga quyết định")
    page.get_by_role("button", name="English").click()
    expect(override.locator("[data-key=kind]")).to_have_text("Staff override")
    expect(override.locator("[data-key=override_reason]")).to_have_text("Station staff's judgement")
    expect(override.locator("[data-key=reason]")).to_have_text("staff_refused")


# --- CSV, keyboard, languages, accessibility ----------------------------------------------------------------


@pytest.mark.parametrize("view", VIEWS)
def test_a_views_csv_is_the_apis_csv_for_the_same_filters(
    page: Page, world: World, view: str, tmp_path: Path
) -> None:
    _, seeded, _ = world
    _sign_in(page, world)
    _open(page, world, view)
    expected = _api(world, API[view], **_filters(view, seeded), format="csv").text

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Tải CSV").first.click()
    saved = tmp_path / "view.csv"
    downloading.value.save_as(saved)

    got = saved.read_bytes().decode("utf-8")
    assert got == expected if view != "gates" else _steady(got) == _steady(expected)
    assert expected.count("\n") >= 3  # a header and rows


def test_an_auditor_signs_in_and_moves_between_views_with_the_keyboard_alone(
    page: Page, world: World
) -> None:
    server, seeded, token = world
    page.goto(f"{server.url}/audit/#/ridership?{urlencode(seeded.days())}")
    expect(page.get_by_label("Mã truy cập kiểm toán")).to_be_focused()
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    page.keyboard.press("Shift+Tab")
    for _ in range(20):
        if page.evaluate("document.activeElement.textContent") == "Lượt bị từ chối":
            break
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lượt bị từ chối")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    page.keyboard.press("Tab")  # the first filter: from
    assert page.evaluate("document.activeElement.id") == "from"
    while page.evaluate("document.activeElement.id") != "gate":
        page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # the first gate of the list
    chosen = page.evaluate("document.activeElement.value")
    while page.evaluate("document.activeElement.type") != "submit":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(f"gate={chosen}"))
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    asked = dict(parse_qsl(urlparse(page.url).fragment.split("?", 1)[1]))  # the form's filters, from the URL
    rows = _api(world, "reports/denials", **asked).json()["rows"]
    assert (asked["gate"], asked["from"]) == (chosen, seeded.days()["from"])  # the nav kept the range
    assert rows
    assert [r["gate"] for r in _table(page, "[data-api=rows]")] == [r["gate"] for r in rows]


def test_the_dashboard_speaks_vietnamese_first_and_english_one_click_away(page: Page, world: World) -> None:
    _sign_in(page, world)
    _open(page, world, "anomalies")
    vietnamese = page.locator("#nav").inner_text()

    page.get_by_role("button", name="English").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Anomalies")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert "Gate health" in page.locator("#nav").inner_text()
    assert "Tình trạng cổng" in vietnamese
    expect(page.locator("section[data-kind=double_use] h2")).to_have_text("Double use: 1")
    page.reload()  # the choice is remembered
    expect(page.get_by_role("heading", level=1)).to_have_text("Anomalies")
    _keep_screenshot(page, "dashboard-anomalies-en")
    page.get_by_role("button", name="Tiếng Việt").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bất thường")


@pytest.mark.parametrize("language", ["vi", "en"])
def test_axe_finds_no_wcag_2_2_aa_violation_on_any_view(page: Page, world: World, language: str) -> None:
    server = world[0]
    page.goto(server.url + "/audit/")
    page.evaluate(f"localStorage.setItem('metro-qr.audit.lang', '{language}')")
    page.reload()
    found = {"sign-in": axe_violations(page)}
    _sign_in(page, world, "Mã truy cập kiểm toán" if language == "vi" else "Auditor token")
    for view in VIEWS:
        _open(page, world, view)
        found[view] = axe_violations(page)
    _open(page, world, "anomalies")
    page.locator("a", has_text="Xem lượt quét" if language == "vi" else "Open its scans").first.click()
    expect(page.locator("section.results")).to_be_visible()
    found["trail"] = axe_violations(page)

    assert found == {name: [] for name in found}


# Every CSP violation a page meets, kept where the test can read it (the console says it too, in words).
_RECORD_CSP = """
window.__csp = [];
document.addEventListener(
  "securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`),
);
"""


@pytest.mark.parametrize(
    ("path", "loaded"),
    [("/docs", ".swagger-ui .opblock-tag >> text=audit"), ("/redoc", "a >> text=API docs by Redocly")],
)
def test_the_api_docs_load_with_no_request_leaving_the_service(
    page: Page, world: World, path: str, loaded: str
) -> None:
    server, _, _ = world
    here = urlparse(server.url)
    requested: list[str] = []
    console: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.add_init_script(_RECORD_CSP)

    page.goto(server.url + path)
    expect(page.locator(loaded).first).to_be_visible()
    page.wait_for_load_state("networkidle")

    def same_origin(url: str) -> bool:
        inner = urlparse(url.removeprefix("blob:"))  # a worker's blob: URL names the origin that made it
        return url.startswith("data:") or (inner.scheme, inner.netloc) == (here.scheme, here.netloc)

    assert requested, "the page made no request at all"
    assert [url for url in requested if not same_origin(url)] == []
    assert page.evaluate("window.__csp") == []
    assert [line for line in console if "Content Security Policy" in line] == []
    if path == "/redoc":
        assert page.locator("img[alt='redocly logo']").count() == 0  # left out, not broken
        expect(page.locator("h1", has_text="metro-qr")).to_be_visible()
