"""SVG snapshots of the main screens at 80x24 (update with --snapshot-update, then look at
them). The demo install lives at a fixed path so the paths shown are the same on every run;
no cursor blinks and every worker has finished before the picture is taken."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, OptionList, Select, SelectionList

from sso_wizard.core.demo import Sandbox, create_demo
from sso_wizard.tui.app import SsoWizardApp
from tests.tui.helpers import paste_into, settle, type_into

#: Fixed, so the config path and database URL on screen never change between runs.
SNAPSHOT_DEMO = Path("/tmp/sso-wizard-tui-snapshots")
SIZE = (80, 24)

SnapCompare = Callable[..., bool]
RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture
def stable_demo() -> Iterator[Sandbox]:
    """The demo at its fixed path, held under a lock so concurrent test runs take turns."""
    import fcntl

    with open(f"{SNAPSHOT_DEMO}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield create_demo(SNAPSHOT_DEMO, force=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def wizard(sandbox: Sandbox, **kwargs: Any) -> SsoWizardApp:
    providers = kwargs.pop("providers", None)
    app = SsoWizardApp(str(sandbox.config), environ={}, cursor_blink=False, **kwargs)
    if providers:
        app.choices.providers = list(providers)
    return app


def then(*steps: RunBefore) -> RunBefore:
    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for step in steps:
            await step(pilot)
            await settle(pilot)
    return run


async def top(pilot: Pilot[Any]) -> None:
    """Scroll the step screen's body back to the top (focus scrolls it)."""
    pilot.app.screen.query_one("#body").scroll_home(animate=False)


def test_summary(snap_compare: SnapCompare, stable_demo: Sandbox) -> None:
    async def highlight_callback(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one("#stage-list", OptionList).highlighted = 3

    assert snap_compare(wizard(stable_demo), terminal_size=SIZE,
                        run_before=then(highlight_callback))


def test_backends(snap_compare: SnapCompare, stable_demo: Sandbox) -> None:
    async def choose(pilot: Pilot[Any]) -> None:
        chooser = pilot.app.screen.query_one("#provider-list", SelectionList)
        chooser.select("github")
        chooser.select("keycloak")

    assert snap_compare(wizard(stable_demo, start_stage="backends"), terminal_size=SIZE,
                        run_before=then(choose))


def test_plan_confirmation(snap_compare: SnapCompare, stable_demo: Sandbox) -> None:
    async def plan(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one("#provider-list", SelectionList).select("github")
        await pilot.press("ctrl+s")

    assert snap_compare(wizard(stable_demo, start_stage="backends"), terminal_size=SIZE,
                        run_before=then(plan))


def test_register(snap_compare: SnapCompare, stable_demo: Sandbox) -> None:
    async def site(pilot: Pilot[Any]) -> None:
        await paste_into(pilot, "#site-url", "https://inventree.example.com")
        pilot.app.screen.query_one("#callback-box").scroll_visible(animate=False, top=True)

    assert snap_compare(wizard(stable_demo, start_stage="register", providers=["github"]),
                        terminal_size=SIZE, run_before=then(site))


def test_credentials_secret_hidden(snap_compare: SnapCompare, stable_demo: Sandbox) -> None:
    async def fill(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one("#provider", Select).value = "github"
        await settle(pilot)
        await paste_into(pilot, "#app-client-id", "Iv1.0123456789")
        await paste_into(pilot, "#app-secret", "never-on-screen-0123")
        pilot.app.screen.query_one("#app-state").scroll_visible(animate=False, top=True)

    assert snap_compare(wizard(stable_demo, start_stage="credentials",
                               providers=["github"]),
                        terminal_size=SIZE, run_before=then(fill))


def test_callback_invalid_site_url(snap_compare: SnapCompare, stable_demo: Sandbox) -> None:
    async def invalid(pilot: Pilot[Any]) -> None:
        await type_into(pilot, "#site-url", "inventree.local")
        await pilot.press("ctrl+n")
        await settle(pilot)
        await top(pilot)

    assert snap_compare(wizard(stable_demo, start_stage="callback", providers=["github"]),
                        terminal_size=SIZE, run_before=then(invalid))


def test_callback(snap_compare: SnapCompare, stable_demo: Sandbox) -> None:
    async def https(pilot: Pilot[Any]) -> None:
        await paste_into(pilot, "#site-url", "https://inventree.example.com")
        pilot.app.screen.query_one("#forwarded-proto", Checkbox).value = True
        await settle(pilot)
        pilot.app.screen.query_one("#forwarded-proto").scroll_visible(animate=False, top=True)

    assert snap_compare(wizard(stable_demo, start_stage="callback", providers=["github"]),
                        terminal_size=SIZE, run_before=then(https))


def test_settings(snap_compare: SnapCompare, stable_demo: Sandbox) -> None:
    assert snap_compare(wizard(stable_demo, start_stage="settings"), terminal_size=SIZE,
                        run_before=then(top))


def test_email(snap_compare: SnapCompare, stable_demo: Sandbox) -> None:
    async def fill(pilot: Pilot[Any]) -> None:
        await paste_into(pilot, "#email-host", "smtp.example.com")
        await paste_into(pilot, "#email-port", "587")
        await paste_into(pilot, "#email-password", "never-on-screen-0123")
        await settle(pilot)
        await top(pilot)

    assert snap_compare(wizard(stable_demo, start_stage="email"), terminal_size=SIZE,
                        run_before=then(fill))


def test_check(snap_compare: SnapCompare, stable_demo: Sandbox,
               monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime

    from sso_wizard.core.checks import errors
    # the error-log section names the start of its window: pin it
    monkeypatch.setattr(errors, "parse_since", lambda value, now=None: datetime(2026, 1, 1))

    async def results(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one("#check-summary").scroll_visible(animate=False, top=True)

    assert snap_compare(wizard(stable_demo, start_stage="check"), terminal_size=SIZE,
                        run_before=then(results))
