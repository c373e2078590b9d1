"""The provider catalogue: what the wizard knows about each SSO provider.

The data lives in ``providers.yaml`` (package data); this module loads it once into frozen
dataclasses. Nothing here needs django-allauth installed: the list of provider ids allauth ships
is part of the data file (a test keeps it equal to the installed allauth).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = [
    "OIDC_WELL_KNOWN",
    "Provider",
    "ProviderField",
    "UnknownProviderError",
    "allauth_discovery_url",
    "allauth_provider_ids",
    "allauth_provider_module",
    "derived_values",
    "get_provider",
    "is_known_allauth_provider",
    "load_catalogue",
    "render",
    "suggest",
    "unfilled_placeholders",
]

OIDC_WELL_KNOWN = "/.well-known/openid-configuration"

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(frozen=True)
class ProviderField:
    """One value the admin types: a SocialApp column or a key of SocialApp.settings."""

    name: str  # "client_id" | "secret" | "key" | a settings key ("tenant", "server_url", ...)
    label: str
    help: str
    required: bool
    secret: bool
    default: str = ""  # what allauth uses when the value is left empty ("" = nothing)


@dataclass(frozen=True)
class Provider:
    id: str  # catalogue id ("google", "keycloak", ...)
    allauth_id: str  # allauth provider id (SocialApp.provider); presets -> "openid_connect"
    name: str
    console_url: str  # template; "" when the provider has no web console
    app_kind: str
    fields: tuple[ProviderField, ...]  # SocialApp columns: client_id, secret, key
    extra_settings: tuple[ProviderField, ...]  # keys of SocialApp.settings
    scopes: tuple[str, ...]  # what allauth requests (all of them give an email)
    discovery: str | None  # template of the discovery URL allauth fetches (OIDC only)
    authorize_url: str | None  # templates; None when they come from discovery
    token_url: str | None
    userinfo_url: str | None
    callback_rules: str
    traps: tuple[str, ...]
    register_steps: tuple[str, ...]  # templates, in order (numbered by the register stage)
    is_preset: bool = False  # an OpenID Connect preset (Keycloak, authentik, ...)
    slug: str = ""  # default URL slug: allauth_id, or SocialApp.provider_id for OIDC apps
    guided: bool = True  # False: an allauth provider the catalogue has no guide for

    @property
    def is_oidc(self) -> bool:
        return self.allauth_id == "openid_connect"

    @property
    def all_fields(self) -> tuple[ProviderField, ...]:
        return self.fields + self.extra_settings

    def field(self, name: str) -> ProviderField | None:
        for f in self.all_fields:
            if f.name == name:
                return f
        return None

    def settings_defaults(self) -> dict[str, str]:
        """Defaults of the extra settings that have one (e.g. gitlab_url, tenant)."""
        return {f.name: f.default for f in self.extra_settings if f.default}


class UnknownProviderError(ValueError):
    """A provider id that is neither in the catalogue nor shipped by allauth."""

    def __init__(self, provider_id: str, suggestions: list[str], known: list[str]) -> None:
        self.provider_id = provider_id
        self.suggestions = suggestions
        self.known = known
        msg = f"unknown provider {provider_id!r}."
        if suggestions:
            msg += f" Did you mean: {', '.join(suggestions)}?"
        msg += f" Known: {', '.join(known)}"
        super().__init__(msg)


# ---------------------------------------------------------------------------------------------
# loading


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("sso_wizard.core").joinpath("providers.yaml").read_text("utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    if not isinstance(data, dict):
        raise RuntimeError("providers.yaml: top level must be a mapping")
    return data


def _field(d: Mapping[str, Any]) -> ProviderField:
    return ProviderField(
        name=str(d["name"]),
        label=str(d["label"]),
        help=str(d.get("help", "")),
        required=bool(d.get("required", False)),
        secret=bool(d.get("secret", False)),
        default=str(d.get("default", "") or ""),
    )


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _provider(pid: str, d: Mapping[str, Any]) -> Provider:
    allauth_id = str(d["allauth_id"])
    return Provider(
        id=pid,
        allauth_id=allauth_id,
        name=str(d["name"]),
        console_url=str(d.get("console_url") or ""),
        app_kind=str(d.get("app_kind", "")),
        fields=tuple(_field(f) for f in d.get("fields") or ()),
        extra_settings=tuple(_field(f) for f in d.get("extra_settings") or ()),
        scopes=tuple(str(s) for s in d.get("scopes") or ()),
        discovery=_opt(d.get("discovery")),
        authorize_url=_opt(d.get("authorize_url")),
        token_url=_opt(d.get("token_url")),
        userinfo_url=_opt(d.get("userinfo_url")),
        callback_rules=str(d.get("callback_rules", "")),
        traps=tuple(str(t) for t in d.get("traps") or ()),
        register_steps=tuple(str(s) for s in d.get("register_steps") or ()),
        is_preset=bool(d.get("preset", False)),
        slug=str(d.get("slug") or (pid if allauth_id == "openid_connect" else allauth_id)),
    )


@cache
def _catalogue() -> tuple[tuple[str, Provider], ...]:
    providers = _raw().get("providers") or {}
    return tuple((str(pid), _provider(str(pid), d)) for pid, d in providers.items())


def load_catalogue() -> dict[str, Provider]:
    """Every provider the wizard has a guide for, by catalogue id, in catalogue order."""
    return dict(_catalogue())


@cache
def allauth_provider_ids() -> frozenset[str]:
    """Every provider id django-allauth 65 ships (from the catalogue, allauth not needed)."""
    return frozenset(str(p) for p in _raw().get("allauth_providers") or ())


def is_known_allauth_provider(pid: str) -> bool:
    return pid in allauth_provider_ids()


def allauth_provider_module(pid: str) -> str:
    """The dotted module InvenTree's ``social_backends`` needs for an allauth provider id."""
    modules = _raw().get("allauth_provider_modules") or {}
    return f"allauth.socialaccount.providers.{modules.get(pid, pid)}"


