"""The GTFS feed with GTFS-Fares v2 as a zip of CSV files: fare_rules.gtfs builds the rows from the catalog
the service sells from, so a trip planner quotes exactly what riders are charged and gates check."""

from __future__ import annotations

import csv
import hashlib
import io
import threading
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

from fare_rules.gtfs import GtfsTable, build_feed
from ticketing.catalog import Catalog

__all__ = ["FeedZip", "current_feed", "feed_date", "feed_zip"]


@dataclass(frozen=True, slots=True)
class FeedZip:
    on: date
    body: bytes
    etag: str  # a strong HTTP validator, quoted: the same bytes give the same tag


class _LastFeed:
    """The last feed built, per process. Building one costs ~10 ms, and the route is public: every request
    of a day shares one build. Holding the catalog itself (not its id) means a new catalog never hits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[Catalog, FeedZip] | None = None

    def get(self, catalog: Catalog, on: date) -> FeedZip:
        with self._lock:
            entry = self._entry
            if entry is not None and entry[0] is catalog and entry[1].on == on:
                return entry[1]
            body = feed_zip(catalog, on)
            built = FeedZip(on, body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
            self._entry = (catalog, built)
            return built


_LAST = _LastFeed()


def current_feed(catalog: Catalog, now: datetime) -> FeedZip:
    """The feed of the local day at `now`, built once per day and catalog."""
    return _LAST.get(catalog, feed_date(catalog, now))


def feed_date(catalog: Catalog, now: datetime) -> date:
    """The local date at `now` (Asia/Ho_Chi_Minh): the feed's calendar starts on it."""
    return now.astimezone(catalog.policy.local_tz).date()


def feed_zip(catalog: Catalog, on: date) -> bytes:
    """The feed as of `on`, zipped. The same catalog and day give the same bytes (fixed entry times), so a
    cache or an ETag holds for the whole day."""
    feed = build_feed(catalog.network, catalog.tariff, on)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in feed.tables():
            entry = zipfile.ZipInfo(table.name, date_time=(on.year, on.month, on.day, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, _csv(table))
    return buffer.getvalue()


def _csv(table: GtfsTable) -> bytes:
    """RFC 4180 as the GTFS reference asks: comma-separated, quoted where needed, CRLF, UTF-8 without BOM."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return text.getvalue().encode("utf-8")
