"""After `sso-wizard apply`, the real django-allauth (inside a site built the way InvenTree builds
its settings) accepts what the wizard wrote: its adapter lists exactly those apps, the headless
config endpoint lists the providers, and a full login against the local OpenID Connect provider
creates the user and the social account. On SQLite, PostgreSQL and MariaDB; multi-site off and on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conformance import harness
from tests.conformance.conftest import (
    NEEDS_CHECK_SERVER,
    OIDC_SLUG,
    PEOPLE,
    SiteInstall,
    new_install,
    oidc_only_answers,
    standard_answers,
    wizard_has_command,
)
from tests.integration.oidc_servers import OidcProvider

pytestmark = [pytest.mark.network,
              pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")]

COMBOS = [("sqlite", False), ("sqlite", True), ("postgresql", False), ("postgresql", True),
          ("mysql", False), ("mysql", True)]


@dataclass
class Scenario:
    inst: SiteInstall
    site: harness.RunningSite
    idp: OidcProvider
    client_id: str
    apply_output: str


@pytest.fixture(scope="module", params=COMBOS,
                ids=[f"{b}-multi-{'on' if m else 'off'}" for b, m in COMBOS])
def scenario(request: pytest.FixtureRequest, idp: OidcProvider,
             tmp_path_factory: pytest.TempPathFactory,
             sqlite_templates: dict[bool, Path]) -> Iterator[Scenario]:
    """Migrate, `sso-wizard apply` the standard answers, start the site: once per combination."""
    backend, multi = request.param
    root = tmp_path_factory.mktemp(f"scenario-{backend}-{multi}")
    inst = new_install(root, backend, multi, request, sqlite_templates)
    try:
        client_id, _ = inst.register(idp)
        done = inst.apply(standard_answers(inst, idp, client_id))
        with inst.serve() as site:
            yield Scenario(inst, site, idp, client_id, done.stdout)
    finally:
        inst.close()
        if backend != "sqlite":
            harness.drop_all_tables(inst.db_url)


def app_tuple(app: dict[str, Any]) -> tuple[Any, ...]:
    return (app["provider"], app["provider_id"], app["name"], app["client_id"], app["secret"],
            app["key"], app["settings"])


def test_wizard_sees_no_error_after_apply(scenario: Scenario) -> None:
    assert "Applied." in scenario.apply_output
    assert scenario.inst.finding_codes("error") == set()
    # Applying the same answers again plans nothing: what allauth reads is what was planned.
    again = scenario.inst.wizard("plan", str(scenario.inst.root / "answers.yaml"), check=True,
                                 in_process=True)
    assert again.stdout.strip() == "No changes."


def test_allauth_adapter_lists_exactly_the_written_apps(scenario: Scenario) -> None:
    view = scenario.site.adapter_view()
    rows = scenario.inst.rows("socialaccount_socialapp")
    listed = [a for a in view["apps"] if a["in_db"]]
    assert not [a for a in view["apps"] if not a["in_db"]], "no app may come from the config"
    written = sorted(app_tuple({**r, "settings": harness_json(r["settings"])}) for r in rows)
    assert sorted(app_tuple(a) for a in listed) == written
    # … and they are the apps of the answers, secrets byte for byte.
    expected = {
        (OIDC_SLUG, "openid_connect", "Mock IdP", scenario.client_id,
         scenario.inst.secrets[OIDC_SLUG]),
        ("", "github", "GitHub", "Iv1.conformance0123", "gh-secret-Zx9!#:{'\"-ü"),
        ("", "microsoft", "Microsoft Entra ID", "00000000-aaaa-bbbb-cccc-000000000001",
         "ms-secret-value~0123456789"),
    }
    assert {(a["provider_id"], a["provider"], a["name"], a["client_id"], a["secret"])
            for a in listed} == expected
    settings = {a["provider"]: a["settings"] for a in listed}
    assert settings["openid_connect"] == {"server_url": scenario.idp.base_url,
                                          "fetch_userinfo": True}
    assert settings["microsoft"] == {"tenant": "organizations"}
    # allauth finds each app by its slug (one app per slug, no MultipleObjectsReturned) …
    assert view["get_app"] == {OIDC_SLUG: {"client_id": scenario.client_id},
                               "github": {"client_id": "Iv1.conformance0123"},
                               "microsoft": {"client_id": "00000000-aaaa-bbbb-cccc-000000000001"}}
    # … loads their backends, and takes the provider settings from social_providers.
    assert sorted(view["provider_apps"]) == [f"allauth.socialaccount.providers.{p}"
                                             for p in ("github", "microsoft", "openid_connect")]
    assert view["socialaccount_providers"] == {"github": {"VERIFIED_EMAIL": True},
                                               "microsoft": {"TENANT": "organizations"}}
    assert view["sites_enabled"] is scenario.inst.multi
    assert view["site_id"] == (1 if scenario.inst.multi else None)
    logins = {p["name"]: p.get("login_url") for p in view["providers"]}
    assert logins["Mock IdP"] == f"/accounts/{OIDC_SLUG}/login/"  # empty OIDC URL prefix


def harness_json(value: Any) -> Any:
    import json
    return json.loads(value) if isinstance(value, str | bytes) else value


def test_config_endpoint_lists_the_providers(scenario: Scenario) -> None:
    status, body = harness.get_json(f"{scenario.site.url}/api/auth/v1/config")
    assert status == 200, body
    providers = {p["id"]: p for p in body["data"]["socialaccount"]["providers"]}
    assert set(providers) == {OIDC_SLUG, "github", "microsoft"}
    assert providers[OIDC_SLUG]["name"] == "Mock IdP"
    assert providers[OIDC_SLUG]["client_id"] == scenario.client_id
    assert providers[OIDC_SLUG]["openid_configuration_url"] == (
        f"{scenario.idp.base_url}/.well-known/openid-configuration")
    assert providers["github"]["name"] == "GitHub"
    assert "provider_redirect" in providers["microsoft"]["flows"]


def test_login_creates_user_and_social_account(scenario: Scenario) -> None:
    inst = scenario.inst
    result = harness.sign_in(scenario.site.url, OIDC_SLUG, "alice")
    # The site sent the callback the wizard says it sends (and the provider accepted it).
    expected_callback = inst.wizard("callback", OIDC_SLUG, check=True,
                                    in_process=True).stdout.strip()
    assert result.redirect_uri == expected_callback == inst.callback()
    assert result.landed == f"{inst.site_url}/web/logged-in", result.landed
    assert result.user is not None and result.user["email"] == PEOPLE["alice"]
    users = {u["username"]: u for u in inst.rows("auth_user")}
    assert users["alice"]["email"] == PEOPLE["alice"]
    accounts = [a for a in inst.rows("socialaccount_socialaccount") if a["uid"] == "alice"]
    assert len(accounts) == 1
    assert accounts[0]["provider"] == OIDC_SLUG  # the app's provider_id, as InvenTree stores it
    assert accounts[0]["user_id"] == users["alice"]["id"]
    emails = [e for e in inst.rows("account_emailaddress") if e["email"] == PEOPLE["alice"]]
    assert len(emails) == 1 and emails[0]["verified"]
    tokens = inst.rows("socialaccount_socialtoken")  # SOCIALACCOUNT_STORE_TOKENS, as InvenTree
    assert any(t["account_id"] == accounts[0]["id"] for t in tokens)

    # Signing in again finds the same account: no second user, no second social account.
    again = harness.sign_in(scenario.site.url, OIDC_SLUG, "alice")
    assert again.user is not None and again.user["id"] == result.user["id"]
    assert len([a for a in inst.rows("socialaccount_socialaccount") if a["uid"] == "alice"]) == 1


def test_second_allowed_domain_signs_up(scenario: Scenario) -> None:
    result = harness.sign_in(scenario.site.url, OIDC_SLUG, "bob")
    assert result.error is None and result.user is not None
    assert result.user["email"] == PEOPLE["bob"]  # @example.org is the second allowed domain


def test_disallowed_domain_address_is_refused(scenario: Scenario) -> None:
    """LOGIN_SIGNUP_MAIL_RESTRICTION refuses mallory@evil.test: the address is never stored.

    With LOGIN_SIGNUP_SSO_AUTO on (InvenTree's default, and these answers), InvenTree's adapter
    refuses the address inside allauth's email clean-up, so allauth sees *no* address and still
    auto-signs the person up — an account without an email. That is InvenTree's behaviour (its
    RegistrationMixin.clean_email, allauth 65's auto sign-up), pinned here; `sso-wizard status`
    warns about it. With auto sign-up off the sign-up form refuses the person outright
    (test_restriction.py)."""
    inst = scenario.inst
    result = harness.sign_in(scenario.site.url, OIDC_SLUG, "mallory")
    stored = {e["email"] for e in inst.rows("account_emailaddress")}
    stored |= {u["email"] for u in inst.rows("auth_user")}
    assert PEOPLE["mallory"] not in stored
    assert result.user is None or not result.user.get("email")
    assert "mail-restriction-sso-auto" in inst.finding_codes("warning")


def server_findings(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"code": c, "said": m} for c, m in harness.codes_in(data).items()]


@NEEDS_CHECK_SERVER
def test_check_server_is_green(scenario: Scenario) -> None:
    """`sso-wizard check server` against the running site: every app offered, every login
    started with the stored client id and the callback the config gives."""
    done = scenario.inst.wizard("check", "server", "--json", in_process=True)
    data = json.loads(done.stdout)
    problems = [f for f in server_findings(data) if not f["said"].startswith("info")]
    assert done.returncode == 0 and data["ok"] is True, problems
    assert problems == []


def test_https_site_behind_a_tls_proxy(make_install: Any, idp: OidcProvider) -> None:
    """An https site_url: the wizard writes login_default_protocol https, so InvenTree sends
    https callbacks even though the TLS proxy in front of it forwards plain http; the login
    works end to end over https (and `check server` agrees, when it exists)."""
    inst = make_install(tls=True)
    client_id, _ = inst.register(idp)
    assert inst.callback().startswith("https://")
    inst.apply(oidc_only_answers(inst, idp, client_id))
    assert "login_default_protocol: https\n" in inst.config.read_text()
    with inst.serve() as site:
        result = harness.sign_in(site.url, OIDC_SLUG, "carol", verify=inst.verify)
        assert result.redirect_uri == inst.callback()
        assert result.user is not None and result.user["email"] == PEOPLE["carol"]
        if wizard_has_command("check", "server"):
            done = inst.wizard("check", "server", "--json", "--ca-file", str(inst.tls.ca),
                               in_process=True)
            assert done.returncode == 0, done.stdout
