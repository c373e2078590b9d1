"""Cross-check the running InvenTree: does the server start a login the way the DB says?

Against ``site_url`` (or a URL the admin gives), the way InvenTree's 1.x web UI does it:

1. ``GET /api/auth/v1/config`` — ``data.socialaccount.providers`` lists every provider with an
   app (``/api/auth/providers/`` on 0.16/0.17);
2. ``GET /api/auth/v1/auth/session`` for the ``csrftoken`` cookie, then a **form** POST to
   ``/api/auth/v1/auth/provider/redirect`` (``provider``, ``callback_url``, ``process=login``,
   ``csrfmiddlewaretoken``), following no redirects: the 302 goes to the provider's authorize
   URL, whose ``client_id`` and ``redirect_uri`` must equal the DB record and the callback the
   current config gives.

Every difference is named, and a server still running with the old config (the provider's
backend added to the config but not listed; https configured but http sent; an old client id)
is recognised as "restart needed". Read-only, bounded, never raises for network problems.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit

import httpx

from sso_wizard.core.findings import Finding, error, has_errors, info, warning
from sso_wizard.core.http import VerifyOption, create_client

if TYPE_CHECKING:
    from sso_wizard.core.db import AppRow
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.stages import Snapshot

__all__ = ["ServerAppCheck", "ServerResult", "check_server", "url_differences"]

UNREACHABLE_CODES = ("server-connection-refused", "server-unknown-host", "server-timeout",
                     "server-connect-error")

#: allauth / InvenTree login errors the server may send back to the UI, in plain words.
LOGIN_ERRORS = {
    "unknown_provider": ("the server does not know the provider: its backend is not loaded "
                         "(social_backends) or it has no app",
                         "Add the provider's backend to social_backends and restart InvenTree."),
    "signup_closed": ("sign-up is closed", "Turn on LOGIN_ENABLE_SSO_REG and configure email."),
    "unknown": ("the server failed to start the login",
                "Look at sso-wizard check errors for the server's own error log."),
}


@dataclass
class ServerAppCheck:
    slug: str
    listed: bool | None = None
    client_id: str | None = None  # what the server sends
    redirect_uri: str | None = None  # what the server sends
    expected_redirect_uri: str | None = None
    authorize_url: str | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.listed) and self.redirect_uri is not None and not has_errors(
            self.findings)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "listed": self.listed, "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "expected_redirect_uri": self.expected_redirect_uri,
                "authorize_url": self.authorize_url,
                "findings": [f.to_json() for f in self.findings]}


@dataclass
class ServerResult:
    url: str
    reachable: bool = False
    version: Literal["1.x", "0.16/0.17"] | None = None
    providers: list[str] = field(default_factory=list)
    apps: dict[str, ServerAppCheck] = field(default_factory=dict)
    restart_needed: bool = False
    elapsed: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def all_findings(self) -> list[Finding]:
        out = list(self.findings)
        for app in self.apps.values():
            out.extend(app.findings)
        return out

    @property
    def ok(self) -> bool:
        return self.reachable and not has_errors(self.all_findings)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "url": self.url, "reachable": self.reachable,
                "version": self.version, "providers": self.providers,
                "restart_needed": self.restart_needed,
                "apps": {s: a.to_json() for s, a in self.apps.items()},
                "elapsed_ms": round(self.elapsed * 1000, 1),
                "findings": [f.to_json() for f in self.findings]}


# ---------------------------------------------------------------------------------------------
# helpers


def url_differences(sent: str, expected: str) -> list[str]:
    """Name how the server's redirect_uri differs from what the current config gives."""
    if sent == expected:
        return []
    s, e = urlsplit(sent), urlsplit(expected)
    out: list[str] = []
    if s.scheme != e.scheme:
        out.append(f"scheme: the server sends {s.scheme}://, the config gives {e.scheme}://")
    if (s.hostname or "").lower() != (e.hostname or "").lower():
        out.append(f"host: the server sends {s.hostname}, the config gives {e.hostname}")
    default = {"http": 80, "https": 443}
    try:
        sp, ep = s.port or default.get(s.scheme), e.port or default.get(e.scheme)
    except ValueError:
        sp = ep = None
    if sp != ep and not (s.port is None and e.port is None):
        out.append(f"port: the server sends {sp}, the config gives {ep}")
    if s.path != e.path:
        if "/accounts/oidc/" in s.path:
            out.append(f"path: the server uses allauth's default {s.path} (with /oidc/), "
                       f"the config gives {e.path}")
        else:
            out.append(f"path: the server sends {s.path}, the config gives {e.path}")
    return out or ["the URLs differ in encoding"]


