"""OpenID Connect discovery check: fetch what allauth will fetch and say what will go wrong.

``check_discovery(server_url)`` computes the discovery URL exactly as allauth's
``openid_connect`` provider does, fetches it (bounded in time, following redirects like
``requests`` does on the InvenTree server) and turns every problem into a Finding: bad input,
DNS, refused connections, timeouts, TLS, HTTP status, bodies that are not a JSON object, an
issuer that differs from what was entered, missing endpoints, no ``email`` scope, and the client
authentication method allauth will pick. It never raises for a network or data problem.

``fetch_jwks(jwks_uri)`` fetches and sanity-checks the provider's signing keys.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpx

from sso_wizard.core.findings import Finding, error, has_errors, info, warning
from sso_wizard.core.http import VerifyOption, create_client
from sso_wizard.core.providers import OIDC_WELL_KNOWN, allauth_discovery_url

__all__ = [
    "DEFAULT_ALLOW_HTTP_HOSTS",
    "DiscoveryResult",
    "JwksResult",
    "allauth_auth_method",
    "check_discovery",
    "fetch_jwks",
    "recommended_server_url",
]

DEFAULT_ALLOW_HTTP_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
MAX_BODY = 1024 * 1024  # a discovery document or key set is a few KB
_AUTH_METHODS = ("client_secret_post", "client_secret_basic")


@dataclass
class DiscoveryResult:
    server_url: str  # as entered
    url: str  # the discovery URL allauth fetches ("" when the input is not a URL)
    issuer: str | None = None  # the document's issuer
    document: dict[str, Any] | None = None
    findings: list[Finding] = field(default_factory=list)
    auth_method: str | None = None  # client auth allauth will use at the token endpoint
    elapsed: float = 0.0  # seconds
    final_url: str | None = None  # after redirects, when the server redirected

    @property
    def ok(self) -> bool:
        return self.document is not None and not has_errors(self.findings)

    def endpoint(self, name: str) -> str | None:
        value = (self.document or {}).get(name)
        return value if isinstance(value, str) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "server_url": self.server_url, "url": self.url, "issuer": self.issuer,
            "ok": self.ok, "auth_method": self.auth_method,
            "elapsed_ms": round(self.elapsed * 1000, 1),
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass
class JwksResult:
    url: str
    keys: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.keys) and not has_errors(self.findings)


# ---------------------------------------------------------------------------------------------
# helpers


def recommended_server_url(issuer: str) -> str:
    """The server_url that makes allauth fetch ``issuer``'s own discovery document.

    An issuer ending in ``/`` would give ``//.well-known``: use the full discovery URL then.
    """
    if issuer.endswith("/"):
        return issuer + OIDC_WELL_KNOWN.lstrip("/")
    return issuer


def allauth_auth_method(document: Mapping[str, Any], configured: str | None = None) -> str:
    """Client authentication allauth 65 uses at the token endpoint.

    Mirrors ``OpenIDConnectOAuth2Adapter.basic_auth``: a configured ``token_auth_method`` wins
    (anything but client_secret_basic means the form body); else client_secret_post when the
    document lists it; else client_secret_basic when listed; else the form body.
    """
    if configured:
        return "client_secret_basic" if configured == "client_secret_basic" else (
            "client_secret_post")
    methods = document.get("token_endpoint_auth_methods_supported") or []
    if not isinstance(methods, list):
        methods = []
    if "client_secret_post" not in methods and "client_secret_basic" in methods:
        return "client_secret_basic"
    return "client_secret_post"


def _host_allowed_http(host: str, allow_http_hosts: Iterable[str]) -> bool:
    return host.lower().strip("[]") in {h.lower().strip("[]") for h in allow_http_hosts}


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def _parse(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts


def _https_fix(url: str) -> str:
    if "://" in url:
        return "https://" + url.split("://", 1)[1]
    return "https://" + url.lstrip("/")


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 10:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _tls_advice(exc: ssl.SSLError, host: str) -> tuple[str, str]:
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or str(exc)
        code = exc.verify_code
        if code in (18, 19):  # self-signed leaf / self-signed CA in chain
            what = f"its certificate is self-signed ({reason})"
        elif code == 20:
            what = f"its certificate is signed by a CA this machine does not trust ({reason})"
        elif code == 10:
            what = f"its certificate has expired ({reason})"
        elif code == 62 or "mismatch" in reason.lower() or "hostname" in reason.lower():
            what = f"its certificate is not valid for {host} ({reason})"
        else:
            what = f"its certificate did not verify ({reason})"
        fix = ("Give the provider a certificate from a public CA, or pass its CA file to the "
               "wizard (--ca-file) AND make the InvenTree server trust it too (allauth uses "
               "requests: set REQUESTS_CA_BUNDLE for the server process).")
        return what, fix
    text = str(exc)
    if "WRONG_VERSION_NUMBER" in text or "record layer" in text or "packet length" in text:
        return (f"the port does not speak TLS ({text})",
                "The URL says https but the port serves plain HTTP: check the port or the "
                "reverse proxy.")
    return f"the TLS handshake failed ({text})", "Check the provider's TLS configuration."


def _connect_finding(prefix: str, url: str, host: str, exc: BaseException) -> Finding:
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, ssl.SSLError):
            what, fix = _tls_advice(e, host)
            return error(f"{prefix}-tls-error", f"TLS error talking to {host}: {what}.", fix)
    for e in chain:
        if isinstance(e, socket.gaierror):
            return error(f"{prefix}-unknown-host",
                         f"The host name {host!r} does not resolve ({e.strerror or e}).",
                         "Check the spelling of the host name, and that this machine (and the "
                         "InvenTree server) use a DNS server that knows it.")
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return error(f"{prefix}-connection-refused",
                         f"{host} refused the connection to {url}: nothing listens on that port.",
                         "Check the port in the URL and that the provider is running.")
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if "name or service not known" in low or "nodename nor servname" in low:
        return error(f"{prefix}-unknown-host", f"The host name {host!r} does not resolve.",
                     "Check the spelling of the host name and the DNS configuration.")
    if "refused" in low:
        return error(f"{prefix}-connection-refused", f"{host} refused the connection to {url}.",
                     "Check the port in the URL and that the provider is running.")
    return error(f"{prefix}-connect-error", f"Could not connect to {url}: {text}.",
                 "Check the URL, the network path and any firewall between this machine and the "
                 "provider.")


@dataclass
class _Fetched:
    status: int
    final_url: str
    redirects: list[str]
    body: bytes
    content_type: str


async def _fetch(client: httpx.AsyncClient, url: str, limit: float, prefix: str,
                 host: str) -> tuple[_Fetched | None, Finding | None]:
    try:
        async with asyncio.timeout(limit):
            async with client.stream("GET", url, follow_redirects=True) as resp:
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_BODY:
                        return None, error(
                            f"{prefix}-too-large",
                            f"{url} sent more than {MAX_BODY // 1024} KB: not a {prefix} "
                            "document.", "Check that the URL points at the right service.")
                    chunks.append(chunk)
                return _Fetched(
                    status=resp.status_code,
                    final_url=str(resp.url),
                    redirects=[str(r.url) for r in resp.history],
                    body=b"".join(chunks),
                    content_type=resp.headers.get("content-type", ""),
                ), None
    except (TimeoutError, httpx.TimeoutException):
        return None, error(
            f"{prefix}-timeout",
            f"No answer from {url} within {limit:g} s.",
            "Check that the provider is up and reachable from here (firewall, proxy, VPN); a "
            "server that accepts connections but never answers is often stuck or behind a "
            "broken proxy.")
    except httpx.TooManyRedirects:
        return None, error(f"{prefix}-redirect-loop", f"{url} redirects in a loop.",
                           "Open the URL in a browser and fix the provider's public URL or "
                           "reverse proxy.")
    except (httpx.ConnectError, OSError) as exc:
        return None, _connect_finding(prefix, url, host, exc)
    except httpx.UnsupportedProtocol as exc:
        return None, error(f"{prefix}-redirect-unsupported",
                           f"{url} redirects to an unsupported URL: {exc}.",
                           "Fix the provider's public URL.")
    except httpx.HTTPError as exc:
        for e in _chain(exc):
            if isinstance(e, ssl.SSLError):
                return None, _connect_finding(prefix, url, host, e)
        return None, error(f"{prefix}-protocol-error",
                           f"{url} did not answer with valid HTTP: {exc or type(exc).__name__}.",
                           "Check that the URL's scheme and port match the service (https vs "
                           "http).")


def _http_status_finding(prefix: str, url: str, fetched: _Fetched, server_url: str) -> Finding:
    status = fetched.status
    msg = f"{fetched.final_url} answered HTTP {status}"
    if fetched.redirects:
        msg += f" (after redirects from {url})"
    fix = "Check the URL."
    if status == 404:
        path = urlsplit(server_url).path
        if "/auth/realms/" in server_url:
            fix = ("Keycloak 17 and later dropped '/auth' from URLs: try "
                   f"{server_url.replace('/auth/realms/', '/realms/', 1)!r}.")
        elif "//.well-known" in url:
            fix = f"Remove the trailing '/' from server_url: {server_url.rstrip('/')!r}."
        elif path in ("", "/") and prefix == "discovery":
            fix = ("The discovery document usually lives under a path: Keycloak "
                   "https://HOST/realms/REALM, authentik https://HOST/application/o/SLUG, Okta "
                   "https://ORG.okta.com/oauth2/default. Use the issuer URL the provider shows.")
        else:
            fix = ("Check the path in server_url (realm or application name, case-sensitive); "
                   "use the issuer URL exactly as the provider shows it.")
    elif status in (401, 403):
        fix = ("The document must be public: allauth fetches it without credentials. Check for "
               "an authenticating proxy or an IP allow-list in front of the provider.")
    elif status >= 500:
        fix = "The provider has a server-side problem: check its logs."
    elif 300 <= status < 400:
        fix = "The server redirects without a usable Location: fix its public URL settings."
    return error(f"{prefix}-http-error", msg + ".", fix)


def _decode_json(prefix: str, fetched: _Fetched) -> tuple[Any, Finding | None]:
    try:
        text = fetched.body.decode("utf-8-sig")
        return json.loads(text), None
    except (UnicodeDecodeError, ValueError):
        snippet = fetched.body[:80].decode("utf-8", "replace").strip().replace("\n", " ")
        kind = fetched.content_type.split(";")[0].strip() or "no content type"
        hint = ""
        if "html" in kind or snippet.lower().startswith(("<!doctype", "<html")):
            hint = " It is an HTML page: a login page, a proxy error page or another app."
        return None, error(
            f"{prefix}-not-json",
            f"{fetched.final_url} did not return JSON ({kind}; starts with {snippet!r}).{hint}",
            "Point the URL at the provider's OpenID Connect issuer so that "
            "/.well-known/openid-configuration returns its JSON document.")


def _json_kind(data: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return kinds.get(type(data), type(data).__name__)


def _compare_issuer(entered: str, issuer: str, via_wellknown: bool) -> Finding:
    """One finding about the document's issuer versus what was entered."""
    rec = recommended_server_url(issuer)
    if entered == issuer:
        return info("issuer-match", f"The issuer is {issuer!r}, exactly what was entered.")
    if issuer == entered + "/":
        if via_wellknown:
            return info("issuer-match",
                        f"The issuer is {issuer!r} (with a trailing '/'); server_url is the full "
                        "discovery URL, which is the right choice for such an issuer.")
        return info("issuer-trailing-slash",
                    f"The issuer is {issuer!r}, with a trailing '/' that server_url "
                    f"{entered!r} lacks. allauth still works (it checks ID tokens against the "
                    "issuer in the document), but the exact form avoids surprises.",
                    f"Optionally set server_url to the full discovery URL {rec!r}.")
    if entered == issuer + "/":
        return warning("issuer-trailing-slash",
                       f"server_url {entered!r} ends with '/', the issuer {issuer!r} does not.",
                       f"Set server_url to {rec!r}.")
    e, i = urlsplit(entered), urlsplit(issuer)
    if (e.scheme, e.netloc.lower()) == (i.scheme, i.netloc.lower()):
        return error("issuer-path-mismatch",
                     f"The document's issuer is {issuer!r}, not {entered!r}: the path differs "
                     f"({e.path or '/'!r} entered, {i.path or '/'!r} in the document).",
                     f"Set server_url to {rec!r} (check the realm or application name).")
    diffs = []
    if e.scheme != i.scheme:
        diffs.append(f"scheme {e.scheme} vs {i.scheme}")
    if e.hostname != i.hostname:
        diffs.append(f"host {e.hostname} vs {i.hostname}")
    if e.port != i.port:
        diffs.append(f"port {e.port or 'default'} vs {i.port or 'default'}")
    if e.path != i.path:
        diffs.append(f"path {e.path or '/'!r} vs {i.path or '/'!r}")
    fix = (f"If {issuer!r} is the provider you meant, set server_url to {rec!r}. If the "
           "provider is reached at the URL you entered, its public URL setting is wrong (behind "
           "a reverse proxy: Keycloak KC_HOSTNAME and KC_PROXY_HEADERS=xforwarded, authentik "
           "and others: forward the Host and X-Forwarded-Proto headers).")
    return error("issuer-other-server",
                 f"The document at {entered!r} is for another issuer, {issuer!r} "
                 f"({'; '.join(diffs) or 'differs'}).", fix)


