"""Order creation is rate limited per client address (a token bucket per worker); gates, auditors and the
other routes are not; on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.gate_sync import enrolled_gate
from support.issuing import Api, bearer, single

LIMITED = pytest.mark.parametrize(
    "settings_overrides", [{"order_rate_per_minute": 6, "order_rate_burst": 3}], indirect=True
)


def _orders(api: Api, count: int) -> list[int]:
    return [api.client.post("/v1/orders", json={"items": [single()]}).status_code for _ in range(count)]


@LIMITED
def test_a_client_over_its_burst_gets_429_rate_limited_with_retry_after(api: Api) -> None:
    statuses = _orders(api, 3)
    refused = api.client.post("/v1/orders", json={"items": [single()]})

    assert statuses == [201, 201, 201]
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert refused.headers["retry-after"] == "10"  # 6 a minute: one every 10 s


@LIMITED
def test_the_budget_refills_with_time_on_the_apps_clock(api: Api) -> None:
    _orders(api, 3)
    api.clock.advance(seconds=10)

    assert _orders(api, 2) == [201, 429]


@LIMITED
def test_reading_paying_and_quoting_are_not_limited(api: Api) -> None:
    order = api.order(single()).json()
    _orders(api, 5)

    paid = api.client.post(f"/v1/sandbox/orders/{order['id']}/pay", headers=bearer(order["access_token"]))
    reads = {
        api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).status_code
        for _ in range(10)
    }
    quotes = {api.client.get("/v1/fares/quote?origin=L1-01&destination=L1-05").status_code for _ in range(10)}

    assert (paid.status_code, reads, quotes) == (200, {200}, {200})


@LIMITED
def test_gates_are_never_limited(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path)
    _orders(api, 5)

    with gate.http() as http:
        statuses = {http.get("/v1/gate/revocations").status_code for _ in range(30)}

    assert statuses == {200}