def _json(resp_text: str) -> Any:
    try:
        return json.loads(resp_text)
    except ValueError:
        return None


async def _request(client: httpx.AsyncClient, method: str, url: str, *,
                   timeout: float,  # noqa: ASYNC109
                   **kwargs: Any) -> tuple[httpx.Response | None, Finding | None]:
    from sso_wizard.core.checks.discovery import _connect_finding
    try:
        async with asyncio.timeout(timeout):
            resp = await client.request(method, url, **kwargs)
            await resp.aread()
            return resp, None
    except (TimeoutError, httpx.TimeoutException):
        return None, error("server-timeout", f"InvenTree did not answer {url} within "
                           f"{timeout:g} s.", "Check that the server (and its proxy) is up.")
    except (httpx.HTTPError, OSError) as exc:
        return None, _connect_finding("server", url, urlsplit(url).hostname or url, exc)


def _backend_configured(instance: Instance, provider: str) -> bool:
    return provider in instance.backend_ids()


# ---------------------------------------------------------------------------------------------
# the check


async def check_server(instance: Instance, snapshot: Snapshot, url: str | None = None, *,
                       slugs: list[str] | None = None, timeout: float = 10.0,  # noqa: ASYNC109
                       verify: VerifyOption = True,
                       transport: httpx.AsyncBaseTransport | None = None) -> ServerResult:
    """Cross-check the running server against the DB and the current config (module doc)."""
    started = time.perf_counter()
    base = (url or instance.site_url or "").strip().rstrip("/")
    result = ServerResult(url=base)
    if not base:
        result.findings.append(error(
            "server-url-missing", "No server URL: site_url is not set and none was given.",
            "Give the URL (sso-wizard check server https://inventree.example.com) or set "
            "site_url."))
        return result
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        result.findings.append(error("server-url-invalid", f"{base!r} is not an http(s) URL.",
                                     "Use e.g. https://inventree.example.com"))
        return result
    apps = [a for a in snapshot.apps if slugs is None or a.slug in slugs]
    async with create_client(timeout=timeout, verify=verify, transport=transport) as client:
        try:
            await _check(instance, snapshot, base, apps, result, client, timeout)
        finally:
            result.elapsed = time.perf_counter() - started
    return result


