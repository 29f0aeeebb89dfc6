"""CSV lines for audit exports, safe to open in a spreadsheet.

Gate-controlled text (a reason, a flag, a station) reaches the export; a cell starting with ``= + - @``, a tab
or a carriage return would be read by a spreadsheet as a formula. Such text cells are prefixed with a single
quote, as OWASP's CSV-injection guidance advises; numbers are written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

__all__ = ["csv_line", "safe_cell"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """`value` as a CSV cell: lists joined with ``|``, text that a spreadsheet would evaluate quoted."""
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
