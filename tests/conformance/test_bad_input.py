"""Where the wizard and allauth/InvenTree disagree, the wizard is wrong: each case here shows
what the real allauth does with a value, and that the wizard refuses it (or `status` reports it)
before anyone tries to sign in. SQLite only: the behaviour is allauth's, not the database's.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance import harness
from tests.conformance.conftest import OIDC_SLUG, PEOPLE, oidc_only_answers, standard_answers
from tests.integration.oidc_servers import OidcProvider

pytestmark = [pytest.mark.network,
              pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")]


def stored_addresses(inst: Any) -> set[str]:
    return ({e["email"] for e in inst.rows("account_emailaddress")}
            | {u["email"] for u in inst.rows("auth_user") if u["email"]})


def test_signup_form_refuses_a_disallowed_domain(make_install: Any, idp: OidcProvider) -> None:
    """With auto sign-up off, allauth holds the sign-in for InvenTree's sign-up form, where the
    domain restriction refuses the person outright; an allowed address signs up."""
    inst = make_install()
    client_id, _ = inst.register(idp)
    inst.apply(standard_answers(inst, idp, client_id, auto=False))
    assert "mail-restriction-sso-auto" not in inst.finding_codes()
    with inst.serve() as site:
        refused = harness.sign_in(site.url, OIDC_SLUG, "trudy",
                                  signup_form={"email": PEOPLE["trudy"], "username": "trudy"})
        assert refused.signup is not None and refused.signup["status"] == 400
        assert [e["message"] for e in refused.signup["errors"]] == [
            "The provided email domain is not approved."]
        assert refused.user is None
        allowed = harness.sign_in(site.url, OIDC_SLUG, "carol",
                                  signup_form={"email": PEOPLE["carol"], "username": "carol"})
        assert allowed.user is not None and allowed.user["email"] == PEOPLE["carol"]
    assert [u["username"] for u in inst.rows("auth_user")] == ["carol"]
    assert PEOPLE["trudy"] not in stored_addresses(inst)


def test_upper_case_domain_restriction(make_install: Any, idp: OidcProvider) -> None:
    """InvenTree accepts '@Example.com', but allauth lower-cases the address before InvenTree
    compares domains, so nobody ever matches: the wizard refuses it, and reports it when it is
    already stored."""
    inst = make_install()
    client_id, _ = inst.register(idp)
    done = inst.apply(oidc_only_answers(
        inst, idp, client_id, settings='{LOGIN_ENABLE_SSO_REG: true, '
        'LOGIN_SIGNUP_MAIL_RESTRICTION: "@Example.com"}'), check=False)
    assert done.returncode == 2
    assert "lower case" in done.stdout + done.stderr
    assert inst.rows("socialaccount_socialapp") == []  # nothing written

    inst.apply(oidc_only_answers(inst, idp, client_id,
                                 settings="{LOGIN_ENABLE_SSO_REG: true}"))
    inst.execute("INSERT INTO common_inventreesetting (key, value) VALUES "
                 "('LOGIN_SIGNUP_MAIL_RESTRICTION', '@Example.com')")  # typed in the admin UI
    assert "mail-restriction-invalid" in inst.finding_codes("error")
    with inst.serve() as site:
        result = harness.sign_in(site.url, OIDC_SLUG, "dave")
    # allauth refused dave@example.com although example.com is the "allowed" domain.
    assert PEOPLE["dave"] not in stored_addresses(inst)
    assert result.user is None or not result.user.get("email")


def test_oidc_slug_of_a_loaded_builtin_provider(make_install: Any, idp: OidcProvider) -> None:
    """An OpenID Connect app whose provider_id is 'github' works until allauth's own github
    backend is loaded too: then allauth sends the login to github.com. The wizard refuses to
    write that combination and reports it when it exists."""
    inst = make_install()
    client_id, _ = inst.register(idp, slug="github")
    answers = oidc_only_answers(inst, idp, client_id).replace(
        f"provider_id: {OIDC_SLUG}", "provider_id: github").replace(
        f"secrets/{OIDC_SLUG}", "secrets/github")
    before = inst.config.read_text()
    refused = inst.apply("backends: [github]\n" + answers, check=False)
    assert refused.returncode == 2
    assert "same slug as allauth's own 'github' provider" in refused.stdout + refused.stderr
    assert inst.config.read_text() == before and inst.rows("socialaccount_socialapp") == []

    inst.apply(answers)  # without the github backend: fine
    assert "oidc-slug-collision" not in inst.finding_codes()
    # Adding a real GitHub app later would load the github backend over the stored OIDC app.
    later = inst.apply("apps: [{provider: github, client_id: Iv1.x, secret: y}]\n", check=False)
    assert later.returncode == 2 and "stored app" in later.stdout + later.stderr
    text = inst.config.read_text()
    inst.config.write_text(text.replace(
        "  - allauth.socialaccount.providers.openid_connect\n",
        "  - allauth.socialaccount.providers.openid_connect\n  - github\n"))  # added by hand
    assert "oidc-slug-collision" in inst.finding_codes("error")
    with inst.serve() as site:
        goes_to = harness.where_login_goes(site.url, "github")
    assert goes_to.startswith("https://github.com/login/oauth/authorize"), goes_to


def test_oidc_app_in_config_under_another_slug_is_no_duplicate(make_install: Any,
                                                               idp: OidcProvider) -> None:
    """allauth matches config apps on provider_id: an OpenID Connect app kept in
    social_providers under another slug does not clash with the stored one (the wizard used to
    call every such pair 'defined twice')."""
    inst = make_install()
    client_id, _ = inst.register(idp)
    inst.apply(oidc_only_answers(inst, idp, client_id))
    inst.config.write_text(inst.config.read_text() + """
