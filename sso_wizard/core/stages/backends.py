"""Stage 1, backends: `social_backends` lists the allauth provider modules InvenTree loads, and
`social_providers` holds their provider-wide settings. Only config: a restart is needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sso_wizard.core.findings import Finding, error, warning
from sso_wizard.core.instance import typecast
from sso_wizard.core.stages import Snapshot, StageState, default_state, todo

if TYPE_CHECKING:
    from sso_wizard.core.answers import Answers
    from sso_wizard.core.plan import PlanBuilder

NAME = "backends"
PREFIX = "allauth.socialaccount.providers."


def backend_id(entry: str) -> str:
    return entry.strip().rsplit(".", 1)[-1]


def inspect(snap: Snapshot) -> list[Finding]:
    from sso_wizard.core import providers
    inst = snap.instance
    findings: list[Finding] = []
    raw = inst.resolve("social_backends")
    entries = [str(e) for e in (raw.value or [])]
    if any(not e.strip() for e in entries):
        findings.append(error("backend-empty-entry",
                              "social_backends contains an empty entry, which InvenTree turns "
                              "into a broken app name and fails to start.",
                              "Remove the empty item from social_backends."))
    for entry in entries:
        bid = backend_id(entry)
        if entry.strip() and not providers.is_known_allauth_provider(bid) and bid != "keycloak":
            findings.append(warning("backend-unknown",
                                    f"social_backends lists {entry!r}, which is not a "
                                    "django-allauth provider.", "Check the spelling."))
        if bid == "keycloak":
            findings.append(error("backend-keycloak-removed",
                                  "social_backends lists the keycloak provider, which allauth "
                                  "removed (0.56+): InvenTree will fail to start.",
                                  "Use openid_connect with server_url "
                                  "https://HOST/realms/REALM instead."))
    loaded = inst.backend_ids()
    for app in snap.apps:
        if app.provider not in loaded:
            findings.append(error(
                "backend-missing",
                f"SocialApp {app.slug!r} uses provider {app.provider!r}, but social_backends "
                f"does not load {PREFIX}{app.provider}: the login fails with 'unknown "
                "provider'.",
                f"Add {PREFIX}{app.provider} to social_backends (sso-wizard apply does this "
                "for every app it writes), then restart InvenTree."))
    env_raw = inst.env_value("INVENTREE_SOCIAL_PROVIDERS")
    if env_raw is not None and env_raw[0].strip():
        import json
        try:
            json.loads(env_raw[0])
        except ValueError:
            findings.append(error("social-providers-bad-json",
                                  "INVENTREE_SOCIAL_PROVIDERS is not valid JSON: InvenTree "
                                  "ignores it (uses {}).", "Fix the JSON, or unset it."))
    if raw.source in ("env", "env-file"):
        findings.append(todo("backends-from-env",
                             f"social_backends comes from {raw.origin}."))
    return findings


def state(snap: Snapshot, findings: list[Finding]) -> StageState:
    return default_state(findings, done=bool(snap.instance.social_backends()))


def current_backends(builder: PlanBuilder) -> list[str]:
    """The backends list as this plan would leave it, wherever InvenTree reads it from."""
    env = builder.instance.env_file
    name = "INVENTREE_SOCIAL_BACKENDS"
    if env is not None and name in env.values:
        pending = builder.env_changes.get(name)
        return typecast(pending[1] if pending else env.values[name], "list")
    value = builder.current(("social_backends",))
    return [str(v) for v in value] if isinstance(value, list) else []


def ensure_backends(builder: PlanBuilder, stage: str, provider_ids: list[str]) -> None:
    """Add the modules these providers need to social_backends (existing entries stay)."""
    from sso_wizard.core.providers import allauth_provider_module
    current = current_backends(builder)
    have = {backend_id(e) for e in current if e.strip()}
    added = [allauth_provider_module(p) for p in dict.fromkeys(provider_ids)
             if p not in have and backend_id(allauth_provider_module(p)) not in have]
    if added:
        builder.set_config(stage, ("social_backends",), [*current, *added])


def plan(builder: PlanBuilder, answers: Answers) -> None:
    providers = list(answers.backends)
    providers += [a.provider for a in answers.apps if not a.remove]
    ensure_backends(builder, NAME, providers)
    for pid, conf in answers.provider_settings.items():
        if conf is None:
            builder.remove_config(NAME, ("social_providers", pid))
            continue
        for key, value in conf.items():
            path = ("social_providers", pid, str(key))
            if value is None:
                builder.remove_config(NAME, path)
            else:
                builder.set_config(NAME, path, value)

