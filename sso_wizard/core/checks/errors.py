"""Explain failed SSO logins after the fact, from InvenTree's own error log.

InvenTree logs SSO failures to ``error_report_error`` with ``path`` ``auth:/accounts/<slug>/
login/callback/`` (``kind`` = the allauth error code, ``info`` = the exception text; older
versions log the bare path). Each row is read, matched against what such failures mean, and
turned into plain words with the fix — the stack traces in ``data``/``html`` are never shown,
and anything secret-looking in ``info`` is masked before a word of it is quoted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sso_wizard.core.findings import Finding, error, info, warning

if TYPE_CHECKING:
    from sso_wizard.core.db import AppRow, Database

__all__ = ["ErrorsResult", "Failure", "check_errors", "explain", "parse_since", "redact"]

DEFAULT_SINCE = "7d"
MAX_ROWS = 500

# (pattern over "kind info", code, plain words, fix). First match wins.
RULES: list[tuple[re.Pattern[str], str, str, str]] = [
    (re.compile(r"AADSTS7000215|secret ID|client secret value", re.I), "secret-wrong",
     "Microsoft refused the client secret: the secret's ID was stored instead of its Value.",
     "Store the secret's Value (Certificates & secrets) with the wizard's credentials stage."),
    (re.compile(r"AADSTS7000222|secret[^.]{0,40}expired", re.I), "secret-expired",
     "The client secret has expired.", "Create a new secret at the provider and store it."),
    (re.compile(r"invalid_client|unauthorized_client|incorrect_client_credentials|invalid "
                r"client|Unauthorized", re.I), "secret-wrong",
     "The provider refused the client credentials while redeeming a sign-in code: the "
     "client secret is wrong or expired (or the client id).",
     "Copy a current secret from the provider and store it (stage credentials); then "
     "sso-wizard check provider <slug> --probe."),
    (re.compile(r"unknown provider|ImproperlyConfigured", re.I), "backend-missing",
     "The server does not know the provider: its backend is missing from social_backends "
     "(or the server was not restarted after adding it).",
     "Add the backend to social_backends (stage backends) and restart InvenTree."),
    (re.compile(r"MultipleObjectsReturned", re.I), "app-defined-twice",
     "The app is defined twice: in the database and in the config file (social_providers "
     "APP/APPS); allauth cannot pick one.",
     "Remove APP/APPS from social_providers in the config file and restart InvenTree."),
    (re.compile(r"signup_closed|SignupClosed", re.I), "signup-closed",
     "A new person was refused: sign-up is closed (SSO registration off, or email not "
     "configured).", "Turn on LOGIN_ENABLE_SSO_REG and configure email (host and sender), "
     "or link the person's existing account from their account settings."),
    (re.compile(r"redirect_uri_mismatch|AADSTS50011|AADSTS500112|redirect[_ ]uri", re.I),
     "redirect-mismatch",
     "The provider refused the callback URL: it differs from the one registered.",
     "Run sso-wizard callback to see the exact URL, and register exactly that."),
    (re.compile(r"invalid_grant|bad_verification_code|AADSTS70008|AADSTS54005|code[^.]{0,30}"
                r"(expired|invalid|already)", re.I), "code-rejected",
     "The provider refused the sign-in code: expired, used twice (a double click or a "
     "reload), or the redirect URI differed from the sign-in's.",
     "Usually harmless if it is rare; if every login fails, check the server's clock (NTP) "
     "and the callback URL."),
    (re.compile(r"Invalid id_token|id_token", re.I), "id-token-invalid",
     "allauth refused the provider's ID token (issuer, audience or expiry did not match).",
     "Run sso-wizard check provider <slug>: it names the mismatch (server_url/issuer, client "
     "id, clock)."),
    (re.compile(r"access_denied|cancelled|AuthError\.CANCELLED", re.I), "cancelled",
     "The person cancelled at the provider, or the provider denied them access to the app.",
     "Nothing to fix if they cancelled; otherwise allow the account at the provider (test "
     "users, user assignment)."),
    (re.compile(r"\bstate\b|PermissionDenied", re.I), "state-mismatch",
     "The login came back without the session that started it (state mismatch): cookies "
     "lost between leaving and returning — often SameSite/Secure cookie settings, or two "
     "host names for the same site.", "Use one address (site_url) everywhere; check "
     "cookie.secure/samesite and the proxy's Host handling."),
    (re.compile(r"SSLError|CERTIFICATE_VERIFY_FAILED|certificate verify", re.I), "tls",
     "The server could not verify the provider's TLS certificate.",
     "Give the provider a publicly trusted certificate, or set REQUESTS_CA_BUNDLE for the "
     "InvenTree server to a bundle that includes its CA."),
    (re.compile(r"ConnectionError|ConnectTimeout|ReadTimeout|Max retries|Name or service not "
                r"known|timed out", re.I), "provider-unreachable",
     "The InvenTree server could not reach the provider (network, DNS, proxy or firewall).",
     "From the server, check the provider URL is reachable (HTTPS_PROXY if one is needed)."),
    (re.compile(r"Error retrieving Microsoft profile|graph", re.I), "profile-failed",
     "Microsoft Graph refused the profile request.",
     "Grant the delegated Microsoft Graph permission User.Read (and admin consent)."),
    (re.compile(r"/user/emails|403 Client Error", re.I), "profile-failed",
     "The provider refused the profile/email request (GitHub App without the 'Email "
     "addresses' permission?).", "Use an OAuth App, or grant 'Email addresses: Read-only'."),
]

_SECRETISH = [
    (re.compile(r"(client_secret|secret|password|access_token|refresh_token|id_token|token|"
                r"code|code_verifier|assertion)(\"?\s*[:=]\s*\"?)([^\s\"'&,}]+)", re.I),
     r"\1\2****"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(\.[A-Za-z0-9_-]*)?"), "****jwt****"),
    (re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{8,}", re.I), "Bearer ****"),
]


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """One line of provider/server text, bounded, with secret-looking values masked."""
    out = " ".join(str(text or "").split())
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, "****")
    for pattern, repl in _SECRETISH:
        out = pattern.sub(repl, out)
    return out[:240] + ("…" if len(out) > 240 else "")


def parse_since(value: str | None, now: datetime | None = None) -> datetime:
    """An ISO date/time or a duration (``30m``, ``24h``, ``7d``, ``2w``) → naive UTC time."""
    now = now or datetime.now(UTC)
    text = (value or DEFAULT_SINCE).strip()
    m = re.fullmatch(r"(\d+)\s*([mhdw])", text, re.I)
    if m:
        n, unit = int(m.group(1)), m.group(2).lower()
        delta = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n),
                 "w": timedelta(weeks=n)}[unit]
        return (now - delta).astimezone(UTC).replace(tzinfo=None)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {value!r}: give an ISO date (2025-06-01, "
                         "2025-06-01T08:00) or a duration (30m, 24h, 7d, 2w)") from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


@dataclass
class Failure:
    code: str  # what kind of failure (secret-wrong, signup-closed, …)
    slug: str | None
    message: str
    fix: str
    count: int = 1
    first: datetime | None = None
    last: datetime | None = None
    excerpt: str = ""  # the redacted first line of the logged error

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "slug": self.slug, "message": self.message, "fix": self.fix,
                "count": self.count,
                "first": self.first.isoformat(timespec="seconds") if self.first else None,
                "last": self.last.isoformat(timespec="seconds") if self.last else None,
                "excerpt": self.excerpt}


@dataclass
class ErrorsResult:
    since: datetime
    failures: list[Failure] = field(default_factory=list)
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "since": self.since.isoformat(timespec="seconds"),
                "count": self.rows, "failures": [f.to_json() for f in self.failures],
                "findings": [f.to_json() for f in self.findings]}


_SLUG_RE = re.compile(r"/accounts/(?:oidc/)?([^/]+)/login")


def explain(kind: str, text: str, path: str, secrets: Sequence[str] = ()
            ) -> tuple[str, str, str, str | None]:
    """(code, message, fix, slug) for one logged failure."""
    m = _SLUG_RE.search(path or "")
    slug = m.group(1) if m else None
    haystack = f"{kind} {text}"
    for pattern, code, message, fix in RULES:
        if pattern.search(haystack):
            return code, message, fix.replace("<slug>", slug or "<slug>"), slug
    return ("unrecognised",
            f"An SSO failure the wizard has no explanation for ({kind or 'no kind'}: "
            f"{redact(text, secrets)[:160]}).",
            "Open the error in InvenTree's admin (Error reports) for the full details.", slug)


def check_errors(db: Database, apps: list[AppRow], since: datetime,
                 now: datetime | None = None) -> ErrorsResult:
    """Recent SSO failures from ``error_report_error``, grouped and explained."""
    import sqlalchemy as sa

    from sso_wizard.core.db import DatabaseError, error_table

    result = ErrorsResult(since=since)
    try:
        schema = db.schema()
    except DatabaseError as exc:
        result.findings.append(error("errors-unreadable", str(exc), ""))
        return result
    if not schema.has_error_log:
        result.findings.append(info(
            "errors-no-table", "This database has no error_report_error table (InvenTree "
            "creates it with its migrations), so there is no error log to read.", ""))
        return result
    t = error_table
    query = (sa.select(t.c.kind, t.c.info, t.c.path, t.c["when"])
             .where(t.c["when"] >= since)
             .where(sa.or_(t.c.path.like("auth:%"), t.c.path.like("%/accounts/%/login/%"),
                           t.c.path.like("sso%")))
             .order_by(t.c["when"].desc()).limit(MAX_ROWS))
    try:
        with db.connect() as conn:
            rows = conn.execute(query).all()
    except DatabaseError as exc:
        result.findings.append(error("errors-unreadable", str(exc), ""))
        return result
    except sa.exc.SQLAlchemyError as exc:
        result.findings.append(error(
            "errors-unreadable", f"The error log could not be read ({type(exc).__name__}).",
            "Check the database user may read error_report_error."))
        return result
    secrets = [a.secret for a in apps] + [a.client_id for a in apps if len(a.client_id) > 24]
    groups: dict[tuple[str, str | None], Failure] = {}
    for kind, text, path, when in rows:
        result.rows += 1
        first_line = str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""
        code, message, fix, slug = explain(str(kind or ""), first_line, str(path or ""),
                                           secrets)
        key = (code, slug)
        failure = groups.get(key)
        if failure is None:
            failure = groups[key] = Failure(code=code, slug=slug, message=message, fix=fix,
                                            count=0, excerpt=redact(first_line, secrets))
        failure.count += 1
        if isinstance(when, datetime):
            failure.first = when if failure.first is None else min(failure.first, when)
            failure.last = when if failure.last is None else max(failure.last, when)
    result.failures = sorted(groups.values(), key=lambda f: f.last or datetime.min,
                             reverse=True)
    since_text = since.isoformat(sep=" ", timespec="minutes")
    if not result.failures:
        result.findings.append(info("errors-none",
                                    f"No SSO failure logged since {since_text} UTC."))
        return result
    for f in result.failures:
        where = f"{f.slug}: " if f.slug else ""
        times = f"{f.count}×, last {f.last:%Y-%m-%d %H:%M} UTC" if f.last else f"{f.count}×"
        result.findings.append(warning(f"sso-failure-{f.code}",
                                       f"{where}{f.message} ({times})", f.fix))
    return result