async def _check(instance: Instance, snapshot: Snapshot, base: str, apps: list[AppRow],
                 result: ServerResult, client: httpx.AsyncClient,
                 timeout: float) -> None:  # noqa: ASYNC109
    listing = await _list_providers(base, result, client, timeout)
    if listing is None:
        return
    if not apps:
        result.findings.append(warning(
            "server-no-apps", "The database holds no SSO app, so there is no login to check.",
            "Apply the credentials stage first."))
    for app in apps:
        check = ServerAppCheck(slug=app.slug)
        from sso_wizard.core.stages.callback import app_callbacks
        check.expected_redirect_uri = app_callbacks(instance, [app.slug]).get(app.slug)
        result.apps[app.slug] = check
        entry = listing.get(app.slug)
        check.listed = entry is not None
        if entry is None:
            _not_listed(instance, snapshot, app, check, result)
            continue
        sent_client = entry.get("client_id")
        if isinstance(sent_client, str) and sent_client != app.client_id:
            _client_differs(instance, app, sent_client, check, result, where="lists")
        disc = entry.get("openid_configuration_url")
        if isinstance(disc, str) and app.provider == "openid_connect":
            from sso_wizard.core.providers import allauth_discovery_url
            want = allauth_discovery_url(str(app.settings.get("server_url") or ""))
            if disc != want:
                check.findings.append(error(
                    "server-server-url-differs",
                    f"The running server uses the discovery URL {disc}, the database says "
                    f"{want}.", "Restart InvenTree (or flush its Redis cache) so it reads the "
                    "current app settings."))
                result.restart_needed = True
        if result.version == "1.x":
            await _start_login_1x(instance, base, app, check, result, client, timeout)
        else:
            await _start_login_legacy(instance, base, app, check, result, client, timeout)
    if result.restart_needed:
        result.findings.append(error(
            "server-restart-needed",
            "The running server does not match the current configuration: it was not "
            "restarted after the last change (InvenTree reads its config file only at start).",
            "Restart InvenTree (server and worker), e.g. `docker compose restart "
            "inventree-server inventree-worker` or `systemctl restart inventree`, then run "
            "sso-wizard check server again."))
    elif result.apps and all(a.ok for a in result.apps.values()):
        result.findings.append(info(
            "server-cross-check-ok",
            f"The running server at {base} lists "
            + ", ".join(sorted(result.apps)) + " and starts each login with the stored client "
            "id and the expected callback URL."))


async def _list_providers(base: str, result: ServerResult, client: httpx.AsyncClient,
                          timeout: float) -> dict[str, dict[str, Any]] | None:  # noqa: ASYNC109
    url = f"{base}/api/auth/v1/config"
    resp, problem = await _request(client, "GET", url, timeout=timeout)
    if problem is not None:
        result.reachable = problem.code not in UNREACHABLE_CODES
        if not result.reachable:
            problem = error(problem.code, f"InvenTree is not answering at {base}: "
                            f"{problem.message}", "Start InvenTree (or check the URL), then run "
                            "sso-wizard check server again.")
        result.findings.append(problem)
        return None
    assert resp is not None
    result.reachable = True
    if resp.status_code in (301, 302, 303, 307, 308):
        location = resp.headers.get("location", "")
        result.findings.append(error(
            "server-redirects",
            f"{url} redirects to {location}: the server's public address is not {base}.",
            "Set site_url to the address people really use (scheme, host and port), "
            f"e.g. {location.split('/api/')[0] if '/api/' in location else location}."))
        return None
    if resp.status_code == 404:
        legacy, problem = await _request(client, "GET", f"{base}/api/auth/providers/",
                                         timeout=timeout)
        if legacy is not None and legacy.status_code == 200:
            data = _json(legacy.text)
            if isinstance(data, dict) and isinstance(data.get("providers"), dict):
                result.version = "0.16/0.17"
                result.providers = sorted(str(k) for k in data["providers"])
                result.findings.append(info(
                    "server-version-legacy", f"{base} is InvenTree 0.16/0.17 (classic login): "
                    f"providers {', '.join(result.providers) or 'none'}."))
                return {str(k): (v if isinstance(v, dict) else {})
                        for k, v in data["providers"].items()}
        result.findings.append(error(
            "server-not-inventree",
            f"{base} answered 404 for InvenTree's login API (/api/auth/v1/config and "
            "/api/auth/providers/): it is not an InvenTree server, or a proxy sends /api/ "
            "elsewhere.", "Check the URL and the reverse proxy's routes."))
        return None
    body = _json(resp.text)
    if resp.status_code == 400:
        text = resp.text[:300]
        result.findings.append(error(
            "server-host-refused",
            f"InvenTree refused the request for host {urlsplit(base).netloc} (HTTP 400"
            + (", INVE-E7" if "INVE-E7" in text else "") + "): the address is not in "
            "allowed_hosts / does not match site_url.",
            "Use the site_url address, or add this host to allowed_hosts and trusted_origins."))
        return None
    if resp.status_code >= 500:
        result.findings.append(error(
            "server-error", f"InvenTree answered HTTP {resp.status_code} for {url}.",
            "Look at the server's log; sso-wizard check errors shows SSO failures it logged."))
        return None
    providers = None
    if isinstance(body, dict):
        data = body.get("data")
        social = data.get("socialaccount") if isinstance(data, dict) else None
        providers = social.get("providers") if isinstance(social, dict) else None
    if resp.status_code != 200 or not isinstance(providers, list):
        if resp.status_code == 200 and isinstance(body, dict) and isinstance(
                body.get("data"), dict):
            result.version = "1.x"
            result.findings.append(error(
                "server-socialaccount-off",
                "The server's auth config has no socialaccount section: SSO is not enabled "
                "in this build.", "Check social_backends and restart InvenTree."))
            return None
        result.findings.append(error(
            "server-not-inventree",
            f"{url} answered HTTP {resp.status_code} without InvenTree's auth config.",
            "Check the URL and the reverse proxy's routes."))
        return None
    result.version = "1.x"
    listing = {str(p.get("id")): p for p in providers if isinstance(p, dict) and p.get("id")}
    result.providers = sorted(listing)
    result.findings.append(info(
        "server-providers", f"{base} (InvenTree 1.x) offers SSO login with: "
        f"{', '.join(result.providers) or 'no provider'}."))
    return listing


