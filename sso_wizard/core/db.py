"""InvenTree's database, through SQLAlchemy Core.

The wizard touches a handful of tables whose shapes Django fixes (see the reference): it declares
just the columns it uses rather than reflecting, detects which optional tables exist, and writes
every row of one apply in one transaction. Error messages name the database without its password.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sso_wizard.core.instance import Instance, map_container_path
from sso_wizard.core.validators import SOCIALAPP_LIMITS  # noqa: F401 - re-exported

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine


class _JSON(sa.types.TypeDecorator[Any]):
    """Django's JSONField as each dialect stores it: jsonb on PostgreSQL, JSON elsewhere.

    The PostgreSQL dialect is imported only when a PostgreSQL database is used (importing it
    costs ~25 ms of the CLI's start-up on SQLite and MariaDB installs)."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.JSON())


metadata = sa.MetaData()
socialapp = sa.Table(
    "socialaccount_socialapp", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("provider", sa.String(30), nullable=False),
    sa.Column("provider_id", sa.String(200), nullable=False),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("client_id", sa.String(191), nullable=False),
    sa.Column("secret", sa.String(191), nullable=False),
    sa.Column("key", sa.String(191), nullable=False),
    sa.Column("settings", _JSON(), nullable=False),
)
django_site = sa.Table(
    "django_site", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("domain", sa.String(100), nullable=False, unique=True),
    sa.Column("name", sa.String(50), nullable=False),
)
socialapp_sites = sa.Table(
    "socialaccount_socialapp_sites", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("socialapp_id", sa.Integer, sa.ForeignKey("socialaccount_socialapp.id"),
              nullable=False),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("django_site.id"), nullable=False),
    sa.UniqueConstraint("socialapp_id", "site_id"),
)
settings_table = sa.Table(
    "common_inventreesetting", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(50), nullable=False, unique=True),
    sa.Column("value", sa.String(2000), nullable=False),
)
error_table = sa.Table(
    "error_report_error", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(128), nullable=False),
    sa.Column("info", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("path", sa.String(200), nullable=False),
    sa.Column("when", sa.DateTime, nullable=False),
    sa.Column("html", sa.Text, nullable=False),
    sa.Column("modified", sa.DateTime, nullable=False),
)

#: Tables InvenTree's migrations create; without them there is nothing to configure yet.
REQUIRED_TABLES = ("socialaccount_socialapp", "common_inventreesetting")


class DatabaseError(Exception):
    """The database could not be used; the message says why and what to do."""


@dataclass(frozen=True)
class SchemaInfo:
    tables: frozenset[str]

    @property
    def has_sites(self) -> bool:
        return {"django_site", "socialaccount_socialapp_sites"} <= self.tables

    @property
    def has_error_log(self) -> bool:
        return "error_report_error" in self.tables

    @property
    def has_social_accounts(self) -> bool:
        return "socialaccount_socialaccount" in self.tables


@dataclass(frozen=True)
class AppRow:
    id: int
    provider: str
    provider_id: str
    name: str
    client_id: str
    secret: str
    key: str
    settings: dict[str, Any]
    site_ids: tuple[int, ...] = ()

    @property
    def slug(self) -> str:
        """The URL segment allauth routes on: provider_id when set, else the provider id."""
        return self.provider_id or self.provider

    def as_values(self) -> dict[str, Any]:
        return {"provider": self.provider, "provider_id": self.provider_id, "name": self.name,
                "client_id": self.client_id, "secret": self.secret, "key": self.key,
                "settings": self.settings}

    def __repr__(self) -> str:  # never show the secret
        return f"AppRow(id={self.id}, slug={self.slug!r}, name={self.name!r})"


def url_from_settings(db: dict[str, Any], config_dir: Path, instance: Instance | None = None
                      ) -> sa.URL:
    engine = str(db.get("ENGINE") or "").strip().lower()
    engine = engine.rsplit(".", 1)[-1]
    name = db.get("NAME")
    if not engine:
        raise DatabaseError("The config file has no database ENGINE (section `database:` or "
                            "INVENTREE_DB_ENGINE). Set it, or pass --db-url.")
    if engine in ("sqlite3", "sqlite"):
        if not name:
            raise DatabaseError("database NAME (the SQLite file path) is not set.")
        path = Path(str(name)).expanduser()
        if instance is not None:
            path = map_container_path(path, instance.env_file)
        if not path.is_absolute():
            path = config_dir / path
        return sa.URL.create("sqlite", database=str(path))
    if engine in ("postgresql", "postgres", "postgresql_psycopg2", "psycopg2"):
        driver = "postgresql+psycopg"
    elif engine == "mysql":
        driver = "mysql+pymysql"
    else:
        raise DatabaseError(f"Unsupported database ENGINE {engine!r}: InvenTree runs on sqlite3, "
                            "postgresql or mysql.")
    port = db.get("PORT")
    try:
        port_num = int(port) if port not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise DatabaseError(f"database PORT {port!r} is not a number.") from exc
    return sa.URL.create(driver, username=str(db.get("USER") or "") or None,
                         password=str(db.get("PASSWORD") or "") or None,
                         host=str(db.get("HOST") or "") or None, port=port_num,
                         database=str(name or "") or None)


