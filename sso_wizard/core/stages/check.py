"""Stage 7, check: the live proof (served by core/checks). Its status is what was last proven."""

from __future__ import annotations

from sso_wizard.core.findings import Finding
from sso_wizard.core.stages import Snapshot, StageState, todo


def inspect(snap: Snapshot) -> list[Finding]:
    if not snap.apps:
        return []
    return [todo("check-not-run", "No live check has proven a sign-in yet.",
                 "Run sso-wizard check email, then sign in once through each provider.")]


def state(snap: Snapshot, findings: list[Finding]) -> StageState:
    return "todo"