def _not_listed(instance: Instance, snapshot: Snapshot, app: AppRow, check: ServerAppCheck,
                result: ServerResult) -> None:
    if instance.multi_site and snapshot.schema is not None and snapshot.schema.has_sites:
        site_id = int(instance.value("site_id") or 1)
        if site_id not in app.site_ids:
            check.findings.append(error(
                "server-app-not-on-site",
                f"The server does not offer {app.slug}: multi-site mode is on and the app is "
                f"not linked to site {site_id}.",
                f"Link the app to site {site_id} (stage credentials) — no restart needed."))
            return
    if _backend_configured(instance, app.provider):
        result.restart_needed = True
        check.findings.append(error(
            "server-provider-missing",
            f"The running server does not offer {app.slug}, although the config file lists "
            f"its backend ({app.provider}) and the database has its app: the server still "
            "runs with the config it had before the backend was added (restart needed).",
            "Restart InvenTree so it loads the new social_backends."))
        return
    check.findings.append(error(
        "server-provider-missing",
        f"The running server does not offer {app.slug}: the backend {app.provider!r} is not in "
        "social_backends, so allauth never loads it.",
        f"Add allauth.socialaccount.providers.{app.provider} to social_backends (stage "
        "backends), then restart InvenTree."))


def _client_differs(instance: Instance, app: AppRow, sent: str, check: ServerAppCheck,
                    result: ServerResult, *, where: str) -> None:
    providers = instance.value("social_providers") or {}
    cfg = providers.get(app.provider) if isinstance(providers, dict) else None
    in_config = []
    if isinstance(cfg, dict):
        if isinstance(cfg.get("APP"), dict):
            in_config.append(cfg["APP"])
        if isinstance(cfg.get("APPS"), list):
            in_config.extend(a for a in cfg["APPS"] if isinstance(a, dict))
    if any(str(a.get("client_id")) == sent for a in in_config):
        check.findings.append(error(
            "server-client-id-differs",
            f"The running server {where} client id {sent!r} for {app.slug}, the database app "
            f"has {app.client_id!r}: the server uses the APP defined in social_providers in "
            "the config file (an app must be defined in one place only).",
            f"Remove APP/APPS from social_providers.{app.provider} in the config file and "
            "restart InvenTree."))
        return
    result.restart_needed = True
    check.findings.append(error(
        "server-client-id-differs",
        f"The running server {where} client id {sent!r} for {app.slug}, but the database app "
        f"has {app.client_id!r}: the server runs with stale settings (restart needed), or it "
        "uses another database.",
        "Restart InvenTree (or flush its Redis cache); if it persists, check that the wizard "
        "and the server use the same database."))


def _redirect_from(location: str) -> tuple[str | None, str | None]:
    params = dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))
    return params.get("client_id"), params.get("redirect_uri")


