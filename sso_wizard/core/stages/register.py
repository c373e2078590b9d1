"""Stage 2, register: tell the admin exactly how to register InvenTree at the provider.

Nothing is written. ``register_instructions`` renders the catalogue's steps with the exact
values to paste (app name, homepage URL, callback URL, scopes, the console URL with the tenant or
host filled in) plus the provider's traps. The callback URL is computed elsewhere (from the
instance's site_url and the app's slug) and passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sso_wizard.core.findings import Finding, info
from sso_wizard.core.providers import (
    Provider,
    ProviderField,
    derived_values,
    render,
    unfilled_placeholders,
)

if TYPE_CHECKING:
    from sso_wizard.core.stages import Snapshot, StageState

__all__ = ["NAME", "RegisterGuide", "inspect", "register_instructions", "state"]

NAME = "register"

_LABELS = {
    "app_name": "App name",
    "homepage_url": "Homepage URL",
    "callback_url": "Callback URL",
    "scopes": "Scopes",
}


@dataclass(frozen=True)
class RegisterGuide:
    provider: Provider
    title: str
    console_url: str  # rendered; "" when the provider has no web console
    app_kind: str
    steps: tuple[str, ...]  # rendered, in order (numbered by to_text)
    paste: tuple[tuple[str, str], ...]  # (label, exact value) the admin copies into the console
    callback_rules: str
    traps: tuple[str, ...]
    bring_back: tuple[ProviderField, ...]  # what the admin copies back into the wizard
    unfilled: tuple[str, ...]  # placeholders with no value yet (shown as <NAME> in the text)

    @property
    def callback_url(self) -> str:
        return dict(self.paste)["Callback URL"]

    def to_text(self) -> list[str]:
        """The guide as lines of plain text (no markup), ready to print or show."""
        lines = [self.title]
        if self.console_url:
            lines.append(f"Where: {self.console_url}")
        lines.append(f"What:  {self.app_kind}")
        lines.append("")
        width = len(str(len(self.steps)))
        for n, step in enumerate(self.steps, 1):
            first, *rest = step.splitlines() or [""]
            lines.append(f"{n:>{width}}. {first}")
            lines.extend(" " * (width + 2) + r if r else "" for r in rest)
        lines.append("")
        lines.append("Values to paste:")
        pad = max(len(label) for label, _ in self.paste) + 1
        lines.extend(f"  {label + ':':<{pad}} {value}" for label, value in self.paste)
        if self.callback_rules:
            lines += ["", f"Callback rules: {self.callback_rules}"]
        if self.traps:
            lines += ["", "Watch out:"]
            lines.extend(f"  - {t}" for t in self.traps)
        if self.bring_back:
            lines += ["", "Bring back to the wizard: " + ", ".join(
                f.label + (" (secret)" if f.secret else "") for f in self.bring_back)]
        return lines


def _placeholder(name: str) -> str:
    return f"<{name.upper()}>"


def register_instructions(
    provider: Provider,
    *,
    callback_url: str,
    homepage_url: str,
    app_name: str = "InvenTree",
    settings: Mapping[str, str] | None = None,
) -> RegisterGuide:
    """The numbered registration steps for ``provider`` with the exact values filled in.

    ``settings`` are the app's settings known so far (``tenant``, ``gitlab_url``,
    ``server_url``, ...); the catalogue's defaults fill the rest. Values still unknown appear as
    ``<NAME>`` and are listed in ``unfilled``.
    """
    if not callback_url.strip():
        raise ValueError("callback_url is required (compute it from the instance's site_url)")
    if not homepage_url.strip():
        raise ValueError("homepage_url is required")
    given = {k: str(v).strip() for k, v in (settings or {}).items()
             if v is not None and str(v).strip()}
    values: dict[str, str] = dict(provider.settings_defaults())
    values.update(given)
    # a URL the admin typed with a trailing slash would render as "...//-/user_settings"
    for key in ("gitlab_url",):
        if key in values:
            values[key] = values[key].rstrip("/")
    values.update(derived_values(values))
    values.update({
        "app_name": app_name,
        "homepage_url": homepage_url,
        "callback_url": callback_url,
        "scopes": " ".join(provider.scopes),
        "scopes_csv": ", ".join(provider.scopes),
    })
    values["console_url"] = render(provider.console_url, values)

    templates = (provider.console_url, *provider.register_steps)
    unfilled = tuple(dict.fromkeys(
        name for t in templates for name in unfilled_placeholders(t, values)))
    shown = dict(values)
    shown.update({name: _placeholder(name) for name in unfilled})
    console = render(provider.console_url, shown)
    shown["console_url"] = console
    steps = tuple(render(s, shown) for s in provider.register_steps)

    paste: list[tuple[str, str]] = [(_LABELS[k], values[k]) for k in
                                    ("app_name", "homepage_url", "callback_url")]
    if provider.scopes:
        paste.append((_LABELS["scopes"], values["scopes"]))
    for f in provider.extra_settings:
        if f.name in given and not f.secret:
            paste.append((f.label, values[f.name]))

    bring_back = tuple(f for f in provider.all_fields
                       if f.required and f.name not in given)
    return RegisterGuide(
        provider=provider,
        title=f"Register {app_name} at {provider.name}",
        console_url=console,
        app_kind=provider.app_kind,
        steps=steps,
        paste=tuple(paste),
        callback_rules=provider.callback_rules,
        traps=provider.traps,
        bring_back=bring_back,
        unfilled=unfilled,
    )


# ---------------------------------------------------------------------------------------------
# the stage protocol (inspect / state); register plans nothing


def _catalogue_entry(provider: str, slug: str) -> Provider | None:
    from sso_wizard.core.providers import UnknownProviderError, get_provider, load_catalogue

    if provider == "openid_connect" and slug in load_catalogue():
        candidate = load_catalogue()[slug]
        if candidate.is_oidc:
            return candidate  # an OIDC app whose slug names a preset (keycloak, authentik, ...)
    try:
        return get_provider(provider)
    except UnknownProviderError:
        return None


def inspect(snap: Snapshot) -> list[Finding]:
    """For each app: the redirect URI that must be registered at its provider, and where."""
    from sso_wizard.core.stages import callback_url, todo

    site = snap.instance.site_url
    if not snap.apps:
        return [todo("register-todo",
                     "No SSO app yet: register InvenTree at your provider first.",
                     "Run `sso-wizard register <provider>` (google, microsoft, github, gitlab, "
                     "keycloak, authentik, okta, auth0, zitadel, authelia, openid_connect) for "
                     "the steps and the exact values to paste.")]
    findings: list[Finding] = []
    for app in snap.apps:
        entry = _catalogue_entry(app.provider, app.slug)
        where = entry.name if entry else app.provider
        if entry is not None and entry.console_url and "{" not in entry.console_url:
            where += f" ({entry.console_url})"
        label = app.name or app.slug
        if site:
            findings.append(info(
                "register-redirect-uri",
                f"{label}: the redirect URI registered at {where} must be exactly "
                f"{callback_url(site, app.slug)}",
            ))
        if entry is None or not entry.guided:
            findings.append(info(
                "register-no-guide",
                f"{label}: sso-wizard has no registration guide for provider "
                f"{app.provider!r}; follow the provider's documentation."))
    return findings


def state(snap: Snapshot, findings: list[Finding]) -> StageState:
    from sso_wizard.core.stages import default_state

    # Registration happens at the provider: an existing app is the best evidence available.
    return default_state(findings, done=bool(snap.apps))
