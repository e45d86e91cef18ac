"""The seed's testing checklist, automated on the Zoom callback of the FastAPI fixture.

GET /api/zoom/callback (api/routes/integrations/zoom_routes.py) calls
`zoom_auth_handler.exchange_code` (integrations/auth_handler_zoom.py), which POSTs to the
module constant ZOOM_TOKEN_URL. Here that URL points at a fake provider on 127.0.0.1 whose
answer each test sets.

- PHASE=before, the fixture as shipped: the exchange calls `response.json()` unguarded (OA001)
  and the callback stores nothing (OA002). A `200 text/html` login page fails the callback
  with a JSON decode error; a JSON answer "connects" while no token reaches the database.
- PHASE=after, once `oauth-audit fix --write` ran on the copy: the HTML page is a 400 whose
  detail carries the page title; a JSON answer stores one IntegrationToken row in SQLite
  (still there after the database is reopened) and queues one historical sync job; a failing
  insert is rolled back and answered with a 500, and the app keeps serving.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

import core.database
import integrations.auth_handler_zoom as zoom_handler_module
from core.auth import get_current_tenant, get_current_user
from core.database import SessionLocal, engine, get_db
from core.models import Base, Tenant, User
from main import app

DATABASE_FILE = engine.url.database

CALLBACK = "/api/zoom/callback"
ROUTES_LOGGER = "api.routes.integrations.zoom_routes"
PAGE_TITLE = "Sign in to Zoom"
LOGIN_PAGE = (
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    f"<title>{PAGE_TITLE}</title></head>"
    "<body><form action=\"/signin\" method=\"post\"><input name=\"email\"></form></body></html>\n"
)
TENANT_ID = "tenant-acme"
USER_ID = "user-ops"


# --- fake provider -------------------------------------------------------------------------


class FakeProvider:
    """A token endpoint on loopback answering every request with the configured answer."""

    def __init__(self) -> None:
        self.status = 200
        self.content_type = "application/json"
        self.body = b"{}"
        self.requests: list[dict] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                url = urlsplit(self.path)
                provider.requests.append(
                    {
                        "method": self.command,
                        "path": url.path,
                        "query": parse_qs(url.query),
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(provider.status)
                self.send_header("Content-Type", provider.content_type)
                self.send_header("Content-Length", str(len(provider.body)))
                self.end_headers()
                self.wfile.write(provider.body)

            do_GET = do_POST

            def log_message(self, format, *args) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-zoom", daemon=True)

    @property
    def token_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/oauth/token"

    def answer(self, status: int, content_type: str, body: str | bytes) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body.encode() if isinstance(body, str) else body

    def answer_json(self, payload: dict, status: int = 200) -> None:
        self.answer(status, "application/json", json.dumps(payload))

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def provider(monkeypatch):
    with FakeProvider() as fake:
        monkeypatch.setattr(zoom_handler_module, "ZOOM_TOKEN_URL", fake.token_url)
        yield fake


# --- database and app ----------------------------------------------------------------------


def query(sql: str, *params) -> list[sqlite3.Row]:
    """Reads the SQLite file through its own fresh connection, not through the app's engine."""
    connection = sqlite3.connect(DATABASE_FILE)
    connection.row_factory = sqlite3.Row
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def execute(sql: str) -> None:
    connection = sqlite3.connect(DATABASE_FILE)
    try:
        connection.executescript(sql)
        connection.commit()
    finally:
        connection.close()


def token_rows() -> list[sqlite3.Row]:
    return query("SELECT * FROM integration_tokens")


def sync_job_rows() -> list[sqlite3.Row]:
    return query("SELECT * FROM sync_jobs")


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def stored_time(text: str) -> datetime:
    """A DateTime column as SQLite holds it (SQLAlchemy writes UTC wall-clock text)."""
    value = datetime.fromisoformat(text)
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def assert_close(actual: datetime, expected: datetime, what: str) -> None:
    assert abs(actual - expected) < timedelta(minutes=5), f"{what}: {actual} is not about {expected}"


