"""A list of findings: severity, message and fix, coloured by the theme."""

from __future__ import annotations

from collections.abc import Iterable

from textual.content import Content
from textual.widgets import Static

from sso_wizard.core.findings import Finding

_MARK = {
    "error": "[$text-error]✗ error[/]",
    "warning": "[$text-warning]! warning[/]",
    "info": "[$text-primary]· info[/]",
}


def render_findings(findings: Iterable[Finding], empty: str = "Nothing to report.") -> Content:
    lines: list[Content] = []
    for f in findings:
        lines.append(Content.from_markup(f"{_MARK[f.severity]} $message", message=f.message))
        if f.fix and f.severity != "info":
            lines.append(Content.from_markup("  [$text-muted]fix:[/] $fix", fix=f.fix))
    if not lines:
        return Content.from_markup("[$text-success]✓[/] $empty", empty=empty)
    return Content("\n").join(lines)


class FindingsView(Static):
    """Findings as lines; `show()` replaces them."""

    DEFAULT_CSS = """
    FindingsView {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, findings: Iterable[Finding] = (), *, empty: str = "Nothing to report.",
                 id: str | None = None, classes: str | None = None) -> None:
        self.empty = empty
        super().__init__(render_findings(findings, empty), id=id, classes=classes)

    def show(self, findings: Iterable[Finding], empty: str | None = None) -> None:
        self.update(render_findings(findings, self.empty if empty is None else empty))
