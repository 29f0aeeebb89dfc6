"""Helpers for the issuing-service tests: a movable clock, order factories, settings and a seeded database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import SecretStr
from sqlmodel import Session

from ticketing.db import make_engine
from ticketing.keys import create_key
from ticketing.models import Role
from ticketing.services.api_tokens import create_token
from ticketing.settings import Settings

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

NOW = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # 09:00 in Ho Chi Minh City, a Monday
TODAY = date(2025, 3, 3)
HOLDER = {"cccd": "079303001234", "full_name": "Nguyễn Thị Mẫu", "birth_date": "2003-06-15"}
WEBHOOK_SECRET = "test-webhook-secret-0123456789abcdef"


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Api:
    """A TestClient plus what the tests need to drive it."""

    client: TestClient
    clock: Clock
    admin_token: str
    database_url: str
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def order(self, *items: dict[str, Any], key: str | None = None) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        return self.client.post("/v1/orders", json={"items": list(items)}, headers=headers)

    def paid_order(self, *items: dict[str, Any]) -> dict[str, Any]:
        created = self.order(*items)
        assert created.status_code == 201, created.text
        order = created.json()
        paid = self.client.post(
            f"/v1/sandbox/orders/{order['id']}/pay", headers=bearer(order["access_token"])
        )
        assert paid.status_code == 200, paid.text
        return {**paid.json(), "access_token": order["access_token"]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def single(origin: str = "L1-01", destination: str = "L1-05", quantity: int = 1) -> dict[str, Any]:
    return {"product": "single", "origin": origin, "destination": destination, "quantity": quantity}


def monthly(product: str = "monthly", start: date = TODAY, **holder: str) -> dict[str, Any]:
    return {"product": product, "holder": {**HOLDER, **holder}, "start_date": start.isoformat()}


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "key_passphrase": SecretStr("test-passphrase"),
        "webhook_secret": SecretStr(WEBHOOK_SECRET),
        "cccd_hash_key": SecretStr("test-cccd-key-0123456789"),
        "token_secret": SecretStr("test-token-secret"),
        # TestClient's client is "testclient", never exempt: the rate-limit tests turn the limit on themselves
        "order_rate_per_minute": 0,
    }
    return Settings(**{**values, **overrides})


def seed(database_url: str, passphrase: bytes) -> str:
    """A signing key and an admin token; returns the token."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        create_key(session, passphrase, NOW - timedelta(days=1))
        session.commit()
        token = create_token(session, Role.ADMIN, "tests", NOW).token
    engine.dispose()
    return token


_KEEP_ON_TRUNCATE = {"alembic_version", "change_counters"}


def truncate(url: str) -> None:
    """Empty a migrated PostgreSQL database for the next test: every table but the migration state."""
    engine = make_engine(url)
    with engine.begin() as connection:
        tables = [t for t in sa.inspect(connection).get_table_names() if t not in _KEEP_ON_TRUNCATE]
        connection.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        connection.exec_driver_sql("UPDATE change_counters SET value = 0")
    engine.dispose()
