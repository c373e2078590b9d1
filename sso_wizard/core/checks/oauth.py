"""The live OAuth checks: a credential probe without a user, and a full round trip with one.

What allauth will do on the InvenTree server is mirrored step by step, so a green check here
means the same exchange works there:

- ``resolve_setup`` — the endpoints, scopes and client authentication allauth 65 uses for one
  SocialApp row (OpenID Connect discovery and JWKS; GitHub's ``GITHUB_URL``; GitLab's
  ``gitlab_url``; Microsoft's tenant and ``login_url``; Google's fixed URLs).
- ``probe_credentials`` — sends the token endpoint a deliberately invalid authorization code
  with the stored client id and secret, authenticating exactly as allauth will, and classifies
  the answer (see /work/shared/reference/providers.md, "Token endpoint answers"). Microsoft apps
  with a specific tenant get the safer client-credentials probe. Clock skew comes from ``Date``.
- ``begin_roundtrip`` / ``complete_roundtrip`` — the authorize URL with the registered callback, a
  fresh ``state``, ``nonce`` and PKCE (S256); the attempt (never a secret) is kept in the state
  directory for ten minutes so ``--paste URL`` can finish it later. The pasted callback URL (or a
  provider's error page text) is read, the code redeemed, the ID token validated (signature
  against JWKS, ``iss``, ``aud``, ``exp``, ``iat`` skew, ``nonce``), userinfo fetched, and the
  identity handed to ``verdict.assess_signin``.
- ``CallbackListener`` — "listen" mode: a plain-http callback on a host that resolves to this
  machine, on a free port, served once.

OAuth pieces come from authlib's framework-independent modules (``rfc6749.parameters``,
``rfc7636``, ``oauth2.auth.ClientAuth``) and ID tokens are checked with joserfc (authlib's own JOSE
dependency), all over the project's one httpx client: authlib's httpx integration warns it is
deprecated, so it is deliberately not used. Nothing here raises for a network or data problem:
every problem is a Finding. No secret or token ever reaches a finding, a file or the output.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import errno
import json
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from sso_wizard.core.findings import Finding, error, has_errors, info, warning

if TYPE_CHECKING:
    from sso_wizard.core.checks.discovery import DiscoveryResult
    from sso_wizard.core.checks.verdict import SignInVerdict
    from sso_wizard.core.db import AppRow
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.stages import Snapshot

__all__ = [
    "ATTEMPT_LIFETIME",
    "Attempt",
    "CallbackListener",
    "Classification",
    "Identity",
    "ProbeResult",
    "ProviderSetup",
    "RoundTripResult",
    "TokenAnswer",
    "begin_roundtrip",
    "classify_token_answer",
    "complete_roundtrip",
    "find_app",
    "parse_pasted",
    "probe_credentials",
    "provider_flavour",
    "resolve_setup",
    "validate_id_token",
]

#: How long a started round trip can be finished with --paste (seconds).
ATTEMPT_LIFETIME = 600
#: Attempts are kept this long so an old paste gets "expired" rather than "unknown".
ATTEMPT_KEEP = 3600
#: Above this many seconds of clock difference the wizard warns (allauth checks `exp` with no
#: leeway; providers' codes and tokens live for minutes).
SKEW_WARN = 60
MAX_ANSWER = 256 * 1024

Outcome = Literal["accepted", "credentials-wrong", "secret-expired", "client-unknown",
                  "redirect-mismatch", "auth-method", "tenant", "token-issued",
                  "provider-error", "not-token-endpoint", "unclear"]
Certainty = Literal["certain", "likely", "unverified"]

OIDC_PRESETS = ("keycloak", "authentik", "okta", "auth0", "zitadel", "authelia")

#: How sure a "credentials accepted" answer to a bogus code is, per provider (providers.md,
#: column "client checked first?"). "unverified": no source confirmed the provider checks the
#: client before the code, so a bad-code answer does not prove the secret.
PROBE_CERTAINTY: dict[str, Certainty] = {
    "gitlab": "certain", "keycloak": "certain", "authentik": "certain",
    "github": "likely", "okta": "likely", "auth0": "likely", "zitadel": "likely",
    "openid_connect": "likely",
    "google": "unverified", "microsoft": "unverified", "authelia": "unverified",
}
_CERTAINTY_WHY = {
    "certain": "{name} authenticates the client before it looks at the code (its source says "
               "so), so this answer proves the client id and secret.",
    "likely": "{name} is known in practice to authenticate the client before it looks at the "
              "code, so this answer very probably proves the client id and secret.",
    "unverified": "UNVERIFIED for {name}: no source confirms it checks the client before the "
                  "code, so this answer does not prove the secret. The round trip (sso-wizard "
                  "check provider {slug}) is the proof.",
}
_DISPLAY = {"github": "GitHub", "gitlab": "GitLab", "google": "Google", "microsoft": "Microsoft",
            "keycloak": "Keycloak", "authentik": "authentik", "okta": "Okta", "auth0": "Auth0",
            "zitadel": "Zitadel", "authelia": "Authelia",
            "openid_connect": "The OpenID Connect provider"}

# Microsoft Entra ID error codes (AADSTS…) the wizard explains: kind, what it means, the fix.
AADSTS: dict[int, tuple[str, str, str]] = {
    7000215: ("credentials-wrong",
              "Microsoft says the client secret is invalid (AADSTS7000215). Most often the "
              "secret's ID was copied instead of its Value.",
              "In Entra admin center → App registrations → the app → Certificates & secrets, "
              "copy the secret's **Value** (shown only right after creation; otherwise add a "
              "new secret) and store it as the app's secret."),
    7000222: ("secret-expired",
              "Microsoft says the client secret has expired (AADSTS7000222).",
              "Add a new client secret under Certificates & secrets and store its Value."),
    7000218: ("credentials-wrong",
              "Microsoft got no client secret (AADSTS7000218).",
              "Store the client secret's Value in the app."),
    700016: ("client-unknown",
             "Microsoft does not know this application in this tenant (AADSTS700016): the "
             "client id is wrong, or the tenant is.",
             "Check the Application (client) ID, and set the app's tenant to the Directory "
             "(tenant) ID shown on the app's Overview page."),
    50194: ("tenant",
            "The app is single-tenant but the wizard/allauth used a multi-tenant endpoint "
            "(AADSTS50194).",
            "Set the app's tenant setting to your Directory (tenant) ID instead of 'common'."),
    50011: ("redirect-mismatch",
            "Microsoft refuses the redirect URI: it is not registered for the app "
            "(AADSTS50011).",
            "Under Authentication → Web → Redirect URIs add exactly the callback URL (path "
            "and letter case must match)."),
    500112: ("redirect-mismatch",
             "The redirect URI differs from the one used to get the code (AADSTS500112).",
             "Register exactly the callback URL; keep site_url and login_default_protocol "
             "stable."),
    9002313: ("accepted", "Microsoft rejected the code as malformed (AADSTS9002313).", ""),
    70000: ("accepted", "Microsoft says the code is invalid or expired (AADSTS70000).", ""),
    70008: ("accepted", "Microsoft says the code has expired (AADSTS70008).", ""),
    54005: ("accepted", "Microsoft says the code was already redeemed (AADSTS54005).", ""),
    9002325: ("provider-error",
              "Microsoft requires PKCE for cross-origin redemption (AADSTS9002325): the "
              "callback is registered under the 'Single-page application' platform.",
              "Move the redirect URI to the 'Web' platform (Authentication → Add a platform → "
              "Web)."),
    9001023: ("unclear",
              "Microsoft refuses client-credentials requests on a multi-tenant endpoint "
              "(AADSTS9001023).", "Set the app's tenant to your Directory (tenant) ID."),
    50105: ("provider-error",
            "The signed-in user is not assigned to the application (AADSTS50105).",
            "Assign the user (or a group) under Enterprise applications → the app → Users and "
            "groups, or turn off 'Assignment required'."),
    65001: ("provider-error",
            "The user or an administrator has not consented to the app (AADSTS65001).",
            "Grant admin consent under API permissions (Microsoft Graph User.Read)."),
    50020: ("provider-error",
            "The account belongs to another tenant and is not a guest here (AADSTS50020).",
            "Invite the user as a guest, or use a multi-tenant app with tenant "
            "'organizations'."),
    90072: ("provider-error",
            "The account does not exist in this tenant (AADSTS90072).",
            "Invite the user as a guest, or sign in with an account of the tenant."),
    53003: ("provider-error", "A Conditional Access policy blocked the sign-in (AADSTS53003).",
            "Ask the Entra administrator to allow the app in Conditional Access."),
}
_AADSTS_RE = re.compile(r"AADSTS(\d{4,7})")


# ---------------------------------------------------------------------------------------------
# which provider, which endpoints


class AppNotFoundError(LookupError):
    """No SocialApp matches the name; the message lists the ones there are."""


def find_app(apps: list[AppRow], name: str) -> AppRow:
    """The app called ``name``: its slug (provider_id or provider), its provider, or its name."""
    wanted = name.strip()
    for app in apps:
        if app.slug == wanted:
            return app
    by_provider = [a for a in apps if a.provider == wanted]
    if len(by_provider) == 1:
        return by_provider[0]
    by_name = [a for a in apps if a.name.lower() == wanted.lower()]
    if len(by_name) == 1:
        return by_name[0]
    if not apps:
        raise AppNotFoundError(f"No SSO app is stored in the database, so there is no {name!r} "
                               "to check. Apply the credentials stage first.")
    known = ", ".join(sorted(a.slug for a in apps))
    raise AppNotFoundError(f"No app {name!r}. Stored apps (by slug): {known}.")


def provider_flavour(app: AppRow) -> str:
    """The catalogue entry that describes how this app's provider behaves.

    Non-OIDC apps: their allauth id. OpenID Connect apps: a preset named by provider_id
    (keycloak, authentik, …) or recognised from server_url, else "openid_connect".
    """
    if app.provider != "openid_connect":
        return app.provider
    pid = app.provider_id.lower()
    for preset in OIDC_PRESETS:
        if pid == preset or pid.startswith(preset):
            return preset
    url = str(app.settings.get("server_url") or "").lower()
    if "/realms/" in url:
        return "keycloak"
    if "/application/o/" in url:
        return "authentik"
    if ".okta.com" in url or ".oktapreview.com" in url:
        return "okta"
    if ".auth0.com" in url:
        return "auth0"
    for preset in ("zitadel", "authelia"):
        if preset in url:
            return preset
    return "openid_connect"


def display_name(flavour: str) -> str:
    return _DISPLAY.get(flavour, flavour)


@dataclass
class ProviderSetup:
    """What allauth will use for one app: endpoints, scopes, client authentication."""

    app: AppRow
    flavour: str
    redirect_uri: str  # the callback InvenTree sends (from site_url)
    authorize_url: str | None = None
    token_url: str | None = None
    userinfo_url: str | None = None
    emails_url: str | None = None  # GitHub's /user/emails
    jwks_uri: str | None = None
    issuer: str | None = None  # expected ID token issuer (OIDC, Google)
    jwks: list[dict[str, Any]] | None = None
    scopes: list[str] = field(default_factory=list)
    auth_params: dict[str, str] = field(default_factory=dict)
    auth_method: str = "client_secret_post"
    pkce_in_app: bool = False  # does allauth send PKCE for this app?
    fetch_userinfo: bool = True
    tenant: str | None = None  # Microsoft
    provider_settings: dict[str, Any] = field(default_factory=dict)  # social_providers[<id>]
    discovery: DiscoveryResult | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.app.slug

    @property
    def is_oidc(self) -> bool:
        return self.app.provider == "openid_connect"

    @property
    def display(self) -> str:
        """What to call the provider in messages: its product name, or the app's name."""
        if self.flavour == "openid_connect" and self.app.name:
            return self.app.name
        return display_name(self.flavour)

    @property
    def uses_id_token(self) -> bool:
        return self.is_oidc or self.app.provider == "google"

    @property
    def supported(self) -> bool:
        return bool(self.token_url and self.authorize_url)

    @property
    def ok(self) -> bool:
        return self.supported and not has_errors(self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug, "provider": self.app.provider, "name": self.app.name,
            "flavour": self.flavour, "client_id": self.app.client_id,
            "callback_url": self.redirect_uri, "authorize_url": self.authorize_url,
            "token_url": self.token_url, "userinfo_url": self.userinfo_url,
            "issuer": self.issuer, "auth_method": self.auth_method, "scopes": self.scopes,
        }


