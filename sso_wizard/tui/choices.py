"""Which providers the wizard is working on, and the callback URL a typed site URL gives.

Pure functions over core data (no widgets), shared by the register, credentials and callback
screens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sso_wizard.core import validators
from sso_wizard.core.providers import Provider, get_provider, load_catalogue
from sso_wizard.core.stages import callback_url

if TYPE_CHECKING:
    from sso_wizard.core.db import AppRow
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.stages import Snapshot

SITE_PLACEHOLDER = "<SITE_URL>"


def provider_for_app(row: AppRow) -> str:
    """The catalogue id that describes a stored app (an OIDC preset by slug, else the provider)."""
    catalogue = load_catalogue()
    if row.provider == "openid_connect":
        entry = catalogue.get(row.slug)
        return entry.id if entry is not None and entry.is_oidc else "openid_connect"
    return row.provider


def configured_providers(instance: Instance, snapshot: Snapshot | None) -> list[str]:
    """Catalogue ids the install already uses: its apps, then its loaded backends."""
    found: list[str] = []
    for row in snapshot.apps if snapshot is not None else []:
        found.append(provider_for_app(row))
    catalogue = load_catalogue()
    has_oidc_app = any(p == "openid_connect" or catalogue.get(p, None) is not None
                       and catalogue[p].is_oidc for p in found)
    for backend in sorted(instance.backend_ids()):
        if backend == "openid_connect":
            if not has_oidc_app:
                found.append("openid_connect")
        elif backend in catalogue:
            found.append(backend)
    return list(dict.fromkeys(found))


def working_providers(chosen: list[str], instance: Instance,
                      snapshot: Snapshot | None) -> list[Provider]:
    """The providers the register and credentials screens offer: the chosen ones, else those
    configured, else the whole catalogue."""
    ids = list(chosen) or configured_providers(instance, snapshot) or list(load_catalogue())
    out: list[Provider] = []
    for pid in dict.fromkeys(ids):
        try:
            out.append(get_provider(pid))
        except ValueError:
            continue
    return out or list(load_catalogue().values())


def callback_scheme(instance: Instance, site_url: str, protocol: str | None = None) -> str:
    """The scheme InvenTree puts in callbacks: https when forced, else the site's."""
    if protocol is None:
        explicit = instance.resolve("login_default_protocol")
        protocol = str(explicit.value) if explicit.source != "default" and explicit.value \
            else None
    scheme = urlsplit(site_url).scheme or "https"
    # an https site gets login_default_protocol https in the callback stage
    return "https" if protocol == "https" or scheme == "https" else scheme


def expected_callback(instance: Instance, site_url: str, slug: str,
                      protocol: str | None = None) -> str:
    """The callback URL for `slug` at `site_url` (a placeholder site when it is not valid)."""
    site = site_url.strip().rstrip("/")
    if validators.site_url_problem(site):
        return callback_url(SITE_PLACEHOLDER, slug)
    parts = urlsplit(site)
    return callback_url(f"{callback_scheme(instance, site, protocol)}://{parts.netloc}", slug)
