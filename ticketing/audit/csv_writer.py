"""The one CSV writer of the audit exports: a model's fields are the columns, and every cell is safe to open
in a spreadsheet.

Gate-controlled text (a reason, a flag, a station) reaches the export; a cell starting with ``= + - @``, a tab
or a carriage return would be read by a spreadsheet as a formula. Such text cells are prefixed with a single
quote, as OWASP's CSV-injection guidance advises; numbers are written as they are. A list (a scan's flags) is
one cell, its items joined with ``|``; None is an empty cell; a boolean is ``true`` or ``false`` (as in
the JSON).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence

from pydantic import BaseModel

__all__ = ["csv_line", "csv_lines", "safe_cell"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """`value` as a CSV cell: lists joined with ``|``, text that a spreadsheet would evaluate quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = "|".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_line(values: Sequence[object]) -> str:
    """One CSV record (with its line ending) of `values`, each made safe by `safe_cell`."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(v) for v in values])
    return buffer.getvalue()


def csv_lines(model: type[BaseModel], rows: Iterable[BaseModel | Mapping[str, object]]) -> Iterator[str]:
    """CSV lines, a header first: one column per field of `model`, in its order. A row is a `model`, or the
    values one is validated from (a 2,000-row page of scans is written without building 2,000 models)."""
    columns = tuple(model.model_fields)
    yield csv_line(columns)
    for row in rows:
        values = row if isinstance(row, Mapping) else dict(row)
        yield csv_line([values[column] for column in columns])
