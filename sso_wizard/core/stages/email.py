"""Stage 6, email: InvenTree's `email` section (or INVENTREE_EMAIL_* in a Docker env file).

InvenTree counts email as configured when the backend is SMTP and both host and sender are set;
until then SSO sign-up stays closed. `tls` is STARTTLS, `ssl` implicit TLS: never both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sso_wizard.core import validators
from sso_wizard.core.findings import Finding, error, info, warning
from sso_wizard.core.instance import CONFIG_KEYS
from sso_wizard.core.stages import Snapshot, StageState, default_state

if TYPE_CHECKING:
    from sso_wizard.core.answers import Answers
    from sso_wizard.core.checks.smtp import SmtpSettings
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.plan import PlanBuilder

NAME = "email"
SMTP_BACKENDS = ("django.core.mail.backends.smtp.EmailBackend",)
FIELDS = ("backend", "host", "port", "username", "password", "tls", "ssl", "sender", "prefix")


def effective(instance: Instance) -> dict[str, Any]:
    return {f: instance.value(f"email.{f}") for f in FIELDS}


def is_configured(values: dict[str, Any]) -> bool:
    return (str(values.get("backend") or "") in SMTP_BACKENDS
            and bool(values.get("host")) and bool(values.get("sender")))


def email_configured(instance: Instance) -> bool:
    return is_configured(effective(instance))


def smtp_settings(instance: Instance, ca_file: str | None = None) -> SmtpSettings:
    """What the SMTP check needs, from InvenTree's effective email settings."""
    from sso_wizard.core.checks.smtp import SmtpSettings
    v = effective(instance)
    port = v["port"] if isinstance(v["port"], int) else 25
    return SmtpSettings(host=str(v["host"] or ""), port=port, username=str(v["username"] or ""),
                        password=str(v["password"] or ""), tls=bool(v["tls"]),
                        ssl=bool(v["ssl"]), sender=str(v["sender"] or v["username"] or ""),
                        prefix=str(v["prefix"] if v["prefix"] is not None else "[InvenTree] "),
                        ca_file=ca_file)


def problems(values: dict[str, Any]) -> list[Finding]:
    """Findings on a set of email values (used on the install and on a plan's result)."""
    out: list[Finding] = []
    if values.get("tls") and values.get("ssl"):
        out.append(error("email-tls-and-ssl",
                         "email tls and ssl are both true; Django refuses to send.",
                         "Use tls: true (STARTTLS, usually port 587) or ssl: true (implicit "
                         "TLS, usually port 465), not both."))
    if not isinstance(values.get("port"), int) or isinstance(values.get("port"), bool):
        out.append(error("email-port-invalid", f"email port {values.get('port')!r} is not a "
                         "number.", "Set port to e.g. 587."))
    port = values.get("port")
    if values.get("host"):
        if not values.get("sender"):
            out.append(error("email-no-sender",
                             "email host is set but sender is not: InvenTree 1.x does not count "
                             "email as configured without a sender.",
                             "Set sender, e.g. inventree@example.com"))
        elif validators.email_problem(values["sender"]):
            out.append(error("email-sender-invalid",
                             f"email sender {values['sender']!r} is not an email address.",
                             "Set sender to e.g. inventree@example.com"))
        if port == 465 and values.get("tls") and not values.get("ssl"):
            out.append(warning("email-port-465-starttls",
                               "Port 465 normally speaks implicit TLS, but tls (STARTTLS) is "
                               "set.", "Use ssl: true, tls: false for port 465 (sso-wizard "
                               "check email probes the port to be sure)."))
        if port == 587 and values.get("ssl"):
            out.append(warning("email-port-587-ssl",
                               "Port 587 normally speaks STARTTLS, but ssl (implicit TLS) is "
                               "set.", "Use tls: true, ssl: false for port 587."))
    return out


def inspect(snap: Snapshot) -> list[Finding]:
    inst = snap.instance
    values = effective(inst)
    findings = problems(values)
    if not is_configured(values):
        sso_reg = snap.setting_bool("LOGIN_ENABLE_SSO_REG", False) if snap.db_ok else False
        missing = [k for k in ("host", "sender") if not values.get(k)]
        findings.append((warning if sso_reg else info)(
            "email-not-configured",
            "Email is not configured" + (f" ({' and '.join(missing)} missing)" if missing
                                         else " (backend is not SMTP)") +
            ": InvenTree keeps SSO registration closed for new users until it is.",
            "Apply an email section (host, port, tls, username, password, sender), then run "
            "sso-wizard check email."))
    else:
        origin = inst.resolve("email.host").origin
        findings.append(info("email-configured",
                             f"Email goes through {values['host']}:{values['port']} as "
                             f"{values['sender']} (from {origin})."))
    return findings


def state(snap: Snapshot, findings: list[Finding]) -> StageState:
    return default_state(findings, done=email_configured(snap.instance))


def plan(builder: PlanBuilder, answers: Answers) -> None:
    if "email" not in answers.given:
        return
    inst = builder.instance
    result = effective(inst)
    for key, value in answers.email.items():
        path = ("email", key)
        if value is None:
            builder.remove_config(NAME, path)
            # Removed from the file: an env variable or InvenTree's default takes over.
            resolved = inst.resolve(f"email.{key}")
            from_env = resolved.source in ("env", "env-file")
            result[key] = resolved.value if from_env else CONFIG_KEYS[f"email.{key}"].default
        else:
            builder.set_config(NAME, path, value)
            result[key] = value
    builder.findings.extend(f for f in problems(result) if f.severity == "error")
