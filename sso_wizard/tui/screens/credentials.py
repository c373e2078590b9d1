"""Stage 3: the app's client id and secret (a SocialApp row), plus provider-specific settings.

The secret is a password input: hidden while typed, never prefilled, never shown again; left
empty it keeps the stored one. For OpenID Connect the issuer is checked in a worker as soon as
it is entered (discovery document, issuer match, endpoints, email scope).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, Select, Static

from sso_wizard.core.findings import error
from sso_wizard.core.providers import Provider, ProviderField, get_provider
from sso_wizard.core.stages.credentials import matches
from sso_wizard.core.validators import SOCIALAPP_LIMITS
from sso_wizard.tui import validators
from sso_wizard.tui.choices import working_providers
from sso_wizard.tui.messages import IssuerChecked
from sso_wizard.tui.screens.base import StepScreen, describe_error
from sso_wizard.tui.widgets import FindingsView, FormField

if TYPE_CHECKING:
    from textual.validation import Validator

    from sso_wizard.core.db import AppRow

#: Delay between the last keystroke and an automatic issuer check.
ISSUER_CHECK_DELAY = 0.8
COLUMNS = ("client_id", "secret", "key")


def kebab(name: str) -> str:
    return name.replace("_", "-")


class CredentialsScreen(StepScreen):
    STAGE = "credentials"
    AUTO_FOCUS = "#app-client-id"
    INTRO = ("Paste what the provider issued. The secret stays hidden as you type and is never "
             "shown again; leave it empty to keep a stored one. Stored in InvenTree's database "
             "(a SocialApp): effective without a restart.")
    BINDINGS = [
        Binding("ctrl+t", "check_issuer", "Check issuer",
                tooltip="Fetch the OpenID Connect discovery document for the issuer"),
    ]
    FIELD_FOR_PLACE = {
        "apps[].provider_id": "field-app-slug",
        "apps[].name": "field-app-name",
        "apps[].client_id": "field-app-client-id",
        "apps[].secret": "field-app-secret",
        "apps[].key": "field-app-key",
        "apps[].settings.server_url": "field-app-server-url",
    }

    def __init__(self) -> None:
        super().__init__()
        self._checked_issuer: str | None = None

    def compose_form(self) -> ComposeResult:
        app = self.wizard
        providers = working_providers(app.choices.providers, self.instance, self.snapshot)
        ids = [p.id for p in providers]
        current = app.choices.provider if app.choices.provider in ids else ids[0]
        app.choices.provider = current
        yield FormField("Provider", Select([(p.name, p.id) for p in providers], value=current,
                                           allow_blank=False, id="provider"),
                        id="field-provider")
        yield Static("", id="app-state")
        yield Vertical(*self._fields(get_provider(current)), id="app-fields")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "check_issuer":
            found = self.query("#provider")
            return bool(found) and self.provider().is_oidc
        return super().check_action(action, parameters)

    # -- which app ---------------------------------------------------------------------------

    def provider(self) -> Provider:
        return get_provider(str(self.query_one("#provider", Select).value))

    def _default_slug(self, provider: Provider) -> str:
        return self.wizard.choices.slugs.get(provider.id, provider.slug)

    def slug(self) -> str:
        provider = self.provider()
        if not provider.is_oidc:
            return provider.allauth_id
        found = self.query("#app-slug")
        typed = found.first(Input).value.strip() if found else ""
        return typed or self._default_slug(provider)

    def stored_row(self, provider: Provider | None = None, slug: str | None = None
                   ) -> AppRow | None:
        provider = provider or self.provider()
        slug = slug or (self._default_slug(provider) if provider.is_oidc else provider.allauth_id)
        snapshot = self.snapshot
        for row in snapshot.apps if snapshot is not None else []:
            if matches(row, provider.allauth_id, slug):
                return row
        return None

    # -- the fields ---------------------------------------------------------------------------

    def _fields(self, provider: Provider) -> list[FormField]:
        slug = self._default_slug(provider) if provider.is_oidc else provider.allauth_id
        row = self.stored_row(provider, slug)
        fields: list[FormField] = []
        if provider.is_oidc:
            fields.append(FormField(
                "URL slug (provider_id)",
                Input(slug, validators=[validators.slug(),
                                        validators.max_length(SOCIALAPP_LIMITS["provider_id"])],
                      id="app-slug"),
                hint="Part of the callback URL registered at the provider: "
                     "/accounts/<slug>/login/callback/.", id="field-app-slug"))
        fields.append(FormField(
            "Name on the login button",
            Input(row.name if row else provider.name,
                  validators=[validators.max_length(SOCIALAPP_LIMITS["name"])], id="app-name"),
            id="field-app-name"))
        for spec in provider.all_fields:
            fields.append(self._field(spec, row))
        if provider.is_oidc:
            fields.append(FormField(
                "Issuer check", FindingsView(empty="Enter the issuer URL (server_url) to check "
                                             "it.", id="issuer-findings"),
                id="field-issuer-check"))
        for trap in provider.traps:
            fields.append(FormField("Watch out", Static(trap, markup=False,
                                                         classes="trap"), classes="trap-field"))
        return fields

    def _field(self, spec: ProviderField, row: AppRow | None) -> FormField:
        rules: list[Validator] = []
        if spec.name in COLUMNS:
            stored = getattr(row, spec.name) if row else ""
            rules.append(validators.max_length(SOCIALAPP_LIMITS[spec.name]))
        elif row is not None:
            stored = str(row.settings.get(spec.name, ""))
        else:  # typed on the register screen
            provider_id = self.wizard.choices.provider or ""
            stored = self.wizard.choices.settings.get(provider_id, {}).get(spec.name, "")
        if spec.secret:
            rules.append(validators.secret_text())
            placeholder = ("stored: leave empty to keep it" if row and stored
                           else "paste the secret")
            control = Input("", password=True, placeholder=placeholder, validators=rules,
                            id=f"app-{kebab(spec.name)}")
        else:
            if spec.name.endswith("_url"):
                rules.append(validators.url(optional=True))
            control = Input(stored, placeholder=spec.default or "", validators=rules,
                            id=f"app-{kebab(spec.name)}")
        label = spec.label + ("" if spec.required else " (optional)"
                              if "optional" not in spec.label.lower() else "")
        return FormField(label, control, hint=spec.help, id=f"field-app-{kebab(spec.name)}")

    def on_mount(self) -> None:
        self._describe_row()

    def _describe_row(self) -> None:
        provider = self.provider()
        row = self.stored_row(provider, self.slug())
        if row is None:
            text = Content.from_markup("No app is stored for [b]$slug[/] yet: client id and "
                                       "secret are needed.", slug=self.slug())
        else:
            text = Content.from_markup(
                "An app is stored for [b]$slug[/] (client id $cid). Empty fields keep the "
                "stored values.", slug=row.slug, cid=row.client_id or "empty")
        self.query_one("#app-state", Static).update(text)

    def status_changed(self) -> None:
        self._describe_row()

    @on(Select.Changed, "#provider")
    async def _provider_changed(self) -> None:
        provider = self.provider()
        if self.wizard.choices.provider == provider.id and self.query("#app-client-id"):
            return
        self.wizard.choices.provider = provider.id
        self._checked_issuer = None
        container = self.query_one("#app-fields", Vertical)
        await container.remove_children()
        await container.mount_all(self._fields(provider))
        self.refresh_bindings()
        if not self.wizard.cursor_blink:
            for control in container.query(Input):
                control.cursor_blink = False
        self._describe_row()

    @on(Input.Changed, "#app-slug")
    def _slug_changed(self, event: Input.Changed) -> None:
        if event.validation_result is None or event.validation_result.is_valid:
            self.wizard.choices.slugs[self.provider().id] = event.value.strip()
        self._describe_row()

    # -- issuer check ---------------------------------------------------------------------------

    @on(Input.Submitted, "#app-server-url")
    @on(Input.Blurred, "#app-server-url")
    def _issuer_entered(self, event: Input.Submitted | Input.Blurred) -> None:
        value = event.value.strip()
        if value and value != self._checked_issuer and (
                event.validation_result is None or event.validation_result.is_valid):
            self.start_issuer_check(value, delay=0.0)

    def action_check_issuer(self) -> None:
        found = self.query("#app-server-url")
        if not found:
            self.notify("This provider has no issuer to check.", severity="warning")
            return
        value = found.first(Input).value.strip()
        if not value:
            self.notify("Enter the issuer URL (server_url) first.", severity="warning")
            return
        self.start_issuer_check(value, delay=0.0)

    def start_issuer_check(self, server_url: str, *, delay: float = ISSUER_CHECK_DELAY) -> None:
        self._checked_issuer = server_url
        found = self.query("#issuer-findings")
        if found:
            found.first(FindingsView).update(
                Content.from_markup("[$text-muted]Checking $u …[/]", u=server_url))
        self.check_issuer(server_url, delay)

    @work(exclusive=True, exit_on_error=False, group="issuer")
    async def check_issuer(self, server_url: str, delay: float) -> None:
        from sso_wizard.core.checks.discovery import check_discovery
        if delay:
            await asyncio.sleep(delay)
        method = self.query("#app-token-auth-method")
        auth = method.first(Input).value.strip() if method else ""
        try:
            result = await check_discovery(server_url, token_auth_method=auth or None)
        except Exception as exc:  # noqa: BLE001 - the check never raises; if it did, say so
            from sso_wizard.core.checks.discovery import DiscoveryResult
            result = DiscoveryResult(server_url=server_url, url="", findings=[
                error("check-failed", f"The issuer check failed: {describe_error(exc)}")])
        self.post_message(IssuerChecked(result))

    @on(IssuerChecked)
    def _issuer_checked(self, message: IssuerChecked) -> None:
        found = self.query("#issuer-findings")
        if not found:
            return
        result = message.result
        summary = (f"{result.url}: looks right." if result.ok
                   else f"{result.url or result.server_url}: problems found.")
        found.first(FindingsView).show(result.findings, empty=summary)

    def extra_problems(self) -> list[tuple[Widget, str]]:
        """A new app needs every required field once anything is typed (empty: skip)."""
        provider = self.provider()
        if self.stored_row(provider, self.slug()) is not None:
            return []
        controls = {spec.name: self.query_one(f"#app-{kebab(spec.name)}", Input)
                    for spec in provider.all_fields}
        if not any(c.value.strip() for c in controls.values()):
            return []
        problems: list[tuple[Widget, str]] = []
        for spec in provider.all_fields:
            control = controls[spec.name]
            if spec.required and not control.value.strip():
                self.query_one(f"#field-app-{kebab(spec.name)}", FormField).show_problem(
                    "is empty (a new app needs it)")
                problems.append((control, f"{spec.label}: is empty (a new app needs it)"))
        return problems

    # -- answers --------------------------------------------------------------------------------

    def answers_data(self) -> dict[str, Any]:
        provider = self.provider()
        slug = self.slug()
        row = self.stored_row(provider, slug)
        app: dict[str, Any] = {"provider": provider.allauth_id}
        if provider.is_oidc:
            app["provider_id"] = slug
        changed = False
        name = self.query_one("#app-name", Input).value.strip()
        if name and (row is None or name != row.name):
            app["name"] = name
            changed = changed or row is not None
        settings: dict[str, Any] = {}
        for spec in provider.all_fields:
            value = self.query_one(f"#app-{kebab(spec.name)}", Input).value
            if spec.name in COLUMNS:
                text = value if spec.secret else value.strip()
                if text and (row is None or text != getattr(row, spec.name)):
                    app[spec.name] = text
                    changed = True
                continue
            text = value.strip()
            stored = row.settings.get(spec.name) if row else None
            if text and text != stored:
                settings[spec.name] = text
            elif not text and stored not in (None, ""):
                settings[spec.name] = None  # cleared: remove it from the app's settings
        if settings:
            app["settings"] = settings
            changed = True
        if not changed:
            return {}
        return {"apps": [app]}
