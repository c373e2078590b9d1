"""`sso-wizard check server`: the running InvenTree starts a login the way the DB says.

A tiny fake InvenTree on loopback implements the two endpoints the 1.x web UI uses (and the
0.16/0.17 ones) with a CSRF cookie; the real Django + allauth site is the conformance suite's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from oauth_servers import (
    EMAIL_CONFIG,
    FakeApp,
    FakeInvenTree,
    Site,
    free_port,
    play_oidc_browser,
    register_oidc_client,
    run_fake_inventree,
    set_oidc_user,
)
from oidc_servers import OidcProvider, refusing_port, run_doc_server, run_oidc_provider
from smtp_servers import run_smtp_server

from sso_wizard.cli import main
from sso_wizard.core.checks.server import url_differences

pytestmark = [
    pytest.mark.network,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:authlib"),
]

SLUG = "mock"
BACKENDS = "social_backends:\n  - allauth.socialaccount.providers.openid_connect\n"


def run_cli(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(main, list(args), input="", catch_exceptions=False)
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, result.output


def codes(findings: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in findings:
        out.setdefault(f["code"], f["severity"])
    return out


def finding(findings: list[dict[str, Any]], code: str) -> dict[str, Any]:
    for f in findings:
        if f["code"] == code:
            return f
    raise AssertionError(f"{code} not in {list(codes(findings))}")


def cb(base: str, slug: str = SLUG) -> str:
    return f"{base}/accounts/{slug}/login/callback/"


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as s:
        yield s


@pytest.fixture
def fake() -> Iterator[FakeInvenTree]:
    with run_fake_inventree() as server:
        yield server


def make_site(tmp_path: Path, fake: FakeInvenTree, *, extra: str = BACKENDS,
              client_id: str = "client-1", site_url: str | None = None) -> Site:
    site = Site.sqlite(tmp_path / "inv", site_url or fake.base_url, extra=extra)
    site.add_app("openid_connect", client_id, "secret-1", provider_id=SLUG, name="Mock",
                 settings={"server_url": "https://idp.example.com"})
    return site


def serve(fake: FakeInvenTree, *, client_id: str = "client-1",
          redirect_uri: str | None = None) -> None:
    fake.apps[SLUG] = FakeApp(SLUG, client_id, "https://idp.example.com/authorize",
                              redirect_uri or cb(fake.base_url),
                              openid_configuration_url="https://idp.example.com/.well-known/"
                                                       "openid-configuration")


def check(site: Site, *extra: str) -> tuple[int, dict[str, Any]]:
    code, data = run_cli("--config", str(site.config), "check", "server", "--json", *extra)
    assert isinstance(data, dict), data
    return code, data


# ---------------------------------------------------------------------------------------------


def test_green_cross_check(tmp_path: Path, fake: FakeInvenTree) -> None:
    site = make_site(tmp_path, fake)
    serve(fake)
    code, data = check(site)
    assert code == 0, data["findings"]
    assert data["ok"] is True and data["reachable"] is True and data["version"] == "1.x"
    assert data["providers"] == [SLUG] and data["restart_needed"] is False
    app = data["apps"][SLUG]
    assert app["client_id"] == "client-1" and app["redirect_uri"] == cb(fake.base_url)
    assert app["authorize_url"] == "https://idp.example.com/authorize"
    assert codes(data["findings"])["server-cross-check-ok"] == "info"
    # the UI's way: session first (cookie), then the form POST
    assert ("GET", "/api/auth/v1/auth/session") in fake.requests
    assert ("POST", "/api/auth/v1/auth/provider/redirect") in fake.requests
    for f in data["findings"]:
        assert set(f) == {"code", "severity", "message", "fix"}


def test_text_output(tmp_path: Path, fake: FakeInvenTree) -> None:
    site = make_site(tmp_path, fake)
    serve(fake)
    result = CliRunner().invoke(main, ["--config", str(site.config), "check", "server"])
    assert result.exit_code == 0, result.output
    assert "InvenTree 1.x" in result.output and "both match" in result.output


def test_backend_added_but_not_restarted(tmp_path: Path, fake: FakeInvenTree) -> None:
    site = make_site(tmp_path, fake)  # the config lists the backend, the server lists nothing
    code, data = check(site)
    assert code == 1 and data["restart_needed"] is True
    found = codes(data["findings"])
    assert found["server-provider-missing"] == "error"
    assert found["server-restart-needed"] == "error"
    assert "restart" in finding(data["findings"], "server-provider-missing")["message"]


def test_backend_missing_from_config(tmp_path: Path, fake: FakeInvenTree) -> None:
    site = make_site(tmp_path, fake, extra="")
    code, data = check(site)
    assert code == 1 and data["restart_needed"] is False
    f = finding(data["findings"], "server-provider-missing")
    assert "not in social_backends" in f["message"]
    assert "allauth.socialaccount.providers.openid_connect" in f["fix"]


def test_stale_client_id_means_restart(tmp_path: Path, fake: FakeInvenTree) -> None:
    site = make_site(tmp_path, fake, client_id="client-NEW")
    serve(fake, client_id="client-OLD")
    code, data = check(site)
    assert code == 1 and data["restart_needed"] is True
    msg = finding(data["findings"], "server-client-id-differs")["message"]
    assert "client-OLD" in msg and "client-NEW" in msg


def test_client_id_from_config_app(tmp_path: Path, fake: FakeInvenTree) -> None:
    extra = BACKENDS + ("social_providers:\n  openid_connect:\n    APP:\n"
                        "      client_id: from-config\n      secret: x\n")
    site = make_site(tmp_path, fake, extra=extra)
    serve(fake, client_id="from-config")
    code, data = check(site)
    assert code == 1 and data["restart_needed"] is False
    f = finding(data["findings"], "server-client-id-differs")
    assert "social_providers" in f["message"] and "APP" in f["fix"]


def test_http_callback_while_config_says_https(tmp_path: Path, fake: FakeInvenTree) -> None:
    site = make_site(tmp_path, fake, site_url="https://inventree.example.com",
                     extra=BACKENDS + "login_default_protocol: https\n")
    serve(fake, redirect_uri="http://inventree.example.com/accounts/mock/login/callback/")
    code, data = check(site, fake.base_url)  # the server, reached directly
    assert code == 1 and data["restart_needed"] is True
    msg = finding(data["findings"], "server-callback-differs")["message"]
    assert "scheme: the server sends http://, the config gives https://" in msg
    assert "old config" in msg


def test_proxy_rewrites_host(tmp_path: Path, fake: FakeInvenTree) -> None:
    site = make_site(tmp_path, fake)
    serve(fake, redirect_uri="http://inventree-internal:8000/accounts/mock/login/callback/")
    code, data = check(site)
    assert code == 1 and data["restart_needed"] is False
    msg = finding(data["findings"], "server-callback-differs")["message"]
    assert "host: the server sends inventree-internal" in msg
    assert "X-Forwarded-Host" in msg


def test_other_address_is_only_a_note(tmp_path: Path, fake: FakeInvenTree) -> None:
    site = make_site(tmp_path, fake, site_url="http://inventree.example.com")
    serve(fake)  # the server builds the callback from the address it was asked on
    code, data = check(site, fake.base_url)
    assert code == 0, data["findings"]
    assert codes(data["findings"])["server-checked-other-address"] == "info"


def test_legacy_server(tmp_path: Path) -> None:
    with run_fake_inventree(legacy=True) as fake:
        site = make_site(tmp_path, fake)
        serve(fake)
        code, data = check(site)
    assert code == 0, data["findings"]
    assert data["version"] == "0.16/0.17"
    assert codes(data["findings"])["server-version-legacy"] == "info"


def test_unreachable_server(tmp_path: Path) -> None:
    with refusing_port() as port:
        site = Site.sqlite(tmp_path / "inv", f"http://127.0.0.1:{port}")
        code, data = check(site, "--timeout", "2")
    assert code == 1 and data["reachable"] is False
    assert codes(data["findings"])["server-connection-refused"] == "error"


def test_not_inventree_and_redirects(tmp_path: Path) -> None:
    with run_doc_server() as docs:
        site = Site.sqlite(tmp_path / "inv", docs.base_url)
        code, data = check(site)
        assert code == 1
        assert codes(data["findings"])["server-not-inventree"] == "error"
        docs.redirect("/api/auth/v1/config", "https://inventree.example.com/api/auth/v1/config",
                      301)
        code, data = check(site)
        assert code == 1
        f = finding(data["findings"], "server-redirects")
        assert "https://inventree.example.com" in f["fix"]


def test_secure_cookie_over_http_and_csrf_refused(tmp_path: Path) -> None:
    with run_fake_inventree(cookie_secure=True) as fake:
        site = make_site(tmp_path, fake)
        serve(fake)
        code, data = check(site)
        assert code == 1
        assert codes(data["findings"])["server-cookie-secure-over-http"] == "error"
    with run_fake_inventree() as fake:
        site = make_site(tmp_path / "2", fake)
        serve(fake)
        fake.csrf_refuse = True
        code, data = check(site)
        assert code == 1
        assert "trusted_origins" in finding(data["findings"], "server-csrf-refused")["fix"]


def test_no_site_url_is_bad_input(tmp_path: Path) -> None:
    site = Site.sqlite(tmp_path / "inv", None)
    code, data = check(site)
    assert code == 2 and data["findings"][0]["code"] == "server-url-missing"


def test_url_differences_names_each_part() -> None:
    diffs = url_differences("http://a.example:8000/accounts/oidc/x/login/callback/",
                            "https://b.example/accounts/x/login/callback/")
    text = " | ".join(diffs)
    assert "scheme" in text and "host" in text and "port" in text and "/oidc/" in text
    assert url_differences("https://a/x/", "https://a/x/") == []


# ---------------------------------------------------------------------------------------------
# the honest verdict: probe + round trip + the running server


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcProvider]:
    with run_oidc_provider(require_client_registration=True) as provider:
        set_oidc_user(provider.base_url, "alice", {"email": "alice@example.com",
                                                  "email_verified": True})
        yield provider


def verdict_site(tmp_path: Path, oidc: OidcProvider, fake: FakeInvenTree,
                 email: str = EMAIL_CONFIG) -> Site:
    client_id, secret = register_oidc_client(oidc.base_url, [cb(fake.base_url)])
    site = Site.sqlite(tmp_path / "v", fake.base_url, extra=BACKENDS + email)
    site.add_app("openid_connect", client_id, secret, provider_id=SLUG,
                 settings={"server_url": oidc.base_url})
    site.set_settings(LOGIN_ENABLE_SSO_REG=True)
    return site


def round_trip(site: Site) -> tuple[int, dict[str, Any]]:
    code, data = run_cli("--config", str(site.config), "check", "provider", SLUG, "--json",
                         "--no-listen", "--no-server")
    assert code == 1 and data["roundtrip"]["status"] == "pending"
    browser = play_oidc_browser(data["roundtrip"]["authorize_url"])
    code, data = run_cli("--config", str(site.config), "check", "provider", SLUG, "--json",
                         "--paste", browser.callback_url or "")
    assert isinstance(data, dict)
    return code, data


def test_verified_only_with_probe_roundtrip_and_green_server(
        stack: ExitStack, tmp_path: Path, oidc: OidcProvider, fake: FakeInvenTree) -> None:
    smtp = stack.enter_context(run_smtp_server())
    site = verdict_site(tmp_path, oidc, fake, email=(
        f"email:\n  host: {smtp.host}\n  port: {smtp.port}\n  sender: inventree@example.com\n"))
    app = site.snapshot().apps[0]
    fake.apps[SLUG] = FakeApp(SLUG, app.client_id, f"{oidc.base_url}/oauth2/authorize",
                              cb(fake.base_url))
    code, data = round_trip(site)
    assert code == 0, data["findings"]
    verdict = data["verdict"]
    assert verdict["verified"] is True and verdict["unverified"] == []
    assert len(verdict["proven"]) == 4  # probe, round trip, sign-in, running server
    assert data["server"]["ok"] is True
    assert codes(data["findings"])["verified"] == "info"
    # `check all` remembers that round trip (same client id and callback)
    code, data = run_cli("--config", str(site.config), "check", "all", "--json")
    assert code == 0, [f for f in data["findings"] if f["severity"] == "error"]
    assert data["ok"] is True
    assert data["providers"][SLUG]["verdict"]["verified"] is True
    assert data["server"]["ok"] is True and data["email"]["ok"] is True
    assert data["errors"]["count"] == 0


def test_not_verified_while_the_server_needs_a_restart(
        tmp_path: Path, oidc: OidcProvider, fake: FakeInvenTree) -> None:
    site = verdict_site(tmp_path, oidc, fake)
    fake.apps[SLUG] = FakeApp(SLUG, "an-old-client-id", f"{oidc.base_url}/oauth2/authorize",
                              cb(fake.base_url))
    code, data = round_trip(site)
    assert code == 1
    assert data["roundtrip"]["status"] == "passed"  # the provider side is proven ...
    verdict = data["verdict"]
    assert verdict["verified"] is False  # ... but not what the server does
    (item,) = verdict["unverified"]
    assert item["what"] == "running server" and "restart needed" in item["why"]
    assert codes(data["findings"])["unverified"] == "warning"


def test_server_down_is_said_not_hidden(tmp_path: Path, oidc: OidcProvider) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client_id, secret = register_oidc_client(oidc.base_url, [cb(base)])
    site = Site.sqlite(tmp_path / "down", base, extra=BACKENDS + EMAIL_CONFIG)
    site.add_app("openid_connect", client_id, secret, provider_id=SLUG,
                 settings={"server_url": oidc.base_url})
    site.set_settings(LOGIN_ENABLE_SSO_REG=True)
    code, data = round_trip(site)
    assert code == 0, data["findings"]
    verdict = data["verdict"]
    assert verdict["verified"] is True
    assert verdict["unverified"][0]["what"] == "running server"
    assert "did not answer" in verdict["unverified"][0]["why"]
    assert "Not covered" in [f for f in data["findings"] if f["code"] == "verified"][0][
        "message"]
