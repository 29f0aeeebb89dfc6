"""The order rate limit on its own: token buckets per client, and the ASGI middleware's choices of whom
and what to count (no server, no database)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from starlette.types import Message, Receive, Scope, Send

from ticketing.ratelimit import RateLimit, TokenBuckets
from ticketing.settings import Settings

NOW = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)


async def _ok(_scope: Scope, _receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _limit(**kwargs: object) -> RateLimit:
    options: dict[str, object] = {"routes": {("POST", "/v1/orders")}, "per_minute": 60, "burst": 1}
    return RateLimit(_ok, clock=lambda: NOW, **{**options, **kwargs})  # type: ignore[arg-type]


def _status(limit: RateLimit, host: str, method: str = "POST", path: str = "/v1/orders") -> int:
    scope: Scope = {"type": "http", "method": method, "path": path, "client": (host, 50000), "headers": []}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(limit(scope, receive, send))
    return int(sent[0]["status"])


def test_buckets_are_kept_per_client() -> None:
    buckets = TokenBuckets(per_minute=60, burst=1)

    assert [buckets.take("10.0.0.1", 0.0), buckets.take("10.0.0.2", 0.0)] == [0.0, 0.0]
    assert buckets.take("10.0.0.1", 0.0) == pytest.approx(1.0)


def test_a_clock_stepping_back_neither_drains_nor_fills_a_bucket() -> None:
    buckets = TokenBuckets(per_minute=60, burst=2)
    buckets.take("a", 100.0)

    assert buckets.take("a", 50.0) == 0.0
    assert buckets.take("a", 50.0) > 0.0


def test_the_least_recently_seen_client_is_forgotten_past_the_cap() -> None:
    buckets = TokenBuckets(per_minute=1, burst=1, max_clients=2)
    for client in ("a", "b", "c"):
        buckets.take(client, 0.0)

    assert (buckets.take("c", 0.0) > 0, buckets.take("a", 0.0)) == (True, 0.0)


def test_a_second_order_from_one_address_is_refused_and_another_address_is_not() -> None:
    limit = _limit()

    assert [_status(limit, "203.0.113.7"), _status(limit, "203.0.113.7"), _status(limit, "203.0.113.8")] == [
        201,
        429,
        201,
    ]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_loopback_callers_are_exempt_when_configured(host: str) -> None:
    limit = _limit(exempt=Settings().rate_limit_exempt)

    assert {_status(limit, host) for _ in range(5)} == {201}


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/orders"), ("POST", "/v1/gate/journal")])
def test_only_the_listed_routes_are_counted(method: str, path: str) -> None:
    limit = _limit()

    assert {_status(limit, "203.0.113.7", method, path) for _ in range(5)} == {201}


def test_the_limit_follows_the_clock_it_is_given() -> None:
    now = [NOW]
    limit = RateLimit(_ok, routes={("POST", "/v1/orders")}, per_minute=60, burst=1, clock=lambda: now[0])
    _status(limit, "203.0.113.7")
    refused = _status(limit, "203.0.113.7")
    now[0] += timedelta(seconds=1)

    assert (refused, _status(limit, "203.0.113.7")) == (429, 201)


def test_the_default_settings_limit_orders_and_exempt_only_loopback() -> None:
    defaults = Settings()

    assert (defaults.order_rate_per_minute, defaults.order_rate_burst) == (60, 20)
    assert defaults.rate_limit_exempt == ["127.0.0.1/32", "::1/128"]


def test_a_malformed_exempt_network_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="rate_limit_exempt"):
        Settings(rate_limit_exempt=["not-a-network"])
