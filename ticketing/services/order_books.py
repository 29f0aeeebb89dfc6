"""The order books: every order with what was ordered and what was issued, straight from the database. What
an operator reconciles against the bank, and what the load benchmark and the fault tests check after a crash
or a flood: no order issued twice, none paid and left without its tickets."""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa

__all__ = ["OrderBook", "order_books"]


class OrderBook(NamedTuple):
    """One order as the database holds it: what was ordered and what was issued."""

    id: str
    status: str
    idempotency_key: str | None  # as stored (a keyed hash of the rider's key)
    quantity: int  # tickets ordered, over all its items
    tickets: int  # tickets issued


def order_books(db: sa.Connection) -> list[OrderBook]:
    """Every order with its ordered and issued ticket counts."""
    rows = db.execute(
        sa.text(
            "SELECT o.id, o.status, o.idempotency_key,"
            " (SELECT coalesce(sum(i.quantity), 0) FROM order_items i WHERE i.order_id = o.id),"
            " (SELECT count(*) FROM tickets t WHERE t.order_id = o.id)"
            " FROM orders o"
        )
    ).all()
    return [OrderBook(str(r[0]), str(r[1]), r[2], int(r[3]), int(r[4])) for r in rows]
