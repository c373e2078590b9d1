"""Callback diagnostics: each common mistake found on the server side, and a registered URL
compared with what InvenTree will send."""

from __future__ import annotations

from pathlib import Path

import pytest

from sso_wizard.core.db import AppRow
from sso_wizard.core.instance import Instance
from sso_wizard.core.stages import Snapshot
from sso_wizard.core.stages.callback import app_callbacks, compare_callback, inspect


def snapshot(tmp_path: Path, config: str, environ: dict[str, str] | None = None,
             apps: list[AppRow] | None = None, sites: dict[int, str] | None = None) -> Snapshot:
    path = tmp_path / "config.yaml"
    path.write_text(config)
    inst = Instance.load(path, environ=environ or {})
    return Snapshot(inst, apps=apps or [], sites=sites or {})


def codes(snap: Snapshot) -> set[str]:
    return {f.code for f in inspect(snap)}


GOOD_HTTPS = ("site_url: https://inv.example.com\nlogin_default_protocol: https\n"
              "use_x_forwarded_proto: true\nuse_x_forwarded_host: true\n")


def test_good_https_site_has_no_problems(tmp_path):
    found = [f for f in inspect(snapshot(tmp_path, GOOD_HTTPS)) if f.severity != "info"]
    assert found == []


@pytest.mark.parametrize(("config", "environ", "code"), [
    ("debug: False\n", {}, "site-url-missing"),
    ("debug: False\n", {"INVENTREE_SITE_URL": "'https://inv.example.com'"}, "site-url-invalid"),
    ("site_url: inv.example.com\n", {}, "site-url-invalid"),
    ("site_url: https://inv.example.com\nlogin_default_protocol: http\n", {},
     "callback-http-on-https-site"),
    ("site_url: https://inv.example.com\n",
     {"INVENTREE_LOGIN_DEFAULT_HTTP_PROTOCOL": "http"}, "callback-http-on-https-site"),
    ("site_url: http://inv.example.com\n", {}, "callback-plain-http"),
    ("site_url: https://inv.example.com\nlogin_default_protocol: https\n", {},
     "proxy-headers-off"),
    (GOOD_HTTPS + "allowed_hosts: [other.example.com]\n", {}, "host-not-allowed"),
    (GOOD_HTTPS + "trusted_origins: ['https://other.example.com']\n", {},
     "origin-not-trusted"),
])
def test_each_mistake_is_found(tmp_path, config, environ, code):
    assert code in codes(snapshot(tmp_path, config, environ))


def test_localhost_http_is_fine_and_wildcards_allowed(tmp_path):
    found = codes(snapshot(tmp_path, "site_url: http://localhost:8000\n"
                                     "allowed_hosts: ['*']\n"))
    assert "callback-plain-http" not in found and "host-not-allowed" not in found
    found = codes(snapshot(tmp_path, GOOD_HTTPS + "allowed_hosts: ['.example.com']\n"
                                                  "trusted_origins: ['https://inv.example.com/']\n"))
    assert "host-not-allowed" not in found and "origin-not-trusted" not in found


def test_unset_protocol_follows_site_url(tmp_path):
    # InvenTree derives the protocol from site_url when login_default_protocol is not set.
    snap = snapshot(tmp_path, "site_url: https://inv.example.com\nuse_x_forwarded_proto: true\n"
                              "use_x_forwarded_host: true\n")
    assert "callback-http-on-https-site" not in codes(snap)
    assert snap.instance.login_protocol == "https"


def test_multi_site_domain_mismatch(tmp_path):
    config = GOOD_HTTPS + "site_multi: true\nsite_id: 1\n"
    assert "site-domain-mismatch" in codes(snapshot(tmp_path, config, sites={1: "example.com"}))
    assert "site-domain-mismatch" not in codes(snapshot(tmp_path, config,
                                                        sites={1: "inv.example.com"}))
    assert "site-missing" in codes(snapshot(tmp_path, config, sites={2: "inv.example.com"}))


def test_callback_urls_use_oidc_provider_id_and_forced_https(tmp_path):
    apps = [AppRow(1, "github", "", "GitHub", "a", "s", "", {}),
            AppRow(2, "openid_connect", "keycloak", "KC", "b", "s", "", {})]
    snap = snapshot(tmp_path, "site_url: http://inv.example.com:8080/\n"
                              "login_default_protocol: https\n", apps=apps)
    assert app_callbacks(snap.instance, ["github", "keycloak"]) == {
        "github": "https://inv.example.com:8080/accounts/github/login/callback/",
        "keycloak": "https://inv.example.com:8080/accounts/keycloak/login/callback/",
    }
    infos = [f.message for f in inspect(snap) if f.code == "callback-url"]
    assert any("/accounts/keycloak/login/callback/" in m for m in infos)


EXPECTED = "https://inv.example.com/accounts/github/login/callback/"


@pytest.mark.parametrize(("registered", "fragment"), [
    ("http://inv.example.com/accounts/github/login/callback/", "scheme"),
    ("https://www.inv.example.com/accounts/github/login/callback/", "'www.' differs"),
    ("https://inv.example.com:8443/accounts/github/login/callback/", "port"),
    ("https://inv.example.com/accounts/github/login/callback", "trailing slash"),
    ("https://inv.example.com/accounts/GitHub/login/callback/", "letter case"),
    ("https://inv.example.com/accounts/oidc/github/login/callback/", "no /oidc/ prefix"),
    ("https://other.example.com/accounts/github/login/callback/", "host"),
    (EXPECTED + " ", "spaces"),
])
def test_compare_callback_names_the_difference(registered, fragment):
    diffs = compare_callback(EXPECTED, registered)
    assert diffs and any(fragment in d for d in diffs), diffs


def test_compare_callback_equal():
    assert compare_callback(EXPECTED, EXPECTED) == []
