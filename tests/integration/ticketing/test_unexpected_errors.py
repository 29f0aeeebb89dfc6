"""An exception no handler expects, through the real HTTP server (uvicorn with the service's own protocols,
h11 and httptools): a 500 with a code, and the keep-alive connection still answers the next request."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from support.issuing import make_settings, seed
from support.server import free_port, wait_until

from ticketing.app import create_app

PROTOCOLS = ["ticketing.serving:NoDelayH11Protocol", "ticketing.serving_httptools:NoDelayHttpToolsProtocol"]


def _app_with_a_broken_route(database_url: str, tmp_path: Path) -> FastAPI:
    seed(database_url, b"test-passphrase")
    app = create_app(make_settings(database_url, tmp_path))

    @app.get("/broken")
    def broken() -> None:  # a bug somewhere below a route: not a database error, no handler of its own
        raise ZeroDivisionError

    return app


@pytest.fixture(params=PROTOCOLS, ids=["h11", "httptools"])
def port(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[int]:
    app = _app_with_a_broken_route(database_url, tmp_path)
    number = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=number, http=request.param, log_level="critical")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=20, what="the server to start")
    yield number
    server.should_exit = True
    thread.join(timeout=20)
    app.state.engine.dispose()


def _get(connection: http.client.HTTPConnection, path: str) -> tuple[int, dict[str, Any], str | None]:
    connection.request("GET", path)
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read()), answer.getheader("connection")


def test_a_500_answers_with_a_code_and_the_same_connection_answers_the_next_request(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    failed = _get(connection, "/broken")
    socket_after = connection.sock
    after = _get(connection, "/v1/network")

    assert failed[:2] == (500, {"code": "internal_error", "detail": "something went wrong on our side"})
    assert failed[2] != "close"
    assert after[0] == 200
    assert connection.sock is socket_after  # the same connection, not a silent reconnect
    connection.close()
