"""Typed confirmations: the plan's diff before it is applied, and the undo question."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from sso_wizard.tui.widgets import DiffView


class ConfirmScreen(ModalScreen[bool]):
    """Show `body` (a plan's diff, secrets masked) and answer True only on an explicit yes."""

    AUTO_FOCUS = "#dialog-body"
    BINDINGS = [
        Binding("y", "confirm", "Apply", tooltip="Write these changes"),
        Binding("n,escape", "cancel", "Cancel", tooltip="Write nothing"),
    ]

    def __init__(self, title: str, body: str, *, confirm_label: str = "Apply",
                 note: str = "", diff: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label
        self.note = note
        self.diff = diff

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                if self.diff:
                    yield DiffView(self.body, id="plan-diff")
                else:
                    yield Static(self.body, markup=False)
            if self.note:
                yield Static(self.note, id="dialog-note", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", id="confirm", variant="warning",
                             compact=True)
                yield Button("Cancel (n)", id="cancel", compact=True)
        yield Footer()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#confirm")
    def _confirm_pressed(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(False)
