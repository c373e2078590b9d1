"""Plan → diff → apply: the one engine every writing stage goes through.

A stage never writes. It asks a `PlanBuilder` for config keys, env variables and rows; the builder
routes each config key to where InvenTree will really read it (an env file, or the config file
with a warning when the process environment overrides it) and drops changes that change nothing.
`apply_plan` then makes one config-file write, one env-file write and one DB transaction; if any
part fails, the files are restored and the transaction rolled back: nothing is left half-done.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sso_wizard.core import state
from sso_wizard.core.configfile import ConfigDocument, ConfigFileError, atomic_write
from sso_wizard.core.findings import Finding, has_errors, mask_secret, warning
from sso_wizard.core.instance import CONFIG_KEYS, ConfigKey, Instance, is_secret_path, typecast

if TYPE_CHECKING:
    from sso_wizard.core.db import AppRow, Database, SchemaInfo

MASK = "********"
Table = Literal["socialapp", "setting", "socialapp_site"]
Op = Literal["insert", "update", "delete"]


class PlanError(Exception):
    """The plan cannot be applied (errors in it, or the install changed since it was made)."""


class ApplyError(Exception):
    """Applying failed; everything was rolled back. The message says what failed."""


@dataclass(frozen=True)
class ConfigEdit:
    stage: str
    path: tuple[str, ...]
    old: Any
    new: Any
    remove: bool = False

    @property
    def secret(self) -> bool:
        return is_secret_path(self.path)


@dataclass(frozen=True)
class EnvEdit:
    stage: str
    name: str
    old: str | None
    new: str | None  # None removes the variable
    secret: bool = False


@dataclass(frozen=True)
class RowChange:
    stage: str
    table: Table
    op: Op
    key: str  # socialapp: slug; setting: KEY; socialapp_site: "slug@site_id"
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def describe(self) -> str:
        """One line for the plan display; secrets masked."""
        label = {"socialapp": "SocialApp", "setting": "setting",
                 "socialapp_site": "SocialApp site link"}[self.table]
        if self.table == "setting":
            b = None if self.before is None else self.before.get("value")
            a = None if self.after is None else self.after.get("value")
            if self.op == "insert":
                return f"+ {label} {self.key} = {a!r}"
            if self.op == "delete":
                return f"- {label} {self.key} (was {b!r}; InvenTree restores its default)"
            return f"~ {label} {self.key}: {b!r} -> {a!r}"
        if self.table == "socialapp_site":
            sign = "+" if self.op == "insert" else "-"
            return f"{sign} {label} {self.key}"
        if self.op == "insert":
            assert self.after is not None
            return f"+ {label} {self.key}: " + ", ".join(
                f"{k}={_show(k, v)}" for k, v in self.after.items() if k != "id")
        if self.op == "delete":
            return f"- {label} {self.key} (id {self.before and self.before.get('id')})"
        assert self.before is not None and self.after is not None
        parts = [f"{k}: {_show(k, self.before.get(k))} -> {_show(k, v)}"
                 for k, v in self.after.items() if k != "id" and self.before.get(k) != v]
        return f"~ {label} {self.key}: " + "; ".join(parts)


def _show(column: str, value: Any) -> str:
    if column == "secret":
        return mask_secret(value)
    if column == "settings":
        return json.dumps(value, sort_keys=True)
    return repr(value)


@dataclass
class Plan:
    instance: Instance
    stages: tuple[str, ...]
    config_edits: list[ConfigEdit] = field(default_factory=list)
    env_edits: list[EnvEdit] = field(default_factory=list)
    row_changes: list[RowChange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    base_config_text: str = ""
    new_config_text: str = ""
    base_env_text: str | None = None
    new_env_text: str | None = None
    db_description: str = ""

    @property
    def empty(self) -> bool:
        return not (self.config_edits or self.env_edits or self.row_changes)

    @property
    def has_errors(self) -> bool:
        return has_errors(self.findings)

    def render(self) -> str:
        """The plan as a person reads it: a unified diff of the config, env and row changes."""
        out: list[str] = []
        if self.config_edits:
            out.append(f"Config file {self.instance.config_path}:")
            out.extend(self._masked_config_diff())
        if self.env_edits:
            assert self.instance.env_file is not None
            out.append(f"Env file {self.instance.env_file.path}:")
            for e in self.env_edits:
                old, new = _show_env(e.old, e.secret), _show_env(e.new, e.secret)
                if e.new is None:
                    out.append(f"- {e.name} (was {old!r})")
                elif e.old is None:
                    out.append(f"+ {e.name}={new}")
                else:
                    out.append(f"~ {e.name}: {old} -> {new}")
        if self.row_changes:
            out.append(f"Database {self.db_description}:")
            out.extend(c.describe() for c in self.row_changes)
        if not out:
            out.append("No changes.")
        for f in self.findings:
            out.append(f"{f.severity}: {f.message}" + (f" Fix: {f.fix}" if f.fix else ""))
        return "\n".join(out)

    def _masked_config_diff(self) -> list[str]:
        # Diff two display copies in which every secret value is masked, so the diff shows
        # that a secret changes without ever showing it.
        base = ConfigDocument.parse(self.base_config_text, source="config")
        for path in _secret_paths(base.data):
            base.set(path, MASK)
        shown = ConfigDocument.parse(base.text, source="config")
        for edit in self.config_edits:
            if edit.remove:
                shown.delete(edit.path)
            else:
                shown.set(edit.path, _mask_value(edit.path, edit.new, changed=True))
        name = self.instance.config_path.name
        return [line.rstrip("\n") for line in difflib.unified_diff(
            base.text.splitlines(keepends=True), shown.text.splitlines(keepends=True),
            fromfile=name, tofile=f"{name} (planned)", n=2)]


def _show_env(value: str | None, secret: bool) -> str | None:
    """An env value for display: secrets masked, also inside JSON (social_providers APP)."""
    if value is None or value == "":
        return value
    if secret:
        return mask_secret(value)
    if value.lstrip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, dict):
            return json.dumps(_mask_value((), parsed), separators=(",", ":"))
    return value


def _secret_paths(data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            path = (*prefix, str(k))
            if is_secret_path(path) and isinstance(v, str | int) and v != "":
                out.append(path)
            else:
                out.extend(_secret_paths(v, path))
    return out


def _mask_value(path: tuple[str, ...], value: Any, changed: bool = False) -> Any:
    if is_secret_path(path) and value not in (None, ""):
        return MASK + " (changed)" if changed else MASK
    if isinstance(value, dict):
        return {k: _mask_value((*path, str(k)), v, changed) for k, v in value.items()}
    return value


def _env_text(kind: str, value: Any) -> str:
    if kind == "bool":
        return "True" if value else "False"
    if kind == "list":
        return ",".join(str(v) for v in value)
    if kind == "dict":
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class PlanBuilder:
    """Collects the changes of one plan; stages call it, then `build()` makes the Plan."""

    def __init__(self, instance: Instance, stages: tuple[str, ...],
                 db: Database | None = None) -> None:
        self.instance = instance
        self.stages = stages
        self.db = db
        self.doc = ConfigDocument.parse(instance.config.text, source=str(instance.config_path))
        self.config_edits: list[ConfigEdit] = []
        self.env_changes: dict[str, tuple[str, str | None]] = {}  # name -> (stage, new)
        self.env_secret: set[str] = set()
        self.rows: list[RowChange] = []
        self.findings: list[Finding] = []
        self._apps: list[AppRow] | None = None
        self._settings: dict[str, str] | None = None
        self._warned_env: set[str] = set()

    # -- current DB state, read once ---------------------------------------------------------

    @property
    def schema(self) -> SchemaInfo:
        assert self.db is not None
        return self.db.require_migrated()

    def apps(self) -> list[AppRow]:
        if self._apps is None:
            assert self.db is not None, "this plan needs the database"
            self._apps = self.db.read_apps()
        return self._apps

    def settings(self) -> dict[str, str]:
        if self._settings is None:
            assert self.db is not None, "this plan needs the database"
            self._settings = self.db.read_settings()
        return self._settings

    # -- config keys -------------------------------------------------------------------------

    def current(self, path: tuple[str, ...]) -> Any:
        """The value this plan would leave at `path` in the config file."""
        return self.doc.get(path)

    def set_config(self, stage: str, path: tuple[str, ...], value: Any) -> None:
        self._change_config(stage, path, value, remove=False)

    def remove_config(self, stage: str, path: tuple[str, ...]) -> None:
        self._change_config(stage, path, None, remove=True)

    def _owning_key(self, path: tuple[str, ...]) -> ConfigKey | None:
        for n in range(len(path), 0, -1):
            key = CONFIG_KEYS.get(".".join(path[:n]))
            if key is not None:
                return key
        return None

    def _change_config(self, stage: str, path: tuple[str, ...], value: Any, remove: bool) -> None:
        key = self._owning_key(path)
        if key is not None and key.env:
            env_file = self.instance.env_file
            if env_file is not None and key.env in env_file.values:
                self._change_env_for_key(stage, key, path, value, remove)
                return
            if key.env in self.instance.environ and key.env not in self._warned_env:
                self._warned_env.add(key.env)
                self.findings.append(warning(
                    "env-overrides-config",
                    f"{key.env} is set in the environment and overrides `{key.dotted}` in "
                    "the config file: the config change below has no effect while it is set.",
                    f"Remove {key.env} from the server's environment, or pass --env-file "
                    "with the Docker .env file so the wizard writes it there."))
        old = self.doc.get(path)
        if remove:
            if old is None and not self._path_exists(path):
                return
        elif old == value and type(old) is type(value):
            return
        try:
            if remove:
                self.doc.delete(path)
            else:
                self.doc.set(path, value)
        except ConfigFileError as exc:
            raise PlanError(str(exc)) from exc
        self.config_edits.append(ConfigEdit(stage, path, old, value, remove))

    def _path_exists(self, path: tuple[str, ...]) -> bool:
        node: Any = self.doc.data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def _change_env_for_key(self, stage: str, key: ConfigKey, path: tuple[str, ...],
                            value: Any, remove: bool) -> None:
        assert key.env is not None
        assert self.instance.env_file is not None
        if key.env in self.env_changes:
            current = self.env_changes[key.env][1]
        else:
            current = self.instance.env_file.values.get(key.env)
        if len(path) == len(key.path):
            new_value = None if remove else value
        else:  # a sub-key of a dict variable (social_providers.github.X, global_settings.KEY)
            whole = typecast(current, "dict")
            whole = json.loads(json.dumps(whole))  # deep copy
            node = whole
            for part in path[len(key.path):-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise PlanError(f"{key.env}: {'.'.join(path)} is not a mapping in the env "
                                    "file's JSON; fix it by hand.")
            if remove:
                node.pop(path[-1], None)
            else:
                node[path[-1]] = value
            new_value = whole
        new_text = None if new_value is None else _env_text(key.kind, new_value)
        if new_text == current:
            return
        self.env_changes[key.env] = (stage, new_text)
        if is_secret_path(path):
            self.env_secret.add(key.env)
        if key.env in self.instance.environ and key.env not in self._warned_env:
            self._warned_env.add(key.env)
            self.findings.append(warning(
                "env-file-needs-recreate",
                f"{key.env} is written to the env file; the running container keeps the old "
                "value until it is recreated.",
                "Run `docker compose up -d` (a restart alone does not re-read .env)."))

    # -- rows ------------------------------------------------------------------------------

    def add_row(self, change: RowChange) -> None:
        self.rows.append(change)

    # -- result ------------------------------------------------------------------------------

    def build(self) -> Plan:
        inst = self.instance
        plan = Plan(instance=inst, stages=self.stages, findings=list(self.findings),
                    base_config_text=inst.config.text, new_config_text=self.doc.text,
                    row_changes=list(self.rows), config_edits=list(self.config_edits))
        if self.db is not None:
            plan.db_description = self.db.description
        if self.env_changes:
            assert inst.env_file is not None
            plan.base_env_text = inst.env_file.text
            changed = inst.env_file.with_changes({k: v for k, (_, v) in self.env_changes.items()})
            plan.new_env_text = changed.text
            for name, (stage, new) in self.env_changes.items():
                old = inst.env_file.values.get(name)
                plan.env_edits.append(EnvEdit(stage, name, old, new, name in self.env_secret))
        return plan


# -- apply and undo ------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class ApplyResult:
    config_backup: Path | None = None
    env_backup: Path | None = None
    rows_changed: int = 0
    undo_record: Path | None = None


def apply_plan(plan: Plan) -> ApplyResult:
    """Apply all of a plan or none of it."""
    if plan.has_errors:
        raise PlanError("The plan has errors; fix them first:\n" + "\n".join(
            f.message for f in plan.findings if f.severity == "error"))
    result = ApplyResult()
    if plan.empty:
        return result
    inst = plan.instance
    config_path = inst.config_path
    try:
        on_disk = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ApplyError(f"{config_path}: cannot read it again ({exc.strerror}).") from exc
    if on_disk != plan.base_config_text:
        raise PlanError(f"{config_path} changed since the plan was made; run the command again.")
    env_path = inst.env_file.path if inst.env_file else None
    if plan.new_env_text is not None and env_path is not None and env_path.exists():
        if env_path.read_text(encoding="utf-8") != plan.base_env_text:
            raise PlanError(f"{env_path} changed since the plan was made; run the command again.")

    db = inst.open_database() if plan.row_changes else None
    conn = trans = None
    written: list[tuple[Path, str | None]] = []  # (path, previous text) to restore on failure
    try:
        applied_rows: list[dict[str, Any]] = []
        if db is not None:
            from sso_wizard.core import dbwrite
            conn = db.engine.connect()
            trans = conn.begin()
            applied_rows = dbwrite.apply_rows(conn, db.schema(), plan.row_changes)
            result.rows_changed = len(applied_rows)
        if plan.config_edits:
            result.config_backup = atomic_write(config_path, plan.new_config_text)
            written.append((config_path, plan.base_config_text))
        if plan.new_env_text is not None and env_path is not None:
            result.env_backup = atomic_write(env_path, plan.new_env_text)
            written.append((env_path, plan.base_env_text))
        record = {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "config_path": str(config_path),
            "config_backup": str(result.config_backup) if result.config_backup else None,
            "config_sha256": _sha(plan.new_config_text) if plan.config_edits else None,
            "env_path": str(env_path) if env_path and plan.new_env_text is not None else None,
            "env_backup": str(result.env_backup) if result.env_backup else None,
            "env_existed": plan.base_env_text not in (None, ""),
            "env_sha256": _sha(plan.new_env_text) if plan.new_env_text is not None else None,
            "rows": applied_rows,
            "db": plan.db_description,
        }
        result.undo_record = state.save_undo_record(config_path, record)
        if trans is not None:
            trans.commit()
    except BaseException as exc:
        if trans is not None:
            try:
                trans.rollback()
            except Exception:  # noqa: BLE001 - the original error is what matters
                pass
        for path, previous in reversed(written):
            try:
                if previous is None:
                    path.unlink(missing_ok=True)
                else:
                    atomic_write(path, previous, backup=False)
            except (OSError, ConfigFileError):
                pass
        if result.undo_record is not None:
            state.drop_undo_record(config_path)
        if isinstance(exc, PlanError | ApplyError):
            raise
        if isinstance(exc, ConfigFileError):
            message = str(exc)
            if "Nothing was changed" not in message:
                message += " Nothing was changed."
            raise ApplyError(message) from None
        if isinstance(exc, Exception):
            from sso_wizard.core.dbwrite import explain_write_error
            raise ApplyError(explain_write_error(exc, db) + " Nothing was changed: the "
                             "transaction was rolled back and the files restored.") from None
        raise
    finally:
        if conn is not None:
            conn.close()
    return result


def undo_last_apply(instance: Instance, *, force: bool = False) -> list[str]:
    """Restore the config file, env file and rows the last apply changed. Returns messages."""
    record = state.load_undo_record(instance.config_path)
    if record is None:
        raise PlanError("Nothing to undo: no apply by sso-wizard is recorded for "
                        f"{instance.config_path}.")
    messages: list[str] = []
    restores: list[tuple[Path, str | None]] = []
    if record.get("config_backup"):
        path = Path(record["config_path"])
        current = path.read_text(encoding="utf-8")
        if _sha(current) != record["config_sha256"] and not force:
            raise PlanError(f"{path} changed after the last apply; undo would lose those "
                            f"changes. Its backup is {record['config_backup']}; use --force to "
                            "restore it anyway.")
        restores.append((path, Path(record["config_backup"]).read_text(encoding="utf-8")))
    if record.get("env_path"):
        path = Path(record["env_path"])
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if _sha(current) != record["env_sha256"] and not force:
            raise PlanError(f"{path} changed after the last apply; use --force to restore "
                            "it anyway.")
        backup = record.get("env_backup")
        restores.append((path, Path(backup).read_text(encoding="utf-8") if backup else None))
    rows = record.get("rows") or []
    db = instance.open_database() if rows else None
    conn = trans = None
    written: list[tuple[Path, str]] = []
    try:
        if db is not None:
            from sso_wizard.core import dbwrite
            conn = db.engine.connect()
            trans = conn.begin()
            dbwrite.revert_rows(conn, db.schema(), rows)
            messages.append(f"Restored {len(rows)} database row change(s).")
        for path, text in restores:
            previous = path.read_text(encoding="utf-8") if path.exists() else ""
            if text is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, text)
            written.append((path, previous))
            messages.append(f"Restored {path}.")
        if trans is not None:
            trans.commit()
    except BaseException:
        if trans is not None:
            trans.rollback()
        for path, previous in reversed(written):
            atomic_write(path, previous, backup=False)
        raise
    finally:
        if conn is not None:
            conn.close()
    state.drop_undo_record(instance.config_path)
    return messages
