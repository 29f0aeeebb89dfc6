"""The issuing service: orders, payment, signed tickets and passes, gate sync and audits (FastAPI, SQLModel).

Build the app with `ticketing.app.create_app(settings)`; run it with `python -m ticketing serve`.
"""

__all__: list[str] = []
