"""The check screen's live proof, driven with Pilot against a real OpenID Connect provider on
loopback (oidc-provider-mock, client registration required): the probe, a sign-in finished by
pasting the address the browser landed on, a sign-in caught by listen mode, a paste from another
attempt, and a wrong secret. The test plays the browser with httpx; the app is stored through
core (plan_answers + apply_plan), the way an answers file would store it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from textual.pilot import Pilot

from sso_wizard.core.answers import Answers
from sso_wizard.core.demo import Sandbox
from sso_wizard.core.instance import Instance
from sso_wizard.core.plan import apply_plan
from sso_wizard.core.stages import plan_answers
from sso_wizard.tui.app import SsoWizardApp
from sso_wizard.tui.screens import CheckScreen
from tests.integration.oauth_servers import (
    free_port,
    play_oidc_browser,
    register_oidc_client,
    set_oidc_user,
)
from tests.integration.oidc_servers import OidcProvider, run_oidc_provider
from tests.tui.helpers import paste_into, screen_svg, settle, text_of

pytestmark = [
    pytest.mark.network,
    # oidc-provider-mock drives authlib's deprecated OIDC hooks in its own server thread
    pytest.mark.filterwarnings("ignore::DeprecationWarning:authlib"),
]

MakeApp = Callable[..., SsoWizardApp]
SLUG = "mock"
WAIT = 10.0  # seconds a step may take on loopback before the test fails


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcProvider]:
    with run_oidc_provider(require_client_registration=True) as provider:
        set_oidc_user(provider.base_url, "alice", {
            "email": "alice@example.com", "email_verified": True, "name": "Alice Example",
            "preferred_username": "alice"})
        yield provider


def store_app(sandbox: Sandbox, oidc: OidcProvider, *, wrong_secret: bool = False) -> str:
    """Register a client at the provider and store it through core; returns the stored secret.

    site_url is plain http on a free loopback port (InvenTree "not started"): the callback can
    be caught here, and the server cross-check finds nobody (a note, not a failure).
    """
    site_url = f"http://127.0.0.1:{free_port()}"
    callback = f"{site_url}/accounts/{SLUG}/login/callback/"
    client_id, secret = register_oidc_client(oidc.base_url, [callback])
    stored = "not-the-secret-0123" if wrong_secret else secret
    answers = {
        "site_url": site_url,
        "backends": ["openid_connect"],
        "apps": [{"provider": "openid_connect", "provider_id": SLUG, "name": "Mock IdP",
                  "client_id": client_id, "secret": "${MOCK_SECRET}",
                  "settings": {"server_url": oidc.base_url}}],
        "settings": {"LOGIN_ENABLE_SSO": True, "LOGIN_ENABLE_SSO_REG": True,
                     "LOGIN_SIGNUP_SSO_AUTO": True},
        # a refused loopback port: email counts as configured, and checking it is instant
        "email": {"host": "127.0.0.1", "port": free_port(), "sender": "inventree@example.com"},
    }
    parsed = Answers.parse(json.dumps(answers), environ={"MOCK_SECRET": stored})
    plan = plan_answers(Instance.load(sandbox.config, environ={}), parsed)
    assert not plan.has_errors, plan.render()
    apply_plan(plan)
    return stored


async def wait_for(pilot: Pilot[Any], ready: Callable[[], object]) -> None:
    """Pause until `ready()` is true and no provider check is running (a sign-in's listener
    keeps its worker alive, so `settle` cannot be used once one has started)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        await pilot.pause(0.02)
        busy = [w for w in pilot.app.screen.workers
                if w.group == "provider" and w.is_running and w.name != "start_signin"]
        if ready() and not busy:
            await pilot.pause()
            return
    raise AssertionError("the check screen did not get there in time")


async def start_signin(pilot: Pilot[Any]) -> str:
    """Press Sign in; the authorize URL as the screen shows it."""
    await pilot.press("ctrl+l")
    await wait_for(pilot, lambda: text_of(pilot, "#authorize-url"))
    return text_of(pilot, "#authorize-url")


async def paste_and_check(pilot: Pilot[Any], pasted: str) -> None:
    pilot.app.screen.query("#provider-verdict").remove()
    await paste_into(pilot, "#callback-paste", pasted)
    await pilot.press("enter")
    await wait_for(pilot, lambda: pilot.app.screen.query("#provider-verdict"))