async def _start_login_1x(instance: Instance, base: str, app: AppRow, check: ServerAppCheck,
                          result: ServerResult, client: httpx.AsyncClient,
                          timeout: float) -> None:  # noqa: ASYNC109
    session_url = f"{base}/api/auth/v1/auth/session"
    resp, problem = await _request(client, "GET", session_url, timeout=timeout)
    if problem is not None:
        check.findings.append(problem)
        return
    assert resp is not None
    token = client.cookies.get("csrftoken")
    if not token or _secure_cookie_over_http(base, resp):
        check.findings.append(_no_csrf_cookie(base, resp))
        return
    form = {"provider": app.slug, "callback_url": f"{base}/web/logged-in", "process": "login",
            "csrfmiddlewaretoken": token}
    headers = {"Referer": f"{base}/web/login", "Origin": base,
               "Accept": "text/html,application/json"}
    resp, problem = await _request(client, "POST", f"{base}/api/auth/v1/auth/provider/redirect",
                                   timeout=timeout, data=form, headers=headers)
    if problem is not None:
        check.findings.append(problem)
        return
    assert resp is not None
    _read_login_answer(instance, base, app, check, result, resp)


async def _start_login_legacy(instance: Instance, base: str, app: AppRow,
                              check: ServerAppCheck, result: ServerResult,
                              client: httpx.AsyncClient, timeout: float) -> None:  # noqa: ASYNC109
    url = f"{base}/accounts/{app.slug}/login/?process=login"
    resp, problem = await _request(client, "GET", url, timeout=timeout)
    if problem is not None:
        check.findings.append(problem)
        return
    assert resp is not None
    if resp.status_code == 200:
        token = client.cookies.get("csrftoken")
        if not token or _secure_cookie_over_http(base, resp):
            check.findings.append(_no_csrf_cookie(base, resp))
            return
        resp, problem = await _request(
            client, "POST", url, timeout=timeout, data={"csrfmiddlewaretoken": token},
            headers={"Referer": url, "Origin": base})
        if problem is not None:
            check.findings.append(problem)
            return
        assert resp is not None
    _read_login_answer(instance, base, app, check, result, resp)


def _secure_cookie_over_http(base: str, resp: httpx.Response) -> bool:
    raw = [v for k, v in resp.headers.multi_items() if k.lower() == "set-cookie"]
    secure = any("csrftoken=" in c and "secure" in c.lower().split("csrftoken=", 1)[1]
                 for c in raw)
    return secure and base.startswith("http://")


def _no_csrf_cookie(base: str, resp: httpx.Response) -> Finding:
    if _secure_cookie_over_http(base, resp):
        return error(
            "server-cookie-secure-over-http",
            "The server marks its cookies Secure but is reached over plain http: browsers "
            "drop them, so the login's CSRF check (and the session holding the SSO state) "
            "fails.", "Serve InvenTree over https, or set cookie.secure: false for a plain-http "
            "test setup.")
    return error("server-no-csrf-cookie",
                 f"The server set no csrftoken cookie on {base}: the web UI cannot start a "
                 "login.", "Check the proxy passes Set-Cookie headers, and the cookie settings.")


