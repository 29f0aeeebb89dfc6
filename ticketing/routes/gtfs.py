"""The fares and the line as a GTFS feed with GTFS-Fares v2, for trip planners: public, cacheable."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from ticketing.deps import ContextDep, NowDep, SessionDep
from ticketing.services import tariffs
from ticketing.services.gtfs_feed import current_feed

__all__ = ["FEED_MAX_AGE_SECONDS", "router"]

router = APIRouter(prefix="/v1", tags=["public"])

# The feed changes when the local day does (its calendar starts today) or the tariff in force does.
FEED_MAX_AGE_SECONDS = 3600
_ZIP: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/zip": {}}, "description": "the feed: a zip of GTFS CSV files"},
    304: {"description": "unchanged: the request's If-None-Match holds the feed's ETag"},
}


@router.get("/gtfs/feed.zip", response_class=Response, responses=_ZIP)
def get_gtfs_feed(
    ctx: ContextDep, session: SessionDep, now: NowDep, if_none_match: Annotated[str | None, Header()] = None
) -> Response:
    """Stations, the line, an outline of its service and every fare (GTFS-Fares v2, VND), as a GTFS zip: the
    fares of the tariff in force now."""
    feed = current_feed(tariffs.catalog_at(session, ctx, now), now)
    headers = {
        "cache-control": f"public, max-age={FEED_MAX_AGE_SECONDS}",
        "etag": feed.etag,
        "content-disposition": f'attachment; filename="{ctx.catalog.network.id}-gtfs.zip"',
    }
    if if_none_match and feed.etag in (tag.strip().removeprefix("W/") for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(feed.body, media_type="application/zip", headers=headers)
