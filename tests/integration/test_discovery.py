"""check_discovery / fetch_jwks against a real OIDC provider and broken servers, loopback only."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from oidc_servers import (
    WELL_KNOWN,
    DocServer,
    OidcProvider,
    Route,
    make_discovery_doc,
    refusing_port,
    run_doc_server,
    run_oidc_provider,
    stalling_port,
)

from sso_wizard.core.checks.discovery import (
    DiscoveryResult,
    allauth_auth_method,
    check_discovery,
    fetch_jwks,
    recommended_server_url,
)
from sso_wizard.core.findings import Finding
from sso_wizard.core.http import create_client

pytestmark = pytest.mark.network


def codes(result: DiscoveryResult) -> dict[str, str]:
    return {f.code: f.severity for f in result.findings}


def finding(result: DiscoveryResult, code: str) -> Finding:
    matches = [f for f in result.findings if f.code == code]
    assert matches, f"{code} not in {[f.code for f in result.findings]}"
    return matches[0]


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcProvider]:
    with run_oidc_provider() as provider:
        yield provider


@pytest.fixture
def docs() -> Iterator[DocServer]:
    with run_doc_server() as server:
        yield server


# ---------------------------------------------------------------------------------------------
# the real provider


async def test_real_provider_ok(oidc: OidcProvider) -> None:
    result = await check_discovery(oidc.base_url)
    assert result.ok, result.findings
    assert result.url == oidc.discovery_url
    assert result.issuer == oidc.issuer
    assert codes(result)["issuer-match"] == "info"
    assert codes(result)["discovery-reachable"] == "info"
    # the mock does not list token_endpoint_auth_methods_supported: allauth then posts the secret
    assert result.auth_method == "client_secret_post"
    assert codes(result)["token-auth-method-unadvertised"] == "warning"
    assert result.endpoint("token_endpoint") == oidc.base_url + "/oauth2/token"
    assert 0 < result.elapsed < 5
    assert result.to_json()["ok"] is True

    jwks = await fetch_jwks(result.endpoint("jwks_uri") or "")
    assert jwks.ok, jwks.findings
    assert jwks.keys and all("kid" in k for k in jwks.keys)


async def test_real_provider_full_discovery_url(oidc: OidcProvider) -> None:
    result = await check_discovery(oidc.discovery_url)
    assert result.ok and result.url == oidc.discovery_url
    assert "issuer-match" in codes(result)


async def test_real_provider_trailing_slash(oidc: OidcProvider) -> None:
    result = await check_discovery(oidc.base_url + "/")
    assert result.url == oidc.base_url + "//.well-known/openid-configuration"
    f = finding(result, "server-url-trailing-slash")
    assert f"'{oidc.base_url}'" in f.fix
    # werkzeug happens to serve '//.well-known', so this is a warning, not an error
    assert f.severity == "warning"
    assert codes(result)["issuer-trailing-slash"] == "warning"


async def test_configured_basic_auth_method(oidc: OidcProvider) -> None:
    result = await check_discovery(oidc.base_url, token_auth_method="client_secret_basic")
    assert result.auth_method == "client_secret_basic"
    assert "token-auth-method-unadvertised" not in codes(result)


async def test_shared_client_is_reused_not_closed(oidc: OidcProvider) -> None:
    async with create_client(timeout=5) as client:
        first = await check_discovery(oidc.base_url, client=client)
        second = await check_discovery(oidc.base_url, client=client)
        assert first.ok and second.ok and not client.is_closed


# ---------------------------------------------------------------------------------------------
# issuer mismatches


async def test_issuer_for_another_server(docs: DocServer) -> None:
    docs.doc("/realms/inv" + WELL_KNOWN,
             lambda base: make_discovery_doc("https://sso.other.example/realms/inv"))
    result = await check_discovery(docs.base_url + "/realms/inv")
    f = finding(result, "issuer-other-server")
    assert f.severity == "error" and not result.ok
    assert "sso.other.example" in f.message and "scheme http vs https" in f.message
    assert "https://sso.other.example/realms/inv" in f.fix


async def test_issuer_realm_path_mismatch(docs: DocServer) -> None:
    docs.doc("/realms/Inv" + WELL_KNOWN, lambda base: make_discovery_doc(base + "/realms/inv"))
    result = await check_discovery(docs.base_url + "/realms/Inv")
    f = finding(result, "issuer-path-mismatch")
    assert "'/realms/Inv' entered, '/realms/inv' in the document" in f.message
    assert f"Set server_url to '{docs.base_url}/realms/inv'" in f.fix


async def test_issuer_with_trailing_slash_authentik_style(docs: DocServer) -> None:
    docs.doc("/application/o/inv" + WELL_KNOWN,
             lambda base: make_discovery_doc(base + "/application/o/inv/"))
    result = await check_discovery(docs.base_url + "/application/o/inv")
    f = finding(result, "issuer-trailing-slash")
    assert f.severity == "info" and result.ok  # allauth copes; the fix is optional
    assert f.fix.endswith(f"'{docs.base_url}/application/o/inv/.well-known/openid-configuration'.")
    # the recommended value (the full discovery URL) is then an exact match
    docs.doc("/application/o/inv/" + WELL_KNOWN.lstrip("/"),
             lambda base: make_discovery_doc(base + "/application/o/inv/"))
    full = await check_discovery(recommended_server_url(result.issuer or ""))
    assert full.ok and "issuer-match" in codes(full)


async def test_entered_trailing_slash_served_anyway(docs: DocServer) -> None:
    docs.doc("/realms/x/" + WELL_KNOWN, lambda base: make_discovery_doc(base + "/realms/x"))
    result = await check_discovery(docs.base_url + "/realms/x/")
    assert codes(result)["server-url-trailing-slash"] == "warning"
    f = finding(result, "issuer-trailing-slash")
    assert f.severity == "warning" and f.fix == f"Set server_url to '{docs.base_url}/realms/x'."


async def test_issuer_missing(docs: DocServer) -> None:
    docs.doc(WELL_KNOWN, lambda base: make_discovery_doc(base, issuer=None))
    result = await check_discovery(docs.base_url)
    assert codes(result)["issuer-missing"] == "error"


# ---------------------------------------------------------------------------------------------
# broken documents


async def test_not_json(docs: DocServer) -> None:
    docs.raw(WELL_KNOWN, b"<!DOCTYPE html><html><body>Sign in</body></html>",
             content_type="text/html; charset=utf-8")
    result = await check_discovery(docs.base_url)
    f = finding(result, "discovery-not-json")
    assert "text/html" in f.message and "HTML page" in f.message
    assert result.document is None and not result.ok


async def test_json_array(docs: DocServer) -> None:
    docs.json(WELL_KNOWN, [{"issuer": "x"}])
    result = await check_discovery(docs.base_url)
    f = finding(result, "discovery-not-object")
    assert "an array" in f.message


@pytest.mark.parametrize("status", [404, 500, 403])
async def test_http_error(docs: DocServer, status: int) -> None:
    docs.raw(WELL_KNOWN, b"nope", status=status, content_type="text/plain")
    result = await check_discovery(docs.base_url + "/realms/x" if status == 404 else
                                   docs.base_url)
    # the 404 case asks for a path that is not served at all
    f = finding(result, "discovery-http-error")
    assert f"HTTP {status}" in f.message and f.severity == "error"


async def test_404_old_keycloak_path_hint(docs: DocServer) -> None:
    result = await check_discovery(docs.base_url + "/auth/realms/inv")
    f = finding(result, "discovery-http-error")
    assert "HTTP 404" in f.message and f"'{docs.base_url}/realms/inv'" in f.fix


async def test_404_bare_host_hint(docs: DocServer) -> None:
    result = await check_discovery(docs.base_url)
    assert "realms/REALM" in finding(result, "discovery-http-error").fix


async def test_missing_endpoints(docs: DocServer) -> None:
    docs.doc(WELL_KNOWN, lambda b: make_discovery_doc(b, token_endpoint=None, jwks_uri=None))
    result = await check_discovery(docs.base_url)
    f = finding(result, "discovery-missing-endpoint")
    assert "token_endpoint, jwks_uri" in f.message and not result.ok


async def test_missing_userinfo(docs: DocServer) -> None:
    docs.doc(WELL_KNOWN, lambda b: make_discovery_doc(b, userinfo_endpoint=None))
    result = await check_discovery(docs.base_url)
    assert "fetch_userinfo: false" in finding(result, "discovery-no-userinfo").fix
    relaxed = await check_discovery(docs.base_url, fetch_userinfo=False)
    assert relaxed.ok


async def test_no_email_scope(docs: DocServer) -> None:
    docs.doc(WELL_KNOWN, lambda b: make_discovery_doc(b, scopes_supported=["openid", "profile"]))
    result = await check_discovery(docs.base_url)
    assert codes(result)["discovery-no-email-scope"] == "warning"
    assert result.ok  # a warning, not an error


async def test_only_basic_auth_advertised(docs: DocServer) -> None:
    docs.doc(WELL_KNOWN, lambda b: make_discovery_doc(
        b, token_endpoint_auth_methods_supported=["client_secret_basic"]))
    result = await check_discovery(docs.base_url)
    assert result.auth_method == "client_secret_basic" and result.ok
    assert "client_secret_basic" in finding(result, "token-auth-method").message
    forced = await check_discovery(docs.base_url, token_auth_method="client_secret_post")
    assert forced.auth_method == "client_secret_post"
    assert codes(forced)["token-auth-method-unsupported"] == "error"


async def test_both_methods_prefers_post(docs: DocServer) -> None:
    docs.doc(WELL_KNOWN, make_discovery_doc)
    result = await check_discovery(docs.base_url)
    assert result.auth_method == "client_secret_post"
    assert "Authelia" in finding(result, "token-auth-method").fix


async def test_no_usable_auth_method(docs: DocServer) -> None:
    docs.doc(WELL_KNOWN, lambda b: make_discovery_doc(
        b, token_endpoint_auth_methods_supported=["private_key_jwt"]))
    result = await check_discovery(docs.base_url)
    assert codes(result)["token-auth-method-unsupported"] == "error"


async def test_plain_http_endpoints_on_public_host(docs: DocServer) -> None:
    docs.doc(WELL_KNOWN, lambda b: make_discovery_doc(
        b, token_endpoint="http://sso.example.com/token"))
    result = await check_discovery(docs.base_url)
    assert "token_endpoint (http://sso.example.com/token)" in finding(
        result, "endpoint-not-https").message


async def test_redirect_is_followed_and_reported(docs: DocServer) -> None:
    docs.doc("/new" + WELL_KNOWN, lambda b: make_discovery_doc(b + "/new"))
    docs.routes["/old" + WELL_KNOWN] = lambda b: Route(
        302, b"", "text/plain", (("Location", b + "/new" + WELL_KNOWN),))
    result = await check_discovery(docs.base_url + "/old")
    f = finding(result, "discovery-redirected")
    assert f.severity == "info" and f"'{docs.base_url}/new'" in f.fix
    assert result.final_url == docs.base_url + "/new" + WELL_KNOWN
    assert "issuer-path-mismatch" in codes(result)


async def test_body_too_large(docs: DocServer) -> None:
    docs.raw(WELL_KNOWN, b"[" + b"0," * 600_000 + b"0]")
    result = await check_discovery(docs.base_url)
    assert codes(result)["discovery-too-large"] == "error"


# ---------------------------------------------------------------------------------------------
# network failures, bounded and without tracebacks


async def test_stalling_server_times_out_quickly() -> None:
    with stalling_port() as port:
        started = time.perf_counter()
        result = await check_discovery(f"http://127.0.0.1:{port}", timeout=0.3)
        took = time.perf_counter() - started
    assert codes(result) == {"discovery-timeout": "error"}
    assert took < 2.0
    assert "0.3 s" in result.findings[0].message


async def test_connection_refused() -> None:
    with refusing_port() as port:
        result = await check_discovery(f"http://127.0.0.1:{port}/realms/x")
    assert codes(result) == {"discovery-connection-refused": "error"}


async def test_http_on_public_host_refused_before_connecting() -> None:
    started = time.perf_counter()
    result = await check_discovery("http://sso.example.com/realms/inv")
    assert time.perf_counter() - started < 0.5
    f = finding(result, "server-url-not-https")
    assert f.fix == "Use https: 'https://sso.example.com/realms/inv'."
    assert result.url == "" and not result.ok


async def test_http_loopback_not_in_allow_list() -> None:
    result = await check_discovery("http://127.0.0.1:1/x", allow_http_hosts=())
    assert "(loopback)" in finding(result, "server-url-not-https").message


async def test_invalid_tld_host() -> None:
    result = await check_discovery("https://sso.example.invalid/realms/inv")
    assert codes(result) == {"discovery-unknown-host": "error"}


@pytest.mark.parametrize(("value", "code", "fix_part"), [
    ("", "server-url-empty", "issuer URL"),
    ("   ", "server-url-empty", "issuer URL"),
    ("not a url", "server-url-invalid", "issuer URL"),
    ("sso.example.com/realms/inv", "server-url-invalid",
     "'https://sso.example.com/realms/inv'"),
    ("ftp://sso.example.com/realms/inv", "server-url-invalid", "https://HOST"),
    ("https://sso.example.com:99999/realms/inv", "server-url-invalid", "https://HOST"),
    ("https://", "server-url-invalid", "https://HOST"),
    ("https://sso.example.com/realms/inv?x=1", "server-url-query", "'?'"),
])
async def test_bad_input(value: str, code: str, fix_part: str) -> None:
    result = await check_discovery(value)
    f = finding(result, code)
    assert f.severity == "error" and fix_part in f.fix
    assert not result.ok and result.document is None


async def test_whitespace_is_flagged(oidc: OidcProvider) -> None:
    result = await check_discovery(f"  {oidc.base_url}\n")
    assert codes(result)["server-url-whitespace"] == "warning"
    assert result.ok


# ---------------------------------------------------------------------------------------------
# TLS


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls_server(ca: trustme.CA, *names: str) -> DocServer:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(ctx)
    return DocServer(tls=ctx)


async def test_tls_untrusted_ca_then_ca_file(ca: trustme.CA, tmp_path: Path) -> None:
    server = _tls_server(ca, "127.0.0.1").start()
    try:
        server.doc(WELL_KNOWN, make_discovery_doc)
        result = await check_discovery(server.base_url)
        f = finding(result, "discovery-tls-error")
        assert "does not trust" in f.message and "REQUESTS_CA_BUNDLE" in f.fix
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        trusted = await check_discovery(server.base_url, verify=str(ca_file))
        assert trusted.ok, trusted.findings
    finally:
        server.stop()


async def test_tls_hostname_mismatch(ca: trustme.CA, tmp_path: Path) -> None:
    server = _tls_server(ca, "sso.example.com").start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        result = await check_discovery(server.base_url, verify=str(ca_file))
        assert "not valid for 127.0.0.1" in finding(result, "discovery-tls-error").message
    finally:
        server.stop()


async def test_https_to_plain_http_port(docs: DocServer) -> None:
    result = await check_discovery(f"https://127.0.0.1:{docs.port}")
    assert "does not speak TLS" in finding(result, "discovery-tls-error").message


# ---------------------------------------------------------------------------------------------
# JWKS and the auth-method rule


async def test_jwks_problems(docs: DocServer) -> None:
    docs.json("/empty", {"keys": []})
    docs.json("/nokeys", {"foo": 1})
    docs.json("/nokid", {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]})
    docs.json("/enc", {"keys": [{"kty": "RSA", "use": "enc", "kid": "a"}]})
    assert {f.code for f in (await fetch_jwks(docs.base_url + "/empty")).findings} == {
        "jwks-empty"}
    assert {f.code for f in (await fetch_jwks(docs.base_url + "/nokeys")).findings} == {
        "jwks-no-keys"}
    nokid = await fetch_jwks(docs.base_url + "/nokid")
    assert "jwks-key-without-kid" in {f.code for f in nokid.findings} and nokid.ok
    enc = await fetch_jwks(docs.base_url + "/enc")
    assert "jwks-no-signing-key" in {f.code for f in enc.findings} and not enc.ok
    missing = await fetch_jwks(docs.base_url + "/missing")
    assert {f.code for f in missing.findings} == {"jwks-http-error"}
    plain = await fetch_jwks("http://sso.example.com/jwks")
    assert {f.code for f in plain.findings} == {"jwks-url-not-https"}


@pytest.mark.parametrize(("methods", "configured", "expected"), [
    (None, None, "client_secret_post"),
    (["client_secret_basic"], None, "client_secret_basic"),
    (["client_secret_basic", "client_secret_post"], None, "client_secret_post"),
    (["private_key_jwt"], None, "client_secret_post"),
    (["client_secret_post"], "client_secret_basic", "client_secret_basic"),
    (["client_secret_basic"], "client_secret_jwt", "client_secret_post"),
])
def test_allauth_auth_method_rule(methods: list[str] | None, configured: str | None,
                                  expected: str) -> None:
    doc = {} if methods is None else {"token_endpoint_auth_methods_supported": methods}
    assert allauth_auth_method(doc, configured) == expected


async def test_trailing_slash_not_served_is_an_error(docs: DocServer) -> None:
    docs.doc("/realms/x" + WELL_KNOWN, lambda base: make_discovery_doc(base + "/realms/x"))
    result = await check_discovery(docs.base_url + "/realms/x/")
    assert codes(result)["server-url-trailing-slash"] == "error"
    assert f"'{docs.base_url}/realms/x'" in finding(result, "discovery-http-error").fix


# ---------------------------------------------------------------------------------------------
# the shared client factory


async def test_client_defaults() -> None:
    from sso_wizard import __version__

    async with create_client() as client:
        assert client.headers["User-Agent"] == f"sso-wizard/{__version__}"
        assert client.follow_redirects is False
        assert (client.timeout.connect, client.timeout.read) == (5.0, 10.0)
    async with create_client(timeout=0.5) as client:
        assert client.timeout.connect == 0.5 and client.timeout.read == 0.5


def test_ssl_contexts_are_cached_and_reloaded(ca: trustme.CA, tmp_path: Path) -> None:
    import os

    from sso_wizard.core.http import ssl_context

    assert ssl_context(True) is ssl_context(True)
    assert ssl_context(False) is False
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    first = ssl_context(str(ca_file))
    assert first is ssl_context(ca_file)  # str and PathLike alike
    os.utime(ca_file, (1, 1))  # an edited file gets a new context
    assert ssl_context(str(ca_file)) is not first
    assert isinstance(ssl_context(str(tmp_path)), ssl.SSLContext)  # a CA directory
