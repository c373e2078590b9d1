"""Stage 3, credentials: one SocialApp row per provider slug, holding client id and secret.

Rows are matched by slug (allauth allows one app per OAuth2 provider; for OpenID Connect the slug
is `provider_id`), so renaming an app updates its row and never adds a second one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sso_wizard.core.findings import Finding, error, info, warning
from sso_wizard.core.plan import RowChange
from sso_wizard.core.stages import Snapshot, StageState, backends, default_state, todo

if TYPE_CHECKING:
    from sso_wizard.core.answers import Answers, AppAnswer
    from sso_wizard.core.db import AppRow
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.plan import PlanBuilder

NAME = "credentials"
OIDC = "openid_connect"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def matches(row: AppRow, provider: str, slug: str) -> bool:
    """Does this row serve the app with this provider and slug (as allauth looks it up)?"""
    if provider == OIDC:
        return row.provider == OIDC and row.provider_id == slug
    return row.provider == provider and row.provider_id in ("", provider)


def config_defined_apps(inst: Instance, provider: str, slug: str | None = None) -> list[str]:
    """'APP'/'APPS' entries for a provider in social_providers that define the same app again.

    allauth blends config apps with DB apps and matches them on provider or provider_id: any
    entry of a provider like github serves /accounts/github/, but an openid_connect entry only
    duplicates the DB app whose provider_id it names (proven in tests/conformance)."""
    conf = (inst.value("social_providers") or {}).get(provider)
    if not isinstance(conf, dict):
        return []
    found = []
    for key in ("APP", "APPS"):
        entries = conf.get(key)
        if not entries:
            continue
        if provider == OIDC and slug is not None:
            listed = entries if isinstance(entries, list) else [entries]
            if not any(isinstance(e, dict) and e.get("provider_id") == slug for e in listed):
                continue
        found.append(key)
    return found


def slug_collision(slug: str) -> Finding:
    """An OpenID Connect app whose slug is the id of another loaded allauth provider.

    allauth routes /accounts/<slug>/… to the built-in provider first (the OIDC patterns come
    last), and looks the app up by provider *or* provider_id: the login goes to the other
    provider (proven in tests/conformance)."""
    return error(
        "oidc-slug-collision",
        f"The OpenID Connect app {slug!r} has the same slug as allauth's own {slug!r} provider, "
        f"which social_backends loads: allauth sends /accounts/{slug}/… and the login to that "
        "provider, not to this app.",
        f"Give the OpenID Connect app another provider_id (e.g. {slug}-oidc), register the new "
        f"callback URL at the provider, or remove {backends.PREFIX}{slug} from social_backends.")


def oidc_slug_clashes(slug: str, loaded: set[str]) -> bool:
    return slug != OIDC and slug in loaded


def inspect(snap: Snapshot) -> list[Finding]:
    findings: list[Finding] = []
    if not snap.db_ok:
        return findings
    inst = snap.instance
    if not snap.apps:
        findings.append(todo("no-apps", "No SSO app is stored yet (no SocialApp rows).",
                             "Register an app at the provider (stage register), then apply "
                             "its client id and secret."))
    by_slug: dict[str, list[AppRow]] = {}
    for app in snap.apps:
        by_slug.setdefault(app.slug, []).append(app)
    for slug, rows in by_slug.items():
        if len(rows) > 1:
            ids = ", ".join(str(r.id) for r in rows)
            findings.append(error(
                "app-duplicate",
                f"{len(rows)} SocialApp rows serve {slug!r} (ids {ids}): allauth raises "
                "MultipleObjectsReturned and the login fails.",
                "Delete all but one in the Django admin (Social applications), or remove one "
                "with an answers file entry `remove: true` and apply the other again."))
    for app in snap.apps:
        where = f"SocialApp {app.slug!r}"
        for key in config_defined_apps(inst, app.provider, app.slug):
            findings.append(error(
                "app-defined-twice",
                f"{where} is stored in the database and also defined as {key} under "
                f"social_providers.{app.provider} in the config: allauth raises "
                "MultipleObjectsReturned (InvenTree issue #7892).",
                f"Remove social_providers.{app.provider}.{key} from the config (answers: "
                f"provider_settings: {{{app.provider}: {{{key}: null}}}}), keep the DB app."))
        if not app.client_id.strip():
            findings.append(error("app-no-client-id", f"{where} has no client id.",
                                  "Apply the client id the provider shows."))
        if not app.secret.strip():
            findings.append(error("app-no-secret", f"{where} has no client secret.",
                                  "Apply the client secret the provider generated."))
        if app.provider == "microsoft" and _UUID.match(app.secret.strip()):
            findings.append(warning(
                "microsoft-secret-id",
                f"{where}: the stored secret looks like a secret *ID* (a GUID), not the "
                "secret *value*: Microsoft answers invalid_client (AADSTS7000215).",
                "In Entra ID > App registrations > Certificates & secrets, copy the Value "
                "column (shown only once; create a new secret if it is hidden)."))
        if app.provider == OIDC and oidc_slug_clashes(app.provider_id, inst.backend_ids()):
            findings.append(slug_collision(app.provider_id))
        if app.provider == OIDC:
            server_url = str(app.settings.get("server_url") or "")
            if not server_url:
                findings.append(error("oidc-no-server-url",
                                      f"{where}: settings.server_url (the issuer URL) is not set.",
                                      "Set settings.server_url, e.g. "
                                      "https://sso.example.com/realms/main"))
            elif server_url.endswith("/") and "/.well-known/" not in server_url:
                findings.append(warning(
                    "oidc-server-url-slash",
                    f"{where}: server_url ends with '/', so allauth fetches "
                    f"{server_url}/.well-known/… (a double slash) and many providers answer 404.",
                    "Remove the trailing slash, or give the full discovery URL ending in "
                    "/.well-known/openid-configuration if the issuer itself ends with '/'."))
        if inst.multi_site and snap.schema is not None and snap.schema.has_sites:
            site_id = int(inst.value("site_id") or 1)
            if site_id not in app.site_ids:
                findings.append(error(
                    "app-not-on-site",
                    f"{where} is not linked to site {site_id} (multi-site is on): InvenTree "
                    "shows no SSO button for it.",
                    "Apply the app again (sso-wizard links it), or add the site in the Django "
                    "admin."))
    if snap.apps:
        findings.append(info("apps", "Stored apps: " + ", ".join(
            f"{a.slug} ({a.name or a.provider}, client id {a.client_id})" for a in snap.apps)))
    return findings


def state(snap: Snapshot, findings: list[Finding]) -> StageState:
    return default_state(findings, done=bool(snap.apps))


def _row_values(row: AppRow | None, answer: AppAnswer) -> dict[str, Any]:
    from sso_wizard.core import providers
    settings: dict[str, Any] = dict(row.settings) if row else {}
    for key, value in answer.settings.items():
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    name = answer.name
    if name is None:
        name = row.name if row else providers.get_provider(
            answer.provider_id if answer.provider == OIDC and answer.provider_id in
            providers.load_catalogue() else answer.provider).name
    return {
        "provider": answer.provider,
        "provider_id": answer.provider_id if answer.provider == OIDC else (
            row.provider_id if row else ""),
        "name": name[:40],
        "client_id": answer.client_id if answer.client_id is not None else (
            row.client_id if row else ""),
        "secret": answer.secret if answer.secret is not None else (row.secret if row else ""),
        "key": answer.key if answer.key is not None else (row.key if row else ""),
        "settings": settings,
    }


def plan(builder: PlanBuilder, answers: Answers) -> None:
    if not answers.apps:
        return
    # An app needs its backend loaded: `--only credentials` still writes it.
    backends.ensure_backends(builder, NAME, [a.provider for a in answers.apps if not a.remove])
    loaded = {backends.backend_id(e) for e in backends.current_backends(builder) if e.strip()}
    rows = builder.apps()
    inst = builder.instance
    answered = {(a.provider, a.slug) for a in answers.apps}
    for r in rows:  # a stored OIDC app that a backend added by this plan would shadow
        if (r.provider == OIDC and (OIDC, r.slug) not in answered
                and oidc_slug_clashes(r.slug, loaded) and r.slug not in inst.backend_ids()):
            clash = slug_collision(r.slug)
            builder.findings.append(error(clash.code, f"stored app: {clash.message}", clash.fix))
    schema = builder.schema
    link_sites = inst.multi_site and schema.has_sites
    site_id = int(inst.value("site_id") or 1)
    for answer in answers.apps:
        found = [r for r in rows if matches(r, answer.provider, answer.slug)]
        where = answer.where
        if len(found) > 1:
            builder.findings.append(warning(
                "app-duplicate",
                f"{where}: {len(found)} SocialApp rows serve {answer.slug!r} (ids "
                f"{', '.join(str(r.id) for r in found)}); the plan updates id {found[0].id} "
                "and allauth still fails until the others are deleted.",
                "Delete the extra rows in the Django admin."))
        row = found[0] if found else None
        if answer.remove:
            for r in found:
                builder.add_row(RowChange(NAME, "socialapp", "delete", answer.slug,
                                          {"id": r.id, **r.as_values()}, None))
            continue
        for key in config_defined_apps(inst, answer.provider, answer.slug):
            removed_here = (answers.provider_settings.get(answer.provider) or {})
            if key in removed_here and removed_here[key] is None:
                continue
            builder.findings.append(warning(
                "app-defined-twice",
                f"{where}: {answer.provider} also has {key} under social_providers in the "
                "config; with both, allauth raises MultipleObjectsReturned.",
                f"Add provider_settings: {{{answer.provider}: {{{key}: null}}}} to the answers "
                "to remove the config copy."))
        if answer.provider == OIDC and oidc_slug_clashes(answer.slug, loaded):
            clash = slug_collision(answer.slug)
            builder.findings.append(error(clash.code, f"{where}: {clash.message}", clash.fix))
            continue
        values = _row_values(row, answer)
        if row is None:
            missing = [f for f in ("client_id", "secret") if not values[f]]
            if missing:
                builder.findings.append(error(
                    "app-incomplete",
                    f"{where}: a new app needs {' and '.join(missing)}.",
                    f"Add {', '.join(missing)} (or secret_file) to {where}."))
                continue
            if answer.provider == OIDC and not values["settings"].get("server_url"):
                builder.findings.append(error(
                    "oidc-no-server-url", f"{where}: settings.server_url is required for "
                    "openid_connect.", f"Add {where}.settings.server_url (the issuer URL)."))
                continue
            builder.add_row(RowChange(NAME, "socialapp", "insert", answer.slug, None, values))
        else:
            current = {"id": row.id, **row.as_values()}
            if any(current[k] != v for k, v in values.items()):
                builder.add_row(RowChange(NAME, "socialapp", "update", answer.slug, current,
                                          {"id": row.id, **values}))
        if link_sites and (row is None or site_id not in row.site_ids):
            builder.add_row(RowChange(NAME, "socialapp_site", "insert",
                                      f"{answer.slug}@{site_id}", None,
                                      {"slug": answer.slug, "site_id": site_id,
                                       "app_id": row.id if row else None}))
