"""Benchmark: one full OAuth round trip against a local oidc-provider-mock — the wizard vs the
same HTTP exchanges done bare with httpx, in the same run, interleaved; median of RUNS each.

All variants make the same exchanges with one client each: discovery, JWKS, the browser part
(GET the authorize page, POST its form — played by the same sync httpx helper in a thread), the
token request and userinfo. The wizard additionally builds state/nonce/PKCE, saves the attempt
to the state directory (0600, fsync), validates the ID token (signature, iss, aud, exp, iat,
nonce) and reads the sign-in verdict from an SQLite InvenTree database; the bare variants only
parse the JSON. "bare httpx" builds its client the plain way (loading the CA bundle each time,
as the wizard's factory avoids); "bare, shared SSL" reuses one SSL context, to show the wizard's
own overhead.

    .venv/bin/python bench/bench_oauth.py      # exit status 1 if the ratio exceeds 1.5
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from oauth_servers import (  # noqa: E402
    EMAIL_CONFIG,
    Site,
    play_oidc_browser,
    register_oidc_client,
    set_oidc_user,
)
from oidc_servers import run_oidc_provider  # noqa: E402

from sso_wizard.core.checks import oauth  # noqa: E402
from sso_wizard.core.http import create_client  # noqa: E402

RUNS = 15
TARGET = 1.5
SITE = "http://127.0.0.1:9"  # nothing is served there: the round trip is paste mode
CALLBACK = f"{SITE}/accounts/bench/login/callback/"


async def wizard_round_trip(site: Site) -> None:
    inst = site.instance()
    snap = site.snapshot()
    app = oauth.find_app(snap.apps, "bench")
    async with create_client(timeout=10) as client:
        setup = await oauth.resolve_setup(inst, app, client=client)
        attempt = oauth.begin_roundtrip(inst, setup)
        browser = await asyncio.to_thread(play_oidc_browser, attempt.authorize_url)
        result = await oauth.complete_roundtrip(inst, snap, setup, browser.callback_url or "",
                                                client=client, attempt=attempt)
    assert result.passed and result.signin and result.signin.outcome == "registers", \
        result.findings


async def bare_round_trip(base_url: str, client_id: str, secret: str,
                          verify: Any = True) -> None:
    async with httpx.AsyncClient(timeout=10, verify=verify) as client:
        doc = (await client.get(f"{base_url}/.well-known/openid-configuration")).json()
        (await client.get(doc["jwks_uri"])).json()
        url = str(httpx.URL(doc["authorization_endpoint"], params={
            "response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK,
            "scope": "openid profile email", "state": "s"}))
        browser = await asyncio.to_thread(play_oidc_browser, url)
        code = httpx.URL(browser.callback_url or "").params["code"]
        token = (await client.post(doc["token_endpoint"], data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "client_id": client_id, "client_secret": secret})).json()
        userinfo = (await client.get(doc["userinfo_endpoint"], headers={
            "Authorization": f"Bearer {token['access_token']}"})).json()
    assert userinfo["sub"] == "alice"


async def run(site: Site, base_url: str, client_id: str, secret: str
              ) -> dict[str, list[float]]:
    import ssl
    shared = ssl.create_default_context()
    samples: dict[str, list[float]] = {"bare httpx": [], "bare, shared SSL": [], "wizard": []}
    await bare_round_trip(base_url, client_id, secret)  # warm-up: imports, first requests
    await wizard_round_trip(site)
    for _ in range(RUNS):
        t0 = time.perf_counter()
        await bare_round_trip(base_url, client_id, secret)
        samples["bare httpx"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await bare_round_trip(base_url, client_id, secret, verify=shared)
        samples["bare, shared SSL"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await wizard_round_trip(site)
        samples["wizard"].append(time.perf_counter() - t0)
    return samples


def main() -> int:
    warnings.simplefilter("ignore", DeprecationWarning)  # the mock's own authlib use
    tmp = Path(tempfile.mkdtemp(prefix="bench-oauth-"))
    os.environ["SSO_WIZARD_STATE_DIR"] = str(tmp / "state")
    with run_oidc_provider(require_client_registration=True) as provider:
        set_oidc_user(provider.base_url, "alice", {"email": "alice@example.com",
                                                  "email_verified": True})
        client_id, secret = register_oidc_client(provider.base_url, [CALLBACK])
        site = Site.sqlite(tmp / "inventree", SITE, extra=EMAIL_CONFIG)
        site.add_app("openid_connect", client_id, secret, provider_id="bench",
                     settings={"server_url": provider.base_url})
        site.set_settings(LOGIN_ENABLE_SSO_REG=True)
        samples = asyncio.run(run(site, provider.base_url, client_id, secret))
    med: dict[str, Any] = {name: statistics.median(v) for name, v in samples.items()}
    for name, value in med.items():
        print(f"{name:<17} median of {RUNS}: {value * 1000:7.2f} ms")
    ratio = med["wizard"] / med["bare httpx"]
    print(f"ratio wizard / bare httpx: {ratio:.2f}x (target <= {TARGET}x)")
    print(f"ratio wizard / bare with a shared SSL context: "
          f"{med['wizard'] / med['bare, shared SSL']:.2f}x (informative: the wizard's own "
          "work, without the CA-bundle load it caches)")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