def describe(url: sa.URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


def _explain_connect_error(exc: Exception, url: sa.URL) -> DatabaseError:
    text = str(getattr(exc, "orig", exc) or exc)
    where = describe(url)
    low = text.lower()
    if url.password:
        text = text.replace(url.password, "****")
    if "password authentication failed" in low or "access denied" in low:
        return DatabaseError(f"{where}: the database refused the user name or password. Check "
                             "database USER/PASSWORD (or INVENTREE_DB_USER/_PASSWORD).")
    if ("does not exist" in low and "database" in low) or "unknown database" in low:
        return DatabaseError(f"{where}: the database does not exist. Check database NAME.")
    if "unable to open database file" in low:
        return DatabaseError(f"{where}: cannot open the SQLite file. Check database NAME and its "
                             "permissions.")
    if any(s in low for s in ("connection refused", "could not connect", "can't connect",
                              "timeout", "timed out", "name or service not known",
                              "could not translate host name", "no route to host",
                              "nodename nor servname")):
        return DatabaseError(
            f"{where}: the database server is unreachable ({text.splitlines()[0][:200]}). "
            "Is it running? In Docker, run the wizard inside the server container, or pass "
            "--db-url with a host name reachable from here.")
    return DatabaseError(f"{where}: {text.splitlines()[0][:300] if text else type(exc).__name__}")


def make_engine(url: sa.URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        if url.database and not Path(url.database).exists():
            raise DatabaseError(f"{url.database}: the SQLite database file does not exist. Check "
                                "database NAME in the config file (relative paths are read "
                                "from the config file's folder), or pass --db-url.")
        # A running server holds the file: wait for its locks rather than failing at once.
        connect_args["timeout"] = 30
    elif url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = 5
    elif url.get_backend_name() == "mysql":
        connect_args.update(connect_timeout=5, charset="utf8mb4")
    return sa.create_engine(url, connect_args=connect_args, poolclass=sa.pool.NullPool)


class Database:
    """The tables the wizard reads and writes, over one engine."""

    def __init__(self, url: sa.URL) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._schema: SchemaInfo | None = None

    @classmethod
    def for_instance(cls, instance: Instance) -> Database:
        if instance.db_url:
            try:
                url = sa.make_url(instance.db_url)
            except sa.exc.ArgumentError as exc:
                raise DatabaseError(f"--db-url: not a SQLAlchemy URL ({exc}). Example: "
                                    "postgresql+psycopg://inventree:PASSWORD@localhost/inventree"
                                    ) from exc
        else:
            url = url_from_settings(instance.database_settings(), instance.config_path.parent,
                                    instance)
        return cls(url)

    @property
    def description(self) -> str:
        return describe(self.url)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        try:
            conn = self.engine.connect()
        except sa.exc.DBAPIError as exc:
            raise _explain_connect_error(exc, self.url) from None
        except ModuleNotFoundError as exc:
            extra = "postgres" if self.url.get_backend_name() == "postgresql" else "mysql"
            raise DatabaseError(f"The {exc.name} driver is not installed: pip install "
                                f"'sso-wizard[{extra}]'.") from None
        try:
            yield conn
        finally:
            conn.close()

    def schema(self) -> SchemaInfo:
        if self._schema is None:
            with self.connect() as conn:
                self._schema = SchemaInfo(frozenset(sa.inspect(conn).get_table_names()))
        return self._schema

    def require_migrated(self) -> SchemaInfo:
        schema = self.schema()
        missing = [t for t in REQUIRED_TABLES if t not in schema.tables]
        if missing:
            raise DatabaseError(
                f"{self.description}: table(s) {', '.join(missing)} missing: InvenTree's "
                "migrations have not run on this database. Run `invoke migrate` (Docker: "
                "`docker compose run --rm inventree-server invoke migrate`) and try again.")
        return schema

    # -- reads (a connection may be passed to read inside a transaction) --------------------

    def read_apps(self, conn: Connection | None = None) -> list[AppRow]:
        if conn is None:
            with self.connect() as c:
                return self.read_apps(c)
        schema = self.require_migrated()
        links: dict[int, list[int]] = {}
        if schema.has_sites:
            for app_id, site_id in conn.execute(
                    sa.select(socialapp_sites.c.socialapp_id, socialapp_sites.c.site_id)):
                links.setdefault(app_id, []).append(site_id)
        rows = conn.execute(sa.select(socialapp).order_by(socialapp.c.id)).mappings()
        return [AppRow(id=r["id"], provider=r["provider"], provider_id=r["provider_id"] or "",
                       name=r["name"], client_id=r["client_id"], secret=r["secret"],
                       key=r["key"], settings=_as_dict(r["settings"]),
                       site_ids=tuple(sorted(links.get(r["id"], []))))
                for r in rows]

    def read_settings(self, keys: list[str] | None = None, conn: Connection | None = None
                      ) -> dict[str, str]:
        if conn is None:
            with self.connect() as c:
                return self.read_settings(keys, c)
        self.require_migrated()
        query = sa.select(settings_table.c.key, settings_table.c.value)
        if keys is not None:
            query = query.where(settings_table.c.key.in_(keys))
        return {k: v for k, v in conn.execute(query)}

    def read_sites(self, conn: Connection | None = None) -> dict[int, str]:
        if not self.schema().has_sites:
            return {}
        if conn is None:
            with self.connect() as c:
                return self.read_sites(c)
        return {i: d for i, d in conn.execute(sa.select(django_site.c.id, django_site.c.domain))}


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str | bytes) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}