def with_state(url: str, state: str) -> str:
    """The same authorize URL with another state: a sign-in the wizard did not start."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["state"] = state
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_signin_by_paste_shows_identity_and_verdict(
        make_app: MakeApp, sandbox: Sandbox, oidc: OidcProvider) -> None:
    secret = store_app(sandbox, oidc)
    app = make_app(start_stage="check")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CheckScreen)
        assert screen.chosen_slug() == SLUG
        url = await start_signin(pilot)
        assert url.startswith(oidc.base_url) and "code_challenge_method=S256" in url
        assert app.clipboard == url  # sent over OSC 52, never to a browser
        before = text_of(pilot, "#signin-before")
        assert "InvenTree refuses this sign-in" in before and "expected" in before
        assert "listens on 127.0.0.1:" in text_of(pilot, "#signin-after")
        assert "Waiting for the sign-in" in text_of(pilot, "#provider-roundtrip")

        browser = await asyncio.to_thread(play_oidc_browser, url, "alice")
        assert browser.callback_url, browser.page_text
        await paste_and_check(pilot, browser.callback_url)

        assert "Round trip passed (paste)" in text_of(pilot, "#provider-headline")
        identity = text_of(pilot, "#signin-identity")
        assert "sub: alice" in identity
        assert "email: alice@example.com (verified)" in identity
        assert "name: Alice Example" in identity
        assert "is registered as a new InvenTree user" in text_of(pilot, "#signin-outcome")
        roundtrip = text_of(pilot, "#provider-roundtrip")
        assert "redeemed the code" in roundtrip and "ID token valid" in roundtrip
        verdict = text_of(pilot, "#provider-verdict")
        assert f"{SLUG}: verified" in verdict
        assert "round trip through the registered callback" in verdict
        # the server was not running: said, not hidden
        assert "still unverified: running server" in verdict
        assert "not cross-checked" in text_of(pilot, "#provider-server")
        assert secret not in screen_svg(pilot)


async def test_signin_caught_by_listen_mode(make_app: MakeApp, sandbox: Sandbox,
                                            oidc: OidcProvider) -> None:
    store_app(sandbox, oidc)
    app = make_app(start_stage="check")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        url = await start_signin(pilot)
        browser = await asyncio.to_thread(play_oidc_browser, url, "alice")
        assert browser.callback_url
        # the browser follows the redirect to the callback, which the wizard serves itself
        page = await asyncio.to_thread(httpx.get, browser.callback_url, timeout=5)
        assert page.status_code == 200 and "Sign-in received" in page.text
        await wait_for(pilot, lambda: app.screen.query("#provider-verdict"))
        assert "Round trip passed (listen)" in text_of(pilot, "#provider-headline")
        assert f"{SLUG}: verified" in text_of(pilot, "#provider-verdict")


async def test_paste_from_another_attempt_is_named_then_the_right_one_passes(
        make_app: MakeApp, sandbox: Sandbox, oidc: OidcProvider) -> None:
    store_app(sandbox, oidc)
    app = make_app(start_stage="check")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        url = await start_signin(pilot)
        foreign = await asyncio.to_thread(play_oidc_browser, with_state(url, "not-ours-42"))
        assert foreign.callback_url and "state=not-ours-42" in foreign.callback_url
        await paste_and_check(pilot, foreign.callback_url)
        assert "Round trip failed" in text_of(pilot, "#provider-headline")
        assert "belongs to another sign-in attempt" in text_of(pilot, "#provider-roundtrip")
        verdict = text_of(pilot, "#provider-verdict")
        assert "NOT verified" in verdict and "round trip — the round trip failed" in verdict
        # the attempt is still open: the right address finishes it
        browser = await asyncio.to_thread(play_oidc_browser, url, "alice")
        assert browser.callback_url
        await paste_and_check(pilot, browser.callback_url)
        assert "Round trip passed" in text_of(pilot, "#provider-headline")


async def test_pasted_provider_error_page_is_recognised(
        make_app: MakeApp, sandbox: Sandbox, oidc: OidcProvider) -> None:
    store_app(sandbox, oidc)
    app = make_app(start_stage="check")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await start_signin(pilot)
        await paste_and_check(pilot, "Error 400: redirect_uri_mismatch\nThe redirect URI in "
                                     "the request does not match the ones authorized.")
        assert "Round trip failed" in text_of(pilot, "#provider-headline")
        roundtrip = text_of(pilot, "#provider-roundtrip")
        assert "refused the callback URL" in roundtrip
        assert "/accounts/mock/login/callback/" in roundtrip  # the fix names what to register


async def test_probe_with_wrong_secret_says_credentials_wrong(
        make_app: MakeApp, sandbox: Sandbox, oidc: OidcProvider) -> None:
    secret = store_app(sandbox, oidc, wrong_secret=True)
    app = make_app(start_stage="check")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert "Credential probe: credentials-wrong" in text_of(pilot, "#provider-headline")
        probe = text_of(pilot, "#provider-probe")
        assert "refused the client credentials" in probe and "invalid_client" in probe
        assert "secret is wrong" in probe or "client id or secret is wrong" in probe
        assert not app.screen.query("#signin-identity")
        assert secret not in screen_svg(pilot)


async def test_pasting_before_signing_in_asks_for_sign_in(make_app: MakeApp,
                                                         sandbox: Sandbox) -> None:
    app = make_app(start_stage="check")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CheckScreen)
        assert screen.chosen_slug() is None  # the demo stores no app
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert not screen.query_one("#signin-steps").display
        assert not screen.query("#provider-verdict")
