"""The lists each gate has fetched: per gate and list, when the service last served it the list to its end,
and the cursor it then held (`gate_list_fetches`), for gate health to date a gate's lists from the server.

A gate pages through a list until a page comes back empty (validator.sync.SyncClient.pull_list) and dates the
list by that page's `server_time`; the fetch is recorded at the same page, with the same time, so the age the
server reports is the age the gate judges its own staleness by. A page with more to follow records nothing:
an interrupted sync leaves the list as old on both sides.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from ticketing.models import GateListFetch, table_of

__all__ = ["reached_end", "record_fetch"]

_TABLE = table_of(GateListFetch)


def reached_end(page: dict[str, Any], after: int) -> bool:
    """Whether the gate stops at this page of a list it asked `after` its cursor (the sync's own test)."""
    return not page["items"] or page["next"] <= after


def record_fetch(
    session: Session, gate_id: str, name: str, *, page: dict[str, Any], after: int, now: datetime
) -> None:
    """Note that `gate_id` holds list `name` as of `now`, if this page is the last it asks for; one upsert.

    The time only moves forward: two workers answering the same gate at once cannot date its list back."""
    if not reached_end(page, after):
        return
    row = {"gate_id": gate_id, "name": name, "fetched_at": now, "seq": max(int(page["next"]), after)}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(_TABLE).values(row)
    statement = insert.on_conflict_do_update(
        index_elements=["gate_id", "name"],
        set_={"fetched_at": insert.excluded.fetched_at, "seq": insert.excluded.seq},
        where=_TABLE.c.fetched_at <= insert.excluded.fetched_at,
    )
    session.execute(statement)
    session.commit()
