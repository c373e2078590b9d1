"""Stage 7: run every check available here (nothing is written) and show what they found."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, Label, Static

from sso_wizard.core.findings import Finding, info
from sso_wizard.core.stages import WRITING_STAGES
from sso_wizard.tui.messages import CheckFinished
from sso_wizard.tui.screens.base import StepScreen, describe_error
from sso_wizard.tui.widgets import FindingsView

if TYPE_CHECKING:
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.stages import Snapshot


def _read(instance: Instance) -> tuple[Instance, Snapshot, list[Finding]]:
    """Blocking: re-read the install and collect every stage's problems."""
    from sso_wizard.core.stages import Snapshot, status
    fresh = instance.reload()
    snapshot = Snapshot.read(fresh)
    findings: list[Finding] = []
    for name, report in status(fresh, snapshot).items():
        if name in WRITING_STAGES:
            findings += [Finding(f.code, f.severity, f"{name}: {f.message}", f.fix)
                         for f in report.findings if f.severity != "info"]
    return fresh, snapshot, findings


class CheckScreen(StepScreen):
    STAGE = "check"
    AUTO_FOCUS = "#run-checks"
    WRITES = False
    NEXT_LABEL = "Finish"
    INTRO = ("Every check available here, without writing anything: the configuration of each "
             "stage, each OpenID Connect app's discovery document and the SMTP conversation "
             "(no message is sent). Then restart InvenTree and sign in once through each "
             "provider: that is the final proof.")
    BINDINGS = [
        Binding("ctrl+r", "run_checks", "Run checks", tooltip="Run every check again"),
        Binding("ctrl+n", "next", "Finish", tooltip="Back to the summary"),
    ]

    def compose_form(self) -> ComposeResult:
        yield Button("Run checks again (ctrl+r)", id="run-checks", compact=True)
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
        from sso_wizard.core.checks.discovery import check_discovery
        from sso_wizard.core.checks.smtp import check_smtp
        from sso_wizard.core.stages.email import email_configured, smtp_settings
        try:
            instance, snapshot, problems = await asyncio.to_thread(_read, self.instance)
        except Exception as exc:  # noqa: BLE001 - a finding, never a crash
            self.post_message(CheckFinished("config", "Configuration", [
                Finding("read-failed", "error", describe_error(exc))]))
            return
        self.post_message(CheckFinished("config", "Configuration", problems))
        oidc = [a for a in snapshot.apps if a.provider == "openid_connect"]
        if not snapshot.apps:
            self.post_message(CheckFinished("apps", "Providers", [info(
                "no-apps", "No SSO app is stored yet: nothing to check at a provider.")]))
        for app in oidc:
            server_url = str(app.settings.get("server_url") or "")
            title = f"OpenID Connect discovery: {app.slug}"
            if not server_url:
                self.post_message(CheckFinished(f"oidc-{app.slug}", title, [info(
                    "no-server-url", "No server_url stored: nothing to check.")]))
                continue
            method = app.settings.get("token_auth_method")
            try:
                result = await check_discovery(server_url, token_auth_method=method or None)
            except Exception as exc:  # noqa: BLE001 - a finding, never a crash
                self.post_message(CheckFinished(f"oidc-{app.slug}", title, [
                    Finding("check-failed", "error", describe_error(exc))]))
                continue
            self.post_message(CheckFinished(f"oidc-{app.slug}", title, result.findings,
                                            [f"Fetched {result.url}"]))
        if email_configured(instance):
            try:
                smtp = await check_smtp(smtp_settings(instance))
            except Exception as exc:  # noqa: BLE001 - a finding, never a crash
                self.post_message(CheckFinished("smtp", "SMTP", [
                    Finding("check-failed", "error", describe_error(exc))]))
                self.wizard.refresh_status()
                return
            steps = [f"{'✓' if s.ok else '✗' if s.ok is False else '–'} {s.name}: {s.detail}"
                     for s in smtp.steps]
            self.post_message(CheckFinished("smtp", "SMTP", smtp.findings, steps))
        else:
            self.post_message(CheckFinished("smtp", "SMTP", [info(
                "email-not-configured", "Email is not configured: the SMTP check was skipped.")]))
        self.wizard.refresh_status()

    @on(CheckFinished)
    async def _check_finished(self, message: CheckFinished) -> None:
        results = self.query_one("#check-results", Vertical)
        widgets: list[Widget] = [Label(Content.from_markup("[b]$t[/]", t=message.title),
                         classes="section-title")]
        if message.lines:
            widgets.append(Static("\n".join(message.lines), markup=False, classes="check-lines"))
        widgets.append(FindingsView(message.findings, empty="No problems found.",
                                    id=f"check-{message.name}"))
        await results.mount_all(widgets)
