"""Per-client rate limiting of order creation: a token bucket per client address, in this process.

Each worker keeps its own buckets, so N workers let a client through N times the configured rate; a reverse
proxy in front of the service should limit at the edge too (see docs/threat-model.md). Only the paths given
are limited: gates and auditors, which authenticate, are never throttled here.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RateLimit", "TokenBuckets"]

# Enough for every rider of a busy hour; past it the least recently seen client is forgotten (its bucket
# refills), which only helps an attacker who already controls that many addresses.
MAX_CLIENTS = 100_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """`burst` requests at once per client, refilled at `per_minute`. Times are seconds from any origin."""

    def __init__(self, per_minute: float, burst: int, max_clients: int = MAX_CLIENTS) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, client: str, now: float) -> float:
        """Spend one request of `client`'s budget: 0 when allowed, else the seconds until it would be."""
        bucket = self._buckets.pop(client, None) or _Bucket(self.burst, now)
        # max(): a clock stepping back must not drain the bucket
        bucket.tokens = min(self.burst, bucket.tokens + max(0.0, now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[client] = bucket  # most recently seen last
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


class RateLimit:
    """429 `rate_limited` with Retry-After once a client spends its budget on one of `routes`
    ((method, path) pairs). The client is the connection's address: behind a proxy, uvicorn's
    --forwarded-allow-ips makes it the rider's (X-Forwarded-For), or every rider shares the proxy's bucket."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Collection[tuple[str, str]],
        per_minute: float,
        burst: int,
        clock: Callable[[], datetime],
        exempt: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.routes = frozenset(routes)
        self.buckets = TokenBuckets(per_minute, burst)
        self.clock = clock
        self.exempt = [ipaddress.ip_network(net, strict=False) for net in exempt]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) not in self.routes:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        host = str(client[0]) if client else "unknown"
        if self._exempt(host):
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(host, self.clock().timestamp())
        if wait == 0.0:
            await self.app(scope, receive, send)
            return
        await _too_many(send, max(1, math.ceil(wait)))

    def _exempt(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in net for net in self.exempt)


async def _too_many(send: Send, retry_after: int) -> None:
    body = json.dumps(
        {"code": "rate_limited", "detail": f"too many orders from this client: retry in {retry_after} s"}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
