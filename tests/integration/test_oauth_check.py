"""The live OAuth check against real providers on loopback.

- oidc-provider-mock with client registration required (a wrong secret and an unregistered
  redirect URI are really refused), always addressed as 127.0.0.1 (it takes its issuer from
  the request's host);
- a GitHub-style OAuth2 provider built with authlib's server classes (no ID token, /user and
  /user/emails, PKCE enforced);
- a replay server answering like each provider documents (providers.md), for the classifier.

The tests play the browser with httpx and hand the callback URL (or the error page's text) to
the wizard, through the CLI as scripts use it and through the core functions.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from click.testing import CliRunner
from oauth_servers import (
    ANSWERS,
    EMAIL_CONFIG,
    GitHubClient,
    GitHubUser,
    ReplayClient,
    ReplayServer,
    Site,
    free_port,
    play_github_browser,
    play_oidc_browser,
    register_oidc_client,
    run_github_provider,
    run_replay_server,
    set_oidc_user,
)
from oidc_servers import (
    OidcProvider,
    make_discovery_doc,
    refusing_port,
    run_doc_server,
    run_oidc_provider,
    stalling_port,
)

from sso_wizard.cli import main
from sso_wizard.core.checks import oauth
from sso_wizard.core.checks.oauth import (
    ProviderSetup,
    classify_token_answer,
    parse_pasted,
    probe_credentials,
    validate_id_token,
)
from sso_wizard.core.db import AppRow
from sso_wizard.core.http import create_client

pytestmark = [
    pytest.mark.network,
    # oidc-provider-mock drives authlib's deprecated OIDC grant hooks in its server thread;
    # that is the mock's business, not the wizard's (whose own warnings still fail tests).
    pytest.mark.filterwarnings("ignore::DeprecationWarning:authlib"),
]

SLUG = "mock"


def run_cli(*args: str, input: str | None = "") -> tuple[int, Any]:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    text = result.stdout if hasattr(result, "stdout") else result.output
    try:
        return result.exit_code, json.loads(text)
    except ValueError:
        return result.exit_code, result.output


def codes(findings: list[dict[str, Any]] | list[Any]) -> dict[str, str]:
    out = {}
    for f in findings:
        if isinstance(f, dict):
            out.setdefault(f["code"], f["severity"])
        else:
            out.setdefault(f.code, f.severity)
    return out


def message(findings: list[Any], code: str) -> str:
    for f in findings:
        c = f["code"] if isinstance(f, dict) else f.code
        if c == code:
            return str(f["message"] if isinstance(f, dict) else f.message)
    raise AssertionError(f"{code} not in {list(codes(findings))}")


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcProvider]:
    with run_oidc_provider(require_client_registration=True) as provider:
        set_oidc_user(provider.base_url, "alice", {
            "email": "alice@example.com", "email_verified": True, "name": "Alice Example",
            "preferred_username": "alice", "groups": ["idp-admins", "staff"]})
        set_oidc_user(provider.base_url, "nomail", {"name": "No Mail"})
        yield provider


@pytest.fixture
def site_url() -> str:
    # nothing listens here: the server cross-check finds InvenTree down (a note, not a failure)
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def site(tmp_path: Path, site_url: str) -> Site:
    return Site.sqlite(tmp_path / "inventree", site_url)


def callback(site_url: str, slug: str = SLUG) -> str:
    return f"{site_url}/accounts/{slug}/login/callback/"


@pytest.fixture
def oidc_app(oidc: OidcProvider, site: Site, site_url: str) -> tuple[str, str]:
    client_id, secret = register_oidc_client(oidc.base_url, [callback(site_url)])
    site.add_app("openid_connect", client_id, secret, provider_id=SLUG, name="Mock IdP",
                 settings={"server_url": oidc.base_url})
    return client_id, secret


def open_signup(site: Site, **more: Any) -> None:
    site.add_config(EMAIL_CONFIG)
    site.set_settings(LOGIN_ENABLE_SSO_REG=True, LOGIN_SIGNUP_SSO_AUTO=True, **more)


def start(site: Site, slug: str = SLUG, *extra: str) -> dict[str, Any]:
    """Start a round trip as a script would (stdin at EOF, no listening): pending."""
    code, data = run_cli("--config", str(site.config), "check", "provider", slug, "--json",
                         "--no-listen", "--no-server", *extra)
    assert code == 1, data
    assert isinstance(data, dict), data
    assert data["roundtrip"]["status"] == "pending"
    assert "roundtrip-pending" in codes(data["findings"])
    return data


def finish(site: Site, pasted: str, slug: str = SLUG, *extra: str) -> tuple[int, dict[str, Any]]:
    code, data = run_cli("--config", str(site.config), "check", "provider", slug, "--json",
                         "--paste", pasted, *extra)
    assert isinstance(data, dict), data
    return code, data


# ---------------------------------------------------------------------------------------------
# the credential probe against the real OpenID Connect provider


def test_probe_accepts_registered_client(site: Site, oidc_app: tuple[str, str]) -> None:
    code, data = run_cli("--config", str(site.config), "check", "provider", SLUG, "--probe",
                         "--json")
    assert code == 0, data
    assert data["ok"] is True
    probe = data["probe"]
    assert probe["outcome"] == "accepted" and probe["certainty"] == "likely"
    assert probe["auth_method"] == "client_secret_post"
    assert probe["http_status"] == 400 and probe["error"] == "invalid_grant"
    assert abs(probe["clock_skew_seconds"]) <= 2
    found = codes(data["findings"])
    assert found["probe-credentials-accepted"] == "info"
    assert found["clock-skew"] == "info"
    assert found["discovery-reachable"] == "info" and found["jwks-ok"] == "info"
    assert data["roundtrip"] is None
    for f in data["findings"]:
        assert set(f) == {"code", "severity", "message", "fix"}
    assert oidc_app[1] not in json.dumps(data)  # the secret never leaves


def test_probe_wrong_secret_is_refused(site: Site, oidc_app: tuple[str, str]) -> None:
    site.update_app(SLUG, secret="not-the-secret")
    code, data = run_cli("--config", str(site.config), "check", "provider", SLUG, "--probe",
                         "--json")
    assert code == 1
    assert data["ok"] is False
    assert data["probe"]["outcome"] == "credentials-wrong"
    assert data["probe"]["certainty"] == "certain"
    assert codes(data["findings"])["probe-credentials-wrong"] == "error"
    assert "invalid_client" in message(data["findings"], "probe-credentials-wrong")


def test_probe_unknown_client(site: Site, oidc_app: tuple[str, str]) -> None:
    site.update_app(SLUG, client_id="nobody-registered-this")
    code, data = run_cli("--config", str(site.config), "check", "provider", SLUG, "--probe",
                         "--json")
    assert code == 1
    assert data["probe"]["outcome"] == "credentials-wrong"


def test_probe_names_the_auth_method_a_basic_only_client_needs(
        oidc: OidcProvider, site: Site, site_url: str) -> None:
    client_id, secret = register_oidc_client(oidc.base_url, [callback(site_url)],
                                             auth_method="client_secret_basic")
    site.add_app("openid_connect", client_id, secret, provider_id=SLUG,
                 settings={"server_url": oidc.base_url})
    code, data = run_cli("--config", str(site.config), "check", "provider", SLUG, "--probe",
                         "--json")
    assert code == 1
    assert data["probe"]["outcome"] == "auth-method"
    msg = message(data["findings"], "probe-auth-method-mismatch")
    assert "client_secret_basic" in msg and "client_secret_post" in msg
    fix = [f for f in data["findings"] if f["code"] == "probe-auth-method-mismatch"][0]["fix"]
    assert "token_auth_method: client_secret_basic" in fix
    # following the advice makes the probe pass
    site.update_app(SLUG, settings={"server_url": oidc.base_url,
                                    "token_auth_method": "client_secret_basic"})
    code, data = run_cli("--config", str(site.config), "check", "provider", SLUG, "--probe",
                         "--json")
    assert code == 0, data["findings"]
    assert data["probe"]["auth_method"] == "client_secret_basic"


def test_probe_provider_down(tmp_path: Path, site_url: str) -> None:
    with refusing_port() as port:
        site = Site.sqlite(tmp_path / "down", site_url)
        site.add_app("openid_connect", "c", "s", provider_id=SLUG,
                     settings={"server_url": f"http://127.0.0.1:{port}"})
        code, data = run_cli("--config", str(site.config), "check", "provider", SLUG,
                             "--probe", "--json", "--timeout", "2")
    assert code == 1
    assert codes(data["findings"])["discovery-connection-refused"] == "error"
    assert data["probe"] is None


async def test_probe_slow_token_endpoint_times_out() -> None:
    with stalling_port() as port:
        setup = manual_setup("keycloak", f"http://127.0.0.1:{port}/token")
        async with create_client(timeout=0.5) as client:
            t0 = time.perf_counter()
            result = await probe_credentials(setup, client=client, timeout=0.5)
            assert time.perf_counter() - t0 < 3
    assert result.outcome == "unreachable"
    assert codes(result.findings)["token-endpoint-timeout"] == "error"


async def test_probe_tls_error_is_named(tmp_path: Path) -> None:
    import ssl
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    with run_doc_server(tls=ctx) as server:
        setup = manual_setup("keycloak", f"{server.base_url}/token")
        async with create_client(timeout=3) as client:
            result = await probe_credentials(setup, client=client, timeout=3)
    assert result.outcome == "unreachable"
    assert "token-endpoint-tls-error" in codes(result.findings)


# ---------------------------------------------------------------------------------------------
# the classifier against each provider's documented answers (replay server)


def manual_setup(flavour: str, token_url: str, *, client_id: str = "client-1",
                 secret: str = "secret-1", redirect: str = "https://inv.example.com/cb/",
                 tenant: str | None = None, auth_method: str = "client_secret_post"
                 ) -> ProviderSetup:
    provider = flavour if flavour in ("google", "github", "gitlab", "microsoft") else (
        "openid_connect")
    app = AppRow(id=1, provider=provider, provider_id="" if provider != "openid_connect"
                 else flavour, name=flavour, client_id=client_id, secret=secret, key="",
                 settings={})
    return ProviderSetup(app=app, flavour=flavour, redirect_uri=redirect,
                         authorize_url=token_url.replace("token", "authorize"),
                         token_url=token_url, tenant=tenant, auth_method=auth_method)


@pytest.fixture(scope="module")
def replay() -> Iterator[ReplayServer]:
    with run_replay_server(ReplayClient("client-1", "secret-1",
                                        "https://inv.example.com/cb/")) as server:
        yield server


EXPECTED_CERTAINTY = {"google": "unverified", "microsoft": "unverified", "github": "likely",
                      "gitlab": "certain", "keycloak": "certain", "authentik": "certain",
                      "okta": "likely", "auth0": "likely", "zitadel": "likely",
                      "authelia": "unverified"}


@pytest.mark.parametrize("flavour", sorted(ANSWERS))
async def test_replay_bad_code_means_credentials_accepted(replay: ReplayServer,
                                                          flavour: str) -> None:
    setup = manual_setup(flavour, replay.token_url(flavour))
    async with create_client(timeout=3) as client:
        result = await probe_credentials(setup, client=client, timeout=3)
    assert result.outcome == "accepted", result.findings
    assert result.ok
    assert result.certainty == EXPECTED_CERTAINTY[flavour]
    found = codes(result.findings)
    assert found["probe-credentials-accepted"] == "info"
    if result.certainty == "unverified":
        assert found["probe-unverified"] == "warning"
        assert "UNVERIFIED" in message(result.findings, "probe-unverified")


@pytest.mark.parametrize("flavour", sorted(ANSWERS))
async def test_replay_wrong_secret_means_credentials_wrong(replay: ReplayServer,
                                                           flavour: str) -> None:
    setup = manual_setup(flavour, replay.token_url(flavour), secret="wrong")
    async with create_client(timeout=3) as client:
        result = await probe_credentials(setup, client=client, timeout=3)
    assert result.outcome == "credentials-wrong", (flavour, result.findings)
    assert not result.ok
    assert codes(result.findings)["probe-credentials-wrong"] == "error"
    if flavour == "microsoft":
        msg = message(result.findings, "probe-credentials-wrong")
        assert "AADSTS7000215" in msg and "Value" in msg + str(result.findings)


@pytest.mark.parametrize("flavour,expected", [
    ("github", "client-unknown"), ("okta", "client-unknown"), ("google", "credentials-wrong"),
    ("keycloak", "credentials-wrong"), ("microsoft", "client-unknown")])
async def test_replay_unknown_client(replay: ReplayServer, flavour: str, expected: str) -> None:
    setup = manual_setup(flavour, replay.token_url(flavour), client_id="who-is-this")
    async with create_client(timeout=3) as client:
        result = await probe_credentials(setup, client=client, timeout=3)
    assert result.outcome == expected, result.findings
    assert not result.ok


async def test_replay_redirect_mismatch_google(replay: ReplayServer) -> None:
    setup = manual_setup("google", replay.token_url("google"), redirect="http://wrong/cb/")
    async with create_client(timeout=3) as client:
        result = await probe_credentials(setup, client=client, timeout=3)
    assert result.outcome == "redirect-mismatch"
    assert "http://wrong/cb/" in message(result.findings, "probe-redirect-mismatch")


async def test_replay_microsoft_expired_secret_and_tenant_probe(replay: ReplayServer) -> None:
    replay.forced["microsoft"] = "expired-secret"
    try:
        setup = manual_setup("microsoft", replay.token_url("microsoft"))
        async with create_client(timeout=3) as client:
            result = await probe_credentials(setup, client=client, timeout=3)
        assert result.outcome == "secret-expired"
        assert codes(result.findings)["probe-secret-expired"] == "error"
    finally:
        replay.forced.clear()
    # a specific tenant: the safer client-credentials probe proves the secret for certain
    url = f"{replay.base_url}/microsoft/contoso.onmicrosoft.com/oauth2/v2.0/token"
    setup = manual_setup("microsoft", url, tenant="contoso.onmicrosoft.com")
    async with create_client(timeout=3) as client:
        result = await probe_credentials(setup, client=client, timeout=3)
    assert result.method == "client-credentials"
    assert result.outcome == "accepted" and result.certainty == "certain"
    assert replay.requests[-1]["form"]["grant_type"] == "client_credentials"
    setup = manual_setup("microsoft", url, tenant="contoso.onmicrosoft.com", secret="x")
    async with create_client(timeout=3) as client:
        result = await probe_credentials(setup, client=client, timeout=3)
    assert result.outcome == "credentials-wrong"


async def test_replay_authelia_wrong_auth_method(replay: ReplayServer) -> None:
    replay.client.auth_method = "client_secret_basic"
    try:
        setup = manual_setup("authelia", replay.token_url("authelia"))
        async with create_client(timeout=3) as client:
            result = await probe_credentials(setup, client=client, timeout=3)
    finally:
        replay.client.auth_method = None
    # allauth's method is refused, the other one is accepted: name the setting
    assert result.outcome == "auth-method"
    assert "token_auth_method: client_secret_basic" in str(result.findings)


def test_classifier_on_documented_bodies() -> None:
    for flavour, answers in ANSWERS.items():
        for kind, (status, ctype, body) in answers.items():
            answer = oauth.TokenAnswer(url="x", status=status, text=body, content_type=ctype,
                                       data=oauth._parse_body(body, ctype))
            got = classify_token_answer(answer, flavour).kind
            expected = {"bad-code": "accepted", "wrong-secret": "credentials-wrong",
                        "expired-secret": "secret-expired", "redirect": "redirect-mismatch",
                        "token": "token-issued", "common-cc": "unclear",
                        "wrong-method": "auth-method"}.get(kind)
            if kind == "unknown-client":
                assert got in ("client-unknown", "credentials-wrong"), (flavour, got)
            elif flavour == "gitlab" and kind == "redirect":
                assert got == "accepted"
            else:
                assert got == expected, (flavour, kind, got)


# ---------------------------------------------------------------------------------------------
# the round trip against the real OpenID Connect provider


def test_roundtrip_success_registers_new_user(oidc: OidcProvider, site: Site,
                                              oidc_app: tuple[str, str]) -> None:
    open_signup(site, LOGIN_SIGNUP_MAIL_RESTRICTION="@example.com")
    started = start(site)
    url = started["roundtrip"]["authorize_url"]
    q = oauth.query_of(url)
    assert q["redirect_uri"] == callback(started["provider"]["callback_url"].split(
        "/accounts/")[0])
    assert q["code_challenge_method"] == "S256" and q["nonce"] and q["state"]
    assert q["scope"] == "openid profile email"
    browser = play_oidc_browser(url, "alice")
    assert browser.callback_url and browser.callback_url.startswith(
        started["provider"]["callback_url"])
    code, data = finish(site, browser.callback_url)
    assert code == 0, data["findings"]
    rt = data["roundtrip"]
    assert rt["status"] == "passed" and rt["ok"]
    assert rt["id_token"]["valid"] is True
    ident = rt["identity"]
    assert ident["sub"] == "alice" and ident["email"] == "alice@example.com"
    assert ident["email_verified"] is True and ident["name"] == "Alice Example"
    assert rt["signin"]["outcome"] == "registers"
    found = codes(data["findings"])
    assert found["idtoken-valid"] == "info" and found["domain-allowed"] == "info"
    assert found["signin-registers"] == "info"
    assert found["server-not-checked"] == "info"  # nothing listens at site_url
    verdict = data["verdict"]
    assert verdict["verified"] is True and verdict["status"] == "verified"
    assert [u["what"] for u in verdict["unverified"]] == ["running server"]
    # the attempt on disk holds no secret
    state_file = next((Path(str(site.config)).parent.parent / "wizard-state"
                       ).rglob("*.json"), None)
    if state_file is not None:
        assert oidc_app[1] not in state_file.read_text()


def test_roundtrip_text_output_and_group_sync(oidc: OidcProvider, site: Site,
                                              oidc_app: tuple[str, str]) -> None:
    open_signup(site, LOGIN_ENABLE_SSO_GROUP_SYNC=True,
                SSO_GROUP_MAP='{"idp-admins": "admin"}')
    data = start(site)
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"], "alice")
    result = CliRunner().invoke(main, ["--config", str(site.config), "check", "provider", SLUG,
                                       "--paste", browser.callback_url or ""],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Round trip" in out and "Who signs in" in out and "verified" in out
    assert "map to InvenTree groups ['admin']" in out
    assert "'staff'" in out  # unmapped group named
    assert oidc_app[1] not in out


def test_roundtrip_wrong_redirect_uri_page_text(oidc: OidcProvider, site: Site,
                                                site_url: str) -> None:
    client_id, secret = register_oidc_client(oidc.base_url, [f"{site_url}/somewhere/else/"])
    site.add_app("openid_connect", client_id, secret, provider_id=SLUG,
                 settings={"server_url": oidc.base_url})
    data = start(site)
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
    assert browser.callback_url is None and browser.status == 400  # the provider's own page
    code, data = finish(site, browser.page_text)
    assert code == 1
    assert codes(data["findings"])["roundtrip-redirect-mismatch"] == "error"
    fix = [f for f in data["findings"] if f["code"] == "roundtrip-redirect-mismatch"][0]["fix"]
    assert callback(site_url) in fix


def test_roundtrip_issuer_mismatch(oidc: OidcProvider, tmp_path: Path, site_url: str) -> None:
    with run_doc_server() as docs:
        # discovery served elsewhere with its own issuer, endpoints at the real provider
        docs.doc("/.well-known/openid-configuration", lambda base: make_discovery_doc(
            base, authorization_endpoint=f"{oidc.base_url}/oauth2/authorize",
            token_endpoint=f"{oidc.base_url}/oauth2/token",
            userinfo_endpoint=f"{oidc.base_url}/userinfo", jwks_uri=f"{oidc.base_url}/jwks",
            token_endpoint_auth_methods_supported=["client_secret_post"]))
        site = Site.sqlite(tmp_path / "iss", site_url)
        client_id, secret = register_oidc_client(oidc.base_url, [callback(site_url)])
        site.add_app("openid_connect", client_id, secret, provider_id=SLUG,
                     settings={"server_url": docs.base_url})
        data = start(site)
        browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
        code, data = finish(site, browser.callback_url or "")
    assert code == 1
    msg = message(data["findings"], "idtoken-issuer-mismatch")
    assert oidc.base_url in msg and docs.base_url in msg
    assert data["roundtrip"]["status"] == "failed"
    assert data["verdict"]["verified"] is False


def test_roundtrip_state_mismatch(oidc: OidcProvider, site: Site,
                                  oidc_app: tuple[str, str]) -> None:
    data = start(site)
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
    forged = oauth.with_query(browser.callback_url.split("&state=")[0], state="another-attempt")
    code, data = finish(site, forged)
    assert code == 1
    assert codes(data["findings"])["roundtrip-state-mismatch"] == "error"
    assert data["roundtrip"]["status"] == "failed"


def test_roundtrip_reused_code(oidc: OidcProvider, site: Site,
                               oidc_app: tuple[str, str]) -> None:
    open_signup(site)
    data = start(site)
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
    code, first = finish(site, browser.callback_url or "")
    assert code == 0, first["findings"]
    code, again = finish(site, browser.callback_url or "")
    assert code == 1
    found = codes(again["findings"])
    assert found["roundtrip-code-rejected"] == "error"
    assert found["roundtrip-attempt-reused"] == "warning"


def test_roundtrip_domain_not_allowed(oidc: OidcProvider, site: Site,
                                      oidc_app: tuple[str, str]) -> None:
    open_signup(site, LOGIN_SIGNUP_MAIL_RESTRICTION="@example.org")
    data = start(site)
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
    code, data = finish(site, browser.callback_url or "")
    assert code == 1
    assert data["roundtrip"]["status"] == "passed"  # the provider side works
    assert data["roundtrip"]["signin"]["outcome"] == "refused"
    found = codes(data["findings"])
    assert found["domain-not-allowed"] == "warning"
    assert found["signin-refused-domain"] == "error"
    assert data["verdict"]["verified"] is False
    assert any(u["what"] == "sign-in" for u in data["verdict"]["unverified"])


def test_roundtrip_existing_user_and_email_dead_end(oidc: OidcProvider, site: Site,
                                                    oidc_app: tuple[str, str]) -> None:
    open_signup(site)
    uid = site.add_user("alice.local", "Alice@Example.com", verified=True)
    data = start(site)
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
    code, data = finish(site, browser.callback_url or "")
    assert code == 1
    signin = data["roundtrip"]["signin"]
    assert signin["outcome"] == "refused"
    finding = [f for f in data["findings"] if f["code"] == "signin-refused-email-taken"][0]
    assert "'alice.local'" in finding["message"]
    assert "links" in finding["fix"] and "email_authentication: true" in finding["fix"]
    # fix 2: email authentication for this (verifying) provider signs them in by email
    site.update_app(SLUG, settings={"server_url": oidc.base_url, "email_authentication": True})
    data = start(site)
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
    code, data = finish(site, browser.callback_url or "")
    assert code == 0, data["findings"]
    assert data["roundtrip"]["signin"]["outcome"] == "email-login"
    assert data["roundtrip"]["signin"]["user"] == "alice.local"
    # fix 1: once linked, the social account decides
    site.update_app(SLUG, settings={"server_url": oidc.base_url})
    site.link(uid, SLUG, "alice")
    data = start(site)
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
    code, data = finish(site, browser.callback_url or "")
    assert code == 0, data["findings"]
    assert data["roundtrip"]["signin"] == {**data["roundtrip"]["signin"],
                                           "outcome": "existing-user", "user": "alice.local"}


def test_roundtrip_registration_closed(oidc: OidcProvider, site: Site,
                                       oidc_app: tuple[str, str]) -> None:
    site.set_settings(LOGIN_ENABLE_SSO_REG=True)  # but email is not configured
    data = start(site)
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
    code, data = finish(site, browser.callback_url or "")
    assert code == 1
    assert codes(data["findings"])["signin-refused-email-not-configured"] == "error"


def test_roundtrip_userinfo_without_email(oidc: OidcProvider, site: Site,
                                          oidc_app: tuple[str, str]) -> None:
    open_signup(site, LOGIN_ENABLE_SSO_GROUP_SYNC=True, SSO_GROUP_KEY="roles")
    data = start(site)
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"], "nomail")
    code, data = finish(site, browser.callback_url or "")
    found = codes(data["findings"])
    assert found["identity-no-email"] == "warning"
    assert "'roles'" in message(data["findings"], "group-claim-missing")
    assert data["roundtrip"]["signin"]["outcome"] == "signup-form"
    assert code == 0  # warnings only: the person gets a sign-up form


def test_roundtrip_denied_at_provider(oidc: OidcProvider, site: Site,
                                      oidc_app: tuple[str, str]) -> None:
    data = start(site)
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"], deny=True)
    assert browser.callback_url and "error=access_denied" in browser.callback_url
    code, data = finish(site, browser.callback_url)
    assert code == 1
    assert codes(data["findings"])["roundtrip-access-denied"] == "error"


def test_roundtrip_truncated_and_wrong_pastes(oidc: OidcProvider, site: Site,
                                              oidc_app: tuple[str, str], site_url: str) -> None:
    data = start(site)
    authorize = data["roundtrip"]["authorize_url"]
    browser = play_oidc_browser(authorize)
    cb = browser.callback_url or ""
    code, data = finish(site, cb.split("&state=")[0])
    assert code == 1 and codes(data["findings"])["roundtrip-url-truncated"] == "error"
    code, data = finish(site, cb.split("?")[0])
    assert codes(data["findings"])["roundtrip-url-truncated"] == "error"
    code, data = finish(site, authorize)
    assert codes(data["findings"])["roundtrip-pasted-authorize-url"] == "error"
    code, data = finish(site, f"{site_url}/web/logged-in?error=unknown&error_process=login")
    assert codes(data["findings"])["roundtrip-pasted-after-continue"] == "error"
    code, data = finish(site, "hello there")
    assert codes(data["findings"])["roundtrip-paste-unrecognised"] == "error"
    # and the real one still works afterwards, even quoted and broken over two lines
    code, data = finish(site, "'" + cb[:40] + "\n" + cb[40:] + "'")
    assert data["roundtrip"]["status"] == "passed", data["findings"]


def test_roundtrip_expired_attempt_and_no_attempt(oidc: OidcProvider, site: Site,
                                                  oidc_app: tuple[str, str]) -> None:
    code, data = finish(site, callback(
        str(site.instance().site_url)) + "?code=abc&state=never-started")
    assert codes(data["findings"])["roundtrip-no-attempt"] == "error"
    data = start(site)
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
    path = oauth._attempts_path(site.instance().config_path)
    raw = json.loads(path.read_text())
    for a in raw["attempts"]:
        a["created"] -= oauth.ATTEMPT_LIFETIME + 5
    path.write_text(json.dumps(raw))
    code, data = finish(site, browser.callback_url or "")
    assert code == 1
    assert codes(data["findings"])["roundtrip-attempt-expired"] == "error"
    assert oct(path.stat().st_mode & 0o777) in ("0o600",)


def test_interactive_paste_from_stdin(oidc: OidcProvider, site: Site,
                                      oidc_app: tuple[str, str]) -> None:
    """Without --paste the CLI prints the URL on its own line and reads the paste from stdin;
    here stdin is fed by a thread once the attempt exists (as a person would)."""
    open_signup(site)
    import io
    import os

    read_fd, write_fd = os.pipe()
    stdin = io.TextIOWrapper(io.FileIO(read_fd, "r"))

    def browser_person() -> None:
        path = oauth._attempts_path(site.instance().config_path)
        for _ in range(200):
            if path.exists():
                break
            time.sleep(0.02)
        attempt = oauth.load_attempts(site.instance().config_path)[-1]
        result = play_oidc_browser(attempt.authorize_url)
        os.write(write_fd, ((result.callback_url or "") + "\n").encode())
        os.close(write_fd)

    helper = threading.Thread(target=browser_person)
    helper.start()
    runner = CliRunner()
    import sys
    old = sys.stdin
    try:
        result = runner.invoke(main, ["--config", str(site.config), "check", "provider", SLUG,
                                      "--no-listen", "--no-server", "--wait", "20"],
                               input=stdin, catch_exceptions=False)
    finally:
        sys.stdin = old
        helper.join(10)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    url_lines = [ln for ln in lines if ln.startswith(oidc.base_url + "/oauth2/authorize?")]
    assert len(url_lines) == 1  # the URL alone on its line
    assert "expected" in result.output  # InvenTree refusing our state is said up front
    assert "registered automatically" in result.output


def test_listen_mode_catches_the_callback(oidc: OidcProvider, tmp_path: Path) -> None:
    """A plain-http callback on this machine with its port free: served once, caught."""
    port = free_port()
    site_url = f"http://127.0.0.1:{port}"
    site = Site.sqlite(tmp_path / "listen", site_url)
    open_signup(site)
    client_id, secret = register_oidc_client(oidc.base_url, [callback(site_url)])
    site.add_app("openid_connect", client_id, secret, provider_id=SLUG,
                 settings={"server_url": oidc.base_url})
    pages: list[str] = []

    def person() -> None:
        path = oauth._attempts_path(site.instance().config_path)
        for _ in range(250):
            if path.exists():
                break
            time.sleep(0.02)
        attempt = oauth.load_attempts(site.instance().config_path)[-1]
        browser = play_oidc_browser(attempt.authorize_url)
        for _ in range(50):  # the listener opens right after the attempt is saved
            try:
                pages.append(httpx.get(browser.callback_url or "", timeout=5).text)
                return
            except httpx.ConnectError:
                time.sleep(0.05)

    helper = threading.Thread(target=person)
    helper.start()
    code, data = run_cli("--config", str(site.config), "check", "provider", SLUG, "--json",
                         "--no-server", "--wait", "20", input="")
    helper.join(10)
    assert code == 0, data
    assert data["roundtrip"]["mode"] == "listen"
    assert data["roundtrip"]["signin"]["outcome"] == "registers"
    assert pages and "Sign-in received" in pages[0]


async def test_listener_refuses_https_and_busy_ports() -> None:
    listener, why = await oauth.CallbackListener.open("https://127.0.0.1:8443/cb/")
    assert listener is None and "https" in why
    with stalling_port() as port:  # something listens there already
        listener, why = await oauth.CallbackListener.open(f"http://127.0.0.1:{port}/cb/")
    assert listener is None and "in use" in why
    listener, why = await oauth.CallbackListener.open("http://192.0.2.1:8080/cb/")
    assert listener is None and "not an address of this machine" in why


def test_unknown_provider_name_is_bad_input(site: Site, oidc_app: tuple[str, str]) -> None:
    code, data = run_cli("--config", str(site.config), "check", "provider", "nope", "--json")
    assert code == 2
    assert data["ok"] is False and data["findings"][0]["code"] == "provider-unknown"
    assert "mock" in data["findings"][0]["message"]


# ---------------------------------------------------------------------------------------------
# ID token validation, each failure by name


@pytest.fixture(scope="module")
def signing_key() -> Any:
    from joserfc import jwk
    return jwk.RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})


def make_token(key: Any, **claims: Any) -> str:
    from joserfc import jwt
    now = int(time.time())
    base = {"iss": "https://idp.example.com", "aud": "client-1", "sub": "u1", "iat": now,
            "exp": now + 300, "nonce": "n1"}
    base.update(claims)
    for k in [k for k, v in base.items() if v is None]:
        del base[k]
    return jwt.encode({"alg": "RS256", "kid": key.kid}, base, key)


def check_token(token: str, key: Any, **kwargs: Any) -> dict[str, str]:
    params = {"keys": [key.as_dict(private=False)], "issuer": "https://idp.example.com",
              "client_id": "client-1", "nonce": "n1"}
    params.update(kwargs)
    result = validate_id_token(token, **params)
    return codes(result.findings)


def test_id_token_checks(signing_key: Any) -> None:
    from joserfc import jwk
    assert check_token(make_token(signing_key), signing_key)["idtoken-valid"] == "info"
    other = jwk.RSAKey.generate_key(2048, parameters={"kid": "k2"})
    assert "idtoken-unknown-key" in check_token(make_token(other), signing_key)
    same_kid = jwk.RSAKey.generate_key(2048, parameters={"kid": "k1"})
    assert "idtoken-signature-invalid" in check_token(make_token(same_kid), signing_key)
    assert "idtoken-audience-mismatch" in check_token(make_token(signing_key, aud="other"),
                                                      signing_key)
    expired = make_token(signing_key, exp=int(time.time()) - 30, iat=int(time.time()) - 330)
    found = check_token(expired, signing_key)
    assert found["idtoken-expired"] == "error" and found["idtoken-iat-skew"] == "warning"
    assert "idtoken-nonce-mismatch" in check_token(make_token(signing_key, nonce="other"),
                                                   signing_key)
    assert check_token(make_token(signing_key, nonce=None), signing_key)[
        "idtoken-no-nonce"] == "warning"
    found = check_token(make_token(signing_key, iss="https://idp.example.com/"), signing_key)
    assert found["idtoken-issuer-mismatch"] == "error"
    assert "idtoken-malformed" in check_token("not.a-token", signing_key)
    future = make_token(signing_key, iat=int(time.time()) + 600)
    assert check_token(future, signing_key)["idtoken-iat-skew"] == "warning"


# ---------------------------------------------------------------------------------------------
# what the admin may paste: provider error pages


@pytest.mark.parametrize("text,code", [
    ("Error 400: redirect_uri_mismatch\nYou can't sign in to this app", "roundtrip-redirect-"
     "mismatch"),
    ("AADSTS50011: The redirect URI 'https://x/cb/' specified in the request does not match "
     "the redirect URIs configured for the application", "roundtrip-redirect-mismatch"),
    ("The redirect_uri is not associated with this application.", "roundtrip-redirect-mismatch"),
    ("We're sorry... Invalid parameter: redirect_uri", "roundtrip-redirect-mismatch"),
    ("Callback URL mismatch. The provided redirect_uri is not in the list of allowed callback "
     "URLs.", "roundtrip-redirect-mismatch"),
    ("The 'redirect_uri' parameter must be a Login redirect URI in the client app settings",
     "roundtrip-redirect-mismatch"),
    ("AADSTS50105: Your administrator has configured the application to block users unless "
     "they are specifically granted access", "roundtrip-provider-error"),
    ("Access blocked: InvenTree has not completed the Google verification process",
     "roundtrip-provider-error"),
    ("Error 403: org_internal", "roundtrip-provider-error"),
])
def test_pasted_error_pages_are_recognised(text: str, code: str) -> None:
    setup = manual_setup("google", "https://x/token", redirect="https://inv.example.com/cb/")
    pasted = parse_pasted(text, setup)
    assert codes(pasted.findings) == {code: "error"}


# ---------------------------------------------------------------------------------------------
# the GitHub-style provider (authlib's server classes): no ID token, /user/emails, PKCE


@pytest.fixture
def github(tmp_path: Path, site_url: str) -> Iterator[tuple[Any, Site]]:
    client = GitHubClient("Iv1.0123456789abcdef", "gh-secret-0123456789",
                          f"{site_url}/accounts/github/login/callback/")
    users = [
        GitHubUser(1, "octocat", "The Octocat", None, [
            {"email": "octo@example.com", "verified": True, "primary": True,
             "visibility": "private"},
            {"email": "octo@users.noreply.github.com", "verified": True, "primary": False}]),
        GitHubUser(2, "unverified", "Unverified", "unv@example.com", [
            {"email": "unv@example.com", "verified": False, "primary": True}]),
    ]
    with run_github_provider([client], users) as provider:
        site = Site.sqlite(tmp_path / "gh", site_url,
                           extra=f"social_providers:\n  github:\n    GITHUB_URL: "
                                 f"{provider.base_url}\n")
        site.add_app("github", client.client_id, client.client_secret, name="GitHub")
        yield provider, site


def test_github_probe(github: tuple[Any, Site]) -> None:
    provider, site = github
    code, data = run_cli("--config", str(site.config), "check", "provider", "github",
                         "--probe", "--json")
    assert code == 0, data
    assert data["probe"]["outcome"] == "accepted"
    assert data["probe"]["error"] == "bad_verification_code"
    assert data["probe"]["http_status"] == 200  # GitHub answers errors with 200
    assert data["probe"]["certainty"] == "likely"
    site.update_app("github", secret="wrong")
    code, data = run_cli("--config", str(site.config), "check", "provider", "github",
                         "--probe", "--json")
    assert code == 1
    assert "incorrect_client_credentials" in message(data["findings"],
                                                     "probe-credentials-wrong")
    site.update_app("github", client_id="Iv1.unknown")
    code, data = run_cli("--config", str(site.config), "check", "provider", "github",
                         "--probe", "--json")
    assert data["probe"]["outcome"] == "client-unknown"


def test_github_roundtrip_with_pkce_and_emails(github: tuple[Any, Site]) -> None:
    provider, site = github
    open_signup(site, LOGIN_ENABLE_SSO_GROUP_SYNC=True)
    data = start(site, "github")
    url = data["roundtrip"]["authorize_url"]
    assert url.startswith(provider.base_url + "/login/oauth/authorize?")
    assert oauth.query_of(url)["scope"] == "user:email"
    browser = play_github_browser(url, "octocat")
    code, data = finish(site, browser.callback_url or "", "github")
    assert code == 0, data["findings"]
    rt = data["roundtrip"]
    assert rt["id_token"] is None  # plain OAuth2: no ID token
    ident = rt["identity"]
    assert ident["uid"] == "1" and ident["username"] == "octocat"
    assert ident["email"] == "octo@example.com" and ident["email_verified"] is True
    assert rt["signin"]["outcome"] == "registers"
    assert codes(data["findings"])["group-sync-unsupported"] == "warning"
    # the token request carried the PKCE verifier (the provider enforces PKCE)
    assert provider.token_requests[-1].get("code_verifier")


def test_github_pkce_is_enforced_by_the_test_provider(github: tuple[Any, Site]) -> None:
    provider, _ = github
    client = next(iter(provider.clients.values()))
    resp = httpx.get(f"{provider.base_url}/login/oauth/authorize", params={
        "client_id": client.client_id, "redirect_uri": client.redirect_uri,
        "response_type": "code", "state": "s"})
    assert resp.status_code == 400 and "PKCE required" in resp.text


def test_github_redirect_mismatch_page(github: tuple[Any, Site], site_url: str) -> None:
    provider, site = github
    client = next(iter(provider.clients.values()))
    client.redirect_uri = "https://elsewhere.example.com/accounts/github/login/callback/"
    data = start(site, "github")
    browser = play_github_browser(data["roundtrip"]["authorize_url"])
    assert browser.callback_url is None
    assert "not associated with this application" in browser.page_text
    code, data = finish(site, browser.page_text, "github")
    assert code == 1
    assert codes(data["findings"])["roundtrip-redirect-mismatch"] == "error"


def test_github_denied_and_emails_forbidden(github: tuple[Any, Site]) -> None:
    provider, site = github
    data = start(site, "github")
    browser = play_github_browser(data["roundtrip"]["authorize_url"], deny=True)
    code, data = finish(site, browser.callback_url or "", "github")
    assert "The user has denied your application access" in message(
        data["findings"], "roundtrip-access-denied")
    provider.emails_forbidden = True
    data = start(site, "github")
    browser = play_github_browser(data["roundtrip"]["authorize_url"])
    code, data = finish(site, browser.callback_url or "", "github")
    assert code == 1
    assert codes(data["findings"])["github-emails-forbidden"] == "error"


def test_github_unverified_email_cannot_use_email_authentication(
        github: tuple[Any, Site]) -> None:
    provider, site = github
    open_signup(site)
    site.add_user("unv.local", "unv@example.com", verified=True)
    site.update_app("github", settings={"email_authentication": True})
    data = start(site, "github")
    browser = play_github_browser(data["roundtrip"]["authorize_url"], "unverified")
    code, data = finish(site, browser.callback_url or "", "github")
    assert code == 1
    assert data["roundtrip"]["signin"]["outcome"] == "refused"
    assert "not verified" in [f for f in data["findings"]
                              if f["code"] == "signin-refused-email-taken"][0]["fix"]


# ---------------------------------------------------------------------------------------------
# clean output: no deprecation noise from the wizard


def test_no_deprecation_warnings_from_the_round_trip(oidc: OidcProvider, site: Site,
                                                     oidc_app: tuple[str, str]) -> None:
    import warnings
    open_signup(site)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = start(site)
        browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
        code, data = finish(site, browser.callback_url or "")
    assert code == 0
    ours = [w for w in caught if issubclass(w.category, DeprecationWarning)
            and "sso_wizard" in str(w.filename)]
    assert ours == []


def test_core_roundtrip_without_cli(oidc: OidcProvider, site: Site,
                                    oidc_app: tuple[str, str]) -> None:
    """The TUI drives the same core functions: setup, begin, complete."""
    open_signup(site)

    async def go() -> Any:
        inst = site.instance()
        snap = site.snapshot()
        app = oauth.find_app(snap.apps, SLUG)
        async with create_client(timeout=5) as client:
            setup = await oauth.resolve_setup(inst, app, client=client)
            attempt = oauth.begin_roundtrip(inst, setup)
            browser = await asyncio.to_thread(play_oidc_browser, attempt.authorize_url)
            return await oauth.complete_roundtrip(inst, snap, setup,
                                                  browser.callback_url or "", client=client,
                                                  attempt=attempt)

    result = asyncio.run(go())
    assert result.passed and result.signin is not None
    assert result.signin.outcome == "registers"


# ---------------------------------------------------------------------------------------------
# endpoints from the app's settings, as allauth builds them (replay server behind them)


def test_cli_probe_uses_each_providers_url_settings(replay: ReplayServer,
                                                    tmp_path: Path) -> None:
    site = Site.sqlite(tmp_path / "urls", "https://inv.example.com")
    site.add_app("microsoft", "client-1", "secret-1", settings={
        "tenant": "contoso.onmicrosoft.com", "login_url": f"{replay.base_url}/microsoft"})
    site.add_app("gitlab", "client-1", "secret-1",
                 settings={"gitlab_url": f"{replay.base_url}/gitlab"})
    site.add_app("discord", "client-1", "secret-1")
    code, data = run_cli("--config", str(site.config), "check", "provider", "microsoft",
                         "--probe", "--json")
    assert code == 0, data["findings"]
    assert data["probe"]["method"] == "client-credentials"
    assert data["probe"]["certainty"] == "certain"
    assert data["provider"]["token_url"] == (f"{replay.base_url}/microsoft/"
                                             "contoso.onmicrosoft.com/oauth2/v2.0/token")
    code, data = run_cli("--config", str(site.config), "check", "provider", "gitlab",
                         "--probe", "--json")
    assert code == 0 and data["probe"]["certainty"] == "certain"
    assert replay.requests[-1]["path"] == "/gitlab/oauth/token"
    code, data = run_cli("--config", str(site.config), "check", "provider", "discord",
                         "--probe", "--json")
    assert code == 1 and codes(data["findings"])["provider-unsupported"] == "warning"
    # tenant "common": the bogus-code probe, whose answer does not prove the secret
    site.update_app("microsoft", settings={"login_url": f"{replay.base_url}/microsoft"})
    code, data = run_cli("--config", str(site.config), "check", "provider", "microsoft",
                         "--probe", "--json")
    assert code == 0
    assert data["probe"]["method"] == "bogus-code"
    assert data["probe"]["certainty"] == "unverified"
    assert codes(data["findings"])["probe-unverified"] == "warning"
    code, data = run_cli("--config", str(site.config), "check", "provider", "microsoft",
                         "--probe", "--paste", "x", "--json")
    assert code == 2 and data["findings"][0]["code"] == "bad-options"


async def test_google_endpoints_are_allauths(tmp_path: Path) -> None:
    site = Site.sqlite(tmp_path / "g", "https://inv.example.com")
    site.add_app("google", "x.apps.googleusercontent.com", "GOCSPX-x")
    inst = site.instance()
    app = site.snapshot().apps[0]
    async with create_client(timeout=1) as client:
        setup = await oauth.resolve_setup(inst, app, client=client)
    assert setup.token_url == "https://oauth2.googleapis.com/token"
    assert setup.issuer == "https://accounts.google.com" and setup.uses_id_token
    assert setup.scopes == ["profile", "email"]
    attempt = oauth.begin_roundtrip(inst, setup)
    q = oauth.query_of(attempt.authorize_url)
    assert q["redirect_uri"] == "https://inv.example.com/accounts/google/login/callback/"
    assert q["nonce"] == attempt.nonce and q["code_challenge_method"] == "S256"


def test_authorize_url_goes_to_the_clipboard_over_osc52() -> None:
    import io

    from sso_wizard import cli_check

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    assert cli_check._copy_to_clipboard("https://idp.example.com/authorize?x=1", tty)
    assert tty.getvalue().startswith("\x1b]52;c;")
    assert not cli_check._copy_to_clipboard("https://idp.example.com/authorize", pipe)
    assert pipe.getvalue() == ""  # never into a pipe or a JSON stream


def test_oidc_without_id_token_falls_back_to_userinfo(oidc: OidcProvider, site: Site,
                                                      oidc_app: tuple[str, str]) -> None:
    """No 'openid' scope, no ID token: allauth uses userinfo alone — a warning, not a failure."""
    open_signup(site)
    site.update_app(SLUG, settings={"server_url": oidc.base_url, "scope": ["profile", "email"]})
    data = start(site)
    assert oauth.query_of(data["roundtrip"]["authorize_url"])["scope"] == "profile email"
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
    code, data = finish(site, browser.callback_url or "")
    assert code == 0, data["findings"]
    assert codes(data["findings"])["idtoken-missing"] == "warning"
    assert data["roundtrip"]["id_token"] is None
    assert data["roundtrip"]["identity"]["email"] == "alice@example.com"
