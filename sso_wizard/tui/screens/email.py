"""Stage 6: InvenTree's outgoing mail (its `email` section). SSO sign-up stays closed until
email works, so a test runs the real SMTP conversation in a worker before anything is written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Collapsible, Input, Label, Static

from sso_wizard.core.findings import error
from sso_wizard.core.stages.email import effective
from sso_wizard.tui import validators
from sso_wizard.tui.messages import SmtpChecked
from sso_wizard.tui.screens.base import StepScreen, describe_error
from sso_wizard.tui.widgets import FindingsView, FormField

if TYPE_CHECKING:
    from sso_wizard.core.checks.smtp import SmtpCheckResult, SmtpSettings

#: The answers file's words for the one cross-field rule.
TLS_AND_SSL = ("tls and ssl are both true: use tls (STARTTLS, usually port 587) or ssl "
               "(implicit TLS, usually port 465), not both")
TEXT_FIELDS = (("host", "email-host"), ("username", "email-username"),
               ("sender", "email-sender"))


def render_steps(result: SmtpCheckResult) -> Content:
    lines: list[Content] = []
    for step in result.steps:
        if step.ok is None:
            mark = "[$text-muted]–[/]"
        else:
            mark = "[$text-success]✓[/]" if step.ok else "[$text-error]✗[/]"
        lines.append(Content.from_markup(f"{mark} $name  $detail", name=f"{step.name:<11}",
                                         detail=step.detail))
    if result.suggested:
        pairs = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}"
                          for k, v in result.suggested.items())
        lines.append(Content.from_markup("[b]Suggested:[/] $p", p=pairs))
    return Content("\n").join(lines) if lines else Content("No steps ran.")


class EmailScreen(StepScreen):
    STAGE = "email"
    AUTO_FOCUS = "#email-host"
    INTRO = ("The mail server InvenTree sends through. SSO sign-up needs a host and a sender. "
             "Test the settings before applying; applying is a config change (restart "
             "InvenTree).")
    BINDINGS = [
        Binding("ctrl+t", "test_smtp", "Test SMTP",
                tooltip="Talk to the mail server with the values on screen"),
    ]
    FIELD_FOR_PLACE = {"email": "field-encryption", "email.host": "field-email-host",
                       "email.port": "field-email-port", "email.sender": "field-email-sender",
                       "email.username": "field-email-username",
                       "email.password": "field-email-password"}

    def compose_form(self) -> ComposeResult:
        values = effective(self.instance)
        port = values["port"]
        yield FormField("SMTP host", Input(str(values["host"] or ""),
                                           placeholder="smtp.example.com", id="email-host"),
                        id="field-email-host")
        yield FormField("Port", Input(str(port if port is not None else 25),
                                      validators=[validators.port()], id="email-port"),
                        hint="587 with STARTTLS, 465 with implicit TLS, 25 plain.",
                        id="field-email-port")
        yield FormField("Encryption", Horizontal(
            Checkbox("STARTTLS (tls)", value=bool(values["tls"]), id="email-tls"),
            Checkbox("Implicit TLS (ssl)", value=bool(values["ssl"]), id="email-ssl"),
            id="encryption"), id="field-encryption")
        yield FormField("Username", Input(str(values["username"] or ""), id="email-username"),
                        id="field-email-username")
        yield FormField("Password", Input(
            "", password=True, id="email-password",
            placeholder="stored: leave empty to keep it" if values["password"] else "none"),
            id="field-email-password")
        yield FormField("Sender address (From)",
                        Input(str(values["sender"] or ""), placeholder="inventree@example.com",
                              validators=[validators.email(optional=True)], id="email-sender"),
                        id="field-email-sender")
        yield Label("Test", classes="section-title")
        yield FormField("Send a test message to (optional; empty: no message is sent)",
                        Input(placeholder="you@example.com",
                              validators=[validators.email(optional=True)], id="test-to"),
                        id="field-test-to")
        yield Button("Test SMTP (ctrl+t)", id="test-smtp", compact=True)
        yield Static("", id="smtp-steps")
        yield FindingsView(id="smtp-findings", empty="")
        with Collapsible(title="SMTP transcript (password redacted)", id="smtp-transcript-box"):
            yield Static("", id="smtp-transcript", markup=False)

    def on_mount(self) -> None:
        self.query_one("#smtp-findings").display = False
        self.query_one("#smtp-transcript-box").display = False

    # -- values ----------------------------------------------------------------------------------

    def form_values(self) -> dict[str, Any]:
        text = {key: self.query_one(f"#{wid}", Input).value.strip() for key, wid in TEXT_FIELDS}
        port_text = self.query_one("#email-port", Input).value.strip()
        return {**text,
                "port": int(port_text) if port_text.isdigit() else port_text,
                "tls": self.query_one("#email-tls", Checkbox).value,
                "ssl": self.query_one("#email-ssl", Checkbox).value}

    def typed_password(self) -> str:
        return self.query_one("#email-password", Input).value

    def extra_problems(self) -> list[tuple[Widget, str]]:
        values = self.form_values()
        field = self.query_one("#field-encryption", FormField)
        if values["tls"] and values["ssl"]:
            field.show_problem(TLS_AND_SSL)
            return [(self.query_one("#email-tls"), TLS_AND_SSL)]
        field.show_problem(None)
        return []

    @on(Checkbox.Changed, "#email-tls")
    @on(Checkbox.Changed, "#email-ssl")
    def _encryption_changed(self) -> None:
        self.extra_problems()

    def answers_data(self) -> dict[str, Any]:
        current = effective(self.instance)
        wanted: dict[str, Any] = {}
        for key, value in self.form_values().items():
            now = current[key]
            if key in ("tls", "ssl"):
                if value != bool(now):
                    wanted[key] = value
            elif str(value) != str(now if now is not None else ""):
                wanted[key] = value
        password = self.typed_password()
        if password:
            wanted["password"] = password
        return {"email": wanted} if wanted else {}

    # -- the SMTP test ----------------------------------------------------------------------------

    @on(Button.Pressed, "#test-smtp")
    def _test_pressed(self) -> None:
        self.action_test_smtp()

    def action_test_smtp(self) -> None:
        for widget_id in ("email-port", "test-to"):
            control = self.query_one(f"#{widget_id}", Input)
            result = control.validate(control.value)
            if result is not None and not result.is_valid:
                control.focus()
                self.notify("; ".join(result.failure_descriptions), severity="error")
                return
        from sso_wizard.core.checks.smtp import SmtpSettings
        values = self.form_values()
        if not values["host"]:
            self.notify("Enter the SMTP host first.", severity="warning")
            return
        current = effective(self.instance)
        settings = SmtpSettings(
            host=values["host"], port=int(values["port"]), username=values["username"],
            password=self.typed_password() or str(current["password"] or ""),
            tls=values["tls"], ssl=values["ssl"], sender=values["sender"] or values["username"],
            prefix=str(current["prefix"] if current["prefix"] is not None else "[InvenTree] "))
        send_to = self.query_one("#test-to", Input).value.strip() or None
        self.query_one("#smtp-steps", Static).update(Content.from_markup(
            "[$text-muted]Talking to $h:$p …[/]", h=settings.host, p=str(settings.port)))
        self.query_one("#smtp-findings").display = False
        self.run_smtp_check(settings, send_to)

    @work(exclusive=True, exit_on_error=False, group="smtp", description="SMTP check")
    async def run_smtp_check(self, settings: SmtpSettings, send_to: str | None) -> None:
        from sso_wizard.core.checks.smtp import SmtpCheckResult, check_smtp
        try:
            result = await check_smtp(settings, send_to=send_to)
        except Exception as exc:  # noqa: BLE001 - the check never raises; if it did, say so
            result = SmtpCheckResult(findings=[
                error("check-failed", f"The SMTP check failed: {describe_error(exc)}")])
        self.post_message(SmtpChecked(result))

    @on(SmtpChecked)
    def _smtp_checked(self, message: SmtpChecked) -> None:
        result = message.result
        self.query_one("#smtp-steps", Static).update(render_steps(result))
        findings = self.query_one("#smtp-findings", FindingsView)
        findings.show(result.findings, empty="The email settings work.")
        findings.display = True
        box = self.query_one("#smtp-transcript-box")
        box.display = bool(result.transcript)
        self.query_one("#smtp-transcript", Static).update("\n".join(result.transcript))
        findings.scroll_visible()
