"""Stage 7: every check that needs nobody, and the live proof: a real sign-in.

The screen runs core's check-all on arrival. For one stored app it also probes the credentials
(no user needed) and runs the round trip the way `sso-wizard check provider SLUG` does: core
builds the attempt (`begin_roundtrip`), the screen shows the sign-in link plainly and copies it
with OSC 52 (never a browser), the admin pastes back the address they landed on (or the
provider's error text), or core's `CallbackListener` catches the callback when it is plain http
on this machine. `complete_roundtrip`, the server cross-check and `make_verdict` then say who
came back, whether InvenTree lets them in, and whether the app is verified. Every network step
runs in a worker; nothing is written except core's attempt and proof records (never a secret).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static

from sso_wizard.core.findings import Finding, error
from sso_wizard.tui.messages import (
    CheckFinished,
    CredentialsProbed,
    ProviderCheckFailed,
    SignInChecked,
    SignInStarted,
)
from sso_wizard.tui.screens.base import StepScreen, describe_error
from sso_wizard.tui.widgets import FindingsView, FormField

#: How far back the check reads InvenTree's error log.
SINCE = "7d"
#: Seconds allowed for each network step of a check.
STEP_TIMEOUT = 10.0

if TYPE_CHECKING:
    from sso_wizard.core.checks.oauth import (
        Attempt,
        CallbackListener,
        Identity,
        RoundTripResult,
    )
    from sso_wizard.core.checks.verdict import ProviderReport, SignInVerdict, Verdict
    from sso_wizard.core.db import AppRow
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.stages import Snapshot


def _read(instance: Instance) -> tuple[Instance, Snapshot]:
    """Blocking: re-read the install's files and database."""
    from sso_wizard.core.stages import Snapshot
    fresh = instance.reload()
    return fresh, Snapshot.read(fresh)


@dataclass
class SignInAttempt:
    """The round trip waiting for the admin's paste (never holds more than core's attempt)."""

    slug: str
    instance: Instance
    snapshot: Snapshot
    report: ProviderReport
    attempt: Attempt


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


#: ProviderReport.sections() titles -> the ids of the FindingsViews that show them.
REPORT_SECTION_IDS = {
    "Provider setup": "provider-setup",
    "Credential probe": "provider-probe",
    "Round trip": "provider-roundtrip",
    "Who signs in": "provider-signin",
    "Running server": "provider-server",
}
#: What a sign-in outcome means for the person, in plain words.
SIGNIN_WORDS = {
    "existing-user": "signs in as the existing InvenTree user {user}",
    "email-login": "signs in as the local InvenTree user {user} (email authentication)",
    "registers": "is registered as a new InvenTree user",
    "signup-form": "is registered through a sign-up form",
    "refused": "is refused by InvenTree",
    "unknown": "cannot be placed (the user tables could not be read)",
}


def app_label(app: AppRow) -> str:
    name = app.name or app.slug
    return f"{name} ({app.slug}, {app.provider})" if name != app.slug else (
        f"{app.slug} ({app.provider})")


def render_identity(identity: Identity) -> str:
    """The person the provider sent back, one claim a line (no token, no secret)."""
    source = {"userinfo": "userinfo", "id_token": "the ID token",
              "profile": "the profile API"}.get(identity.source, identity.source or "provider")
    lines = [f"Identity that came back (from {source}):"]
    lines.append(f"  sub: {identity.sub or identity.uid or '(none)'}")
    if identity.uid and identity.uid != identity.sub:
        lines.append(f"  uid: {identity.uid}")
    if identity.email:
        lines.append(f"  email: {identity.email} ("
                     + ("verified" if identity.email_verified else "not verified") + ")")
    else:
        lines.append("  email: (none)")
    if identity.name:
        lines.append(f"  name: {identity.name}")
    if identity.username:
        lines.append(f"  username: {identity.username}")
    if identity.groups is not None:
        lines.append(f"  groups: {', '.join(identity.groups) or '(empty)'}")
    return "\n".join(lines)


