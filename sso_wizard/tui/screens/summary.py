"""The home screen: where the install is, its key values with their origin, and every stage's
state and findings. Any stage can be (re-)run from here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Header, Label, OptionList, Static
from textual.widgets.option_list import Option

from sso_wizard.core.stages import STAGES, StageReport
from sso_wizard.tui.messages import UndoFinished
from sso_wizard.tui.screens.base import WizardScreen, describe_error
from sso_wizard.tui.screens.confirm import ConfirmScreen
from sso_wizard.tui.widgets import FindingsView
from sso_wizard.tui.widgets.progress import ABOUT, STYLE, SYMBOL, TITLES

if TYPE_CHECKING:
    from sso_wizard.core.instance import Instance

#: The values shown with their origin (like `sso-wizard status`).
SHOWN_VALUES = ("site_url", "login_default_protocol", "social_backends", "email.host",
                "email.sender")


def _value_text(value: Any) -> str:
    if value in (None, "", [], {}):
        return "not set"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def install_description(instance: Instance | None, db_description: str,
                        error: str | None) -> Content:
    if instance is None:
        if error:
            return Content.from_markup("[$text-error]✗ The install could not be read:[/] $e",
                                       e=error)
        return Content("Reading the install…")
    lines = [
        Content.from_markup("[b]Config  [/] $v", v=str(instance.config_path)),
        Content.from_markup("[b]Env file[/] $v",
                            v=str(instance.env_file.path) if instance.env_file else "none"),
        Content.from_markup("[b]Database[/] $v", v=db_description),
    ]
    for key in SHOWN_VALUES:
        resolved = instance.resolve(key)
        lines.append(Content.from_markup("$k = $v [$text-muted](from $o)[/]", k=key,
                                         v=_value_text(resolved.value), o=resolved.origin))
    return Content("\n").join(lines)


def stage_option(number: int, name: str, report: StageReport | None) -> Content:
    state = report.state if report else "todo"
    count = len([f for f in report.findings if f.severity != "info"]) if report else 0
    extra = f" ({count})" if count else ""
    return Content.from_markup(f"[{STYLE[state]}]$sym[/] $n. $name [{STYLE[state]}]$state$x[/]",
                               sym=SYMBOL[state], n=str(number), name=f"{name:<11}",
                               state=state, x=extra)


class SummaryScreen(WizardScreen):
    """Every stage at a glance; open one to (re-)run it."""

    AUTO_FOCUS = "#stage-list"
    BINDINGS = [
        Binding("o", "open_stage", "Open stage", tooltip="Run the highlighted stage"),
        Binding("s", "start", "Start", tooltip="Walk every stage from the first"),
        Binding("r", "refresh", "Refresh", tooltip="Read the install again"),
        Binding("u", "undo", "Undo last apply", tooltip="Restore what the last apply changed"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(install_description(None, "", None), id="install")
        with Horizontal(id="summary-main"):
            yield OptionList(*[Option(stage_option(i, name, None), id=name)
                               for i, name in enumerate(STAGES, 1)], id="stage-list")
            with VerticalScroll(id="stage-detail"):
                yield Label("", id="detail-title")
                yield Static("", id="detail-about")
                yield FindingsView(id="summary-findings", empty="Nothing to report.")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "reports", self._reports_changed)

    def _reports_changed(self, reports: dict[str, StageReport] | None) -> None:
        app = self.wizard
        if reports is None and app.load_error is None:
            return
        self.query_one("#install", Static).update(
            install_description(app.instance, app.db_description, app.load_error))
        stage_list = self.query_one("#stage-list", OptionList)
        highlighted = stage_list.highlighted
        stage_list.clear_options()
        stage_list.add_options([Option(stage_option(i, name, (reports or {}).get(name)), id=name)
                                for i, name in enumerate(STAGES, 1)])
        stage_list.highlighted = highlighted if highlighted is not None else 0
        self._show_stage(STAGES[stage_list.highlighted or 0])

    def _show_stage(self, stage: str) -> None:
        report = (self.wizard.reports or {}).get(stage)
        self.query_one("#detail-title", Label).update(
            Content.from_markup("[b]$t[/]", t=TITLES[stage]))
        self.query_one("#detail-about", Static).update(Content.from_markup(
            "[$text-muted]$a Enter opens it.[/]", a=ABOUT[stage]))
        findings = report.findings if report else []
        empty = "Not read yet." if report is None else "Nothing to report."
        self.query_one("#summary-findings", FindingsView).show(findings, empty)

    @on(OptionList.OptionHighlighted, "#stage-list")
    def _stage_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self._show_stage(event.option.id)

    @on(OptionList.OptionSelected, "#stage-list")
    def _stage_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.wizard.open_stage(event.option.id)

    def action_open_stage(self) -> None:
        stage_list = self.query_one("#stage-list", OptionList)
        self.wizard.open_stage(STAGES[stage_list.highlighted or 0])

    def action_start(self) -> None:
        self.wizard.open_stage(STAGES[0])

    def action_refresh(self) -> None:
        self.wizard.refresh_status()
        self.notify("Reading the install again…")

    # -- undo --------------------------------------------------------------------------------

    def action_undo(self) -> None:
        if self.wizard.instance is None:
            return
        self.app.push_screen(
            ConfirmScreen("Undo the last apply?",
                          "Restores the config file, the env file and the database rows the "
                          "last apply by sso-wizard changed, from the backups it kept.",
                          confirm_label="Undo", diff=False),
            callback=self._undo_confirmed)

    def _undo_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            self.undo_last()

    @work(thread=True, exclusive=True, group="undo", exit_on_error=False)
    def undo_last(self) -> None:
        from sso_wizard.core.plan import undo_last_apply
        instance = self.wizard.instance
        assert instance is not None
        try:
            messages = undo_last_apply(instance.reload())
        except Exception as exc:  # noqa: BLE001 - shown on screen
            self.post_message(UndoFinished([], describe_error(exc)))
            return
        self.post_message(UndoFinished(messages))

    @on(UndoFinished)
    def _undo_finished(self, message: UndoFinished) -> None:
        if message.error:
            self.notify(message.error, title="Undo failed", severity="error", timeout=10)
        else:
            self.notify("\n".join(message.messages) or "Nothing changed.", title="Undone")
