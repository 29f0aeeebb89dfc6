"""Audits: what an auditor may ask (`query`) and the CSV every export is written with (`csv_writer`).

Import the modules themselves: the package re-exports nothing.
"""

__all__: list[str] = []