def _check_endpoints(doc: Mapping[str, Any], allow_http_hosts: Iterable[str],
                     fetch_userinfo: bool) -> list[Finding]:
    out: list[Finding] = []
    needed = ["authorization_endpoint", "token_endpoint", "jwks_uri"]
    missing = [n for n in needed if not isinstance(doc.get(n), str) or not doc.get(n)]
    if missing:
        out.append(error("discovery-missing-endpoint",
                         f"The discovery document has no {', '.join(missing)}: allauth cannot "
                         "log in without them.",
                         "Fix the provider (a real OpenID Connect issuer lists them all), or "
                         "check that server_url points at an OpenID Connect issuer."))
    if fetch_userinfo and not isinstance(doc.get("userinfo_endpoint"), str):
        out.append(error("discovery-no-userinfo",
                         "The discovery document has no userinfo_endpoint, which allauth fetches "
                         "by default.",
                         "Set fetch_userinfo: false in the app settings (the ID token then "
                         "supplies the user's claims)."))
    plain = []
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        value = doc.get(name)
        if not isinstance(value, str) or not value:
            continue
        parts = _parse(value)
        if parts is None:
            out.append(error("discovery-bad-endpoint", f"{name} is not a URL: {value!r}.",
                             "Fix the provider's public URL configuration."))
        elif parts.scheme == "http" and not _host_allowed_http(parts.hostname or "",
                                                               allow_http_hosts):
            plain.append(f"{name} ({value})")
    if plain:
        out.append(error("endpoint-not-https",
                         f"Endpoints use plain http: {'; '.join(plain)}.",
                         "The provider does not know it is served over https (reverse proxy "
                         "without X-Forwarded-Proto, or its public URL set to http://). Fix its "
                         "hostname/proxy settings."))
    return out


