"""HTTP routes, one module per area; each route validates, calls one service, returns a `…Public`."""

__all__: list[str] = []