@pytest.fixture
def database():
    """A fresh schema in the SQLite file with one tenant and one user."""
    engine.dispose()
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with SessionLocal() as db:
        tenant = Tenant(id=TENANT_ID, name="Acme", plan="pro")
        user = User(id=USER_ID, tenant_id=TENANT_ID, email="ops@acme.test")
        db.add_all([tenant, user])
        db.commit()
    yield tenant, user
    engine.dispose()


class SessionLog:
    """Every session the app's `get_db` handed out, with whether it still held a transaction
    when the request ended (a failed commit that nobody rolled back leaves one)."""

    def __init__(self) -> None:
        self.sessions: list[dict] = []

    def get_db(self):
        db = core.database.SessionLocal()
        entry = {"session": db, "open_transaction_at_end": None}
        self.sessions.append(entry)
        try:
            yield db
        finally:
            entry["open_transaction_at_end"] = db.in_transaction()
            db.close()


@pytest.fixture
def session_log():
    return SessionLog()


@pytest.fixture
def client(database, session_log, monkeypatch):
    tenant, user = database
    app.dependency_overrides[get_current_user] = lambda: user
    app.dependency_overrides[get_current_tenant] = lambda: tenant
    app.dependency_overrides[get_db] = session_log.get_db
    handler = zoom_handler_module.zoom_auth_handler
    monkeypatch.setattr(handler, "access_token", None)
    monkeypatch.setattr(handler, "refresh_token", None)
    monkeypatch.setattr(handler, "expires_at", 0.0)
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.dependency_overrides.clear()


def connect(client: TestClient, code: str = "auth-code-1"):
    return client.get(CALLBACK, params={"code": code, "state": USER_ID}, follow_redirects=False)


def assert_exchange_requested(provider: FakeProvider, code: str = "auth-code-1") -> None:
    assert len(provider.requests) == 1, provider.requests
    request = provider.requests[0]
    assert request["method"] == "POST"
    assert request["path"] == "/oauth/token"
    assert request["query"]["grant_type"] == ["authorization_code"]
    assert request["query"]["code"] == [code]
    assert request["headers"]["Authorization"].startswith("Basic ")


def assert_connected_redirect(response) -> None:
    assert response.status_code in (302, 303, 307), (response.status_code, response.text)
    assert "/integrations/zoom?connected=1" in response.headers["location"]


def exceptions_logged(caplog) -> list[BaseException]:
    return [
        record.exc_info[1]
        for record in caplog.records
        if record.name == ROUTES_LOGGER and record.exc_info and record.exc_info[1] is not None
    ]


# --- before `fix` --------------------------------------------------------------------------


@pytest.mark.before
def test_before_html_login_page_fails_with_a_decode_error(client, provider, caplog):
    provider.answer(200, "text/html; charset=utf-8", LOGIN_PAGE)

    response = connect(client)

    assert_exchange_requested(provider)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail == "Zoom connection failed"
    assert PAGE_TITLE not in detail
    logged = exceptions_logged(caplog)
    assert logged, f"no exception logged by {ROUTES_LOGGER}: {caplog.text}"
    assert any(isinstance(error, json.JSONDecodeError) for error in logged), logged
    assert token_rows() == []
    assert sync_job_rows() == []


@pytest.mark.before
def test_before_json_tokens_reach_no_table(client, provider):
    provider.answer_json({"access_token": "zoom-access-1", "refresh_token": "zoom-refresh-1", "expires_in": 3600})

    response = connect(client)

    assert_exchange_requested(provider)
    assert_connected_redirect(response)
    # the tokens live only in the process-wide handler: lost on the next restart
    assert zoom_handler_module.zoom_auth_handler.access_token == "zoom-access-1"
    assert token_rows() == []
    assert sync_job_rows() == []


# --- after `fix --write` -------------------------------------------------------------------


@pytest.mark.after
def test_after_html_login_page_is_a_400_with_the_page_title(client, provider, caplog):
    provider.answer(200, "text/html; charset=utf-8", LOGIN_PAGE)

    response = connect(client)

    assert_exchange_requested(provider)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert PAGE_TITLE in detail, detail
    decode_errors = [error for error in exceptions_logged(caplog) if isinstance(error, json.JSONDecodeError)]
    assert decode_errors == []
    assert token_rows() == []
    assert sync_job_rows() == []


