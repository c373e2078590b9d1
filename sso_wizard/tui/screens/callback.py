"""Stage 4: site_url, login_default_protocol and the proxy settings that shape the callback URL."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Checkbox, Input, Label, Select, Static

from sso_wizard.core import validators as core_validators
from sso_wizard.core.providers import get_provider
from sso_wizard.core.stages.callback import compare_callback
from sso_wizard.tui import validators
from sso_wizard.tui.choices import expected_callback
from sso_wizard.tui.screens.base import StepScreen
from sso_wizard.tui.widgets import FormField

FORWARDED = (
    ("use_x_forwarded_proto", "forwarded-proto",
     "Trust X-Forwarded-Proto from the proxy (use_x_forwarded_proto)"),
    ("use_x_forwarded_host", "forwarded-host",
     "Trust X-Forwarded-Host from the proxy (use_x_forwarded_host)"),
    ("use_x_forwarded_port", "forwarded-port",
     "Trust X-Forwarded-Port from the proxy (use_x_forwarded_port)"),
)
PROTOCOL_HINT = "https forces https callbacks, whatever the proxy sends. "


class CallbackScreen(StepScreen):
    STAGE = "callback"
    AUTO_FOCUS = "#site-url"
    INTRO = ("InvenTree builds each provider's callback URL from the request it receives. "
             "site_url must be the address people type; behind a TLS proxy InvenTree must trust "
             "the proxy's X-Forwarded headers. A config change: restart InvenTree after "
             "applying.")
    FIELD_FOR_PLACE = {"site_url": "field-site-url",
                       "login_default_protocol": "field-protocol"}

    def compose_form(self) -> ComposeResult:
        inst = self.instance
        site = self.wizard.choices.site_url or inst.site_url
        yield FormField("Public URL (site_url)",
                        Input(site, placeholder="https://inventree.example.com",
                              validators=[validators.site_url()], id="site-url"),
                        hint=self._origin("site_url"), id="field-site-url")
        yield FormField("Callback protocol (login_default_protocol)",
                        Select([("https", "https"), ("http", "http")],
                               value=self._current_protocol(site), allow_blank=False,
                               id="protocol"),
                        hint=PROTOCOL_HINT + self._origin("login_default_protocol"),
                        id="field-protocol")
        for key, widget_id, label in FORWARDED:
            yield Checkbox(label, value=bool(inst.value(key)), id=widget_id)
        yield Label("Callback URLs InvenTree will send", classes="section-title")
        yield Static("", id="callback-preview")
        yield FormField("Registered at the provider (optional, to compare)",
                        Input(placeholder="paste the redirect URI from the provider's console",
                              id="registered-url"),
                        id="field-registered")
        yield Static("", id="compare-result")

    def status_changed(self) -> None:
        """After an apply: say where the values come from now."""
        for field_id, key, prefix in (
                ("field-site-url", "site_url", ""),
                ("field-protocol", "login_default_protocol", PROTOCOL_HINT)):
            for hint in self.query(f"#{field_id} > .field-hint").results(Static):
                hint.update(prefix + self._origin(key))

    def _origin(self, key: str) -> str:
        resolved = self.instance.resolve(key)
        if resolved.source == "default":
            return "Now: not set."
        return f"Now: {resolved.value!r}, from {resolved.origin}."

    def _current_protocol(self, site: str) -> str:
        explicit = self.instance.resolve("login_default_protocol")
        if explicit.source != "default" and explicit.value in ("http", "https"):
            if site.startswith("https://"):
                return "https"  # an https site must send https callbacks
            return str(explicit.value)
        return "https" if site.startswith("https://") or not site else "http"

    def on_mount(self) -> None:
        self._update_preview()

    # -- preview -------------------------------------------------------------------------------

    def site_url(self) -> str:
        return self.query_one("#site-url", Input).value.strip().rstrip("/")

    def protocol(self) -> str:
        return str(self.query_one("#protocol", Select).value)

    def slugs(self) -> list[str]:
        out = [row.slug for row in (self.snapshot.apps if self.snapshot else [])]
        choices = self.wizard.choices
        for pid in ([choices.provider] if choices.provider else []) + choices.providers:
            provider = get_provider(pid)
            out.append(choices.slugs.get(pid, provider.slug) if provider.is_oidc
                       else provider.allauth_id)
        return list(dict.fromkeys(out))

    def callbacks(self) -> dict[str, str]:
        return {slug: expected_callback(self.instance, self.site_url(), slug, self.protocol())
                for slug in self.slugs()}

    @on(Input.Changed, "#site-url")
    def _site_changed(self, event: Input.Changed) -> None:
        site = self.site_url()
        if not core_validators.site_url_problem(site):
            self.wizard.choices.site_url = site
            if site.startswith("https://") and self.protocol() != "https":
                self.query_one("#protocol", Select).value = "https"
        self._update_preview()

    @on(Select.Changed, "#protocol")
    @on(Input.Changed, "#registered-url")
    def _update_preview(self) -> None:
        callbacks = self.callbacks()
        if callbacks:
            preview = Content("\n").join(
                Content.from_markup("[b]$slug[/]: $url", slug=slug, url=url)
                for slug, url in callbacks.items())
        else:
            preview = Content.from_markup("[$text-muted]No provider chosen yet.[/]")
        self.query_one("#callback-preview", Static).update(preview)
        self.query_one("#compare-result", Static).update(self._comparison(callbacks))

    def _comparison(self, callbacks: dict[str, str]) -> Content:
        registered = self.query_one("#registered-url", Input).value
        if not registered.strip() or not callbacks:
            return Content("")
        slug = next((s for s in callbacks if f"/accounts/{s}/" in registered),
                    next(iter(callbacks)))
        differences = compare_callback(callbacks[slug], registered)
        if not differences:
            return Content.from_markup("[$text-success]✓ Matches the callback for $s.[/]",
                                       s=slug)
        return Content("\n").join([
            Content.from_markup("[$text-error]✗ Differs from the callback for $s:[/]", s=slug),
            *(Content.from_markup("  • $d", d=d) for d in differences)])

    # -- answers ---------------------------------------------------------------------------------

    def answers_data(self) -> dict[str, Any]:
        inst = self.instance
        data: dict[str, Any] = {}
        site = self.site_url()
        if site != inst.site_url:
            data["site_url"] = site
        explicit = inst.resolve("login_default_protocol")
        current = explicit.value if explicit.source != "default" else None
        if self.protocol() != current:
            data["login_default_protocol"] = self.protocol()
        for key, widget_id, _ in FORWARDED:
            wanted = self.query_one(f"#{widget_id}", Checkbox).value
            if wanted != bool(inst.value(key)):
                data[key] = wanted
        return data
