"""The auditors' dashboard: one page and its ES modules, served at /audit/ (ticketing.routes.dashboard)."""

__all__: list[str] = []