def _read_login_answer(instance: Instance, base: str, app: AppRow, check: ServerAppCheck,
                       result: ServerResult, resp: httpx.Response) -> None:
    status = resp.status_code
    if status == 403:
        check.findings.append(error(
            "server-csrf-refused",
            f"The server refused the login form (HTTP 403, CSRF): {base} is not a trusted "
            "origin for it.", f"Add {base} to trusted_origins (InvenTree adds site_url itself; "
            "check it matches exactly), and behind a proxy turn on use_x_forwarded_proto."))
        return
    location = resp.headers.get("location", "")
    if status not in (301, 302, 303, 307, 308) or not location:
        body = _json(resp.text)
        codes = []
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            codes = [str(e.get("code") or e.get("message")) for e in body["errors"]
                     if isinstance(e, dict)]
        check.findings.append(error(
            "server-login-refused",
            f"The server did not start the {app.slug} login (HTTP {status}"
            + (f": {', '.join(codes)}" if codes else "") + ").",
            "Look at sso-wizard check errors and the server log."))
        return
    loc = urlsplit(location)
    base_host = urlsplit(base).hostname
    params = dict(parse_qsl(loc.query, keep_blank_values=True))
    if (not loc.netloc or loc.hostname == base_host) and "client_id" not in params:
        err = params.get("error", "unknown")
        what, fix = LOGIN_ERRORS.get(err, (f"error {err}", "Look at sso-wizard check errors."))
        if err == "unknown_provider" and _backend_configured(instance, app.provider):
            result.restart_needed = True
            what += " — although the config file lists it now (restart needed)"
        check.findings.append(error(
            "server-login-refused",
            f"The server did not send the {app.slug} login to the provider: {what} "
            f"(redirect to {loc.path}?error={err}).", fix))
        return
    check.authorize_url = location.split("?", 1)[0]
    sent_client, sent_redirect = _redirect_from(location)
    check.client_id, check.redirect_uri = sent_client, sent_redirect
    if sent_client != app.client_id and sent_client is not None:
        _client_differs(instance, app, sent_client, check, result, where="sends")
    expected = check.expected_redirect_uri
    if sent_redirect is None:
        check.findings.append(error("server-no-redirect-uri",
                                    "The provider URL the server built has no redirect_uri.",
                                    "Check the provider's allauth module."))
        return
    if expected and sent_redirect != expected:
        _redirect_differs(instance, base, app, check, result, sent_redirect, expected)
        return
    if not has_errors(check.findings):
        check.findings.append(info(
            "server-login-ok",
            f"{app.slug}: the running server sends people to {check.authorize_url} with client "
            f"id {sent_client!r} and callback {sent_redirect} — both match."))


def _redirect_differs(instance: Instance, base: str, app: AppRow, check: ServerAppCheck,
                      result: ServerResult, sent: str, expected: str) -> None:
    diffs = url_differences(sent, expected)
    s, e = urlsplit(sent), urlsplit(expected)
    site_host = urlsplit(instance.site_url).hostname if instance.site_url else None
    asked_host = urlsplit(base).hostname
    causes: list[str] = []
    restart = False
    if s.scheme == "http" and e.scheme == "https":
        restart = True
        causes.append("the current config makes InvenTree send https callbacks "
                      "(login_default_protocol / an https site_url), so a server sending "
                      "http:// still runs the old config")
    if asked_host != site_host:
        from sso_wizard.core.stages import callback_url
        scheme = "https" if instance.login_protocol == "https" else urlsplit(base).scheme
        from_asked = callback_url(f"{scheme}://{urlsplit(base).netloc}", app.slug)
        if sent == from_asked:
            check.findings.append(info(
                "server-checked-other-address",
                f"You checked {base}, not site_url: the server built the callback from the "
                f"address used ({sent}). Real users come through {instance.site_url}.",
                f"Run sso-wizard check server {instance.site_url} to check their path."))
            return
    if (s.hostname or "") != (e.hostname or ""):
        if asked_host != site_host and s.hostname == asked_host:
            causes.append(f"you checked {base}, not site_url, and the server builds the "
                          "callback from the address it is asked on")
        else:
            causes.append("a proxy in front of InvenTree rewrites the Host header: make it "
                          "pass the original Host, or send X-Forwarded-Host and turn on "
                          "use_x_forwarded_host")
    if s.port != e.port and s.hostname == e.hostname:
        causes.append("the port differs: behind a proxy turn on use_x_forwarded_port (and "
                      "send X-Forwarded-Port), or fix site_url's port")
    if restart:
        result.restart_needed = True
    check.findings.append(error(
        "server-callback-differs",
        f"The running server sends redirect_uri {sent} for {app.slug}, but the current config "
        f"gives {expected}: " + "; ".join(diffs) + "."
        + (" Likely cause: " + "; ".join(causes) + "." if causes else ""),
        "Restart InvenTree after config changes; the provider must have exactly "
        f"{expected} registered." if restart else
        f"Make the server build {expected} (see the cause), and register exactly that at the "
        "provider."))
