"""Stage 2: how to register InvenTree at the provider, with the exact values to paste.

Nothing is written. The callback URL is shown plainly and can be copied to the admin's own
terminal clipboard with OSC 52 (works over SSH); the wizard never tries to open a browser.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Button, Input, Label, Select, Static

from sso_wizard.core import validators as core_validators
from sso_wizard.core.providers import Provider, get_provider
from sso_wizard.core.stages.register import register_instructions
from sso_wizard.tui import validators
from sso_wizard.tui.choices import SITE_PLACEHOLDER, expected_callback, working_providers
from sso_wizard.tui.screens.base import StepScreen
from sso_wizard.tui.widgets import FormField


class RegisterScreen(StepScreen):
    STAGE = "register"
    AUTO_FOCUS = "#site-url"
    WRITES = False
    INTRO = ("Register InvenTree as an app at the provider, in its web console (any browser, "
             "any machine). Paste the exact values below; bring back the client id and secret "
             "for the next stage. Nothing is written here.")
    BINDINGS = [
        Binding("ctrl+y", "copy_callback", "Copy callback URL",
                tooltip="Copy the callback URL to your terminal's clipboard (OSC 52)"),
    ]

    def compose_form(self) -> ComposeResult:
        app = self.wizard
        providers = working_providers(app.choices.providers, self.instance, self.snapshot)
        ids = [p.id for p in providers]
        current = app.choices.provider if app.choices.provider in ids else ids[0]
        app.choices.provider = current
        site = app.choices.site_url or self.instance.site_url
        yield FormField("Provider", Select([(p.name, p.id) for p in providers], value=current,
                                           allow_blank=False, id="provider"),
                        id="field-provider")
        yield FormField("Public URL of InvenTree (site_url)",
                        Input(site, placeholder="https://inventree.example.com",
                              validators=[validators.site_url()], id="site-url"),
                        hint="The address people type. Used for the homepage and callback "
                             "URLs here; written in the callback stage.",
                        id="field-site-url")
        yield FormField("URL slug (provider_id)",
                        Input(self._slug_for(get_provider(current)),
                              validators=[validators.slug()], id="slug"),
                        hint="OpenID Connect apps: the callback is /accounts/<slug>/login/"
                             "callback/, so the slug must not change after registering.",
                        id="field-slug")
        yield Vertical(*self._setting_fields(get_provider(current)), id="provider-settings")
        with Vertical(id="callback-box"):
            yield Label("Callback (redirect) URL to register", classes="section-title")
            yield Static("", id="callback-url", markup=False)
            yield Button("Copy callback URL (OSC 52)", id="copy-callback", compact=True)
        yield Label("Steps", classes="section-title")
        yield Static("", id="guide", markup=False)

    def on_mount(self) -> None:
        self._update_guide()

    def _setting_fields(self, provider: Provider) -> list[FormField]:
        """Inputs for the provider's non-secret settings the steps mention (server_url, …)."""
        known = self.wizard.choices.settings.get(provider.id, {})
        fields = []
        for spec in provider.extra_settings:
            if spec.secret or spec.name == "token_auth_method":
                continue
            rules = [validators.url()] if spec.name.endswith("_url") else []
            fields.append(FormField(
                spec.label, Input(known.get(spec.name, ""), placeholder=spec.default,
                                  validators=rules, id=f"setting-{spec.name.replace('_', '-')}",
                                  classes="provider-setting", name=spec.name),
                hint=spec.help + " Fills in the steps below; written in the next stage.",
                id=f"field-setting-{spec.name.replace('_', '-')}"))
        return fields

    def provider_settings(self) -> dict[str, str]:
        return {control.name: control.value.strip() for control in
                self.query(".provider-setting").results(Input)
                if control.name and control.value.strip()}

    # -- state ------------------------------------------------------------------------------

    def _slug_for(self, provider: Provider) -> str:
        return self.wizard.choices.slugs.get(provider.id, provider.slug)

    def provider(self) -> Provider:
        value = self.query_one("#provider", Select).value
        return get_provider(str(value))

    def site_url(self) -> str:
        return self.query_one("#site-url", Input).value.strip().rstrip("/")

    def slug(self) -> str:
        provider = self.provider()
        if not provider.is_oidc:
            return provider.slug
        typed = self.query_one("#slug", Input).value.strip()
        return typed or provider.slug

    def callback(self) -> str:
        return expected_callback(self.instance, self.site_url(), self.slug())

    # -- events -----------------------------------------------------------------------------

    @on(Select.Changed, "#provider")
    async def _provider_changed(self) -> None:
        provider = self.provider()
        self.wizard.choices.provider = provider.id
        self.query_one("#slug", Input).value = self._slug_for(provider)
        container = self.query_one("#provider-settings", Vertical)
        await container.remove_children()
        await container.mount_all(self._setting_fields(provider))
        if not self.wizard.cursor_blink:
            for control in container.query(Input):
                control.cursor_blink = False
        self._update_guide()

    @on(Input.Changed, ".provider-setting")
    def _setting_changed(self) -> None:
        self.wizard.choices.settings[self.provider().id] = self.provider_settings()
        self._update_guide()

    @on(Input.Changed, "#site-url")
    def _site_changed(self, event: Input.Changed) -> None:
        if event.validation_result is None or event.validation_result.is_valid:
            self.wizard.choices.site_url = self.site_url()
        self._update_guide()

    @on(Input.Changed, "#slug")
    def _slug_changed(self) -> None:
        provider = self.provider()
        if provider.is_oidc and self.query_one("#slug", Input).value.strip():
            self.wizard.choices.slugs[provider.id] = self.slug()
        self._update_guide()

    def _update_guide(self) -> None:
        provider = self.provider()
        self.query_one("#field-slug").display = provider.is_oidc
        site = self.site_url()
        homepage = site if not core_validators.site_url_problem(site) else SITE_PLACEHOLDER
        callback = self.callback()
        self.query_one("#callback-url", Static).update(callback)
        settings = {k: v for k, v in self.provider_settings().items()
                    if not core_validators.url_problem(v) or not k.endswith("_url")}
        guide = register_instructions(provider, callback_url=callback, homepage_url=homepage,
                                      settings=settings)
        self.query_one("#guide", Static).update("\n".join(guide.to_text()))

    @on(Button.Pressed, "#copy-callback")
    def _copy_pressed(self) -> None:
        self.action_copy_callback()

    def action_copy_callback(self) -> None:
        callback = self.callback()
        if SITE_PLACEHOLDER in callback:
            self.notify("Enter the public URL of InvenTree first.", severity="warning")
            return
        self.app.copy_to_clipboard(callback)
        self.notify("Sent to your terminal's clipboard (OSC 52). If pasting gives nothing, your "
                    "terminal does not allow it: select the URL with the mouse instead.",
                    title="Callback URL copied", timeout=6)
