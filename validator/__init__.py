"""The offline gate: the ticket codec, the local store, scan = decode → verify → decide → record, and sync.

Never imports `ticketing`, FastAPI or SQLModel: a gate decides with the server unreachable. Import the
modules themselves (`validator.gate`, `validator.codec`, …); the package re-exports nothing.
"""

__all__: list[str] = []
