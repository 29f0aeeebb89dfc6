"""Audits: scans and trips by filter, as JSON pages or CSV streams of any size; reports and anomalies over a
time range. The API (ticketing.routes.audit) and the CLI (ticketing.audit_cli) call the same functions.

`query` checks what an auditor may ask; `models` is every answer's type, which the routes declare to
OpenAPI; `scans` and `trips` answer the listings, with `who` (the credentials a ticket, order or CCCD stands
for) and `pages` (the keyset walk a CSV makes); `reports` has a module per report and `anomalies` a module
per kind; `tables` holds the tables they read; `csv_writer` is the one CSV writer, its columns a model's
fields. Import the modules themselves: the package re-exports nothing.
"""

__all__: list[str] = []