@pytest.mark.after
def test_after_json_tokens_are_stored_and_a_sync_job_is_queued(client, provider):
    provider.answer_json({"access_token": "zoom-access-1", "refresh_token": "zoom-refresh-1", "expires_in": 3600})

    response = connect(client)

    assert_exchange_requested(provider)
    assert_connected_redirect(response)

    # Reopen: every pooled connection of the app is closed, and the rows are read back from the
    # file through a brand-new sqlite3 connection.
    engine.dispose()
    tokens = token_rows()
    assert len(tokens) == 1, [dict(row) for row in tokens]
    token = tokens[0]
    assert token["provider"] == "zoom"
    assert token["tenant_id"] == TENANT_ID
    assert token["user_id"] == USER_ID
    assert token["access_token"] == "zoom-access-1"
    assert token["refresh_token"] == "zoom-refresh-1"
    assert token["status"] == "active"
    assert token["expires_at"] is not None
    assert_close(stored_time(token["expires_at"]), utc_now() + timedelta(seconds=3600), "expires_at")

    jobs = sync_job_rows()
    assert len(jobs) == 1, [dict(row) for row in jobs]
    job = jobs[0]
    assert job["integration_id"] == "zoom"
    assert job["tenant_id"] == TENANT_ID
    assert job["user_id"] == USER_ID
    assert job["kind"] == "historical"
    assert job["status"] == "queued"
    assert_close(stored_time(job["sync_from"]), utc_now() - timedelta(days=90), "sync_from")

    # and the app, with a fresh pool, reads the same row
    with SessionLocal() as db:
        from core.models import IntegrationToken

        stored = db.query(IntegrationToken).filter_by(tenant_id=TENANT_ID, provider="zoom").one()
        assert stored.access_token == "zoom-access-1"


@pytest.mark.after
def test_after_reconnecting_updates_the_one_token_row(client, provider):
    provider.answer_json({"access_token": "zoom-access-1", "refresh_token": "zoom-refresh-1", "expires_in": 3600})
    assert_connected_redirect(connect(client, "auth-code-1"))
    provider.answer_json({"access_token": "zoom-access-2", "refresh_token": "zoom-refresh-2"})
    assert_connected_redirect(connect(client, "auth-code-2"))

    tokens = token_rows()
    assert len(tokens) == 1, [dict(row) for row in tokens]
    assert tokens[0]["access_token"] == "zoom-access-2"
    assert tokens[0]["refresh_token"] == "zoom-refresh-2"
    # no expires_in in the answer: the default lifetime of two hours
    assert_close(stored_time(tokens[0]["expires_at"]), utc_now() + timedelta(seconds=7200), "expires_at")
    # the queued historical sync is not queued twice
    assert len(sync_job_rows()) == 1


@pytest.mark.after
def test_after_a_failing_insert_is_rolled_back(client, provider, session_log):
    execute(
        "CREATE TRIGGER refuse_tokens BEFORE INSERT ON integration_tokens "
        "BEGIN SELECT RAISE(ABORT, 'disk quota exceeded'); END;"
    )
    provider.answer_json({"access_token": "zoom-access-1", "refresh_token": "zoom-refresh-1", "expires_in": 3600})

    response = connect(client)

    assert_exchange_requested(provider)
    assert response.status_code == 500, response.text
    assert response.json()["detail"] == "Could not store zoom tokens"
    assert token_rows() == []
    assert sync_job_rows() == []
    assert session_log.sessions, "the callback never asked for a DB session"
    unrolled = [entry for entry in session_log.sessions if entry["open_transaction_at_end"]]
    assert unrolled == [], "the callback left its failed transaction for close() to discard: no rollback"

    # the app keeps serving: once the database accepts writes again, the same callback stores
    execute("DROP TRIGGER refuse_tokens;")
    response = connect(client, "auth-code-2")
    assert_connected_redirect(response)
    tokens = token_rows()
    assert [row["access_token"] for row in tokens] == ["zoom-access-1"]
    assert len(sync_job_rows()) == 1
