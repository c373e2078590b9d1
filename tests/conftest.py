"""Shared fixtures: an isolated environment for every test, and InvenTree installs on SQLite,
the machine's PostgreSQL and its MariaDB (each test gets fresh tables in a test database).

PostgreSQL and MariaDB tests skip when the server is not reachable, unless
SSO_WIZARD_REQUIRE_DBS=1 (CI sets it), where they fail instead: CI must test all three.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PG_ADMIN = os.environ.get("SSO_WIZARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MY_ADMIN = os.environ.get("SSO_WIZARD_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/")
REQUIRE_DBS = os.environ.get("SSO_WIZARD_REQUIRE_DBS") == "1"
BACKENDS = ("sqlite", "postgresql", "mysql")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No test sees the real home, the real InvenTree config, or INVENTREE_* of the shell."""
    for name in list(os.environ):
        if name.startswith("INVENTREE_") or name.startswith("SSO_WIZARD_CONFIG"):
            monkeypatch.delenv(name)
    state = tmp_path / "wizard-state"
    monkeypatch.setenv("SSO_WIZARD_STATE_DIR", str(state))
    return state


def _server_database(kind: str) -> Iterator[str]:
    """Create a throw-away database on the server, yield its URL, drop it afterwards."""
    import sqlalchemy as sa
    admin_url = PG_ADMIN if kind == "postgresql" else MY_ADMIN
    name = f"sso_wizard_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT",
                                 connect_args={"connect_timeout": 5})
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # noqa: BLE001 - any failure means "server not usable here"
        if REQUIRE_DBS:
            pytest.fail(f"{kind} test server unusable at {admin_url}: {exc}")
        pytest.skip(f"{kind} not reachable: {exc}")
    url = sa.make_url(admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    yield from _server_database("postgresql")


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[str]:
    yield from _server_database("mysql")


@dataclass
class Install:
    """An InvenTree install made for one test."""

    root: Path
    config: Path
    backend: str
    db_url: str
    env_file: Path | None = None

    def instance(self, **kwargs: Any) -> Any:
        from sso_wizard.core.instance import Instance
        env = kwargs.pop("environ", {})
        return Instance.load(self.config, env_file=self.env_file, environ=env, **kwargs)

    def engine(self) -> Any:
        import sqlalchemy as sa
        return sa.create_engine(self.db_url)

    def rows(self, table: str) -> list[dict[str, Any]]:
        import sqlalchemy as sa
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return [dict(r) for r in conn.execute(
                    sa.text(f"SELECT * FROM {table} ORDER BY id")).mappings()]
        finally:
            engine.dispose()


def database_section(url: str) -> str:
    """The `database:` block InvenTree would have for this URL (upper-case keys)."""
    import sqlalchemy as sa
    u = sa.make_url(url)
    if u.get_backend_name() == "sqlite":
        return f"database:\n  ENGINE: sqlite3\n  NAME: '{u.database}'\n"
    engine = "postgresql" if u.get_backend_name() == "postgresql" else "mysql"
    lines = [f"database:\n  ENGINE: {engine}\n  NAME: {u.database}\n  USER: {u.username}\n",
             f"  HOST: {u.host}\n  PORT: {u.port or (5432 if engine == 'postgresql' else 3306)}\n"]
    if u.password:
        lines.append(f"  PASSWORD: '{u.password}'\n")
    return "".join(lines)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database with InvenTree's tables, fresh for this test."""
    import sqlalchemy as sa

    from sso_wizard.core.demo import create_schema, drop_schema
    sites = bool(request.node.get_closest_marker("sites"))
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'inventree.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_database" if backend == "postgresql"
                                      else "mysql_database")
    engine = sa.create_engine(url)
    drop_schema(engine)
    create_schema(engine, sites=sites)
    engine.dispose()
    yield url
    if backend != "sqlite":
        engine = sa.create_engine(url)
        drop_schema(engine)
        engine.dispose()


def write_source_install(root: Path, db_url: str, extra: str = "") -> Path:
    """A source install: <repo>/config/config.yaml, InvenTree's template shape."""
    from sso_wizard.core.demo import CONFIG_TEMPLATE
    config = root / "config" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    text = CONFIG_TEMPLATE.format(engine="sqlite3", name="placeholder")
    start = text.index("database:\n")
    end = text.index("# Set debug to False")
    text = text[:start] + database_section(db_url) + "\n" + text[end:]
    config.write_text(text + extra, encoding="utf-8")
    return config


@pytest.fixture
def install(tmp_path: Path, db_url: str, backend: str) -> Install:
    root = tmp_path / "inventree"
    config = write_source_install(root, db_url)
    return Install(root=root, config=config, backend=backend, db_url=db_url)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sites: the test database has django_site tables")