def _check_scopes_and_flow(doc: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    scopes = doc.get("scopes_supported")
    if isinstance(scopes, list):
        if "email" not in scopes:
            out.append(warning("discovery-no-email-scope",
                               "scopes_supported does not list 'email': InvenTree may get no "
                               "email address for new users.",
                               "Enable an 'email' scope (or claim mapping) for this client at "
                               "the provider."))
        if "openid" not in scopes:
            out.append(warning("discovery-no-openid-scope",
                               "scopes_supported does not list 'openid'.",
                               "Check that server_url points at an OpenID Connect issuer."))
    else:
        out.append(info("discovery-scopes-unlisted",
                        "The document does not list scopes_supported, so the 'email' scope "
                        "cannot be confirmed before a real login."))
    rtypes = doc.get("response_types_supported")
    if isinstance(rtypes, list) and "code" not in rtypes:
        out.append(error("discovery-no-code-flow",
                         "response_types_supported does not include 'code': allauth uses the "
                         "authorization code flow.", "Enable the authorization code flow."))
    return out


def _check_auth_method(doc: Mapping[str, Any], configured: str | None
                       ) -> tuple[str, list[Finding]]:
    out: list[Finding] = []
    raw = doc.get("token_endpoint_auth_methods_supported")
    listed = [m for m in raw if isinstance(m, str)] if isinstance(raw, list) else None
    if configured and configured not in _AUTH_METHODS:
        out.append(warning("token-auth-method-invalid",
                           f"token_auth_method {configured!r} is not one allauth knows; it "
                           "will send the secret in the form body (client_secret_post).",
                           "Use client_secret_post or client_secret_basic, or leave it empty."))
    method = allauth_auth_method(doc, configured)
    why = (f"token_auth_method is set to {configured!r}" if configured else
           "the document lists it" if listed and method in listed else
           "the document does not list token_endpoint_auth_methods_supported")
    if listed is not None and method not in listed:
        if configured:
            out.append(error("token-auth-method-unsupported",
                             f"allauth will use {method} ({why}), but the provider lists only "
                             f"{', '.join(listed) or 'nothing'}.",
                             "Change token_auth_method to a method the provider lists."))
        else:
            out.append(error("token-auth-method-unsupported",
                             f"The provider lists neither client_secret_post nor "
                             f"client_secret_basic ({', '.join(listed) or 'an empty list'}); "
                             "allauth supports only those two.",
                             "Allow client secret authentication for this client at the "
                             "provider."))
        return method, out
    if listed is None and not configured:
        out.append(warning("token-auth-method-unadvertised",
                           "The provider does not list token_endpoint_auth_methods_supported "
                           "(the standard's default is client_secret_basic), so allauth will "
                           "send the secret in the form body (client_secret_post).",
                           "If token requests fail with invalid_client, set token_auth_method: "
                           "client_secret_basic in the app settings."))
        return method, out
    if method == "client_secret_basic":
        text = ("allauth will authenticate with client_secret_basic (HTTP Basic), because the "
                "provider does not list client_secret_post.")
    else:
        text = f"allauth will authenticate with {method} (secret in the form body): {why}."
    out.append(info("token-auth-method", text,
                    f"Register the client at the provider for {method} (Authelia, Zitadel: the "
                    "client's token endpoint auth method must match) or set token_auth_method."
                    if method == "client_secret_post" and listed and len(listed) > 1 else ""))
    return method, out


# ---------------------------------------------------------------------------------------------
# input validation


def _check_input(server_url: str, allow_http_hosts: Iterable[str], prefix: str, what: str,
                 fetch_prefix: str) -> tuple[SplitResult | None, list[Finding]]:
    out: list[Finding] = []
    value = server_url.strip()
    if value != server_url:
        out.append(warning(f"{prefix}-whitespace",
                           f"The {what} has spaces or line breaks around it.",
                           f"Remove them: {value!r}."))
    if not value:
        out.append(error(f"{prefix}-empty", f"The {what} is empty.",
                         "Enter the provider's issuer URL, e.g. https://sso.example.com/realms/"
                         "REALM."))
        return None, out
    parts = _parse(value)
    if parts is None:
        low = value.lower()
        if "://" not in value and " " not in value and "." in value.split("/")[0]:
            fix = f"Add the scheme: {'https://' + value!r}."
        elif low.startswith(("http:/", "https:/")) or "://" in value:
            fix = "Use a full URL of the form https://HOST[:PORT]/PATH."
        else:
            fix = "Enter the provider's issuer URL, e.g. https://sso.example.com/realms/REALM."
        out.append(error(f"{prefix}-invalid", f"The {what} {value!r} is not an http(s) URL.",
                         fix))
        return None, out
    if parts.query or parts.fragment:
        out.append(error(f"{prefix}-query",
                         f"The {what} {value!r} has a query string or fragment; allauth would "
                         "append the discovery path after it.",
                         "Remove everything from '?' or '#' on."))
        return None, out
    host = parts.hostname or ""
    if parts.scheme == "http" and not _host_allowed_http(host, allow_http_hosts):
        loop = " (loopback)" if _is_loopback(host) else ""
        out.append(error(f"{prefix}-not-https",
                         f"The {what} {value!r} uses plain http{loop}: secrets and tokens would "
                         "cross the network unencrypted.",
                         f"Use https: {_https_fix(value)!r}."))
        return None, out
    if host.endswith(".invalid") or host == "invalid":
        out.append(error(f"{fetch_prefix}-unknown-host",
                         f"The host name {host!r} can never resolve (.invalid is reserved).",
                         "Enter the provider's real host name."))
        return None, out
    return parts, out


# ---------------------------------------------------------------------------------------------
# public API


async def check_discovery(
    server_url: str,
    *,
    # a parameter, not just the caller's asyncio.timeout: it also bounds httpx's phase timeouts
    timeout: float = 10.0,  # noqa: ASYNC109
    client: httpx.AsyncClient | None = None,
    allow_http_hosts: Iterable[str] = DEFAULT_ALLOW_HTTP_HOSTS,
    token_auth_method: str | None = None,
    fetch_userinfo: bool = True,
    verify: VerifyOption = True,
) -> DiscoveryResult:
    """Check the OpenID Connect discovery document allauth will fetch for ``server_url``.

    ``token_auth_method`` and ``fetch_userinfo`` are the app's settings of the same names.
    ``client`` (from ``sso_wizard.core.http.create_client``) is reused and not closed; without
    it a client is built with ``verify`` and closed afterwards. Never raises for network or data
    problems: they are findings.
    """
    started = time.perf_counter()
    allow = tuple(allow_http_hosts)
    result = DiscoveryResult(server_url=server_url, url="")

    def done() -> DiscoveryResult:
        result.elapsed = time.perf_counter() - started
        return result

    parts, findings = _check_input(server_url, allow, "server-url", "server_url",
                                   "discovery")
    result.findings.extend(findings)
    if parts is None:
        return done()
    value = server_url.strip()
    url = allauth_discovery_url(value)
    result.url = url
    via_wellknown = "/.well-known/" in value
    double_slash = not via_wellknown and value.endswith("/")
    host = parts.hostname or ""

    own = client is None
    http = client if client is not None else create_client(timeout=timeout, verify=verify)
    try:
        fetched, problem = await _fetch(http, url, timeout, "discovery", host)
    finally:
        if own:
            await http.aclose()

    if double_slash:
        sev = error if problem is not None or (fetched and fetched.status >= 400) else warning
        result.findings.append(sev(
            "server-url-trailing-slash",
            f"server_url ends with '/', so allauth requests {url!r} (note the '//').",
            f"Remove the trailing slash: {value.rstrip('/')!r}, or give the full discovery URL."))
    if problem is not None or fetched is None:
        if problem is not None:
            result.findings.append(problem)
        return done()
    if fetched.redirects:
        result.final_url = fetched.final_url
        downgrade = fetched.final_url.startswith("http://") and url.startswith("https://")
        result.findings.append((warning if downgrade else info)(
            "discovery-redirected",
            f"{url} redirects to {fetched.final_url}"
            + (" — from https down to http." if downgrade else "; allauth follows it too."),
            f"Use the final address in server_url: "
            f"{fetched.final_url.split('/.well-known/')[0]!r}." if not downgrade else
            "Fix the provider's or proxy's redirect to stay on https."))
    if not 200 <= fetched.status < 300:
        result.findings.append(_http_status_finding("discovery", url, fetched, value))
        return done()
    data, problem = _decode_json("discovery", fetched)
    if problem is not None:
        result.findings.append(problem)
        return done()
    if not isinstance(data, dict):
        result.findings.append(error(
            "discovery-not-object",
            f"{fetched.final_url} returned JSON, but {_json_kind(data)} instead of an object.",
            "Point server_url at the OpenID Connect issuer; its discovery document is a JSON "
            "object."))
        return done()

    result.document = data
    ms = (time.perf_counter() - started) * 1000
    result.findings.append(info("discovery-reachable", f"Fetched {url} ({ms:.0f} ms)."))
    issuer = data.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        result.findings.append(error(
            "issuer-missing", "The discovery document has no issuer: allauth cannot check ID "
            "tokens against it.", "Check that server_url points at an OpenID Connect issuer."))
    else:
        result.issuer = issuer
        entered = value.split("/.well-known/", 1)[0] if via_wellknown else value
        result.findings.append(_compare_issuer(entered, issuer, via_wellknown))
    result.findings.extend(_check_endpoints(data, allow, fetch_userinfo))
    result.findings.extend(_check_scopes_and_flow(data))
    method, auth_findings = _check_auth_method(data, token_auth_method)
    result.auth_method = method
    result.findings.extend(auth_findings)
    return done()


async def fetch_jwks(
    jwks_uri: str,
    *,
    # a parameter, not just the caller's asyncio.timeout: it also bounds httpx's phase timeouts
    timeout: float = 10.0,  # noqa: ASYNC109
    client: httpx.AsyncClient | None = None,
    allow_http_hosts: Iterable[str] = DEFAULT_ALLOW_HTTP_HOSTS,
    verify: VerifyOption = True,
) -> JwksResult:
    """Fetch a JSON Web Key Set and check allauth can use it (keys with kid, signing keys)."""
    started = time.perf_counter()
    result = JwksResult(url=jwks_uri)

    def done() -> JwksResult:
        result.elapsed = time.perf_counter() - started
        return result

    parts, findings = _check_input(jwks_uri, tuple(allow_http_hosts), "jwks-url", "jwks_uri",
                                   "jwks")
    result.findings.extend(findings)
    if parts is None:
        return done()
    url = jwks_uri.strip()
    own = client is None
    http = client if client is not None else create_client(timeout=timeout, verify=verify)
    try:
        fetched, problem = await _fetch(http, url, timeout, "jwks", parts.hostname or "")
    finally:
        if own:
            await http.aclose()
    if problem is not None or fetched is None:
        if problem is not None:
            result.findings.append(problem)
        return done()
    if not 200 <= fetched.status < 300:
        result.findings.append(_http_status_finding("jwks", url, fetched, url))
        return done()
    data, problem = _decode_json("jwks", fetched)
    if problem is not None:
        result.findings.append(problem)
        return done()
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list):
        result.findings.append(error("jwks-no-keys",
                                     f"{url} is not a JSON Web Key Set (no 'keys' list).",
                                     "Use the jwks_uri from the discovery document."))
        return done()
    good = [k for k in keys if isinstance(k, dict) and isinstance(k.get("kty"), str)]
    if len(good) != len(keys):
        result.findings.append(warning("jwks-bad-key",
                                       f"{len(keys) - len(good)} entries are not keys (no kty).",
                                       "Check the provider's key configuration."))
    result.keys = good
    if not good:
        result.findings.append(error("jwks-empty", f"{url} lists no keys.",
                                     "Configure a signing key at the provider."))
        return done()
    signing = [k for k in good if k.get("use", "sig") == "sig"]
    if not signing:
        result.findings.append(error("jwks-no-signing-key", "No key is usable for signatures.",
                                     "Configure a signing key at the provider."))
    no_kid = [k for k in signing if not isinstance(k.get("kid"), str)]
    if no_kid:
        result.findings.append(warning(
            "jwks-key-without-kid",
            f"{len(no_kid)} signing key(s) have no 'kid'; allauth looks keys up by kid.",
            "Give the provider's signing keys a key ID."))
    algs = sorted({str(k.get("alg") or k.get("kty")) for k in signing})
    result.findings.append(info("jwks-ok", f"{len(good)} key(s), signing: {', '.join(algs)}."))
    return done()