def render_signin(signin: SignInVerdict) -> Content:
    words = SIGNIN_WORDS.get(signin.outcome, signin.outcome).format(user=repr(signin.user))
    style = "$text-error" if signin.outcome == "refused" else (
        "$text-warning" if signin.outcome == "unknown" else "$text-success")
    return Content.from_markup(f"[b]This person[/b] [{style}]$words[/] ($why).", words=words,
                               why=signin.reason)


def render_roundtrip(rt: RoundTripResult) -> Content:
    if rt.status == "passed":
        return Content.from_markup(
            "[$text-success]✓ Round trip passed[/] ($mode): the provider redeemed the code sent "
            "to the registered callback.", mode=rt.mode)
    if rt.status == "failed":
        first = next((f.message for f in rt.findings if f.severity == "error"),
                     "see the findings below")
        return Content.from_markup("[$text-error]✗ Round trip failed:[/] $why", why=first)
    return Content.from_markup("[$text-muted]· Round trip not finished yet.[/]")


def render_probe(report: ProviderReport) -> Content:
    probe = report.probe
    if probe is None:
        return Content.from_markup("[$text-error]✗ The credentials could not be probed[/] "
                                   "(see the provider setup).")
    if probe.ok:
        return Content.from_markup("[$text-success]✓ Credentials accepted[/] by the token "
                                   "endpoint ($method, certainty: $certainty).",
                                   method=probe.auth_method or "?", certainty=probe.certainty)
    return Content.from_markup("[$text-error]✗ Credential probe: $outcome[/]",
                               outcome=probe.outcome)


def render_verdict(slug: str, verdict: Verdict) -> Content:
    """make_verdict's answer: verified, or exactly what is still unverified and why."""
    if verdict.verified:
        lines = [Content.from_markup("[b $text-success]✓ $slug: verified[/]", slug=slug)]
    else:
        lines = [Content.from_markup("[b $text-warning]! $slug: NOT verified yet[/]",
                                     slug=slug)]
    for item in verdict.proven:
        lines.append(Content.from_markup("  [$text-success]✓[/] $item", item=item))
    for left in verdict.unverified:
        lines.append(Content.from_markup("  [$text-warning]·[/] still unverified: $what — $why",
                                         what=left.get("what", ""), why=left.get("why", "")))
        if left.get("fix"):
            lines.append(Content.from_markup("      [$text-muted]fix:[/] $fix", fix=left["fix"]))
    return Content("\n").join(lines)


