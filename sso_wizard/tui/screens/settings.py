"""Stage 5: InvenTree's login settings (database rows) — who may sign in and sign up with SSO."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Input

from sso_wizard.core.instance import is_true
from sso_wizard.core.stages.settings import DEFAULTS
from sso_wizard.tui import validators
from sso_wizard.tui.screens.base import StepScreen
from sso_wizard.tui.widgets import FormField

#: (setting key, checkbox id, label)
SWITCHES = (
    ("LOGIN_ENABLE_SSO", "login-enable-sso",
     "Enable SSO (LOGIN_ENABLE_SSO; only InvenTree 0.16/0.17 read it)"),
    ("LOGIN_ENABLE_SSO_REG", "login-enable-sso-reg",
     "Let new people sign up through SSO (LOGIN_ENABLE_SSO_REG; needs email)"),
    ("LOGIN_SIGNUP_SSO_AUTO", "login-signup-sso-auto",
     "Create SSO sign-ups without asking for details (LOGIN_SIGNUP_SSO_AUTO)"),
)
GROUP_SWITCHES = (
    ("SSO_REMOVE_GROUPS", "remove-groups",
     "Remove groups the provider no longer lists (SSO_REMOVE_GROUPS)"),
)
#: (setting key, input id)
TEXTS = (("LOGIN_SIGNUP_MAIL_RESTRICTION", "mail-restriction"),
         ("SSO_GROUP_KEY", "group-key"), ("SSO_GROUP_MAP", "group-map"))
GROUP_KEYS = ("SSO_GROUP_KEY", "SSO_GROUP_MAP", "SSO_REMOVE_GROUPS")


class SettingsScreen(StepScreen):
    STAGE = "settings"
    AUTO_FOCUS = "#login-enable-sso"
    INTRO = ("InvenTree's login settings, stored in its database: effective without a restart. "
             "Only what you change here is written.")
    FIELD_FOR_PLACE = {"settings.LOGIN_SIGNUP_MAIL_RESTRICTION": "field-mail-restriction",
                       "settings.SSO_GROUP_KEY": "field-group-key",
                       "settings.SSO_GROUP_MAP": "field-group-map"}

    def current(self, key: str) -> str:
        """The setting's effective value as InvenTree stores it (a lock wins over the row)."""
        snapshot = self.snapshot
        value = snapshot.setting(key, DEFAULTS[key]) if snapshot is not None else DEFAULTS[key]
        return DEFAULTS[key] if value is None else str(value)

    def compose_form(self) -> ComposeResult:
        for key, widget_id, label in SWITCHES:
            yield Checkbox(label, value=is_true(self.current(key)), id=widget_id)
        yield FormField("Allowed email domains for SSO sign-up (LOGIN_SIGNUP_MAIL_RESTRICTION)",
                        Input(self.current("LOGIN_SIGNUP_MAIL_RESTRICTION"),
                              placeholder="@example.com,@example.org",
                              validators=[validators.mail_restriction()],
                              id="mail-restriction"),
                        hint="Empty: any domain. Comma-separated, no spaces.",
                        id="field-mail-restriction")
        sync = is_true(self.current("LOGIN_ENABLE_SSO_GROUP_SYNC"))
        yield Checkbox("Sync groups from the provider (LOGIN_ENABLE_SSO_GROUP_SYNC)",
                       value=sync, id="group-sync")
        with Vertical(id="group-fields"):
            yield FormField("Claim that holds the groups (SSO_GROUP_KEY)",
                            Input(self.current("SSO_GROUP_KEY"), placeholder="groups",
                                  validators=[validators.required()], id="group-key"),
                            id="field-group-key")
            yield FormField("Group map (SSO_GROUP_MAP, a JSON object)",
                            Input(self.current("SSO_GROUP_MAP"),
                                  placeholder='{"provider-group": "inventree-group"}',
                                  validators=[validators.json_object()], id="group-map"),
                            hint="Provider group name → InvenTree group name.",
                            id="field-group-map")
            for key, widget_id, label in GROUP_SWITCHES:
                yield Checkbox(label, value=is_true(self.current(key)), id=widget_id)

    def on_mount(self) -> None:
        self.query_one("#group-fields").display = self.query_one("#group-sync", Checkbox).value

    @on(Checkbox.Changed, "#group-sync")
    def _group_sync_changed(self, event: Checkbox.Changed) -> None:
        self.query_one("#group-fields").display = event.value

    def answers_data(self) -> dict[str, Any]:
        wanted: dict[str, Any] = {}
        for key, widget_id, _ in (*SWITCHES, *GROUP_SWITCHES,
                                  ("LOGIN_ENABLE_SSO_GROUP_SYNC", "group-sync", "")):
            value = self.query_one(f"#{widget_id}", Checkbox).value
            if value != is_true(self.current(key)):
                wanted[key] = value
        for key, widget_id in TEXTS:
            text = self.query_one(f"#{widget_id}", Input).value.strip()
            if text != self.current(key):
                wanted[key] = text
        return {"settings": wanted} if wanted else {}
