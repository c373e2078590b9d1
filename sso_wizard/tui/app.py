"""The sso-wizard Textual app: a summary screen, then one step screen per stage.

`run_tui()` is what `sso-wizard tui` calls. The app reads the install in a worker, keeps the
latest status in the reactive `reports` (screens watch it), and re-reads everything after each
apply so every screen shows what is on disk now.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive

from sso_wizard.core.stages import STAGES, StageReport
from sso_wizard.tui.messages import StageApplied, StatusLoaded, UndoFinished

if TYPE_CHECKING:
    from textual.screen import Screen

    from sso_wizard.core.instance import Instance
    from sso_wizard.core.stages import Snapshot


@dataclass
class WizardChoices:
    """What the admin chose on earlier screens and later screens start from (never a secret)."""

    providers: list[str] = field(default_factory=list)  # catalogue ids, from the backends stage
    provider: str | None = None  # the provider being registered / given credentials now
    site_url: str = ""  # typed on the register screen, offered again on the callback screen
    slugs: dict[str, str] = field(default_factory=dict)  # OIDC provider_id per catalogue id
    #: non-secret provider settings typed on the register screen (server_url, tenant, ...)
    settings: dict[str, dict[str, str]] = field(default_factory=dict)


class SsoWizardApp(App[int]):
    """Walks an InvenTree admin from "SSO is off" to a working single sign-on."""

    TITLE = "sso-wizard"
    SUB_TITLE = "InvenTree single sign-on"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("ctrl+o", "summary", "Summary", tooltip="Back to the summary of every stage"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    #: Every stage's report from the last read of the install (None until the first read).
    reports: reactive[dict[str, StageReport] | None] = reactive(None, always_update=True)

    def __init__(self, config: str | None = None, *, env_file: str | None = None,
                 db_url: str | None = None, start_stage: str | None = None,
                 environ: Mapping[str, str] | None = None, cursor_blink: bool = True) -> None:
        super().__init__()
        self.config_arg = config
        self.env_file_arg = env_file
        self.db_url_arg = db_url
        self.start_stage = start_stage
        self.environ = dict(os.environ if environ is None else environ)
        self.cursor_blink = cursor_blink
        self.instance: Instance | None = None
        self.snapshot: Snapshot | None = None
        self.load_error: str | None = None
        self.db_description = ""
        self.choices = WizardChoices()
        self._started = False

    # -- start-up and status ---------------------------------------------------------------

    def on_mount(self) -> None:
        from sso_wizard.tui.screens.summary import SummaryScreen
        self.push_screen(SummaryScreen())
        self.refresh_status()

    @work(thread=True, exclusive=True, group="status", exit_on_error=False)
    def refresh_status(self) -> None:
        """Read (or re-read) the install's files and database, then every stage's status."""
        from sso_wizard.core.instance import Instance, InstanceError
        from sso_wizard.core.stages import Snapshot, status
        try:
            if self.instance is None:
                instance = Instance.load(self.config_arg, env_file=self.env_file_arg,
                                         db_url=self.db_url_arg, environ=self.environ)
            else:
                instance = self.instance.reload()
        except InstanceError as exc:
            self.post_message(StatusLoaded(None, None, {}, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - shown on screen, never a crash
            self.post_message(StatusLoaded(None, None, {}, f"{type(exc).__name__}: {exc}"))
            return
        snapshot = Snapshot.read(instance)
        db_description = snapshot.db_description
        try:
            reports = status(instance, snapshot)
        except Exception as exc:  # noqa: BLE001
            self.post_message(StatusLoaded(instance, snapshot, {}, f"Reading the status failed: "
                                                                   f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(StatusLoaded(instance, snapshot, reports, db_description=db_description))

    @on(StatusLoaded)
    def _status_loaded(self, message: StatusLoaded) -> None:
        self.load_error = message.error
        if message.instance is not None:
            self.instance = message.instance
            self.snapshot = message.snapshot
            self.db_description = message.db_description
        self.reports = message.reports
        if not self._started:
            self._started = True
            if self.start_stage and self.instance is not None:
                self.open_stage(self.start_stage)

    @on(StageApplied)
    def _stage_applied(self) -> None:
        self.refresh_status()

    @on(UndoFinished)
    def _undo_finished(self) -> None:
        self.refresh_status()

    # -- navigation ------------------------------------------------------------------------

    def open_stage(self, stage: str) -> None:
        """Push the screen of one stage (from the summary, or from the previous stage)."""
        if stage not in STAGES:
            self.notify(f"Unknown stage {stage!r}. Stages: {', '.join(STAGES)}",
                        severity="error")
            return
        if self.instance is None:
            self.notify(self.load_error or "Still reading the install…",
                        severity="error" if self.load_error else "information")
            return
        from sso_wizard.tui.screens import stage_screen
        self.push_screen(stage_screen(stage))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette also opens any stage by name."""
        from functools import partial

        from sso_wizard.tui.widgets.progress import ABOUT
        yield from super().get_system_commands(screen)
        for number, stage in enumerate(STAGES, 1):
            yield SystemCommand(f"Stage {number}: {stage}", ABOUT[stage],
                                partial(self.open_stage, stage))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "summary":
            from sso_wizard.tui.screens.summary import SummaryScreen
            return not isinstance(self.screen, SummaryScreen)
        return True

    def action_summary(self) -> None:
        """Pop every step screen, back to the summary."""
        from sso_wizard.tui.screens.summary import SummaryScreen
        while len(self.screen_stack) > 1 and not isinstance(self.screen, SummaryScreen):
            self.pop_screen()

    # -- clipboard ---------------------------------------------------------------------------

    def copy_to_clipboard(self, text: str) -> None:
        """OSC 52 to the admin's own terminal (works over SSH), wrapped for tmux/screen."""
        from sso_wizard.core.clipboard import detect_multiplexer, osc52
        self._clipboard = text
        if self._driver is None:
            return
        self._driver.write(osc52(text, detect_multiplexer(self.environ)))


def run_tui(config: str | None = None, env_file: str | None = None, db_url: str | None = None,
            start_stage: str | None = None) -> int:
    """Run the wizard in the terminal; returns the exit code."""
    app = SsoWizardApp(config, env_file=env_file, db_url=db_url, start_stage=start_stage)
    app.run()
    code = app.return_code
    return 0 if code is None else code
