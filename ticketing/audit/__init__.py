"""Audits: scans and trips by filter, as JSON pages or CSV streams of any size. The API and the CLI call the
same functions.

`query` checks what an auditor may ask; `models` is every answer's type; `scans` and `trips` answer the
listings, over `tables`, with `who` (the credentials a ticket, order or CCCD stands for) and `pages` (the
keyset walk a CSV makes); `csv_writer` is the one CSV writer. Import the modules themselves: the package
re-exports nothing.
"""

__all__: list[str] = []
