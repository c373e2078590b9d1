"""A plan's rendered diff, coloured line by line (the text is `Plan.render()`: secrets masked)."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


def _style(line: str) -> str | None:
    if line.startswith(("+++", "---")):
        return "$text-muted"
    if line.startswith("@@"):
        return "$text-accent"
    if line.startswith("+"):
        return "$text-success"
    if line.startswith("-"):
        return "$text-error"
    if line.startswith("~"):
        return "$text-warning"
    if line.startswith("error:"):
        return "$text-error"
    if line.startswith("warning:"):
        return "$text-warning"
    if line.endswith(":") and not line.startswith(" "):
        return "bold"
    return None


def render_diff(text: str) -> Content:
    lines = []
    for line in text.splitlines():
        style = _style(line)
        lines.append(Content.styled(line, style) if style else Content(line))
    return Content("\n").join(lines)


class DiffView(Static):
    DEFAULT_CSS = """
    DiffView {
        height: auto;
    }
    """

    def __init__(self, text: str, *, id: str | None = None) -> None:
        super().__init__(render_diff(text), id=id)
