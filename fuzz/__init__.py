"""Fuzz targets (atheris; `make fuzz`). Each module is also importable: its `check(data)` is what the suite
feeds through hypothesis for a short, bounded run."""

__all__: list[str] = []