class CheckScreen(StepScreen):
    STAGE = "check"
    AUTO_FOCUS = "#run-checks"
    WRITES = False
    NEXT_LABEL = "Finish"
    INTRO = ("Every check that needs nobody at the keyboard runs as you arrive, without writing "
             "anything: each stage's configuration, each app's provider (discovery, a credential "
             "probe), the running server, the SMTP conversation (nothing is sent) and "
             "InvenTree's log of SSO failures. The final proof is a real sign-in: choose an app "
             "below and press Sign in.")
    BINDINGS = [
        Binding("ctrl+r", "run_checks", "Run checks", tooltip="Run every check again"),
        Binding("ctrl+t", "probe", "Probe", tooltip="Probe the chosen app's client id and "
                "secret at the provider's token endpoint (no user needed)"),
        Binding("ctrl+l", "sign_in", "Sign in", tooltip="Start a real sign-in through the "
                "chosen app's provider (the round trip)"),
        Binding("ctrl+y", "copy_link", "Copy link", tooltip="Copy the sign-in link to your "
                "terminal's clipboard again (OSC 52)"),
        Binding("ctrl+n", "next", "Finish", tooltip="Back to the summary"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._signin: SignInAttempt | None = None
        self._listener: CallbackListener | None = None

    def compose_form(self) -> ComposeResult:
        yield Button("Run checks again (ctrl+r)", id="run-checks", compact=True)
        yield Static("", id="check-summary")
        with Vertical(id="signin-box"):
            yield Label("Prove a real sign-in", classes="section-title")
            yield FormField("App", Select([], prompt="No app stored yet", id="signin-app"),
                            hint="Probe asks the provider about the stored client id and "
                                 "secret (no user needed). Sign in proves the whole path: you "
                                 "sign in once in your own browser and paste back where you "
                                 "land.",
                            id="field-signin-app")
            with Horizontal(id="signin-actions"):
                yield Button("Probe credentials (ctrl+t)", id="probe-credentials", compact=True)
                yield Button("Sign in (ctrl+l)", id="start-signin", variant="primary",
                             compact=True)
            yield Static("", id="signin-status")
            with Vertical(id="signin-steps"):
                yield Static("", id="signin-before", markup=False)
                yield Static("", id="authorize-url", markup=False)
                yield Button("Copy sign-in link (ctrl+y)", id="copy-authorize-url",
                             compact=True)
                yield Static("", id="signin-after", markup=False)
                yield FormField("Address you landed on (or the provider's error text)",
                                Input(placeholder="http…/login/callback/?code=…&state=…",
                                      id="callback-paste"),
                                hint="Paste it, then press enter.", id="field-callback-paste")
                yield Button("Check the pasted address", id="finish-signin", compact=True)
            yield Vertical(id="provider-report")
        yield Label("Every check", classes="section-title")
        yield Vertical(id="check-results")

    def on_mount(self) -> None:
        self.query_one("#signin-steps", Vertical).display = False
        self.query_one("#signin-status", Static).display = False
        self._fill_apps()
        self.run_checks()

    def status_changed(self) -> None:
        self._fill_apps()

    # -- the apps to prove -------------------------------------------------------------------

    def _apps(self) -> list[AppRow]:
        snapshot = self.snapshot
        return list(snapshot.apps) if snapshot is not None else []

    def _fill_apps(self) -> None:
        select = self.query_one("#signin-app", Select)
        apps = self._apps()
        options = [(app_label(a), a.slug) for a in apps]
        if getattr(self, "_app_options", None) == options:
            return
        self._app_options = options
        chosen = select.value
        select.set_options(options)
        slugs = [slug for _, slug in options]
        if chosen in slugs:
            select.value = chosen
        elif slugs:
            select.value = slugs[0]
        for button in self.query("#probe-credentials, #start-signin").results(Button):
            button.disabled = not slugs
        self.refresh_bindings()

    def chosen_slug(self) -> str | None:
        value = self.query_one("#signin-app", Select).value
        return value if isinstance(value, str) and value else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("probe", "sign_in") and not self._apps():
            return None  # shown, but there is nothing to prove yet
        if action == "copy_link":
            return self._signin is not None
        return super().check_action(action, parameters)

    @on(Select.Changed, "#signin-app")
    def _app_changed(self) -> None:
        self.refresh_bindings()

    # -- check all ---------------------------------------------------------------------------

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

    # -- probe and sign-in: actions ---------------------------------------------------------

    def _status(self, text: str) -> None:
        status = self.query_one("#signin-status", Static)
        status.update(Content.from_markup("[$text-muted]$t[/]", t=text))
        status.display = bool(text)

    def _need_app(self) -> str | None:
        slug = self.chosen_slug()
        if slug is None:
            self.notify("No app is stored yet: apply the credentials stage first.",
                        severity="warning")
        return slug

    @on(Button.Pressed, "#probe-credentials")
    def _probe_pressed(self) -> None:
        self.action_probe()

    def action_probe(self) -> None:
        slug = self._need_app()
        if slug is None:
            return
        self._status(f"Probing {slug}'s credentials at the provider…")
        self.probe_app(slug)

    @on(Button.Pressed, "#start-signin")
    def _signin_pressed(self) -> None:
        self.action_sign_in()

    def action_sign_in(self) -> None:
        slug = self._need_app()
        if slug is None:
            return
        self._status(f"Preparing a sign-in through {slug}: discovery, credential probe…")
        self.start_signin(slug)

    @on(Button.Pressed, "#copy-authorize-url")
    def _copy_pressed(self) -> None:
        self.action_copy_link()

    def action_copy_link(self) -> None:
        if self._signin is None:
            self.notify("Press Sign in first.", severity="warning")
            return
        self.app.copy_to_clipboard(self._signin.attempt.authorize_url)
        self.notify("Sent to your terminal's clipboard (OSC 52). If pasting gives nothing, "
                    "select the link with the mouse instead.", title="Sign-in link copied",
                    timeout=6)

    @on(Input.Submitted, "#callback-paste")
    @on(Button.Pressed, "#finish-signin")
    def _paste_submitted(self) -> None:
        text = self.query_one("#callback-paste", Input).value
        if self._signin is None:
            self.notify("Press Sign in first.", severity="warning")
            return
        if not text.strip():
            self.notify("Paste the address of the page you landed on first.",
                        severity="warning")
            return
        self._status("Checking the sign-in: redeeming the code, the ID token, userinfo, the "
                     "running server…")
        self.finish_signin(self._signin, text, "paste")

    # -- probe and sign-in: workers ---------------------------------------------------------

    async def _close_listener(self, listener: CallbackListener | None = None) -> None:
        """Stop serving the callback (the current listener, or that one)."""
        if listener is None or listener is self._listener:
            listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()

    async def on_unmount(self) -> None:
        await self._close_listener()

    async def _setup_and_probe(self, slug: str) -> tuple[Instance, Snapshot, ProviderReport]:
        """Re-read the install, then core's setup (discovery, JWKS) and credential probe."""
        from sso_wizard.core.checks.oauth import find_app
        from sso_wizard.core.checks.verdict import probe_report
        from sso_wizard.core.http import create_client
        instance, snapshot = await asyncio.to_thread(_read, self.instance)
        if snapshot.db_error:
            raise ValueError(snapshot.db_error)
        app = find_app(snapshot.apps, slug)
        async with create_client(timeout=STEP_TIMEOUT) as client:
            report = await probe_report(instance, app, client=client, timeout=STEP_TIMEOUT)
        return instance, snapshot, report

    @work(exclusive=True, exit_on_error=False, group="provider",
          description="probe an app's credentials")
    async def probe_app(self, slug: str) -> None:
        await self._close_listener()
        try:
            _, _, report = await self._setup_and_probe(slug)
        except Exception as exc:  # noqa: BLE001 - a finding on screen, never a crash
            self.post_message(ProviderCheckFailed(slug, _problem(exc)))
            return
        self.post_message(CredentialsProbed(slug, report))

    @work(exclusive=True, exit_on_error=False, group="provider", description="start a sign-in")
    async def start_signin(self, slug: str) -> None:
        """Setup and probe, then a fresh attempt (and listen mode when core says it can)."""
        from sso_wizard.core.checks.oauth import (
            ATTEMPT_LIFETIME,
            CallbackListener,
            RoundTripResult,
            begin_roundtrip,
            describe_listen,
        )
        from sso_wizard.core.checks.verdict import make_verdict
        await self._close_listener()
        try:
            instance, snapshot, report = await self._setup_and_probe(slug)
            setup = report.setup
            if not setup.supported or not setup.redirect_uri:
                report.roundtrip = RoundTripResult(slug=setup.slug, status="failed", findings=[
                    error("roundtrip-impossible", "The round trip cannot start: the "
                          "provider's endpoints or the callback URL are unknown (see the setup "
                          "findings).", "Fix the setup findings first.")])
                report.verdict = make_verdict(setup.slug, probe=report.probe,
                                              roundtrip=report.roundtrip, server=None)
                self.post_message(SignInChecked(slug, report))
                return
            attempt = await asyncio.to_thread(begin_roundtrip, instance, setup)
            listener, why_not = await CallbackListener.open(setup.redirect_uri)
        except Exception as exc:  # noqa: BLE001
            self.post_message(ProviderCheckFailed(slug, _problem(exc)))
            return
        report.roundtrip = RoundTripResult(slug=setup.slug, authorize_url=attempt.authorize_url)
        flow = SignInAttempt(slug, instance, snapshot, report, attempt)
        self._listener = listener
        self.post_message(SignInStarted(
            slug, attempt.authorize_url, setup.redirect_uri,
            describe_listen(setup.redirect_uri) if listener else "", why_not, report, attempt,
            instance, snapshot))
        if listener is None:
            return
        try:
            async with asyncio.timeout(ATTEMPT_LIFETIME):
                url = await listener.wait()
        except TimeoutError:
            self._status("Stopped listening: the attempt is too old. Press Sign in again.")
            return
        finally:  # also when cancelled: a paste came, another check started, the screen left
            await self._close_listener(listener)
        self._status("The browser reached the wizard: checking the sign-in…")
        await self._finish(flow, url, "listen")

    @work(exclusive=True, exit_on_error=False, group="provider",
          description="finish a sign-in")  # no argument reprs: the pasted address has a code
    async def finish_signin(self, flow: SignInAttempt, text: str, mode: str) -> None:
        await self._close_listener()
        await self._finish(flow, text, mode)

    async def _finish(self, flow: SignInAttempt, text: str, mode: str) -> None:
        """core's complete_roundtrip, the server cross-check and the honest verdict."""
        from sso_wizard.core.checks.oauth import complete_roundtrip
        from sso_wizard.core.checks.server import check_server
        from sso_wizard.core.checks.verdict import make_verdict, record_proof
        from sso_wizard.core.http import create_client
        report = flow.report
        setup = report.setup
        try:
            db = await asyncio.to_thread(flow.instance.open_database)
            async with create_client(timeout=STEP_TIMEOUT) as client:
                rt = await complete_roundtrip(flow.instance, flow.snapshot, setup, text,
                                              client=client, timeout=STEP_TIMEOUT,
                                              attempt=flow.attempt, mode=mode, db=db)
            rt.authorize_url = flow.attempt.authorize_url
            report.roundtrip = rt
            if rt.passed:
                await asyncio.to_thread(record_proof, flow.instance, setup, rt)
            report.server = await check_server(flow.instance, flow.snapshot, None,
                                               slugs=[setup.slug], timeout=STEP_TIMEOUT)
            report.verdict = make_verdict(setup.slug, probe=report.probe, roundtrip=rt,
                                          server=report.server)
        except Exception as exc:  # noqa: BLE001 - a finding on screen, never a crash
            self.post_message(ProviderCheckFailed(flow.slug, _problem(exc)))
            return
        self.post_message(SignInChecked(flow.slug, report))

    # -- probe and sign-in: results ---------------------------------------------------------

    @on(CredentialsProbed)
    async def _credentials_probed(self, message: CredentialsProbed) -> None:
        self._status("")
        await self._show_report(message.report, render_probe(message.report))

    @on(SignInStarted)
    async def _signin_started(self, message: SignInStarted) -> None:
        report = message.report
        self._signin = SignInAttempt(message.slug, message.instance, message.snapshot, report,
                                     message.attempt)
        name = report.setup.display
        self.query_one("#signin-before", Static).update(
            f"Heads-up: after you sign in, {name} sends the browser to InvenTree's callback "
            f"{message.redirect_uri}, and InvenTree refuses this sign-in there (the wizard "
            "started it, not InvenTree, so InvenTree does not know its state). That is "
            "expected: do not press its Continue button.\n\n"
            "1. Open this sign-in link in a browser, on any machine (it was sent to your "
            "terminal's clipboard with OSC 52; you can also select it with the mouse):")
        self.query_one("#authorize-url", Static).update(message.authorize_url)
        listen = (f"The wizard also listens on {message.listening}: if the browser reaches "
                  "this machine there, it catches the sign-in by itself."
                  if message.listening else
                  f"Listen mode is off ({message.why_not_listening}): paste the address.")
        self.query_one("#signin-after", Static).update(
            f"2. Sign in at {name}.\n"
            "3. Copy the full address of the page you land on (InvenTree's refusal, or the "
            f"provider's error page) and paste it below. {listen} The attempt can be "
            "finished within 10 minutes.")
        paste = self.query_one("#callback-paste", Input)
        paste.value = ""
        self.query_one("#signin-steps", Vertical).display = True
        self.refresh_bindings()
        self.app.copy_to_clipboard(message.authorize_url)
        self._status("Waiting for the sign-in" + (f" (listening on {message.listening})"
                                                   if message.listening else "") + "…")
        await self._show_report(report, render_probe(report))
        # ready for the paste, but the heads-up and the link stay in view
        paste.focus(scroll_visible=False)
        self.query_one("#signin-steps", Vertical).scroll_visible(animate=False, top=True)

    @on(SignInChecked)
    async def _signin_checked(self, message: SignInChecked) -> None:
        report = message.report
        rt = report.roundtrip
        self._status("")
        headline = render_roundtrip(rt) if rt is not None else render_probe(report)
        await self._show_report(report, headline)
        verdict = self.query("#provider-verdict")
        if verdict:
            verdict.first().scroll_visible(animate=False)
        self.wizard.refresh_status()

    @on(ProviderCheckFailed)
    async def _provider_check_failed(self, message: ProviderCheckFailed) -> None:
        self._status("")
        box = self.query_one("#provider-report", Vertical)
        await box.remove_children()
        await box.mount_all([
            Label(Content.from_markup("[b]$slug[/]", slug=message.slug),
                  classes="section-title"),
            FindingsView([error("provider-check-failed", message.message)],
                         id="provider-failed")])

    async def _show_report(self, report: ProviderReport, headline: Content) -> None:
        """The provider's sections (setup, probe, round trip, identity, who signs in, server)
        and the verdict, in place of the last ones."""
        box = self.query_one("#provider-report", Vertical)
        await box.remove_children()
        slug = report.setup.slug
        widgets: list[Widget] = [
            Label(Content.from_markup("[b]$slug[/]: callback $cb", slug=slug,
                                      cb=report.setup.redirect_uri or "(site_url not set)"),
                  classes="section-title"),
            Static(headline, id="provider-headline")]
        rt = report.roundtrip
        for title, findings in report.sections():
            section_id_ = REPORT_SECTION_IDS.get(title)
            if section_id_ is None:
                continue  # the verdict is shown on its own, below
            widgets.append(Label(title, classes="report-title"))
            if title == "Round trip" and rt is not None and rt.status == "pending":
                widgets.append(FindingsView([], id=section_id_,
                                            empty="Waiting for the sign-in."))
                continue
            widgets.append(FindingsView(findings, id=section_id_, empty="No problems found."))
            if title == "Round trip" and rt is not None and rt.identity is not None:
                widgets.append(Static(render_identity(rt.identity), id="signin-identity",
                                      markup=False))
                if rt.signin is not None:
                    widgets.append(Static(render_signin(rt.signin), id="signin-outcome"))
        if report.verdict is not None:
            widgets.append(Static(render_verdict(slug, report.verdict), id="provider-verdict",
                                  classes="verdict-verified" if report.verdict.verified
                                  else "verdict-unverified"))
        await box.mount_all(widgets)


def _problem(exc: BaseException) -> str:
    from sso_wizard.core.checks.oauth import AppNotFoundError
    if isinstance(exc, AppNotFoundError):
        return str(exc)
    return describe_error(exc)
