"""Stage 5, settings: InvenTree's login settings (rows of common_inventreesetting).

Stored as InvenTree stores them: booleans as the strings `True`/`False`, SSO_GROUP_MAP as a JSON
string. A setting pinned by `global_settings` / INVENTREE_GLOBAL_SETTINGS (1.0+) ignores its DB
row, so the plan writes it where it is pinned instead (with a real boolean, as InvenTree returns
those values raw), or warns when only the server's environment can change it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sso_wizard.core import validators
from sso_wizard.core.answers import BOOL_SETTINGS, JSON_SETTINGS, KNOWN_SETTINGS
from sso_wizard.core.findings import Finding, error, info, warning
from sso_wizard.core.plan import RowChange
from sso_wizard.core.stages import Snapshot, StageState, default_state
from sso_wizard.core.stages.email import email_configured

if TYPE_CHECKING:
    from sso_wizard.core.answers import Answers
    from sso_wizard.core.plan import PlanBuilder

NAME = "settings"
DEFAULTS: dict[str, str] = {
    "LOGIN_ENABLE_SSO": "False", "LOGIN_ENABLE_SSO_REG": "False",
    "LOGIN_SIGNUP_SSO_AUTO": "True", "LOGIN_SIGNUP_MAIL_RESTRICTION": "",
    "LOGIN_ENABLE_SSO_GROUP_SYNC": "False", "SSO_GROUP_KEY": "groups", "SSO_GROUP_MAP": "{}",
    "SSO_REMOVE_GROUPS": "True",
}


def stored_form(key: str, value: Any) -> str:
    """The string InvenTree keeps in common_inventreesetting.value."""
    if key in BOOL_SETTINGS:
        return "True" if value else "False"
    if key in JSON_SETTINGS and not isinstance(value, str):
        return json.dumps(value)
    return str(value)


def locked_form(key: str, value: Any) -> Any:
    """The value to write into global_settings (returned raw by InvenTree: real types)."""
    if key in JSON_SETTINGS and not isinstance(value, str):
        return json.dumps(value)
    return value


def inspect(snap: Snapshot) -> list[Finding]:
    findings: list[Finding] = []
    if not snap.db_ok:
        return findings
    inst = snap.instance
    sso_reg = snap.setting_bool("LOGIN_ENABLE_SSO_REG", False)
    if not sso_reg:
        findings.append(info("sso-registration-off",
                             "SSO registration is off: only people who already have an "
                             "InvenTree account linked to SSO can sign in with it.",
                             "Set LOGIN_ENABLE_SSO_REG: true to let new people sign up via SSO."))
    elif not email_configured(inst):
        findings.append(error(
            "signup-closed-no-email",
            "SSO registration is on, but email is not configured (InvenTree needs an SMTP host "
            "and a sender): new SSO users get 'signup closed'.",
            "Configure email (stage email): host and sender."))
    restriction = snap.setting("LOGIN_SIGNUP_MAIL_RESTRICTION", "")
    problem = validators.mail_restriction_problem(restriction)
    if problem:
        findings.append(error("mail-restriction-invalid",
                              f"LOGIN_SIGNUP_MAIL_RESTRICTION {restriction!r}: {problem}.",
                              "Write it like @example.com,@example.org"))
    elif restriction and sso_reg and snap.setting_bool("LOGIN_SIGNUP_SSO_AUTO", True):
        # Proven against allauth 65 + InvenTree's adapters (tests/conformance): the refused
        # address is dropped during allauth's email clean-up and auto sign-up goes on without it.
        findings.append(warning(
            "mail-restriction-sso-auto",
            "LOGIN_SIGNUP_MAIL_RESTRICTION does not keep other domains out of SSO sign-up "
            "while LOGIN_SIGNUP_SSO_AUTO is on: InvenTree refuses the address, but allauth then "
            "signs the person up anyway, with no email address.",
            "Limit who can sign in at the provider (Google Workspace domain, Entra tenant, "
            "Keycloak realm), or set LOGIN_SIGNUP_SSO_AUTO: false so the sign-up form checks "
            "the domain."))
    if snap.setting_bool("LOGIN_ENABLE_SSO_GROUP_SYNC", False):
        raw_map = snap.setting("SSO_GROUP_MAP", "{}")
        try:
            parsed = json.loads(raw_map) if isinstance(raw_map, str) else raw_map
            ok = isinstance(parsed, dict)
        except ValueError:
            ok = False
        if not ok:
            findings.append(error("group-map-invalid", "SSO_GROUP_MAP is not a JSON object.",
                                  'Write it like {"provider-group": "inventree-group"}.'))
        if not str(snap.setting("SSO_GROUP_KEY", "groups") or ""):
            findings.append(warning("group-key-empty", "Group sync is on but SSO_GROUP_KEY "
                                    "is empty.", "Set SSO_GROUP_KEY to the claim holding the "
                                    "groups (usually groups)."))
    for key in sorted(KNOWN_SETTINGS):
        lock = inst.global_setting_lock(key)
        if lock is not None:
            findings.append(info("setting-locked",
                                 f"{key} is pinned to {lock.value!r} by {lock.key} "
                                 f"({lock.origin}); its database row is ignored."))
    return findings


def state(snap: Snapshot, findings: list[Finding]) -> StageState:
    return default_state(findings, done=snap.db_ok and snap.setting_bool(
        "LOGIN_ENABLE_SSO_REG", False) or snap.setting_bool("LOGIN_ENABLE_SSO", False))


def plan(builder: PlanBuilder, answers: Answers) -> None:
    if not answers.settings:
        return
    inst = builder.instance
    for key, value in answers.settings.items():
        lock = inst.global_setting_lock(key)
        if lock is not None:
            if lock.source == "env":
                builder.findings.append(warning(
                    "setting-locked-env",
                    f"settings.{key}: pinned by INVENTREE_GLOBAL_SETTINGS in the server's "
                    "environment; neither the database nor the config file can change it.",
                    f"Change {key} in INVENTREE_GLOBAL_SETTINGS (or pass --env-file)."))
                continue
            path = ("global_settings", key)
            if value is None:
                builder.remove_config(NAME, path)
            else:
                builder.set_config(NAME, path, locked_form(key, value))
            continue
        current = builder.settings().get(key)
        if value is None:
            if current is not None:
                builder.add_row(RowChange(NAME, "setting", "delete", key,
                                          {"key": key, "value": current}, None))
            continue
        wanted = stored_form(key, value)
        if len(wanted) > validators.SETTING_VALUE_LIMIT:
            builder.findings.append(error("setting-too-long", f"settings.{key}: "
                                          f"{validators.length_problem(wanted, 2000)}"))
            continue
        if current == wanted:
            continue
        builder.add_row(RowChange(NAME, "setting", "insert" if current is None else "update", key,
                                  None if current is None else {"key": key, "value": current},
                                  {"key": key, "value": wanted}))
