"""Stage 1: choose the providers; InvenTree loads their allauth modules from social_backends."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from sso_wizard.core.providers import allauth_provider_module, load_catalogue
from sso_wizard.core.stages.backends import backend_id
from sso_wizard.tui.choices import configured_providers
from sso_wizard.tui.screens.base import StepScreen
from sso_wizard.tui.widgets import FormField


class BackendsScreen(StepScreen):
    STAGE = "backends"
    AUTO_FOCUS = "#provider-list"
    INTRO = ("Choose the providers people will sign in with. InvenTree loads each provider's "
             "django-allauth module from social_backends; this is a config change, so restart "
             "InvenTree after applying.")
    FIELD_FOR_PLACE = {"backends": "field-providers", "backends[]": "field-providers"}

    def compose_form(self) -> ComposeResult:
        chosen = set(self.wizard.choices.providers or
                     configured_providers(self.instance, self.snapshot))
        selections = [Selection(f"{p.name} ({p.id})", p.id, p.id in chosen)
                      for p in load_catalogue().values()]
        yield FormField(
            "Providers", SelectionList[str](*selections, id="provider-list"),
            hint="Space or click toggles. Keycloak, authentik and the other presets are "
                 "OpenID Connect: they share allauth's openid_connect module.",
            id="field-providers")
        yield Label("social_backends after this stage", classes="section-title")
        yield Static("", id="backends-preview")

    def on_mount(self) -> None:
        self._update_preview()

    def status_changed(self) -> None:
        self._update_preview()

    def selected(self) -> list[str]:
        """Chosen catalogue ids, in catalogue order."""
        picked = set(self.query_one("#provider-list", SelectionList).selected)
        return [pid for pid in load_catalogue() if pid in picked]

    def planned_backends(self) -> tuple[list[str], list[str]]:
        """(current entries, entries this stage adds)."""
        current = self.instance.social_backends()
        have = {backend_id(e) for e in current}
        catalogue = load_catalogue()
        added: list[str] = []
        for pid in self.selected():
            module = allauth_provider_module(catalogue[pid].allauth_id)
            if backend_id(module) not in have:
                have.add(backend_id(module))
                added.append(module)
        return current, added

    @on(SelectionList.SelectedChanged, "#provider-list")
    def _selection_changed(self) -> None:
        self.wizard.choices.providers = self.selected()
        self.query_one("#field-providers", FormField).show_problem(None)
        self._update_preview()

    def _update_preview(self) -> None:
        current, added = self.planned_backends()
        origin = self.instance.resolve("social_backends").origin
        lines = [Content.from_markup("  $e", e=e) for e in current]
        lines += [Content.from_markup("[$text-success]+ $e[/]", e=e) for e in added]
        if not lines:
            lines.append(Content.from_markup("[$text-muted]  (empty: no SSO provider loads)[/]"))
        lines.append(Content.from_markup(
            "[$text-muted]Now read from: $o. Entries are only added here; to remove one, edit "
            "the config by hand.[/]", o=origin))
        self.query_one("#backends-preview", Static).update(Content("\n").join(lines))

    def extra_problems(self) -> list[tuple[Widget, str]]:
        if self.selected() or self.instance.social_backends():
            return []
        message = "Choose at least one provider."
        self.query_one("#field-providers", FormField).show_problem(message)
        return [(self.query_one("#provider-list"), message)]

    def answers_data(self) -> dict[str, Any]:
        catalogue = load_catalogue()
        wanted = list(dict.fromkeys(catalogue[pid].allauth_id for pid in self.selected()))
        return {"backends": wanted} if wanted else {}
