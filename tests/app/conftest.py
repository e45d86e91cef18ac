"""Runs a COPY of fixtures/python-fastapi as a live FastAPI app against a fake OAuth provider.

Driven by tests/app_behaviour.rs; by hand (from the repository root, with the venv the Rust
test creates at target/app-venv):

    cp -r fixtures/python-fastapi /tmp/app-copy
    cd /tmp/app-copy/backend && APP_DIR=/tmp/app-copy PHASE=before PYTHONDONTWRITEBYTECODE=1 \
        /path/to/repo/target/app-venv/bin/python -m pytest -c /path/to/repo/tests/app/pytest.ini \
        /path/to/repo/tests/app -p no:cacheprovider

Environment:
- APP_DIR: the copy's root (the folder holding backend/). Never the fixture itself: the
  fixture is the scanner's test data and must not gain a database, caches or edits.
- PHASE: `before` (the fixture as shipped) or `after` (the copy after `oauth-audit fix
  --write`). Only the tests marked with that phase run; any other value is an error.

The app's settings come from the environment (pydantic-settings): DATABASE_URL is set here to
a SQLite file in a fresh temporary folder before the app is imported, so nothing needs
PostgreSQL or Redis (the Redis client the app creates connects lazily and the zoom callback
never uses it).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import types
from pathlib import Path

import pytest

PHASES = ("before", "after")
REPOSITORY = Path(__file__).resolve().parents[2]


def _app_dir() -> Path:
    raw = os.environ.get("APP_DIR")
    if not raw:
        raise pytest.UsageError("APP_DIR must name a copy of fixtures/python-fastapi")
    app_dir = Path(raw).resolve()
    if not (app_dir / "backend" / "main.py").is_file():
        raise pytest.UsageError(f"APP_DIR={app_dir} holds no backend/main.py")
    fixture = (REPOSITORY / "fixtures").resolve()
    if app_dir == fixture or fixture in app_dir.parents:
        raise pytest.UsageError(f"APP_DIR={app_dir} is inside the fixtures: run on a copy")
    return app_dir


def _phase() -> str:
    phase = os.environ.get("PHASE", "")
    if phase not in PHASES:
        raise pytest.UsageError(f"PHASE must be one of {', '.join(PHASES)}, not {phase!r}")
    return phase


def _stub_atom_sdk() -> None:
    """`atom-sdk` (connectors/intercom/client.py) is the fixture company's private SDK: it is
    not on PyPI. Only its import has to succeed; the tests never reach the Intercom routes."""
    if importlib.util.find_spec("atom_sdk") is not None:
        return
    package = types.ModuleType("atom_sdk")
    transport = types.ModuleType("atom_sdk.transport")

    async def provider_request(*args, **kwargs):
        raise RuntimeError("atom_sdk is stubbed by tests/app/conftest.py")

    transport.provider_request = provider_request
    package.transport = transport
    package.__path__ = []
    sys.modules["atom_sdk"] = package
    sys.modules["atom_sdk.transport"] = transport


BACKEND = _app_dir() / "backend"
PHASE = _phase()
DATABASE_FILE = Path(tempfile.mkdtemp(prefix="oauth-audit-app-")) / "app.db"

os.environ["DATABASE_URL"] = f"sqlite:///{DATABASE_FILE}"
os.environ.setdefault("APP_ENV", "test")
os.environ.setdefault("ZOOM_CLIENT_ID", "zoom-client")
os.environ.setdefault("ZOOM_CLIENT_SECRET", "zoom-secret")
# The fake provider listens on loopback: no proxy from the environment may stand in between.
os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))
os.environ["no_proxy"] = os.environ["NO_PROXY"]
sys.path.insert(0, str(BACKEND))
_stub_atom_sdk()


def pytest_configure(config):
    for phase in PHASES:
        config.addinivalue_line("markers", f"{phase}: runs when PHASE={phase}")


def pytest_unconfigure(config):
    shutil.rmtree(DATABASE_FILE.parent, ignore_errors=True)


def pytest_report_header(config):
    return [f"app: {BACKEND} (PHASE={PHASE})", f"database: {DATABASE_FILE}"]


def pytest_collection_modifyitems(config, items):
    selected, deselected = [], []
    for item in items:
        phases = {mark.name for mark in item.iter_markers() if mark.name in PHASES}
        if not phases:
            raise pytest.UsageError(f"{item.nodeid} is marked with no phase")
        (selected if PHASE in phases else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = selected
