"""Stage 7: run every check available here (nothing is written) and show what they found."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, Label, Static

from sso_wizard.core.findings import Finding
from sso_wizard.tui.messages import CheckFinished
from sso_wizard.tui.screens.base import StepScreen, describe_error
from sso_wizard.tui.widgets import FindingsView

#: How far back the check reads InvenTree's error log.
SINCE = "7d"
#: Seconds allowed for each network step of a check.
STEP_TIMEOUT = 10.0

if TYPE_CHECKING:
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.stages import Snapshot


def _read(instance: Instance) -> tuple[Instance, Snapshot]:
    """Blocking: re-read the install's files and database."""
    from sso_wizard.core.stages import Snapshot
    fresh = instance.reload()
    return fresh, Snapshot.read(fresh)


def section_title(where: str) -> str:
    """A heading for one group of `run_all`'s findings ("stage:callback", "server", ...)."""
    kind, _, name = where.partition(":")
    if kind == "stage":
        return f"Stage {name}"
    if kind == "provider":
        return f"Provider {name}: discovery, credential probe, verdict"
    return {"server": "Running InvenTree server",
            "email": "Email (SMTP conversation, nothing sent)",
            "errors": f"SSO failures in InvenTree's error log (last {SINCE})",
            "providers": "Providers",
            "database": "Database"}.get(where, where)


def section_id(where: str) -> str:
    return "check-" + re.sub(r"[^A-Za-z0-9-]", "-", where).lower()


class CheckScreen(StepScreen):
    STAGE = "check"
    AUTO_FOCUS = "#run-checks"
    WRITES = False
    NEXT_LABEL = "Finish"
    INTRO = ("Every check that needs nobody at the keyboard, without writing anything: each "
             "stage's configuration, each app's provider (discovery, a credential probe), the "
             "running server, the SMTP conversation (nothing is sent) and InvenTree's log of SSO "
             "failures. The final proof is a real sign-in: run sso-wizard check provider SLUG.")
    BINDINGS = [
        Binding("ctrl+r", "run_checks", "Run checks", tooltip="Run every check again"),
        Binding("ctrl+n", "next", "Finish", tooltip="Back to the summary"),
    ]

    def compose_form(self) -> ComposeResult:
        yield Button("Run checks again (ctrl+r)", id="run-checks", compact=True)
        yield Static("", id="check-summary")
        yield Vertical(id="check-results")

    def on_mount(self) -> None:
        self.run_checks()

    @on(Button.Pressed, "#run-checks")
    async def _run_pressed(self) -> None:
        await self.action_run_checks()

    async def action_run_checks(self) -> None:
        await self.query_one("#check-results", Vertical).remove_children()
        self.run_checks()

    @work(exclusive=True, exit_on_error=False, group="checks")
    async def run_checks(self) -> None:
        """Every non-interactive check core offers (the same as `sso-wizard check all`)."""
        from sso_wizard.core.checks.verdict import run_all
        summary = self.query_one("#check-summary", Static)
        summary.update(Content.from_markup("[$text-muted]Running the checks…[/]"))
        try:
            instance, snapshot = await asyncio.to_thread(_read, self.instance)
            report = await run_all(instance, snapshot, timeout=STEP_TIMEOUT, since=SINCE)
        except Exception as exc:  # noqa: BLE001 - a finding, never a crash
            summary.update(Content.from_markup("[$text-error]✗ The checks could not run.[/]"))
            self.post_message(CheckFinished("failed", "Checks", [
                Finding("check-failed", "error", describe_error(exc))]))
            return
        groups: dict[str, list[Finding]] = {}
        for where, finding in report.findings:
            groups.setdefault(where, []).append(finding)
        errors = sum(f.severity == "error" for _, f in report.findings)
        warnings = sum(f.severity == "warning" for _, f in report.findings)
        counts = f"{errors} error(s), {warnings} warning(s)"
        summary.update(Content.from_markup("[$text-success]✓ No errors[/] ($c)", c=counts)
                       if report.ok else
                       Content.from_markup("[$text-error]✗ Not working yet:[/] $c", c=counts))
        for where, findings in groups.items():
            self.post_message(CheckFinished(section_id(where), section_title(where), findings))
        self.wizard.refresh_status()

    @on(CheckFinished)
    async def _check_finished(self, message: CheckFinished) -> None:
        results = self.query_one("#check-results", Vertical)
        widgets: list[Widget] = [Label(Content.from_markup("[b]$t[/]", t=message.title),
                         classes="section-title")]
        if message.lines:
            widgets.append(Static("\n".join(message.lines), markup=False, classes="check-lines"))
        widgets.append(FindingsView(message.findings, empty="No problems found.",
                                    id=message.name))
        await results.mount_all(widgets)
