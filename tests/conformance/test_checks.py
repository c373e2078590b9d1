"""Broken configs, proven broken by the real allauth, and found by the wizard before anyone signs
in: each breakage makes the real login fail the way the wizard's finding says, and
`sso-wizard check all` names every one of them without trying a login.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conformance import harness
from tests.conformance.conftest import (
    NEEDS_CHECK_ALL,
    OIDC_SLUG,
    SiteInstall,
    oidc_only_answers,
)
from tests.integration.oidc_servers import OidcProvider

pytestmark = [pytest.mark.network,
              pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")]

TWICE = """
social_providers:
  openid_connect:
    APPS:
      - provider_id: {slug}
        name: Copy in config
        client_id: copy-in-config
        secret: copy-in-config
        settings: {{server_url: "http://127.0.0.1:9"}}
"""


def break_secret(inst: SiteInstall) -> None:
    inst.execute("UPDATE socialaccount_socialapp SET secret = 'not-the-secret' "
                 "WHERE provider_id = :slug", slug=OIDC_SLUG)


def break_protocol(inst: SiteInstall) -> None:
    text = inst.config.read_text()
    assert "login_default_protocol: https\n" in text  # what the wizard wrote for an https site
    inst.config.write_text(text.replace("login_default_protocol: https\n",
                                        "login_default_protocol: http\n"))


def break_twice(inst: SiteInstall) -> None:
    inst.config.write_text(inst.config.read_text() + TWICE.format(slug=OIDC_SLUG))


def break_backend(inst: SiteInstall) -> None:
    text = inst.config.read_text()
    line = "  - allauth.socialaccount.providers.openid_connect\n"
    assert line in text
    inst.config.write_text(text.replace("social_backends:\n" + line, "social_backends: []\n"))


# case: (breaker, the finding `status` must raise or None, how the real login fails)
CASES: dict[str, tuple[Callable[[SiteInstall], None], str | None, str]] = {
    "wrong-secret": (break_secret, None, "callback"),
    "http-callback-on-https-site": (break_protocol, "callback-http-on-https-site", "authorize"),
    "app-defined-twice": (break_twice, "app-defined-twice", "redirect"),
    "backend-missing": (break_backend, "backend-missing", "redirect"),
}


def broken_install(make_install: Any, idp: OidcProvider, case: str) -> SiteInstall:
    # An https site (served with TLS) registers its https callback at the provider.
    inst = make_install(name=case, tls=case == "http-callback-on-https-site")
    client_id, _ = inst.register(idp)
    inst.apply(oidc_only_answers(inst, idp, client_id))
    assert inst.finding_codes("error") == set()
    CASES[case][0](inst)
    return inst


@pytest.mark.parametrize("case", list(CASES))
def test_breakage_fails_the_real_login(make_install: Any, idp: OidcProvider, case: str) -> None:
    """Each breakage is real: allauth fails the login where the wizard's finding says."""
    inst = broken_install(make_install, idp, case)
    _, finding, failing_step = CASES[case]
    if finding:
        assert finding in inst.finding_codes("error")
    with inst.serve() as site:
        if failing_step == "callback":
            result = harness.sign_in(site.url, OIDC_SLUG, "alice", verify=inst.verify)
            assert result.error == "unknown" and result.user is None
        else:
            with pytest.raises(harness.LoginFailed) as failed:
                harness.sign_in(site.url, OIDC_SLUG, "alice", verify=inst.verify)
            assert failed.value.step == failing_step, failed.value
        if case == "backend-missing":
            _, body = harness.get_json(f"{site.url}/api/auth/v1/config")
            assert body["data"]["socialaccount"]["providers"] == []
        if case == "app-defined-twice":
            assert site.adapter_view()["get_app"][OIDC_SLUG] == {
                "error": "MultipleObjectsReturned"}
    if case == "wrong-secret":  # InvenTree's error log has the provider's answer
        (logged,) = inst.rows("error_report_error")
        assert logged["path"] == f"auth:/accounts/{OIDC_SLUG}/login/callback/"
        assert "invalid_client" in logged["info"]
    if case == "http-callback-on-https-site":
        assert "redirect" in failed.value.detail.lower()
    assert inst.rows("auth_user") == []


@NEEDS_CHECK_ALL
def test_check_all_reports_every_breakage_before_any_login(make_install: Any,
                                                           idp: OidcProvider) -> None:
    """One app with all four breakages (wrong secret in the DB; an https site sending http
    callbacks; the app also in social_providers; its backend gone): `check all` names each, and
    no login happened."""
    inst = make_install(name="all-broken", tls=True)
    client_id, _ = inst.register(idp)
    inst.apply(oidc_only_answers(inst, idp, client_id))
    break_secret(inst)
    break_protocol(inst)
    break_twice(inst)
    break_backend(inst)
    with inst.serve():
        done = inst.wizard("check", "all", "--json", "--ca-file", str(inst.tls.ca),
                           timeout=120)
    data = json.loads(done.stdout)
    assert done.returncode != 0 and data["ok"] is False
    found = harness.codes_in(data)
    assert "callback-http-on-https-site" in found, found
    assert "app-defined-twice" in found, found
    assert "backend-missing" in found, found
    # The wrong secret: the provider refused the stored credentials (a probe, not a login).
    assert any(m.startswith("error") and ("invalid_client" in m or "credentials" in c)
               for c, m in found.items()), found
    # Found before any login: the site's callback was never called, nobody was signed up.
    assert inst.rows("error_report_error") == []
    assert inst.rows("auth_user") == [] and inst.rows("socialaccount_socialaccount") == []
