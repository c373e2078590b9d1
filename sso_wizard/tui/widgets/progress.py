"""The step screens' header: "Stage N of 7" and every stage's name with its state."""

from __future__ import annotations

from collections.abc import Mapping

from textual.content import Content
from textual.widgets import Static

from sso_wizard.core.stages import STAGES, StageReport

TITLES = {
    "backends": "Backends: the providers InvenTree loads",
    "register": "Register: create the app at the provider",
    "credentials": "Credentials: client id and secret",
    "callback": "Callback: the public URL and proxy settings",
    "settings": "Settings: who may sign in with SSO",
    "email": "Email: InvenTree's outgoing mail",
    "check": "Check: prove it works",
}
#: One line per stage for the summary screen: what running it does.
ABOUT = {
    "backends": "Choose providers; adds their allauth modules to social_backends (config).",
    "register": "Step-by-step registration at the provider, with the exact URLs to paste. "
                "Writes nothing.",
    "credentials": "Client id, secret and provider settings: a SocialApp row (database).",
    "callback": "site_url, login_default_protocol and proxy headers (config).",
    "settings": "Who may sign in and sign up with SSO, group sync (database).",
    "email": "The SMTP server InvenTree sends through, with a live test (config).",
    "check": "Runs every available check; writes nothing.",
}
SYMBOL = {"done": "✓", "attention": "!", "todo": "·"}
STYLE = {"done": "$text-success", "attention": "$text-warning", "todo": "$text-muted"}


def render_progress(stage: str, reports: Mapping[str, StageReport] | None) -> Content:
    number = STAGES.index(stage) + 1
    head = Content.from_markup("[b]Stage $n of $total[/b]  $title", n=str(number),
                               total=str(len(STAGES)), title=TITLES[stage])
    items: list[Content] = []
    for name in STAGES:
        report = (reports or {}).get(name)
        state = report.state if report else "todo"
        label = f"{SYMBOL[state]} {name}"
        if name == stage:
            items.append(Content.from_markup("[reverse b] $label [/]", label=label))
        else:
            items.append(Content.from_markup(f"[{STYLE[state]}]$label[/]", label=label))
    return Content("\n").join([head, Content(" ").join(items)])


class StageProgress(Static):
    """Where the admin is in the seven stages."""

    DEFAULT_CSS = """
    StageProgress {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, stage: str, *, id: str | None = None) -> None:
        self.stage = stage
        super().__init__(render_progress(stage, None), id=id)

    def show(self, reports: Mapping[str, StageReport] | None) -> None:
        self.update(render_progress(self.stage, reports))
