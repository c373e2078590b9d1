"""While a check runs in the TUI, how long is the event loop ever blocked?

A 10 ms interval timer runs inside the app; each tick records how late it fired. We compare the
largest lateness while the SMTP check (a real STARTTLS conversation with a local server, test
message included), the full `check all` and an OpenID Connect credential probe (against a local
provider) run as workers, against the same app sitting idle for the same time.
Target: the largest stall during a check stays under 50 ms.

Run: .venv/bin/python bench/bench_tui_stall.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class StallMeter:
    """Records how late a 10 ms timer fires (the event loop's stalls)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.worst = 0.0

    def tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last - 0.010)
        self.last = now

    def reset(self) -> None:
        self.last = time.perf_counter()
        self.worst = 0.0


async def measure(config: Path, stage: str, action: str | None, seconds: float | None,
                  ) -> tuple[float, float]:
    from sso_wizard.tui.app import SsoWizardApp
    app = SsoWizardApp(str(config), start_stage=stage, environ={}, cursor_blink=False)
    meter = StallMeter()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        app.set_interval(0.010, meter.tick)
        await pilot.pause(0.05)
        meter.reset()
        start = time.perf_counter()
        if action is not None:
            await pilot.press(action)
            await pilot.pause(0.05)
            await app.workers.wait_for_complete()
            await pilot.pause(0.05)
        else:
            await asyncio.sleep(seconds or 0.5)
        elapsed = time.perf_counter() - start
        worst = meter.worst
    return worst, elapsed


def main() -> None:
    import logging

    import trustme

    from sso_wizard.core.answers import Answers
    from sso_wizard.core.demo import create_demo
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.plan import apply_plan
    from sso_wizard.core.stages import plan_answers
    from tests.integration.oidc_servers import run_oidc_provider
    from tests.integration.smtp_servers import run_smtp_server, trustme_server_context, write_ca
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own deprecation notes
    tmp = Path(tempfile.mkdtemp(prefix="sso-wizard-stall-"))
    os.environ["SSO_WIZARD_STATE_DIR"] = str(tmp / "state")
    ca = trustme.CA()
    ca_file = write_ca(ca, tmp)
    os.environ["SSL_CERT_FILE"] = ca_file  # the TUI's check trusts the system store
    sandbox = create_demo(tmp / "demo")
    with run_smtp_server(starttls=trustme_server_context(ca, "127.0.0.1"),
                         users={"inventree": "pw"}) as server, run_oidc_provider() as idp:
        apply_plan(plan_answers(Instance.load(sandbox.config, environ={}), Answers.parse(
            f"site_url: http://127.0.0.1:8000\n"
            f"email: {{host: 127.0.0.1, port: {server.port}, tls: true, username: inventree, "
            "password: pw, sender: inventree@example.com}\n"
            "apps: [{provider: openid_connect, provider_id: idp, client_id: inventree, "
            f"secret: s3cret, settings: {{server_url: '{idp.issuer}'}}}}]\n")))
        rows = []
        for _ in range(3):
            smtp_worst, smtp_time = asyncio.run(measure(sandbox.config, "email", "ctrl+t", None))
            check_worst, check_time = asyncio.run(measure(sandbox.config, "check", "ctrl+r",
                                                          None))
            probe_worst, probe_time = asyncio.run(measure(sandbox.config, "check", "ctrl+t",
                                                          None))
            idle_worst, _ = asyncio.run(measure(sandbox.config, "email", None,
                                                max(smtp_time, 0.3)))
            rows.append((smtp_worst, smtp_time, check_worst, check_time, probe_worst,
                         probe_time, idle_worst))
    for smtp_w, smtp_t, check_w, check_t, probe_w, probe_t, idle_w in rows:
        print(f"SMTP check: ran {smtp_t * 1000:6.1f} ms, largest stall {smtp_w * 1000:5.1f} ms"
              f" | check all: {check_t * 1000:6.1f} ms, stall {check_w * 1000:5.1f} ms"
              f" | OIDC probe: {probe_t * 1000:6.1f} ms, stall {probe_w * 1000:5.1f} ms"
              f" | idle stall {idle_w * 1000:5.1f} ms")
    worst = max(max(r[0], r[2], r[4]) for r in rows)
    print(f"largest stall during a check: {worst * 1000:.1f} ms (target < 50 ms)")


if __name__ == "__main__":
    main()
