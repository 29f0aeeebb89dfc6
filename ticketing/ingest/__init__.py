"""Journal ingest: gates' signed batches stored once, paired into trips, double uses revoked.

`pipeline` is the way in (`ingest_batch`: check, store, pair, in that order, and why in two transactions);
`rules` holds what pairing and double use decide, pure; `rows` turns an event into a row; `adapter` is
what ingest asks of an engine, answered by `sqlite` and `postgres`; `scan_counts` keeps the hour counts the
reports read; `pairing` and `double_use` are the second transaction. Import the modules themselves: the
package re-exports nothing, so that `ticketing.models` can import `rules` without importing the pipeline.
"""

__all__: list[str] = []
