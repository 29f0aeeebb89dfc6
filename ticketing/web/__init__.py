"""The riders' web app: its page, ES modules, styles and service worker (ticketing.routes.web)."""

__all__: list[str] = []
