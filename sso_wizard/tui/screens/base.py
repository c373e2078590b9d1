"""The shared step screen: progress header, form, Back/Apply/Next, plan → confirm → apply.

A stage screen only says how to compose its form, which answers the form means
(`answers_data`) and which field an answers-file place belongs to (`FIELD_FOR_PLACE`). Next
validates every input, plans the stage (in a thread: the database may be slow), shows the diff in
a confirmation, applies on yes and moves on once the status has been re-read. Back pops.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Static

from sso_wizard.core.answers import AnswersError
from sso_wizard.core.findings import Finding, error
from sso_wizard.core.stages import STAGES, StageReport
from sso_wizard.tui.forms import answers_from, split_problem
from sso_wizard.tui.messages import ApplyFailed, PlanFailed, PlanMade, StageApplied
from sso_wizard.tui.screens.confirm import ConfirmScreen
from sso_wizard.tui.widgets import FindingsView, FormField, StageProgress, render_findings

if TYPE_CHECKING:
    from sso_wizard.core.answers import Answers
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.plan import ApplyResult, Plan
    from sso_wizard.core.stages import Snapshot
    from sso_wizard.tui.app import SsoWizardApp


def describe_error(exc: BaseException) -> str:
    """An exception as one line for the screen (core's errors already say what to do)."""
    from sso_wizard.core.configfile import ConfigFileError
    from sso_wizard.core.db import DatabaseError
    from sso_wizard.core.instance import InstanceError
    from sso_wizard.core.plan import ApplyError, PlanError
    if isinstance(exc, PlanError | ApplyError | DatabaseError | InstanceError
                  | ConfigFileError | ValueError):
        return str(exc)
    return f"Unexpected error ({type(exc).__name__}): {exc}"


class WizardScreen(Screen[None]):
    """A screen of the wizard app: typed access to the app and its shared state."""

    @property
    def wizard(self) -> SsoWizardApp:
        return cast("SsoWizardApp", self.app)

    @property
    def instance(self) -> Instance:
        instance = self.wizard.instance
        assert instance is not None, "stage screens open only once the install was read"
        return instance

    @property
    def snapshot(self) -> Snapshot | None:
        return self.wizard.snapshot

    def on_mount(self) -> None:
        if not self.wizard.cursor_blink:
            for control in self.query(Input):
                control.cursor_blink = False


def _displayed(widget: Widget) -> bool:
    node: Any = widget
    while node is not None and isinstance(node, Widget):
        if not node.display:
            return False
        node = node.parent
    return True


class StepScreen(WizardScreen):
    """One stage of the wizard."""

    STAGE: ClassVar[str] = ""
    INTRO: ClassVar[str] = ""
    WRITES: ClassVar[bool] = True
    NEXT_LABEL: ClassVar[str] = "Next"
    #: answers-file place (e.g. "apps[0].secret") -> id of the FormField that shows it.
    FIELD_FOR_PLACE: ClassVar[dict[str, str]] = {}

    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Previous screen"),
        Binding("ctrl+s", "apply", "Apply", tooltip="Show the plan for this stage and apply it"),
        Binding("ctrl+n", "next", "Next", tooltip="Validate, apply if anything changed, go on"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._busy = False
        self._advance_after_refresh = False

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StageProgress(self.STAGE, id="progress")
        with VerticalScroll(id="body"):
            yield Static(self.INTRO, classes="intro", markup=False)
            yield from self.compose_form()
            yield Static("", id="outcome")
            yield Label("Current findings", classes="section-title")
            yield FindingsView(id="stage-findings", empty="Nothing to fix in this stage.")
        with Horizontal(id="nav"):
            yield Button("Back", id="back", compact=True)
            if self.WRITES:
                yield Button("Apply", id="apply", variant="primary", compact=True)
            yield Button(self.NEXT_LABEL, id="next", variant="success", compact=True)
        yield Footer()

    def compose_form(self) -> ComposeResult:
        """The stage's own widgets."""
        yield from ()

    def on_mount(self) -> None:
        self.query_one("#outcome", Static).display = False
        self.watch(self.app, "reports", self._reports_changed)

    def _reports_changed(self, reports: dict[str, StageReport] | None) -> None:
        self.query_one(StageProgress).show(reports)
        report = (reports or {}).get(self.STAGE)
        self.query_one("#stage-findings", FindingsView).show(report.findings if report else [])
        self.status_changed()
        if self._advance_after_refresh and self.is_current:
            self._advance_after_refresh = False
            self.go_next()

    def status_changed(self) -> None:
        """Hook: the install was re-read (after an apply, or at start)."""

    # -- outcome -------------------------------------------------------------------------------

    def show_outcome(self, content: Content | str, *, findings: Iterable[Finding] = (),
                     kind: str = "info") -> None:
        outcome = self.query_one("#outcome", Static)
        body = Content(content) if isinstance(content, str) else content
        found = list(findings)
        if found:
            body = Content("\n").join([body, render_findings(found)])
        outcome.update(body)
        outcome.set_classes(f"outcome-{kind}")
        outcome.display = True
        outcome.scroll_visible()

    # -- navigation ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def go_next(self) -> None:
        index = STAGES.index(self.STAGE)
        if index + 1 < len(STAGES):
            self.wizard.open_stage(STAGES[index + 1])
        else:
            self.wizard.action_summary()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#apply")
    def _apply_pressed(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply" and not self.WRITES:
            return False
        return True

    def action_apply(self) -> None:
        self.submit(advance=False)

    def action_next(self) -> None:
        self.submit(advance=True)

    # -- validate, plan, confirm, apply ----------------------------------------------------------

    def form_problems(self) -> list[tuple[Widget, str]]:
        """Run every displayed input's validators; mark and return the problems."""
        problems: list[tuple[Widget, str]] = []
        for control in self.query(Input):
            if not control.validators or control.disabled or not _displayed(control):
                continue
            result = control.validate(control.value)
            field = control.parent if isinstance(control.parent, FormField) else None
            if result is not None and not result.is_valid:
                message = "; ".join(result.failure_descriptions)
                if field is not None:
                    field.show_problem(message)
                problems.append((control, message))
            elif field is not None:
                field.show_problem(None)
        problems.extend(self.extra_problems())
        return problems

    def extra_problems(self) -> list[tuple[Widget, str]]:
        """Hook: problems no single input's validator sees (mark them yourself)."""
        return []

    def answers_data(self) -> dict[str, Any]:
        """The answers this form means, as an answers file would write them."""
        return {}

    def submit(self, *, advance: bool) -> None:
        if self._busy:
            self.notify("Still working on the last request…")
            return
        problems = self.form_problems()
        if problems:
            widget, _ = problems[0]
            widget.focus()
            self.show_outcome(
                Content.from_markup("[$text-error]Not yet:[/] fix the marked fields first.\n"
                                    "$lines", lines="\n".join(f"• {m}" for _, m in problems)),
                kind="error")
            self.app.bell()
            return
        if not self.WRITES:
            if advance:
                self.go_next()
            return
        try:
            answers = answers_from(self.answers_data())
        except AnswersError as exc:
            self.show_answer_problems(exc.problems)
            return
        self._busy = True
        self.show_outcome("Planning…")
        self.make_plan(answers, advance)

    def show_answer_problems(self, problems: list[str]) -> None:
        loose: list[str] = []
        first: Widget | None = None
        for problem in problems:
            place, message = split_problem(problem)
            field_id = self.FIELD_FOR_PLACE.get(re.sub(r"\[\d+\]", "[]", place))
            if field_id:
                field = self.query_one(f"#{field_id}", FormField)
                field.show_problem(message)
                first = first or field.control
            loose.append(problem)
        if first is not None:
            first.focus()
        self.show_outcome(Content.from_markup(
            "[$text-error]Not yet:[/]\n$lines", lines="\n".join(f"• {p}" for p in loose)),
            kind="error")

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False,
          description="plan a stage")  # no argument reprs: answers hold secrets
    def make_plan(self, answers: Answers, advance: bool) -> None:
        from sso_wizard.core.stages import plan_answers
        try:
            instance = self.instance.reload()  # the files as they are now, not as first read
            plan = plan_answers(instance, answers, only=(self.STAGE,))
        except Exception as exc:  # noqa: BLE001 - a finding on screen, never a crash
            self.post_message(PlanFailed(self.STAGE, [describe_error(exc)]))
            return
        self.post_message(PlanMade(self.STAGE, plan, advance))

    @on(PlanFailed)
    def _plan_failed(self, message: PlanFailed) -> None:
        self._busy = False
        self.show_outcome("Could not plan this stage; nothing was written.",
                          findings=[error("plan-failed", p) for p in message.problems],
                          kind="error")

    @on(PlanMade)
    def _plan_made(self, message: PlanMade) -> None:
        plan = message.plan
        if plan.has_errors:
            self._busy = False
            self.show_outcome("The plan has errors; nothing was written.",
                              findings=plan.findings, kind="error")
            return
        if plan.empty:
            self._busy = False
            self.show_outcome("No changes.", findings=plan.findings)
            if message.advance:
                self.go_next()
            return
        title = f"Apply the {self.STAGE} stage? These changes will be written:"
        self.app.push_screen(ConfirmScreen(title, plan.render()),
                             callback=partial(self._confirmed, plan, message.advance))

    def _confirmed(self, plan: Plan, advance: bool, confirmed: bool | None) -> None:
        if not confirmed:
            self._busy = False
            self.show_outcome("Not applied: nothing was written.")
            return
        self.show_outcome("Applying…")
        self.apply_stage(plan, advance)

    @work(thread=True, exclusive=True, group="apply", exit_on_error=False,
          description="apply a plan")  # no argument reprs: a plan holds secrets
    def apply_stage(self, plan: Plan, advance: bool) -> None:
        from sso_wizard.core.plan import apply_plan
        try:
            result = apply_plan(plan)
        except Exception as exc:  # noqa: BLE001 - apply rolled back; say so on screen
            self.post_message(ApplyFailed(self.STAGE, describe_error(exc)))
            return
        self.post_message(StageApplied(self.STAGE, applied_summary(plan, result), advance))

    @on(ApplyFailed)
    def _apply_failed(self, message: ApplyFailed) -> None:
        self._busy = False
        self.show_outcome("Applying failed; nothing was changed.",
                          findings=[error("apply-failed", message.message)], kind="error")

    @on(StageApplied)
    def _stage_applied(self, message: StageApplied) -> None:
        self._busy = False
        self.show_outcome(Content.from_markup("[$text-success]✓ Applied.[/]\n$lines",
                                              lines="\n".join(message.summary)), kind="success")
        self.notify(f"{self.STAGE}: applied.", title="sso-wizard")
        for control in self.query(Input):
            if control.password and control.value:
                control.value = ""  # written: nothing secret stays in the form
                control.placeholder = "stored: leave empty to keep it"
        if message.advance:
            self._advance_after_refresh = True


def applied_summary(plan: Plan, result: ApplyResult) -> list[str]:
    """What an apply wrote where, for the screen (no values: they are in the diff)."""
    lines: list[str] = []
    if plan.config_edits:
        lines.append(f"Wrote {plan.instance.config_path} (backup: {result.config_backup}).")
    if plan.env_edits and plan.instance.env_file is not None:
        lines.append(f"Wrote {plan.instance.env_file.path} (backup: {result.env_backup}).")
    if result.rows_changed:
        lines.append(f"Changed {result.rows_changed} database row(s).")
    if plan.config_edits:
        lines.append("Restart InvenTree so it reads the new configuration.")
    if plan.env_edits:
        lines.append("Recreate the containers (docker compose up -d) so they read the env file.")
    lines.append("Undo: press u on the summary screen (or run sso-wizard undo).")
    return lines

