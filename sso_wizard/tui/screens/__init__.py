"""The wizard's screens: the summary, one step screen per stage, and the confirmations."""

from __future__ import annotations

from sso_wizard.tui.screens.backends import BackendsScreen
from sso_wizard.tui.screens.base import StepScreen
from sso_wizard.tui.screens.callback import CallbackScreen
from sso_wizard.tui.screens.check import CheckScreen
from sso_wizard.tui.screens.confirm import ConfirmScreen
from sso_wizard.tui.screens.credentials import CredentialsScreen
from sso_wizard.tui.screens.email import EmailScreen
from sso_wizard.tui.screens.register import RegisterScreen
from sso_wizard.tui.screens.settings import SettingsScreen
from sso_wizard.tui.screens.summary import SummaryScreen

SCREENS_BY_STAGE: dict[str, type[StepScreen]] = {
    "backends": BackendsScreen,
    "register": RegisterScreen,
    "credentials": CredentialsScreen,
    "callback": CallbackScreen,
    "settings": SettingsScreen,
    "email": EmailScreen,
    "check": CheckScreen,
}


def stage_screen(stage: str) -> StepScreen:
    return SCREENS_BY_STAGE[stage]()


__all__ = ["SCREENS_BY_STAGE", "ConfirmScreen", "StepScreen", "SummaryScreen", "stage_screen"]
