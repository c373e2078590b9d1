"""A labelled form control that shows its validator's message under it."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Static


class FormField(Vertical):
    """Label, control, optional hint and the current problem (shown only when there is one)."""

    DEFAULT_CSS = """
    FormField {
        height: auto;
        margin: 0 0 1 0;
    }
    FormField > .field-label {
        color: $text;
        text-style: bold;
    }
    FormField > .field-hint {
        color: $text-muted;
    }
    FormField > .field-problem {
        color: $text-error;
        display: none;
    }
    FormField.-invalid > .field-problem {
        display: block;
    }
    """

    def __init__(self, label: str, control: Widget, *, hint: str = "",
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.label = label
        self.control = control
        self.hint = hint

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="field-label")
        yield self.control
        if self.hint:
            yield Static(self.hint, classes="field-hint", markup=False)
        yield Static("", classes="field-problem", markup=False)

    def show_problem(self, problem: str | None) -> None:
        """Show `problem` under the control (None clears it)."""
        self.query_one(".field-problem", Static).update(problem or "")
        self.set_class(bool(problem), "-invalid")

    @on(Input.Changed)
    @on(Input.Blurred)
    def _input_validated(self, event: Input.Changed | Input.Blurred) -> None:
        result = event.validation_result
        if result is None:
            return
        if result.is_valid:
            self.show_problem(None)
        elif isinstance(event, Input.Changed) and not event.input.has_focus:
            # set before the admin typed (initial value): no red until they touch it
            event.input.remove_class("-invalid")
        else:
            self.show_problem("; ".join(result.failure_descriptions))
