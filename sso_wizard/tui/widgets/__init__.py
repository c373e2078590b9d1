"""Reusable widgets: form fields with validation messages, finding lists, the progress header and
the plan diff."""

from sso_wizard.tui.widgets.diff import DiffView, render_diff
from sso_wizard.tui.widgets.fields import FormField
from sso_wizard.tui.widgets.findings import FindingsView, render_findings
from sso_wizard.tui.widgets.progress import StageProgress

__all__ = ["DiffView", "FindingsView", "FormField", "StageProgress", "render_diff",
           "render_findings"]