def _known_ids() -> list[str]:
    return [pid for pid, _ in _catalogue()]


def suggest(pid: str) -> list[str]:
    """Close matches for a mistyped provider id: catalogue ids first, then allauth ids."""
    needle = pid.strip().lower()
    catalogue = _known_ids()
    allauth = sorted(allauth_provider_ids() - set(catalogue))
    by_lower: dict[str, str] = {}
    for cand in [*catalogue, *allauth]:
        by_lower.setdefault(cand.lower(), cand)
    # names people use for things the catalogue calls differently
    aliases = {
        "azure": "microsoft",
        "entra": "microsoft",
        "azuread": "microsoft",
        "oidc": "openid_connect",
        "openidconnect": "openid_connect",
    }
    out: list[str] = []
    if needle in aliases:
        out.append(aliases[needle])
    if needle in by_lower and by_lower[needle] != pid:
        out.append(by_lower[needle])
    for match in difflib.get_close_matches(needle, list(by_lower), n=3, cutoff=0.6):
        out.append(by_lower[match])
    return list(dict.fromkeys(out))[:3]


def get_provider(provider_id: str) -> Provider:
    """The catalogue entry for ``provider_id``.

    An allauth provider the catalogue has no guide for (``discord``, ``nextcloud``, ...) gets a
    minimal entry with ``guided=False``; anything else raises UnknownProviderError with
    suggestions.
    """
    catalogue = load_catalogue()
    if provider_id in catalogue:
        return catalogue[provider_id]
    if is_known_allauth_provider(provider_id):
        return _unguided(provider_id)
    raise UnknownProviderError(provider_id, suggest(provider_id), _known_ids())


@cache
def _unguided(pid: str) -> Provider:
    docs = f"https://docs.allauth.org/en/latest/socialaccount/providers/{pid.lower()}.html"
    return Provider(
        id=pid,
        allauth_id=pid,
        name=pid,
        console_url="",
        app_kind="OAuth client registered at the provider",
        fields=(
            ProviderField(
                "client_id", "Client ID", "The client ID the provider issued.", True, False
            ),
            ProviderField(
                "secret", "Client secret", "The client secret the provider issued.", True, True
            ),
        ),
        extra_settings=(),
        scopes=(),
        discovery=None,
        authorize_url=None,
        token_url=None,
        userinfo_url=None,
        callback_rules="",
        traps=(f"sso-wizard has no guide for {pid!r}; allauth's notes: {docs}",),
        register_steps=(
            "Register an OAuth application for {app_name} at the provider.",
            "Homepage URL: {homepage_url}",
            "Redirect / callback URL: {callback_url}",
            "Copy the client ID and client secret.",
        ),
        slug=pid,
        guided=False,
    )


# ---------------------------------------------------------------------------------------------
# templating


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders from ``values``; unknown placeholders stay as they are."""

    def sub(m: re.Match[str]) -> str:
        value = values.get(m.group(1))
        return m.group(0) if value is None else str(value)

    return _PLACEHOLDER.sub(sub, template)


def unfilled_placeholders(template: str, values: Mapping[str, str]) -> list[str]:
    """Placeholder names in ``template`` that ``values`` does not provide."""
    return [n for n in dict.fromkeys(_PLACEHOLDER.findall(template)) if values.get(n) is None]


def allauth_discovery_url(server_url: str) -> str:
    """The URL allauth's openid_connect provider fetches for ``server_url``, byte for byte.

    Mirrors ``OpenIDConnectProvider.wk_server_url``: append the well-known path unless the URL
    already contains ``/.well-known/`` (so ``https://h/realm/`` gives ``https://h/realm//.well-known``).
    """
    if "/.well-known/" not in server_url:
        return server_url + OIDC_WELL_KNOWN
    return server_url


def derived_values(settings: Mapping[str, str]) -> dict[str, str]:
    """Template values computed from a provider's settings (server_url -> origin, realm)."""
    out: dict[str, str] = {}
    server_url = (settings.get("server_url") or "").strip()
    if server_url:
        parts = urlsplit(server_url)
        if parts.scheme and parts.netloc:
            out["server_origin"] = f"{parts.scheme}://{parts.netloc}"
        m = re.search(r"/realms/([^/?#]+)", parts.path)
        if m:
            out["realm"] = m.group(1)
        out["discovery_url"] = allauth_discovery_url(server_url)
    return out