social_providers:
  openid_connect:
    APPS:
      - {provider_id: partner-sso, name: Partner, client_id: p, secret: q,
         settings: {server_url: "http://127.0.0.1:9"}}
""")
    assert "app-defined-twice" not in inst.finding_codes()
    with inst.serve() as site:
        assert site.adapter_view()["get_app"][OIDC_SLUG] == {"client_id": client_id}
        result = harness.sign_in(site.url, OIDC_SLUG, "carol")
    assert result.user is not None and result.user["email"] == PEOPLE["carol"]


def test_sso_registration_without_email_is_closed(make_install: Any, idp: OidcProvider) -> None:
    """The wizard's error 'signup closed: email not configured' is what InvenTree does."""
    inst = make_install()
    client_id, _ = inst.register(idp)
    inst.apply(oidc_only_answers(inst, idp, client_id, email=False))
    assert "signup-closed-no-email" in inst.finding_codes("error")
    with inst.serve() as site:
        result = harness.sign_in(site.url, OIDC_SLUG, "carol")
    assert result.error == "signup_closed"
    assert inst.rows("auth_user") == []


def test_multi_site_app_not_on_the_site(make_install: Any, idp: OidcProvider) -> None:
    """Multi-site on: the wizard links the app to SITE_ID; an app without that link is invisible
    to allauth, and the wizard says so."""
    inst = make_install(multi=True)
    client_id, _ = inst.register(idp)
    inst.apply(oidc_only_answers(inst, idp, client_id))
    links = inst.rows("socialaccount_socialapp_sites")
    assert [(link["site_id"]) for link in links] == [1]
    inst.execute("DELETE FROM socialaccount_socialapp_sites")
    assert "app-not-on-site" in inst.finding_codes("error")
    with inst.serve() as site:
        status, body = harness.get_json(f"{site.url}/api/auth/v1/config")
        assert status == 200 and body["data"]["socialaccount"]["providers"] == []
        assert site.adapter_view()["apps"] == []


def test_multi_site_without_site_tables(make_install: Any, idp: OidcProvider) -> None:
    """site_multi switched on after the database was migrated without it: allauth needs the
    sites tables InvenTree's migrations have not made yet. The wizard reports it."""
    inst = make_install(multi=False)
    client_id, _ = inst.register(idp)
    inst.apply(oidc_only_answers(inst, idp, client_id))
    inst.config.write_text(inst.config.read_text() + "site_multi: true\n")
    assert "sites-tables-missing" in inst.finding_codes("error")
    with inst.serve() as site:
        status, _ = harness.get_json(f"{site.url}/api/auth/v1/config")
    assert status == 500
