"""The wizard's stages, in order, and the two things every front end does with them.

Each writing stage module has `inspect(snapshot) -> list[Finding]` and
`plan(builder, answers) -> None`; `register` only inspects (it guides, never writes) and `check`
is served by core/checks. `status()` runs every inspect; `plan_answers()` builds one Plan from an
answers file for the chosen stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sso_wizard.core.findings import Finding, error, info

if TYPE_CHECKING:
    from sso_wizard.core.answers import Answers
    from sso_wizard.core.db import AppRow, Database, SchemaInfo
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.plan import Plan

STAGES = ("backends", "register", "credentials", "callback", "settings", "email", "check")
WRITING_STAGES = ("backends", "credentials", "callback", "settings", "email")
StageState = Literal["done", "attention", "todo"]


@dataclass
class Snapshot:
    """What inspect needs: the instance, plus the DB state read once (or why it could not be)."""

    instance: Instance
    apps: list[AppRow] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    schema: SchemaInfo | None = None
    sites: dict[int, str] = field(default_factory=dict)
    db_error: str | None = None
    db_name: str = ""  # the database URL without its password

    @property
    def db_description(self) -> str:
        """For people: the database, or why it could not be read."""
        return f"unavailable: {self.db_error}" if self.db_error else self.db_name

    @classmethod
    def read(cls, instance: Instance, db: Database | None = None) -> Snapshot:
        from sso_wizard.core.db import DatabaseError
        snap = cls(instance)
        try:
            db = db or instance.open_database()
            snap.db_name = db.description
            snap.schema = db.require_migrated()
            with db.connect() as conn:
                snap.apps = db.read_apps(conn)
                snap.settings = db.read_settings(None, conn)
                snap.sites = db.read_sites(conn)
        except DatabaseError as exc:
            snap.db_error = str(exc)
        return snap

    @property
    def db_ok(self) -> bool:
        return self.db_error is None

    def setting(self, key: str, default: Any = None) -> Any:
        """A setting's effective value: a global_settings lock wins over the DB row."""
        lock = self.instance.global_setting_lock(key)
        if lock is not None:
            return lock.value
        return self.settings.get(key, default)

    def setting_bool(self, key: str, default: bool) -> bool:
        from sso_wizard.core.instance import is_true
        value = self.setting(key)
        return default if value is None else is_true(value)


@dataclass
class StageReport:
    name: str
    state: StageState
    findings: list[Finding]

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "findings": [f.to_json() for f in self.findings]}


def _module(name: str) -> Any:
    import importlib
    return importlib.import_module(f"sso_wizard.core.stages.{name}")


def status(instance: Instance, snapshot: Snapshot | None = None) -> dict[str, StageReport]:
    snap = snapshot or Snapshot.read(instance)
    reports: dict[str, StageReport] = {}
    for name in STAGES:
        module = _module(name)
        findings: list[Finding] = list(module.inspect(snap))
        state: StageState = module.state(snap, findings)
        reports[name] = StageReport(name, state, findings)
    if snap.db_error:
        reports["credentials"].findings.insert(0, error("database-unreadable", snap.db_error))
        reports["credentials"].state = "attention"
    return reports


def default_state(findings: list[Finding], done: bool) -> StageState:
    if any(f.severity in ("error", "warning") for f in findings):
        return "attention"
    return "done" if done else "todo"


def plan_answers(instance: Instance, answers: Answers, only: tuple[str, ...] | None = None
                 ) -> Plan:
    """One plan for the answers, restricted to `only` stages (all writing stages by default)."""
    from sso_wizard.core.plan import PlanBuilder
    stages = only or WRITING_STAGES
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(STAGES)}")
    needs_db = any(s in stages for s in ("credentials", "settings")) and (
        bool(answers.apps) or bool(answers.settings))
    db = instance.open_database() if needs_db else None
    builder = PlanBuilder(instance, tuple(stages), db)
    for name in WRITING_STAGES:
        if name in stages:
            _module(name).plan(builder, answers)
    return builder.build()


def callback_url(site_url: str, slug: str) -> str:
    """InvenTree's SSO callback for an app: `<site>/accounts/<slug>/login/callback/`."""
    return f"{site_url.rstrip('/')}/accounts/{slug}/login/callback/"


def todo(code: str, message: str, fix: str = "") -> Finding:
    return info(code, message, fix)
