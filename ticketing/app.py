"""The FastAPI application, built by create_app(settings): nothing is read from the environment here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from ticketing.context import build_context
from ticketing.db import make_engine, utcnow
from ticketing.handlers import AnswerUnexpected, install_handlers
from ticketing.headers import SecurityHeaders
from ticketing.ingest.pipeline import JOURNAL_MAX_BYTES
from ticketing.limits import BodySizeLimit
from ticketing.ratelimit import RateLimit
from ticketing.routes import (
    admin,
    api_docs,
    audit,
    dashboard,
    free_riders,
    gate,
    gtfs,
    orders,
    payments,
    public,
    tariffs,
    tickets,
    web,
)
from ticketing.settings import Settings, load_settings, placeholder_payment_account, resolve_secrets
from ticketing.text_guard import NulGuard

__all__ = ["app_from_env", "create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """The API for these settings (secrets resolved here). The database must be migrated (`init`)."""
    settings = resolve_secrets(settings)
    unset = placeholder_payment_account(settings)
    if unset:
        log.warning(
            "VietQR payments go to placeholder account details (%s not set): riders' transfers would not "
            "reach the operator, and production refuses to start like this",
            ", ".join(unset),
        )
    app = FastAPI(
        title="metro-qr issuing service",
        version="1",
        description="Signed QR tickets and CCCD-linked passes for HCMC Metro Line 1.",
        docs_url=None,  # served by routes.api_docs, with their assets from this service, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.effective_database_url, pool_size=settings.db_pool_size)
    app.state.context = build_context(settings)
    app.state.clock = clock
    install_handlers(app)
    _add_middlewares(app, settings, clock)
    routers = (
        public.router,
        gtfs.router,
        orders.router,
        payments.router,
        tickets.router,
        admin.router,
        gate.router,
        tariffs.admin_router,
        tariffs.gate_router,
        free_riders.admin_router,
        free_riders.gate_router,
        web.router,
        api_docs.router,
        dashboard.router,
    )
    for router in (*routers, audit.router):
        app.include_router(router)
    if app.state.context.provider.sandbox:
        app.include_router(payments.sandbox_router)
    return app


def _add_middlewares(app: FastAPI, settings: Settings, clock: Callable[[], datetime]) -> None:
    """From the innermost out: each one added wraps those added before it."""
    app.add_middleware(NulGuard)  # innermost: refusals of the middlewares below need no check
    # Journal batches (500 signed events) outgrow the riders' body limit; only that path gets more.
    journal_limit = {"/v1/gate/journal": max(JOURNAL_MAX_BYTES, settings.max_body_bytes)}
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, per_path=journal_limit)
    limits = (  # riders only: gates and auditors are never limited
        (("POST", "/v1/orders"), settings.order_rate_per_minute, settings.order_rate_burst),
        (("POST", "/v1/orders/recover"), settings.recover_rate_per_minute, settings.recover_rate_burst),
    )
    for route, per_minute, burst in limits:
        if per_minute > 0:
            app.add_middleware(
                RateLimit,
                routes={route},
                per_minute=per_minute,
                burst=burst,
                clock=clock,
                exempt=settings.rate_limit_exempt,
            )
    app.add_middleware(AnswerUnexpected)  # around every middleware above, inside the headers
    app.add_middleware(SecurityHeaders)  # added last, so outermost: refusals above get the headers too


def app_from_env() -> FastAPI:
    """uvicorn's factory for `serve`: each worker builds its app from the environment. `serve` has warned
    about development secrets already, before it started uvicorn."""
    return create_app(resolve_secrets(load_settings(), warn=False))