def _provider_settings(instance: Instance, allauth_id: str) -> dict[str, Any]:
    providers = instance.value("social_providers") or {}
    found = providers.get(allauth_id) if isinstance(providers, dict) else None
    return dict(found) if isinstance(found, dict) else {}


def _scopes(app: AppRow, psettings: Mapping[str, Any], default: list[str]) -> list[str]:
    scope = app.settings.get("scope")
    if scope is None:
        scope = psettings.get("SCOPE", default)
    if isinstance(scope, str):
        scope = scope.replace(",", " ").split()
    return [str(s) for s in scope] if isinstance(scope, list | tuple) else list(default)


def _auth_params(app: AppRow, psettings: Mapping[str, Any]) -> dict[str, str]:
    params = app.settings.get("auth_params")
    if params is None:
        params = psettings.get("AUTH_PARAMS", {})
    return {str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else {}


def _pkce_in_app(app: AppRow, psettings: Mapping[str, Any]) -> bool:
    enabled = app.settings.get("oauth_pkce_enabled")
    if enabled is None:
        enabled = psettings.get("OAUTH_PKCE_ENABLED", False)
    return bool(enabled)


async def resolve_setup(instance: Instance, app: AppRow, *, client: httpx.AsyncClient,
                        timeout: float = 10.0) -> ProviderSetup:  # noqa: ASYNC109
    """Work out the endpoints allauth will use for ``app`` (discovery + JWKS for OIDC)."""
    from sso_wizard.core import providers as catalogue
    from sso_wizard.core.stages.callback import app_callbacks

    flavour = provider_flavour(app)
    redirect = app_callbacks(instance, [app.slug]).get(app.slug, "")
    psettings = _provider_settings(instance, app.provider)
    setup = ProviderSetup(app=app, flavour=flavour, redirect_uri=redirect,
                          provider_settings=psettings)
    setup.pkce_in_app = _pkce_in_app(app, psettings)
    setup.auth_params = _auth_params(app, psettings)
    if not redirect:
        setup.findings.append(error(
            "site-url-missing", "site_url is not set, so the callback URL InvenTree sends is "
            "not fixed and nothing can be checked end to end.",
            "Set site_url (stage callback), e.g. https://inventree.example.com"))
    try:
        entry = catalogue.get_provider(app.provider)
        default_scopes = list(entry.scopes)
    except catalogue.UnknownProviderError:
        default_scopes = []

    if app.provider == "openid_connect":
        await _resolve_oidc(setup, client=client, timeout=timeout)
        return setup
    setup.scopes = _scopes(app, psettings, default_scopes)
    if app.provider == "github":
        web = str(psettings.get("GITHUB_URL") or "").rstrip("/")
        api = f"{web}/api/v3" if web else "https://api.github.com"
        web = web or "https://github.com"
        setup.authorize_url = f"{web}/login/oauth/authorize"
        setup.token_url = f"{web}/login/oauth/access_token"
        setup.userinfo_url = f"{api}/user"
        setup.emails_url = f"{api}/user/emails"
    elif app.provider == "gitlab":
        base = str(app.settings.get("gitlab_url") or psettings.get("GITLAB_URL")
                   or "https://gitlab.com").rstrip("/")
        setup.authorize_url = f"{base}/oauth/authorize"
        setup.token_url = f"{base}/oauth/token"
        setup.userinfo_url = f"{base}/api/v4/user"
    elif app.provider == "microsoft":
        tenant = str(app.settings.get("tenant") or psettings.get("TENANT")
                     or psettings.get("tenant") or "common")
        login = str(app.settings.get("login_url") or "https://login.microsoftonline.com")
        graph = str(app.settings.get("graph_url") or "https://graph.microsoft.com")
        setup.tenant = tenant
        setup.authorize_url = f"{login.rstrip('/')}/{tenant}/oauth2/v2.0/authorize"
        setup.token_url = f"{login.rstrip('/')}/{tenant}/oauth2/v2.0/token"
        setup.userinfo_url = f"{graph.rstrip('/')}/v1.0/me"
    elif app.provider == "google":
        setup.authorize_url = "https://accounts.google.com/o/oauth2/v2/auth"
        setup.token_url = "https://oauth2.googleapis.com/token"
        setup.userinfo_url = str(psettings.get("IDENTITY_URL")
                                 or "https://www.googleapis.com/oauth2/v2/userinfo")
        setup.issuer = "https://accounts.google.com"
        setup.jwks_uri = "https://www.googleapis.com/oauth2/v3/certs"
    else:
        setup.findings.append(warning(
            "provider-unsupported",
            f"The wizard does not know the endpoints of allauth's {app.provider!r} provider, "
            "so it cannot probe or round-trip it.",
            "Sign in once through InvenTree's login page and read sso-wizard check errors "
            "if it fails."))
    return setup


async def _resolve_oidc(setup: ProviderSetup, *, client: httpx.AsyncClient,
                        timeout: float) -> None:  # noqa: ASYNC109
    from sso_wizard.core.checks.discovery import check_discovery, fetch_jwks

    app = setup.app
    server_url = str(app.settings.get("server_url") or "")
    setup.fetch_userinfo = app.settings.get("fetch_userinfo", True) is not False
    setup.scopes = _scopes(app, setup.provider_settings, ["openid", "profile", "email"])
    if not server_url:
        setup.findings.append(error(
            "oidc-server-url-missing", f"The OpenID Connect app {app.slug!r} has no server_url in "
            "its settings: allauth cannot find the provider.",
            "Set settings.server_url to the provider's issuer URL (stage credentials)."))
        return
    configured = app.settings.get("token_auth_method")
    result = await check_discovery(server_url, client=client, timeout=timeout,
                                   token_auth_method=str(configured) if configured else None,
                                   fetch_userinfo=setup.fetch_userinfo)
    setup.discovery = result
    setup.findings.extend(result.findings)
    if result.document is None:
        return
    doc = dict(result.document)
    overrides = app.settings.get("openid_configuration_overrides")
    if isinstance(overrides, dict):
        doc.update(overrides)
    setup.issuer = doc.get("issuer") if isinstance(doc.get("issuer"), str) else None
    setup.authorize_url = _str(doc.get("authorization_endpoint"))
    setup.token_url = _str(doc.get("token_endpoint"))
    setup.userinfo_url = _str(doc.get("userinfo_endpoint"))
    setup.jwks_uri = _str(doc.get("jwks_uri"))
    setup.auth_method = result.auth_method or "client_secret_post"
    if setup.jwks_uri:
        jwks = await fetch_jwks(setup.jwks_uri, client=client, timeout=timeout)
        setup.findings.extend(jwks.findings)
        setup.jwks = jwks.keys or None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------------------------------------
# talking to the token endpoint


@dataclass
class TokenAnswer:
    """One token endpoint answer, parsed; never holds the request's secret."""

    url: str
    status: int | None = None
    data: dict[str, Any] = field(default_factory=dict)  # JSON object or form-encoded body
    text: str = ""  # the body as text (bounded), for classification only
    content_type: str = ""
    date: float | None = None  # the provider's Date header, epoch seconds
    local_time: float = 0.0  # this machine's clock at the middle of the exchange
    elapsed: float = 0.0
    problem: Finding | None = None  # network fault: no answer at all

    @property
    def clock_skew(self) -> float | None:
        """Provider clock minus this machine's clock, seconds (Date has 1 s resolution)."""
        if self.date is None:
            return None
        return self.date - self.local_time


def _parse_body(text: str, content_type: str) -> dict[str, Any]:
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    if "html" in content_type.lower() or stripped.startswith("<"):
        return {}
    if "=" in stripped and "\n" not in stripped:
        return dict(parse_qsl(stripped, keep_blank_values=True))
    return {}


async def _send(client: httpx.AsyncClient, method: str, url: str, *, prefix: str,
                timeout: float, headers: dict[str, str] | None = None,  # noqa: ASYNC109
                content: str | None = None) -> TokenAnswer:
    from sso_wizard.core.checks.discovery import _connect_finding

    answer = TokenAnswer(url=url)
    host = urlsplit(url).hostname or url
    started = time.time()
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with client.stream(method, url, headers=headers, content=content) as resp:
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER:
                        break
                    chunks.append(chunk)
                answer.status = resp.status_code
                answer.content_type = resp.headers.get("content-type", "")
                raw_date = resp.headers.get("date")
                answer.text = b"".join(chunks)[:MAX_ANSWER].decode("utf-8", "replace")
    except (TimeoutError, httpx.TimeoutException):
        answer.problem = error(
            f"{prefix}-timeout", f"No answer from {url} within {timeout:g} s.",
            "Check that the provider is up and reachable from this machine (firewall, proxy, "
            "VPN); the InvenTree server needs the same path to it.")
        return answer
    except (httpx.HTTPError, OSError) as exc:
        answer.problem = _connect_finding(prefix, url, host, exc)
        return answer
    finally:
        answer.elapsed = time.perf_counter() - t0
        answer.local_time = started + answer.elapsed / 2
    answer.data = _parse_body(answer.text, answer.content_type)
    if raw_date:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            answer.date = email.utils.parsedate_to_datetime(raw_date).timestamp()
    return answer


async def token_request(client: httpx.AsyncClient, setup: ProviderSetup, *, grant: str,
                        method: str, timeout: float, prefix: str,  # noqa: ASYNC109
                        **params: str | None) -> TokenAnswer:
    """POST to the token endpoint the way allauth's OAuth2Client does (form body; secret in
    the body for client_secret_post, HTTP Basic for client_secret_basic)."""
    from authlib.oauth2.auth import ClientAuth
    from authlib.oauth2.rfc6749.parameters import prepare_token_request

    assert setup.token_url
    body = prepare_token_request(grant, **params)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    auth = ClientAuth(setup.app.client_id, setup.app.secret, method)
    _, headers, body = auth.prepare("POST", setup.token_url, headers, body)
    return await _send(client, "POST", setup.token_url, prefix=prefix, timeout=timeout,
                       headers=headers, content=body)


# ---------------------------------------------------------------------------------------------
# classifying an answer


@dataclass(frozen=True)
class Classification:
    kind: Outcome
    error: str | None = None
    description: str | None = None
    aadsts: int | None = None


def _aadsts(data: Mapping[str, Any], text: str) -> int | None:
    codes = data.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        return int(codes[0])
    m = _AADSTS_RE.search(str(data.get("error_description") or "") or text)
    return int(m.group(1)) if m else None


def classify_token_answer(answer: TokenAnswer, flavour: str) -> Classification:
    """What a token endpoint's answer to a bogus code says about the client credentials."""
    data = answer.data
    status = answer.status or 0
    err = data.get("error") if isinstance(data.get("error"), str) else None
    if err is None and isinstance(data.get("errorCode"), str):  # Okta's non-standard shape
        err = str(data["errorCode"])
    desc_raw = data.get("error_description") or data.get("errorSummary") or data.get("message")
    desc = str(desc_raw) if desc_raw else None
    code = _aadsts(data, answer.text)

    def c(kind: Outcome) -> Classification:
        return Classification(kind, err, desc, code)

    if status in (200, 201) and isinstance(data.get("access_token"), str):
        return c("token-issued")
    if code is not None and code in AADSTS:
        return c(AADSTS[code][0])  # type: ignore[arg-type]
    low = (desc or "").lower()
    if err in ("invalid_client", "unauthorized_client", "incorrect_client_credentials"):
        if "token_endpoint_auth_method" in low or "auth method" in low:
            return c("auth-method")
        if err == "invalid_client" and data.get("errorCode") and "client_id" in low:
            return c("client-unknown")
        return c("credentials-wrong")
    if flavour == "github" and status == 404:
        return c("client-unknown")
    if flavour == "auth0" and err == "access_denied" and status == 401:
        return c("credentials-wrong")
    if err == "redirect_uri_mismatch" or "incorrect redirect_uri" in low:
        return c("redirect-mismatch")
    if err in ("invalid_grant", "bad_verification_code"):
        return c("accepted")
    if err == "invalid_request" and flavour == "zitadel":
        return c("accepted")
    if status >= 500:
        return c("provider-error")
    if err is None:
        body = answer.text.lstrip()[:200].lower()
        if status in (404, 405) or body.startswith("<") or "html" in answer.content_type:
            return c("not-token-endpoint")
    return c("unclear")


def _clean(text: str | None, secret: str = "", limit: int = 300) -> str:
    """Provider text for a message: one line, bounded, the secret (if echoed) masked."""
    if not text:
        return ""
    out = " ".join(str(text).split())
    if secret and len(secret) >= 4:
        out = out.replace(secret, "****")
    return out[:limit] + ("…" if len(out) > limit else "")


def _said(cls: Classification, answer: TokenAnswer, secret: str) -> str:
    parts = [f"HTTP {answer.status}"]
    if cls.error:
        parts.append(cls.error)
    said = " ".join(parts)
    if cls.description:
        said += f" ({_clean(cls.description, secret, 200)})"
    return said


# ---------------------------------------------------------------------------------------------
# the probe


@dataclass
class ProbeResult:
    slug: str
    outcome: Outcome | Literal["unreachable", "unsupported", "skipped"] = "skipped"
    certainty: Certainty = "unverified"
    method: str = "bogus-code"  # or "client-credentials"
    auth_method: str | None = None
    http_status: int | None = None
    error: str | None = None
    clock_skew: float | None = None
    elapsed: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome in ("accepted", "token-issued") and not has_errors(self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "outcome": self.outcome, "certainty": self.certainty,
            "method": self.method, "auth_method": self.auth_method,
            "http_status": self.http_status, "error": self.error,
            "clock_skew_seconds": None if self.clock_skew is None else round(self.clock_skew),
            "elapsed_ms": round(self.elapsed * 1000, 1),
            "findings": [f.to_json() for f in self.findings],
        }


def _other_method(method: str) -> str:
    return "client_secret_basic" if method == "client_secret_post" else "client_secret_post"


def _is_specific_tenant(tenant: str | None) -> bool:
    return bool(tenant) and str(tenant).lower() not in ("common", "organizations", "consumers")


async def probe_credentials(setup: ProviderSetup, *, client: httpx.AsyncClient,
                            timeout: float = 10.0) -> ProbeResult:  # noqa: ASYNC109
    """Ask the token endpoint about the stored credentials without a user (see module doc)."""
    result = ProbeResult(slug=setup.slug, auth_method=setup.auth_method)
    started = time.perf_counter()
    try:
        await _probe(setup, result, client=client, timeout=timeout)
    finally:
        result.elapsed = time.perf_counter() - started
    return result


async def _probe(setup: ProviderSetup, result: ProbeResult, *, client: httpx.AsyncClient,
                 timeout: float) -> None:  # noqa: ASYNC109
    from authlib.common.security import generate_token

    app = setup.app
    name = setup.display
    if not setup.token_url:
        result.outcome = "unsupported"
        if not has_errors(setup.findings):
            result.findings.append(warning(
                "probe-unsupported", f"No token endpoint is known for {setup.slug!r}, so its "
                "credentials cannot be probed.", "See the findings above."))
        return
    missing = [n for n, v in (("client id", app.client_id), ("secret", app.secret)) if not v]
    if missing:
        result.outcome = "credentials-wrong"
        result.certainty = "certain"
        result.findings.append(error(
            "probe-missing-credentials", f"The app {setup.slug!r} has no {' and no '.join(missing)}"
            ": allauth cannot redeem any sign-in code.",
            "Store the client id and secret (stage credentials)."))
        return
    result.certainty = PROBE_CERTAINTY.get(setup.flavour, "unverified")

    if setup.flavour == "microsoft" and _is_specific_tenant(setup.tenant):
        # Safer: a client-credentials request to the tenant's endpoint proves the secret.
        result.method = "client-credentials"
        answer = await token_request(client, setup, grant="client_credentials",
                                     method=setup.auth_method, timeout=timeout,
                                     prefix="token-endpoint",
                                     scope="https://graph.microsoft.com/.default")
        if _record_network(result, answer):
            return
        cls = classify_token_answer(answer, setup.flavour)
        result.http_status, result.error = answer.status, cls.error
        if cls.kind == "token-issued":
            result.outcome = "accepted"
            result.certainty = "certain"
            result.findings.append(info(
                "probe-credentials-accepted",
                f"Microsoft issued an app-only token for tenant {setup.tenant}: the client id "
                "and secret are right (client-credentials probe; the token was discarded)."))
            _skew(result, answer)
            return
        if cls.kind not in ("unclear", "provider-error"):
            _report(setup, result, answer, cls, name)
            _skew(result, answer)
            return
        result.method = "bogus-code"  # fall back to the code probe below

    bogus = "sso-wizard-probe-" + generate_token(24)
    answer = await token_request(client, setup, grant="authorization_code",
                                 method=setup.auth_method, timeout=timeout,
                                 prefix="token-endpoint", code=bogus,
                                 redirect_uri=setup.redirect_uri or None)
    if _record_network(result, answer):
        return
    cls = classify_token_answer(answer, setup.flavour)
    result.http_status, result.error = answer.status, cls.error
    _skew(result, answer)
    if cls.kind in ("credentials-wrong", "auth-method") and setup.is_oidc:
        other = _other_method(setup.auth_method)
        retry = await token_request(client, setup, grant="authorization_code", method=other,
                                    timeout=timeout, prefix="token-endpoint", code=bogus,
                                    redirect_uri=setup.redirect_uri or None)
        if retry.problem is None:
            retry_cls = classify_token_answer(retry, setup.flavour)
            if retry_cls.kind == "accepted":
                result.outcome = "auth-method"
                result.certainty = "certain"
                configured = app.settings.get("token_auth_method")
                why = (f"token_auth_method is set to {configured!r}" if configured else
                       "allauth picks it from the discovery document")
                result.findings.append(error(
                    "probe-auth-method-mismatch",
                    f"{name} refuses the credentials sent with {setup.auth_method} "
                    f"({_said(cls, answer, app.secret)}) but accepts them with {other}: the "
                    f"client is registered for {other} only, and allauth will use "
                    f"{setup.auth_method} ({why}). Every login would fail.",
                    f"Set token_auth_method: {other} in the app's settings (or register the "
                    f"client at the provider for {setup.auth_method})."))
                return
    _report(setup, result, answer, cls, name)


def _record_network(result: ProbeResult, answer: TokenAnswer) -> bool:
    if answer.problem is None:
        return False
    result.outcome = "unreachable"
    result.findings.append(answer.problem)
    return True


def _skew(result: ProbeResult, answer: TokenAnswer) -> None:
    skew = answer.clock_skew
    result.clock_skew = skew
    if skew is None:
        return
    if abs(skew) > SKEW_WARN:
        ahead = "ahead of" if skew > 0 else "behind"
        result.findings.append(warning(
            "clock-skew",
            f"The provider's clock is {abs(skew):.0f} s {ahead} this machine's (from its Date "
            "header). allauth checks ID token expiry with no leeway, and sign-in codes live "
            "only minutes.", "Synchronise the clocks with NTP (timedatectl set-ntp true) on "
            "the InvenTree server."))
    else:
        result.findings.append(info(
            "clock-skew", f"Clocks agree: the provider's Date header is within "
            f"{max(abs(skew), 1):.0f} s of this machine's clock."))


def _report(setup: ProviderSetup, result: ProbeResult, answer: TokenAnswer,
            cls: Classification, name: str) -> None:
    app = setup.app
    said = _said(cls, answer, app.secret)
    kind = cls.kind
    result.outcome = kind
    ms_hint = " For Microsoft, use the secret's Value, not its Secret ID." if (
        setup.flavour == "microsoft") else ""
    if cls.aadsts is not None and cls.aadsts in AADSTS and kind != "accepted":
        _, text, fix = AADSTS[cls.aadsts]
        code = {"credentials-wrong": "probe-credentials-wrong",
                "secret-expired": "probe-secret-expired",
                "client-unknown": "probe-client-unknown",
                "redirect-mismatch": "probe-redirect-mismatch",
                "tenant": "probe-tenant-mismatch"}.get(kind, "probe-provider-error")
        result.certainty = "certain"
        result.findings.append(error(code, text, fix))
        return
    if kind == "accepted":
        why = _CERTAINTY_WHY[result.certainty].format(name=name, slug=setup.slug)
        result.findings.append(info(
            "probe-credentials-accepted",
            f"{name} answered a deliberately invalid code with {said}: it accepted the client "
            f"id and secret ({result.auth_method}) and refused only the code. {why}"))
        if result.certainty == "unverified":
            result.findings.append(warning(
                "probe-unverified", why,
                f"Finish the round trip: sso-wizard check provider {setup.slug}"))
        return
    if kind in ("credentials-wrong", "auth-method"):
        extra = ""
        if setup.flavour == "authentik":
            extra = (" (authentik also answers invalid_client when the redirect URI is not "
                     "registered: check both)")
        if kind == "auth-method":
            extra += (f" The provider hints at the client authentication method: allauth "
                      f"uses {result.auth_method}.")
        result.certainty = "certain"
        result.findings.append(error(
            "probe-credentials-wrong",
            f"{name} refused the client credentials: {said}. The client id or secret is "
            f"wrong, or the secret expired{extra}.{ms_hint}",
            "Copy the client id and a current secret from the provider's console and store "
            "them again (stage credentials)."
            + (f" If the client is registered for {_other_method(result.auth_method or '')}, "
               "set token_auth_method accordingly." if setup.is_oidc else "")))
        return
    if kind == "client-unknown":
        result.certainty = "certain"
        result.findings.append(error(
            "probe-client-unknown",
            f"{name} does not know the client id {app.client_id!r}: {said}.",
            "Copy the client id again from the provider's console (it must be the OAuth "
            "client of this app, not an app name)."))
        return
    if kind == "redirect-mismatch":
        result.certainty = "certain"
        result.findings.append(error(
            "probe-redirect-mismatch",
            f"{name} refused the redirect URI {setup.redirect_uri}: {said}.",
            f"Register exactly {setup.redirect_uri} as the app's callback/redirect URI."))
        return
    if kind == "token-issued":
        result.findings.append(warning(
            "probe-token-issued",
            f"{name} issued a token for a deliberately invalid code: the endpoint does not "
            "behave like an OAuth token endpoint.",
            "Check the provider's token endpoint URL."))
        return
    if kind == "provider-error":
        result.findings.append(error(
            "probe-provider-error",
            f"{name}'s token endpoint failed: {said}.",
            "The provider has a problem; try again later or check its logs."))
        return
    if kind == "not-token-endpoint":
        result.findings.append(error(
            "probe-not-token-endpoint",
            f"{answer.url} did not answer like an OAuth token endpoint: {said}"
            + (" (an HTML page)" if answer.text.lstrip().startswith("<") else "") + ".",
            "Check the provider URL settings (server_url, gitlab_url, GITHUB_URL, tenant) "
            "and any proxy in front of the provider."))
        return
    result.findings.append(warning(
        "probe-unclear",
        f"{name} answered the probe with {said}; the wizard cannot tell from this whether the "
        "client credentials are right.",
        f"Finish the round trip to be sure: sso-wizard check provider {setup.slug}"))


# ---------------------------------------------------------------------------------------------
# round trip: attempts kept in the state directory


@dataclass
class Attempt:
    """A started round trip. Never holds the client secret."""

    slug: str
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    authorize_url: str
    client_id: str
    created: float
    finished: float | None = None

    @property
    def age(self) -> float:
        return time.time() - self.created

    @property
    def expired(self) -> bool:
        return self.age > ATTEMPT_LIFETIME


def _attempts_path(config_path: Path) -> Path:
    from sso_wizard.core.state import instance_key, state_dir
    return state_dir() / "roundtrip" / f"{instance_key(config_path)}.json"


def load_attempts(config_path: Path) -> list[Attempt]:
    path = _attempts_path(config_path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for item in raw.get("attempts", []) if isinstance(raw, dict) else []:
        with contextlib.suppress(TypeError, KeyError):
            out.append(Attempt(**item))
    return out


def _save_attempts(config_path: Path, attempts: list[Attempt]) -> None:
    from sso_wizard.core.state import write_private_json
    now = time.time()
    keep = [a for a in attempts if now - a.created < ATTEMPT_KEEP]
    write_private_json(_attempts_path(config_path), {"attempts": [asdict(a) for a in keep]})


def begin_roundtrip(instance: Instance, setup: ProviderSetup) -> Attempt:
    """A fresh attempt (state, nonce, PKCE S256) and its authorize URL, saved for --paste."""
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    assert setup.authorize_url
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    extra: dict[str, str] = dict(setup.auth_params)
    if setup.uses_id_token:
        extra["nonce"] = nonce
    extra["code_challenge"] = create_s256_code_challenge(verifier)
    extra["code_challenge_method"] = "S256"
    url = prepare_grant_uri(setup.authorize_url, setup.app.client_id, "code",
                            redirect_uri=setup.redirect_uri, scope=setup.scopes or None,
                            state=state, **extra)
    attempt = Attempt(slug=setup.slug, state=state, nonce=nonce, code_verifier=verifier,
                      redirect_uri=setup.redirect_uri, authorize_url=url,
                      client_id=setup.app.client_id, created=time.time())
    attempts = load_attempts(instance.config_path)
    attempts.append(attempt)
    _save_attempts(instance.config_path, attempts)
    return attempt


def _mark_finished(instance: Instance, attempt: Attempt) -> None:
    attempts = load_attempts(instance.config_path)
    for a in attempts:
        if a.state == attempt.state:
            a.finished = time.time()
    _save_attempts(instance.config_path, attempts)


# ---------------------------------------------------------------------------------------------
# reading what the admin pasted


@dataclass
class Pasted:
    kind: Literal["callback", "provider-error", "page-text", "empty", "other-url"]
    url: str | None = None
    code: str | None = None
    state: str | None = None
    error: str | None = None
    description: str | None = None
    findings: list[Finding] = field(default_factory=list)


# Provider error pages the admin may paste instead of a URL: (pattern, what, fix).
_PAGE_PATTERNS: list[tuple[re.Pattern[str], str, str, str]] = [
    (re.compile(r"redirect_uri_mismatch|redirect[_ ]?uri[^.\n]{0,60}(mismatch|not (registered|"
                r"associated|allowed|valid|supported|match)|does not match|invalid)|"
                r"invalid parameter: redirect_uri|callback url mismatch|must be a login "
                r"redirect uri|reply address[^.\n]{0,80}does not match|missing in the client "
                r"configuration|is not supported by client|mismatching redirection uri",
                re.I),
     "roundtrip-redirect-mismatch",
     "The provider refused the callback URL (its error page says the redirect URI is not "
     "registered for this client).",
     "Register exactly {redirect} at the provider (scheme, host, port, path and the trailing "
     "slash must match), then start again."),
    (re.compile(r"org_internal", re.I), "roundtrip-provider-error",
     "Google refused the account: the app is 'Internal' to a Workspace organisation "
     "(org_internal).", "Use an account of that organisation, or make the app External."),
    (re.compile(r"access blocked|error 403: access_denied|has not completed the google "
                r"verification|app is in testing", re.I), "roundtrip-provider-error",
     "Google blocked the account: the consent screen is in Testing and admits only listed "
     "test users.", "Add the account under Audience → Test users, or publish the app."),
    (re.compile(r"invalid_client|client not found|unknown client|client_id[^.\n]{0,40}"
                r"(invalid|not found|unknown)|application[^.\n]{0,60}was not found", re.I),
     "roundtrip-client-unknown", "The provider does not know the client id sent in the "
     "authorize URL.", "Copy the client id again from the provider's console and store it."),
    (re.compile(r"unauthorized_client|not allowed to use the authorization code|grant type "
                r"[^.\n]{0,40}not allowed", re.I), "roundtrip-provider-error",
     "The client is not allowed to use the authorization code flow.",
     "Enable the authorization code ('standard') flow for this client at the provider."),
    (re.compile(r"invalid_scope", re.I), "roundtrip-provider-error",
     "The provider refused the requested scopes ({scopes}).",
     "Allow the scopes {scopes} for this client at the provider."),
]


def _provider_error_finding(err: str, desc: str | None, setup: ProviderSetup,
                            secret: str) -> Finding:
    """A redirected ``error=`` (or text) from the provider, with the fix."""
    text = _clean(desc, secret)
    code = _aadsts({"error_description": desc or ""}, desc or "")
    said = f"{err}" + (f" ({text})" if text else "")
    if code is not None and code in AADSTS:
        kind, what, fix = AADSTS[code]
        finding_code = ("roundtrip-redirect-mismatch" if kind == "redirect-mismatch"
                        else "roundtrip-provider-error")
        return error(finding_code, f"Microsoft refused the sign-in: {what}", fix)
    if err == "access_denied":
        return error(
            "roundtrip-access-denied",
            f"The provider answered {said}: the sign-in was cancelled, or this account may not "
            "use the app.",
            "Sign in again and approve; if it was not cancelled, allow the account at the "
            "provider (Google: test users of a consent screen in Testing; Okta/Microsoft: "
            "assign the user to the app; Keycloak/authentik: the user's access policy).")
    if err == "redirect_uri_mismatch":
        return error("roundtrip-redirect-mismatch",
                     f"The provider refused the callback URL: {said}.",
                     f"Register exactly {setup.redirect_uri} at the provider.")
    if err == "application_suspended":
        return error("roundtrip-provider-error",
                     f"GitHub says the OAuth app is suspended: {said}.",
                     "Check the app's status at github.com/settings/applications.")
    if err == "invalid_scope":
        return error("roundtrip-provider-error",
                     f"The provider refused the scopes {' '.join(setup.scopes)}: {said}.",
                     "Allow these scopes for the client at the provider.")
    if err in ("unauthorized_client", "unsupported_response_type"):
        return error("roundtrip-provider-error",
                     f"The client may not use the authorization code flow: {said}.",
                     "Enable the authorization code ('standard') flow for this client.")
    if err == "invalid_client":
        return error("roundtrip-client-unknown",
                     f"The provider does not know the client: {said}.",
                     "Copy the client id again from the provider's console.")
    if err in ("server_error", "temporarily_unavailable"):
        return error("roundtrip-provider-error",
                     f"The provider failed: {said}.", "Try again later.")
    return error("roundtrip-provider-error", f"The provider answered with an error: {said}.",
                 "Read the provider's description above; fix the client at the provider and "
                 "start again.")


def _url_base(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port, parts.path


def parse_pasted(text: str, setup: ProviderSetup, *, site_url: str = "") -> Pasted:
    """Make sense of what the admin pasted: the callback URL, or a provider's error page."""
    secret = setup.app.secret
    raw = (text or "").strip()
    if not raw:
        return Pasted("empty", findings=[error(
            "roundtrip-paste-empty", "Nothing was pasted.",
            "Paste the full address of the page the browser landed on after signing in.")])
    unquoted = raw.strip("'\"<> \t\r\n")
    if re.match(r"^https?://", unquoted, re.I) and not re.search(r"[ \t]", unquoted):
        # one URL, perhaps broken over lines by a terminal or a mail client: rejoin it
        return _parse_url("".join(unquoted.split()), setup, site_url, secret)
    for pattern, code, what, fix in _PAGE_PATTERNS:
        if pattern.search(raw):
            scopes = " ".join(setup.scopes)
            aad = _aadsts({}, raw)
            if aad is not None and aad in AADSTS:
                return Pasted("page-text", findings=[
                    _provider_error_finding("error", f"AADSTS{aad}", setup, secret)])
            return Pasted("page-text", findings=[error(
                code, what.format(scopes=scopes) + f" Page text: “{_clean(raw, secret, 160)}”",
                fix.format(redirect=setup.redirect_uri, scopes=scopes))])
    aad = _aadsts({}, raw)
    if aad is not None:
        return Pasted("page-text", findings=[
            _provider_error_finding("error", f"AADSTS{aad}: {raw}", setup, secret)])
    return Pasted("page-text", findings=[error(
        "roundtrip-paste-unrecognised",
        f"The pasted text is neither the callback URL nor a provider error the wizard knows: "
        f"“{_clean(raw, secret, 160)}”.",
        "Paste the full address (URL) from the browser's address bar of the page you landed "
        f"on — it starts with {setup.redirect_uri.split('?')[0]}")])


def _parse_url(url: str, setup: ProviderSetup, site_url: str, secret: str) -> Pasted:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if parts.fragment and "code=" in parts.fragment and "code" not in params:
        params.update(parse_qsl(parts.fragment))
    pasted = Pasted("callback", url=url, code=params.get("code") or None,
                    state=params.get("state") or None, error=params.get("error") or None,
                    description=params.get("error_description") or None)
    want = _url_base(setup.redirect_uri)
    got = _url_base(url)
    if setup.authorize_url and _url_base(setup.authorize_url)[:3] == got[:3] and (
            got[3] == _url_base(setup.authorize_url)[3]) and "client_id" in params:
        pasted.kind = "other-url"
        pasted.findings.append(error(
            "roundtrip-pasted-authorize-url",
            "That is the sign-in link the wizard printed, not the page you landed on after "
            "signing in.", "Open the link in a browser, sign in, then paste the address of the "
            "page you land on."))
        return pasted
    if got[3].rstrip("/").endswith("/web/logged-in") or (
            pasted.error and "error_process" in params):
        pasted.kind = "other-url"
        pasted.findings.append(error(
            "roundtrip-pasted-after-continue",
            f"That is InvenTree's page after it refused the wizard's sign-in "
            f"(error={params.get('error', '?')}): the code is no longer in the address.",
            "Start again, and after signing in paste the address of the page titled "
            "'Sign In' right away — do not press its Continue button."))
        return pasted
    if got[:3] != want[:3] or got[3] != want[3]:
        same_site = bool(site_url) and _url_base(site_url)[:3] == got[:3]
        if not (pasted.code or pasted.error):
            pasted.kind = "other-url"
            pasted.findings.append(error(
                "roundtrip-not-callback",
                f"That address ({_clean(url.split('?')[0], secret, 120)}) is not the callback "
                f"URL {setup.redirect_uri} and carries no code.",
                "Paste the address of the page the provider sent you back to after signing "
                "in." + (" It is on your InvenTree site." if same_site else "")))
            return pasted
        pasted.findings.append(warning(
            "roundtrip-callback-elsewhere",
            f"The provider sent the browser to {url.split('?')[0]}, not to the registered "
            f"callback {setup.redirect_uri}.",
            "Check which redirect URI the provider has registered."))
    if pasted.error:
        pasted.kind = "provider-error"
        pasted.findings.append(_provider_error_finding(pasted.error, pasted.description,
                                                       setup, secret))
        return pasted
    if not pasted.code:
        pasted.findings.append(error(
            "roundtrip-url-truncated",
            "The pasted address has no 'code': it was cut off, or the provider did not send "
            "one.", "Copy the whole address from the browser's address bar (it is long), and "
            "paste it in one piece."))
        return pasted
    if not pasted.state:
        pasted.findings.append(error(
            "roundtrip-url-truncated",
            "The pasted address has a code but no 'state': it was cut off.",
            "Copy the whole address from the browser's address bar and paste it again."))
    return pasted


# ---------------------------------------------------------------------------------------------
# ID token validation


@dataclass
class IdTokenCheck:
    valid: bool = False
    claims: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def _b64json(part: str) -> Any:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def validate_id_token(id_token: str, *, keys: list[dict[str, Any]] | None, issuer: str | None,
                      client_id: str, nonce: str | None, client_secret: str = "",
                      jwks_uri: str | None = None, now: float | None = None,
                      max_skew: float = SKEW_WARN) -> IdTokenCheck:
    """Check an ID token the way a careful relying party does, naming each failure.

    allauth itself (authorization code flow) checks ``iss``, ``aud`` and ``exp`` with no leeway
    and skips the signature; the wizard checks the signature against the JWKS too.
    """
    from joserfc import jwk, jwt
    from joserfc.errors import BadSignatureError, JoseError

    out = IdTokenCheck()
    now = time.time() if now is None else now
    parts = id_token.split(".") if isinstance(id_token, str) else []
    try:
        if len(parts) != 3:
            raise ValueError("not three parts")
        out.header = _b64json(parts[0])
        claims = _b64json(parts[1])
        if not isinstance(out.header, dict) or not isinstance(claims, dict):
            raise ValueError("not JSON objects")
    except (ValueError, UnicodeDecodeError, TypeError):
        out.findings.append(error(
            "idtoken-malformed", "The provider's id_token is not a signed JWT the wizard can "
            "read (allauth fails with 'Invalid id_token').",
            "Check the provider's ID token settings (signed, not encrypted)."))
        return out
    out.claims = claims
    alg = str(out.header.get("alg") or "")
    kid = out.header.get("kid")
    # -- signature
    if alg.lower() == "none" or not alg:
        out.findings.append(error("idtoken-unsigned", "The ID token is not signed (alg none).",
                                  "Configure the provider to sign ID tokens (RS256)."))
    else:
        key_set: Any = None
        try:
            if alg.startswith("HS"):
                key_set = jwk.OctKey.import_key(client_secret)
            else:
                usable = [k for k in keys or [] if isinstance(k, dict)]
                if kid is not None:
                    usable = [k for k in usable if k.get("kid") == kid]
                if not usable:
                    where = f" at {jwks_uri}" if jwks_uri else ""
                    out.findings.append(error(
                        "idtoken-unknown-key",
                        f"The ID token is signed with key {kid!r}, which the provider does not "
                        f"publish in its key set{where}: the token may come from another "
                        "issuer, or the keys were rotated and the JWKS is stale.",
                        "Check that server_url points at the provider that issues the tokens "
                        "(a proxy or second instance?), and that its JWKS lists the active "
                        "signing key."))
                else:
                    key_set = jwk.KeySet.import_key_set({"keys": usable})
            if key_set is not None:
                jwt.decode(id_token, key_set, algorithms=[alg])
        except BadSignatureError:
            out.findings.append(error(
                "idtoken-signature-invalid",
                f"The ID token's signature does not verify with the provider's key {kid!r}.",
                "The token was altered, or the provider's published keys do not match its "
                "signing key: check its key configuration."))
        except (JoseError, ValueError, TypeError) as exc:
            out.findings.append(error(
                "idtoken-signature-invalid",
                f"The ID token's signature could not be checked ({type(exc).__name__}: "
                f"{_clean(str(exc), client_secret, 120)}).",
                "Check the provider's signing algorithm and keys."))
    # -- claims (what allauth checks: iss, aud, exp; plus iat skew and nonce)
    iss = claims.get("iss")
    if issuer is not None and iss != issuer:
        hint = ""
        if isinstance(iss, str) and iss.rstrip("/") == issuer.rstrip("/"):
            hint = " (they differ only by a trailing slash)"
        out.findings.append(error(
            "idtoken-issuer-mismatch",
            f"The ID token's issuer is {iss!r} but the discovery document says {issuer!r}"
            f"{hint}: allauth refuses it ('Invalid id_token').",
            "Make the provider's public URL consistent (its issuer setting, KC_HOSTNAME, proxy "
            "headers), or point server_url at the discovery document of the issuer that signs "
            "the tokens."))
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if (
        isinstance(aud, list)) else []
    if client_id not in auds:
        out.findings.append(error(
            "idtoken-audience-mismatch",
            f"The ID token is for audience {aud!r}, not for the client id {client_id!r}: "
            "allauth refuses it.", "Store the client id of this very client (stage "
            "credentials), or fix the provider's audience mapping."))
    elif len(auds) > 1 and claims.get("azp") not in (None, client_id):
        out.findings.append(warning(
            "idtoken-azp-mismatch", f"The ID token has several audiences and azp "
            f"{claims.get('azp')!r}, not {client_id!r}.", "Check the provider's client mapping."))
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        out.findings.append(error("idtoken-no-exp", "The ID token has no expiry (exp).",
                                  "Fix the provider's ID token settings."))
    elif exp <= now:
        out.findings.append(error(
            "idtoken-expired",
            f"The ID token expired {now - exp:.0f} s ago (by this machine's clock): allauth "
            "refuses it. Either the provider issues very short-lived tokens, or the clocks "
            "differ.", "Synchronise both clocks with NTP and check the provider's ID token "
            "lifetime (minutes, not seconds)."))
    iat = claims.get("iat")
    if isinstance(iat, int | float) and abs(iat - now) > max_skew:
        way = "in the future" if iat > now else "ago"
        out.findings.append(warning(
            "idtoken-iat-skew",
            f"The ID token says it was issued {abs(iat - now):.0f} s {way}: the provider's "
            "clock and this machine's differ.",
            "Synchronise the clocks with NTP (timedatectl set-ntp true)."))
    if nonce is not None:
        got = claims.get("nonce")
        if got is None:
            out.findings.append(warning(
                "idtoken-no-nonce", "The provider ignored the nonce (the ID token has none). "
                "allauth does not send one, so logins still work.", ""))
        elif got != nonce:
            out.findings.append(error(
                "idtoken-nonce-mismatch",
                "The ID token's nonce is not the one this attempt sent: the token belongs to "
                "another sign-in (replayed or mixed up).",
                "Start a fresh round trip and paste the callback of that very attempt."))
    out.valid = not has_errors(out.findings)
    if out.valid:
        left = (exp - now) / 60 if isinstance(exp, int | float) else 0
        out.findings.append(info(
            "idtoken-valid",
            f"ID token valid: signed with {alg} "
            + (f"key {kid!r}" if kid is not None else "(no key id)")
            + f", issuer {iss!r}, audience {client_id!r}, expires in {left:.0f} min"
            + (", nonce matches" if nonce else "") + "."))
    return out


# ---------------------------------------------------------------------------------------------
# the identity that came back


@dataclass
class Identity:
    uid: str | None = None  # what allauth stores as socialaccount.uid
    sub: str | None = None
    email: str | None = None
    email_verified: bool = False
    emails: list[dict[str, Any]] = field(default_factory=list)  # every address, with flags
    name: str | None = None
    username: str | None = None
    groups: list[str] | None = None  # the group claim as InvenTree reads it (None: absent)
    groups_elsewhere: list[str] | None = None  # present in the ID token only
    source: str = ""  # "userinfo", "id_token", "profile"

    def to_json(self) -> dict[str, Any]:
        return {"uid": self.uid, "sub": self.sub, "email": self.email,
                "email_verified": self.email_verified, "name": self.name,
                "username": self.username, "groups": self.groups,
                "emails": self.emails, "source": self.source}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on", "t", "y")


def _group_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


# ---------------------------------------------------------------------------------------------
# the round trip result


@dataclass
class RoundTripResult:
    slug: str
    status: Literal["passed", "failed", "pending"] = "pending"
    mode: str = "paste"
    authorize_url: str | None = None
    identity: Identity | None = None
    id_token: IdTokenCheck | None = None
    signin: SignInVerdict | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def ok(self) -> bool:
        return self.passed and not has_errors(self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "status": self.status, "mode": self.mode,
            "authorize_url": self.authorize_url,
            "identity": self.identity.to_json() if self.identity else None,
            "id_token": None if self.id_token is None else {
                "valid": self.id_token.valid,
                "claims": {k: self.id_token.claims.get(k) for k in
                           ("iss", "aud", "exp", "iat", "sub") if k in self.id_token.claims}},
            "signin": self.signin.to_json() if self.signin else None,
            "findings": [f.to_json() for f in self.findings],
        }


def _fail(result: RoundTripResult, findings: list[Finding]) -> RoundTripResult:
    result.status = "failed"
    result.findings.extend(findings)
    return result


def locate_attempt(instance: Instance, slug: str, state: str | None
                   ) -> tuple[Attempt | None, Finding | None]:
    """The saved attempt a pasted ``state`` belongs to, or the finding that says why not."""
    attempts = [a for a in load_attempts(instance.config_path) if a.slug == slug]
    if not attempts:
        return None, error(
            "roundtrip-no-attempt",
            f"No round trip for {slug!r} was started on this machine (or it was more than an "
            "hour ago), so the pasted address cannot be checked.",
            f"Start one with: sso-wizard check provider {slug}")
    match = [a for a in attempts if a.state == state]
    if not match:
        return None, error(
            "roundtrip-state-mismatch",
            "The pasted address belongs to another sign-in attempt: its state matches none the "
            "wizard started. It may come from InvenTree's own login button, another browser "
            "tab, or an older attempt.",
            f"Use the sign-in link of the latest attempt (or start again: sso-wizard check "
            f"provider {slug}) and paste the address you land on.")
    attempt = match[0]
    if attempt.expired:
        return None, error(
            "roundtrip-attempt-expired",
            f"This attempt was started {attempt.age / 60:.0f} minutes ago; the wizard keeps "
            f"attempts for {ATTEMPT_LIFETIME // 60} minutes (providers' codes expire sooner).",
            f"Start again: sso-wizard check provider {slug}")
    return attempt, None


async def complete_roundtrip(instance: Instance, snapshot: Snapshot, setup: ProviderSetup,
                             pasted_text: str, *, client: httpx.AsyncClient,
                             timeout: float = 10.0,  # noqa: ASYNC109
                             attempt: Attempt | None = None, mode: str = "paste",
                             db: Any = None) -> RoundTripResult:
    """Finish a round trip from the pasted callback URL (or error page text)."""
    result = RoundTripResult(slug=setup.slug, mode=mode)
    pasted = parse_pasted(pasted_text, setup, site_url=instance.site_url)
    result.findings.extend(pasted.findings)
    if has_errors(pasted.findings) or not pasted.code:
        return _fail(result, [])
    if attempt is None or attempt.state != pasted.state:
        found, problem = locate_attempt(instance, setup.slug, pasted.state)
        if problem is not None:
            return _fail(result, [problem])
        attempt = found
    assert attempt is not None
    result.authorize_url = attempt.authorize_url
    if attempt.finished is not None:
        result.findings.append(warning(
            "roundtrip-attempt-reused",
            f"This attempt was already finished {time.time() - attempt.finished:.0f} s ago: "
            "its code has probably been spent.", "Start a fresh attempt if redemption fails."))
    if attempt.client_id != setup.app.client_id:
        result.findings.append(warning(
            "roundtrip-client-changed", "The app's client id changed since this attempt "
            "started.", f"Start again: sso-wizard check provider {setup.slug}"))
    try:
        await _redeem_and_identify(instance, snapshot, setup, attempt, pasted, result,
                                   client=client, timeout=timeout, db=db)
    finally:
        await asyncio.to_thread(_mark_finished, instance, attempt)  # a file write + fsync
    return result


async def _redeem_and_identify(instance: Instance, snapshot: Snapshot, setup: ProviderSetup,
                               attempt: Attempt, pasted: Pasted, result: RoundTripResult, *,
                               client: httpx.AsyncClient, timeout: float,  # noqa: ASYNC109
                               db: Any) -> None:
    from sso_wizard.core.checks.verdict import assess_signin

    app = setup.app
    name = setup.display
    answer = await token_request(client, setup, grant="authorization_code",
                                 method=setup.auth_method, timeout=timeout,
                                 prefix="token-endpoint", code=pasted.code,
                                 redirect_uri=attempt.redirect_uri or None,
                                 code_verifier=attempt.code_verifier)
    if answer.problem is not None:
        _fail(result, [answer.problem])
        return
    token = answer.data
    if answer.status not in (200, 201) or not isinstance(token.get("access_token"), str):
        cls = classify_token_answer(answer, setup.flavour)
        said = _said(cls, answer, app.secret)
        if cls.kind == "accepted":
            extra = ""
            if setup.flavour in ("gitlab", "keycloak", "zitadel", "authelia"):
                extra = (f" ({name} gives the same answer when the redirect URI differs from "
                         "the one used to sign in.)")
            finding = error(
                "roundtrip-code-rejected",
                f"{name} refused the code: {said}. It was already used (each code works "
                f"once), expired (codes live one to ten minutes), or belongs to another "
                f"client.{extra}",
                f"Start a fresh attempt (sso-wizard check provider {setup.slug}) and paste the "
                "new address promptly, once.")
        elif cls.kind in ("credentials-wrong", "client-unknown", "secret-expired", "auth-method"):
            finding = error("roundtrip-credentials-wrong",
                            f"{name} refused the client credentials while redeeming the code: "
                            f"{said}.", "Store the right client id and a current secret "
                            "(stage credentials); sso-wizard check provider "
                            f"{setup.slug} --probe tells more.")
        elif cls.kind == "redirect-mismatch":
            finding = error("roundtrip-redirect-mismatch",
                            f"{name} refused the redirect URI while redeeming the code: {said}.",
                            f"Register exactly {setup.redirect_uri} at the provider.")
        elif "code_verifier" in (cls.description or "").lower() or "pkce" in (
                cls.description or "").lower():
            finding = error("roundtrip-pkce-refused",
                            f"{name} refused the PKCE verifier: {said}.",
                            "Start a fresh attempt.")
        else:
            finding = error("roundtrip-token-error",
                            f"{name} did not issue a token for the code: {said}.",
                            "Read the provider's answer above, then start a fresh attempt.")
        if cls.aadsts is not None and cls.aadsts in AADSTS:
            finding = _provider_error_finding(cls.error or "error",
                                              cls.description or f"AADSTS{cls.aadsts}",
                                              setup, app.secret)
            if cls.kind == "accepted":
                finding = error("roundtrip-code-rejected", finding.message,
                                "Start a fresh attempt and paste the address promptly, once.")
        _fail(result, [finding])
        return
    access_token = str(token["access_token"])
    result.findings.append(info(
        "roundtrip-code-redeemed",
        f"{name} redeemed the code sent to {attempt.redirect_uri} for a token "
        f"({setup.auth_method}; PKCE S256) — the registered callback and the credentials "
        "work."))
    if not setup.pkce_in_app:
        result.findings.append(info(
            "roundtrip-pkce-note", "The wizard used PKCE; allauth sends it only when the app "
            "has oauth_pkce_enabled: true. If the provider demands PKCE, set that.", ""))
    id_claims: dict[str, Any] = {}
    id_token = token.get("id_token")
    if setup.uses_id_token:
        if not isinstance(id_token, str):
            if setup.is_oidc:
                result.findings.append(warning(
                    "idtoken-missing", f"{name} returned no id_token (is the scope 'openid' "
                    "allowed?): allauth then relies on the userinfo answer alone, and nothing "
                    "signed proves who signed in.",
                    "Allow the scope 'openid' for this client at the provider."))
        else:
            if setup.jwks is None and setup.jwks_uri:  # Google: keys fetched when needed
                from sso_wizard.core.checks.discovery import fetch_jwks
                jwks = await fetch_jwks(setup.jwks_uri, client=client, timeout=timeout)
                result.findings.extend(f for f in jwks.findings if f.severity != "info")
                setup.jwks = jwks.keys or None
            check = validate_id_token(id_token, keys=setup.jwks, issuer=setup.issuer,
                                      client_id=app.client_id, nonce=attempt.nonce,
                                      client_secret=app.secret, jwks_uri=setup.jwks_uri)
            result.id_token = check
            result.findings.extend(check.findings)
            if not check.valid:
                result.status = "failed"
                return
            id_claims = check.claims
    identity = await _fetch_identity(setup, access_token, id_claims, result, client=client,
                                     timeout=timeout, snapshot=snapshot)
    if identity is None:
        result.status = "failed"
        return
    result.identity = identity
    # The provider side is proven; who gets in is InvenTree's side, reported apart.
    result.status = "failed" if has_errors(result.findings) else "passed"
    # assess_signin reads InvenTree's user tables: blocking DB work, kept off the event loop
    # so a TUI stays responsive even against a remote database.
    result.signin = await asyncio.to_thread(assess_signin, snapshot, setup, identity, db=db)


async def _get_json(client: httpx.AsyncClient, url: str, auth: str, *,
                    timeout: float, prefix: str) -> tuple[TokenAnswer, Any]:  # noqa: ASYNC109
    answer = await _send(client, "GET", url, prefix=prefix, timeout=timeout,
                         headers={"Authorization": auth, "Accept": "application/json"})
    data: Any = None
    if answer.problem is None and answer.text.strip()[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            data = json.loads(answer.text)
    return answer, data


async def _fetch_identity(setup: ProviderSetup, access_token: str, id_claims: dict[str, Any],
                          result: RoundTripResult, *, client: httpx.AsyncClient,
                          timeout: float, snapshot: Snapshot) -> Identity | None:  # noqa: ASYNC109
    app = setup.app
    name = setup.display
    psettings = setup.provider_settings
    ident = Identity()
    group_key = str(snapshot.setting("SSO_GROUP_KEY", "groups") or "groups")
    if setup.app.provider in ("openid_connect", "google"):
        userinfo: dict[str, Any] | None = None
        if (setup.fetch_userinfo or not id_claims) and setup.userinfo_url:
            answer, data = await _get_json(client, setup.userinfo_url, f"Bearer {access_token}",
                                           timeout=timeout, prefix="userinfo")
            if answer.problem is not None:
                result.findings.append(answer.problem)
                return None
            if answer.status != 200 or not isinstance(data, dict):
                jwt_body = "jwt" in answer.content_type
                result.findings.append(error(
                    "userinfo-failed",
                    f"{name}'s userinfo endpoint answered HTTP {answer.status}"
                    + (" with a signed JWT instead of JSON" if jwt_body else
                       "" if isinstance(data, dict) else " without a JSON object")
                    + ": allauth's login fails there.",
                    "Let the client read userinfo as plain JSON (scopes openid profile email), "
                    "or set fetch_userinfo: false in the app settings to use the ID token."))
                return None
            userinfo = data
        source = userinfo if userinfo else id_claims
        ident.source = "userinfo" if userinfo else "id_token"
        uid_field = str(app.settings.get("uid_field", "sub")) if setup.is_oidc else "sub"
        if setup.app.provider == "google":
            uid_field = "id" if userinfo and "id" in userinfo else "sub"
        uid = source.get(uid_field)
        if uid is None:
            result.findings.append(error(
                "userinfo-no-uid", f"{name} returned no {uid_field!r}: allauth cannot tell "
                "who signed in.", "Check the client's claim mappings at the provider."))
            return None
        ident.uid = str(uid)
        ident.sub = str(id_claims.get("sub") or source.get("sub") or uid)
        if userinfo and id_claims.get("sub") and userinfo.get("sub") not in (
                None, id_claims.get("sub")):
            result.findings.append(error(
                "userinfo-sub-mismatch", "userinfo's sub differs from the ID token's: the "
                "answers describe different people.", "Check the provider's configuration."))
            return None
        ident.email = _str(source.get("email"))
        verified = source.get("email_verified", source.get("verified_email"))
        ident.email_verified = _bool(verified) if verified is not None else False
        ident.name = _str(source.get("name"))
        ident.username = _str(source.get("preferred_username"))
        if setup.is_oidc and userinfo is not None:
            ident.groups = _group_list(userinfo.get(group_key))
        if ident.groups is None and group_key in id_claims:
            ident.groups_elsewhere = _group_list(id_claims.get(group_key))
        if ident.email:
            ident.emails = [{"email": ident.email, "verified": ident.email_verified,
                             "primary": True}]
    elif setup.app.provider == "github":
        answer, data = await _get_json(client, setup.userinfo_url or "",
                                       f"token {access_token}", timeout=timeout,
                                       prefix="userinfo")
        if answer.problem is not None:
            result.findings.append(answer.problem)
            return None
        if answer.status != 200 or not isinstance(data, dict) or "id" not in data:
            result.findings.append(error(
                "userinfo-failed", f"GitHub's /user answered HTTP {answer.status}: allauth's "
                "login fails there.", "Check GITHUB_URL (GitHub Enterprise) and the app."))
            return None
        ident.source = "profile"
        ident.uid = str(data["id"])
        ident.sub = ident.uid
        ident.username = _str(data.get("login"))
        ident.name = _str(data.get("name"))
        primary = _str(data.get("email"))
        emails: list[dict[str, Any]] = []
        if setup.emails_url:
            e_answer, e_data = await _get_json(client, setup.emails_url,
                                               f"token {access_token}", timeout=timeout,
                                               prefix="userinfo")
            if e_answer.problem is not None:
                result.findings.append(e_answer.problem)
                return None
            if e_answer.status == 404:
                pass  # documented to happen; allauth carries on
            elif e_answer.status == 403:
                result.findings.append(error(
                    "github-emails-forbidden",
                    "GitHub refused /user/emails (HTTP 403): a GitHub App without the 'Email "
                    "addresses: Read' permission; allauth's login fails there.",
                    "Use an OAuth App, or give the GitHub App the account permission 'Email "
                    "addresses: Read-only'."))
                return None
            elif e_answer.status != 200 or not isinstance(e_data, list):
                result.findings.append(error(
                    "userinfo-failed", f"GitHub's /user/emails answered HTTP "
                    f"{e_answer.status}: allauth's login fails there.", "Try again later."))
                return None
            else:
                emails = [{"email": str(e.get("email")), "verified": _bool(e.get("verified")),
                           "primary": _bool(e.get("primary"))}
                          for e in e_data if isinstance(e, dict) and e.get("email")]
        _pick_email(ident, primary, emails)
    elif setup.app.provider in ("gitlab", "microsoft"):
        answer, data = await _get_json(client, setup.userinfo_url or "",
                                       f"Bearer {access_token}", timeout=timeout,
                                       prefix="userinfo")
        if answer.problem is not None:
            result.findings.append(answer.problem)
            return None
        if answer.status != 200 or not isinstance(data, dict) or "id" not in data:
            hint = ("Grant the Microsoft Graph permission User.Read (delegated)."
                    if setup.app.provider == "microsoft" else "Give the application the scope "
                    "read_user.")
            result.findings.append(error(
                "userinfo-failed", f"{name}'s profile endpoint answered HTTP {answer.status}: "
                "allauth's login fails there.", hint))
            return None
        ident.source = "profile"
        ident.uid = str(data["id"])
        ident.sub = ident.uid
        if setup.app.provider == "microsoft":
            ident.email = _str(data.get("mail")) or _str(data.get("userPrincipalName"))
            ident.name = _str(data.get("displayName"))
            ident.username = _str(data.get("userPrincipalName"))
        else:
            ident.email = _str(data.get("email"))
            ident.name = _str(data.get("name"))
            ident.username = _str(data.get("username"))
        ident.email_verified = False  # allauth never marks these verified
        if ident.email:
            ident.emails = [{"email": ident.email, "verified": False, "primary": True}]
    else:  # pragma: no cover - resolve_setup leaves such providers without endpoints
        return None
    # VERIFIED_EMAIL (provider settings) / verified_email (app settings) force verification
    forced = app.settings.get("verified_email", psettings.get("VERIFIED_EMAIL"))
    if forced is not None and ident.email:
        if isinstance(forced, list):
            domain = ident.email.rsplit("@", 1)[-1].lower()
            if domain in [str(d).lower() for d in forced]:
                ident.email_verified = True
        elif _bool(forced):
            ident.email_verified = True
    shown = ", ".join(f"{k}={v!r}" for k, v in (
        ("uid", ident.uid), ("email", ident.email), ("email_verified", ident.email_verified),
        ("name", ident.name), ("username", ident.username)) if v is not None)
    if ident.groups is not None:
        shown += f", {group_key}={ident.groups!r}"
    result.findings.append(info("roundtrip-identity", f"{name} signed in: {shown}."))
    return ident


def _pick_email(ident: Identity, primary: str | None, emails: list[dict[str, Any]]) -> None:
    """allauth's choice of address: addresses sorted by (primary, verified, email), first."""
    if primary and primary not in [e["email"] for e in emails]:
        emails.insert(0, {"email": primary, "verified": False, "primary": True})
    emails.sort(key=lambda e: (e["primary"], e["verified"], e["email"]), reverse=True)
    ident.emails = emails
    if emails:
        ident.email = emails[0]["email"]
        ident.email_verified = bool(emails[0]["verified"])


# ---------------------------------------------------------------------------------------------
# listen mode


class CallbackListener:
    """Serve the callback URL once on this machine (plain http only).

    Every address the callback's host resolves to is bound (so ``localhost`` works over IPv4
    and IPv6 alike); if any of them is busy, listen mode is off — something (InvenTree?) is
    already serving that port.
    """

    def __init__(self, redirect_uri: str) -> None:
        self.redirect_uri = redirect_uri
        self._servers: list[asyncio.Server] = []
        parts = urlsplit(redirect_uri)
        self._path = parts.path or "/"
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._got: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(cls, redirect_uri: str) -> tuple[CallbackListener | None, str]:
        """A listener, or None and the reason listen mode is not possible."""
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http":
            return None, ("the callback is https: the wizard has no certificate for "
                          f"{parts.hostname}, so it cannot serve it (paste mode)")
        host = parts.hostname or ""
        try:
            port = parts.port or 80
        except ValueError:
            return None, "the callback URL has an invalid port"
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(5):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError):
            return None, f"{host} does not resolve here"
        reasons: list[str] = []
        socks: list[socket.socket] = []
        busy = False
        for family, stype, proto, _, addr in dict.fromkeys(
                (i[0], i[1], i[2], "", i[4]) for i in infos):
            sock = socket.socket(family, stype, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(addr)
                sock.listen(8)
                sock.setblocking(False)
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRINUSE:
                    busy = True
                    reasons.append(f"port {port} on {host} is in use (InvenTree running?)")
                elif exc.errno == errno.EADDRNOTAVAIL:
                    reasons.append(f"{host} is not an address of this machine")
                elif exc.errno in (errno.EACCES, errno.EPERM):
                    reasons.append(f"port {port} needs root to listen on")
                else:
                    reasons.append(f"cannot listen on {host}:{port} ({exc.strerror})")
                continue
            socks.append(sock)
        if busy or not socks:
            for sock in socks:
                sock.close()
            return None, "; ".join(dict.fromkeys(reasons)) or f"cannot listen on {host}:{port}"
        listener = cls(redirect_uri)
        for sock in socks:
            listener._servers.append(await asyncio.start_server(listener._handle, sock=sock))
        return listener, ""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            writer.close()
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        bits = line.split(" ")
        target = bits[1] if len(bits) >= 2 else "/"
        path = target.split("?", 1)[0]
        if len(bits) >= 2 and bits[0] == "GET" and path == self._path and not self._got.done():
            body = (b"<!doctype html><title>sso-wizard</title><h1>Sign-in received</h1>"
                    b"<p>sso-wizard caught the callback. You can close this tab and go back to "
                    b"the terminal.</p>")
            status = "200 OK"
            self._got.set_result(self._base + target)
        else:
            body = b"sso-wizard is waiting for the sign-in callback only."
            status = "404 Not Found"
        writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def wait(self) -> str:
        """The full callback URL, once the browser arrives."""
        return await asyncio.shield(self._got)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                for server in self._servers:
                    await server.wait_closed()


def describe_listen(redirect_uri: str) -> str:
    parts = urlsplit(redirect_uri)
    return f"{parts.hostname}:{parts.port or 80}"


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def with_query(url: str, **params: str) -> str:
    sep = "&" if "?" in url else "?"
    return url + sep + urlencode(params)
