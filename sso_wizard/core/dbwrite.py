"""Executing a plan's row changes inside one transaction, and reverting them for `undo`.

Each applied change is returned as a record with the full row before and after (ids included),
which is what `undo` needs. The records hold secrets: they only ever go to the 0600 undo file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sso_wizard.core.db import (
    Database,
    SchemaInfo,
    describe,
    settings_table,
    socialapp,
    socialapp_sites,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from sso_wizard.core.plan import RowChange

APP_COLUMNS = ("provider", "provider_id", "name", "client_id", "secret", "key", "settings")
socialtoken = sa.Table("socialaccount_socialtoken", sa.MetaData(),
                       sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("app_id", sa.Integer))


def _app_row(conn: Connection, app_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(socialapp).where(socialapp.c.id == app_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    if isinstance(out["settings"], str):
        import json
        out["settings"] = json.loads(out["settings"] or "{}")
    return out


def _insert(conn: Connection, table: sa.Table, values: dict[str, Any]) -> int:
    """Insert a row and return its new id (works on every dialect, RETURNING or not)."""
    key = conn.execute(sa.insert(table).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def _setting_row(conn: Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(settings_table).where(settings_table.c.key == key)
                       ).mappings().first()
    return dict(row) if row else None


def _unlink_app(conn: Connection, schema: SchemaInfo, app_id: int) -> list[dict[str, Any]]:
    """Remove what refers to an app (site links, cached tokens) so the row can go."""
    removed: list[dict[str, Any]] = []
    if schema.has_sites:
        for link in conn.execute(sa.select(socialapp_sites).where(
                socialapp_sites.c.socialapp_id == app_id)).mappings():
            removed.append({"table": "socialapp_site", "key": f"{app_id}@{link['site_id']}",
                            "before": dict(link), "after": None})
        conn.execute(sa.delete(socialapp_sites).where(socialapp_sites.c.socialapp_id == app_id))
    if "socialaccount_socialtoken" in schema.tables:
        # Cached access tokens of the app: allauth fetches new ones at the next login.
        conn.execute(sa.delete(socialtoken).where(socialtoken.c.app_id == app_id))
    return removed


def apply_rows(conn: Connection, schema: SchemaInfo, changes: list[RowChange]
               ) -> list[dict[str, Any]]:
    applied: list[dict[str, Any]] = []
    app_ids: dict[str, int] = {}  # slug -> id, for site links of apps inserted just now
    for change in changes:
        if change.table == "socialapp":
            if change.op == "insert":
                assert change.after is not None
                values = {c: change.after[c] for c in APP_COLUMNS}
                new_id = _insert(conn, socialapp, values)
                app_ids[change.key] = new_id
                applied.append({"table": "socialapp", "key": change.key, "before": None,
                                "after": _app_row(conn, new_id)})
            else:
                assert change.before is not None
                app_id = int(change.before["id"])
                before = _app_row(conn, app_id)
                if before is None:
                    raise RuntimeError(f"SocialApp {change.key} (id {app_id}) disappeared while "
                                       "the plan was applied; run it again.")
                app_ids[change.key] = app_id
                if change.op == "update":
                    assert change.after is not None
                    values = {c: change.after[c] for c in APP_COLUMNS if c in change.after}
                    conn.execute(sa.update(socialapp).where(socialapp.c.id == app_id)
                                 .values(**values))
                    applied.append({"table": "socialapp", "key": change.key, "before": before,
                                    "after": _app_row(conn, app_id)})
                else:
                    applied.extend(_unlink_app(conn, schema, app_id))
                    conn.execute(sa.delete(socialapp).where(socialapp.c.id == app_id))
                    applied.append({"table": "socialapp", "key": change.key, "before": before,
                                    "after": None})
        elif change.table == "socialapp_site":
            assert change.after is not None
            slug = change.after["slug"]
            link_app = app_ids.get(slug) or change.after.get("app_id")
            if link_app is None:
                raise RuntimeError(f"no SocialApp {slug!r} to link to site "
                                   f"{change.after['site_id']}")
            link = {"socialapp_id": link_app, "site_id": change.after["site_id"]}
            link["id"] = _insert(conn, socialapp_sites, link)
            applied.append({"table": "socialapp_site", "key": change.key, "before": None,
                            "after": link})
        else:  # setting
            before = _setting_row(conn, change.key)
            if change.op == "delete":
                if before is not None:
                    conn.execute(sa.delete(settings_table).where(
                        settings_table.c.key == change.key))
            else:
                assert change.after is not None
                value = change.after["value"]
                if before is None:
                    conn.execute(sa.insert(settings_table).values(key=change.key, value=value))
                else:
                    conn.execute(sa.update(settings_table).where(
                        settings_table.c.key == change.key).values(value=value))
            applied.append({"table": "setting", "key": change.key, "before": before,
                            "after": _setting_row(conn, change.key)})
    return applied


def revert_rows(conn: Connection, schema: SchemaInfo, records: list[dict[str, Any]]) -> None:
    """Undo applied records, newest first."""
    for rec in reversed(records):
        before, after = rec["before"], rec["after"]
        if rec["table"] == "socialapp":
            if after is not None and before is None:
                _unlink_app(conn, schema, after["id"])
                conn.execute(sa.delete(socialapp).where(socialapp.c.id == after["id"]))
            elif before is not None and after is None:
                conn.execute(sa.insert(socialapp).values(**before))
            else:
                values = {c: before[c] for c in APP_COLUMNS}
                conn.execute(sa.update(socialapp).where(socialapp.c.id == before["id"])
                             .values(**values))
        elif rec["table"] == "socialapp_site":
            if before is None:
                conn.execute(sa.delete(socialapp_sites).where(socialapp_sites.c.id == after["id"]))
            else:
                conn.execute(sa.insert(socialapp_sites).values(**before))
        else:
            key = rec["key"]
            conn.execute(sa.delete(settings_table).where(settings_table.c.key == key))
            if before is not None:
                conn.execute(sa.insert(settings_table).values(**before))
    _fix_sequences(conn)


def _fix_sequences(conn: Connection) -> None:
    # Re-inserting rows with explicit ids leaves PostgreSQL's sequences behind; Django's next
    # insert would then collide. Move them past the highest id.
    if conn.dialect.name != "postgresql":
        return
    for table in (socialapp, settings_table, socialapp_sites):
        name = table.name
        exists = conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": name}).scalar()
        if exists is None:
            continue
        conn.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"))


def explain_write_error(exc: Exception, db: Database | None) -> str:
    """A plain message for a failed write, without SQL parameters (they may hold secrets)."""
    where = describe(db.url) if db is not None else "database"
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    first = text[0][:300] if text else type(exc).__name__
    low = first.lower()
    if "locked" in low:
        return (f"{where}: the database stayed locked (a running server holds a write lock). "
                "Try again in a moment.")
    if "readonly" in low or "read-only" in low or "permission denied" in low:
        return f"{where}: no permission to write ({first}). Run as the database owner."
    if "too long" in low or "data too long" in low:
        return f"{where}: a value is longer than its column allows ({first})."
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return f"{where}: the connection was lost during the write ({first})."
    if isinstance(exc, sa.exc.SQLAlchemyError | RuntimeError):
        return f"{where}: {first}"
    return f"{type(exc).__name__}: {first}"
