"""The network and its fares as a GTFS feed with GTFS-Fares v2, for trip planners. Pure: rows and text cells
come back, and the service's shell writes them as CSV files in a zip.

`rows` holds one dataclass per file, `schedule` the base files (agency, stops, routes, trips, service),
`fares` the Fares v2 files, `feed` puts them together.
"""

from fare_rules.gtfs.fares import CURRENCY, single_product_id
from fare_rules.gtfs.feed import FEED_DAYS, GtfsFeed, build_feed
from fare_rules.gtfs.rows import FareMediaType, GtfsTable

__all__ = [
    "CURRENCY",
    "FEED_DAYS",
    "FareMediaType",
    "GtfsFeed",
    "GtfsTable",
    "build_feed",
    "single_product_id",
]
