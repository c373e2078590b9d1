"""Messages the wizard's workers post back to the screens (past tense: they report what happened).

Objects that may hold secrets (plans, answers) are excluded from the dataclass repr so a
message logged by Textual's devtools never shows one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from sso_wizard.core.checks.discovery import DiscoveryResult
    from sso_wizard.core.checks.oauth import Attempt
    from sso_wizard.core.checks.smtp import SmtpCheckResult
    from sso_wizard.core.checks.verdict import ProviderReport
    from sso_wizard.core.findings import Finding
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.plan import Plan
    from sso_wizard.core.stages import Snapshot, StageReport


@dataclass
class StatusLoaded(Message):
    """The install was (re)read: instance, database snapshot and every stage's report."""

    instance: Instance | None = field(repr=False)
    snapshot: Snapshot | None = field(repr=False)
    reports: dict[str, StageReport]
    error: str | None = None
    db_description: str = ""  # the database URL without its password


@dataclass
class PlanMade(Message):
    """A stage's answers were planned (nothing written yet)."""

    stage: str
    plan: Plan = field(repr=False)
    advance: bool = False


@dataclass
class PlanFailed(Message):
    """Planning failed (the database could not be read, the answers were refused, ...)."""

    stage: str
    problems: list[str]


@dataclass
class StageApplied(Message):
    """A stage's plan was applied; `summary` says what was written where."""

    stage: str
    summary: list[str]
    advance: bool = False


@dataclass
class ApplyFailed(Message):
    """Applying failed and everything was rolled back."""

    stage: str
    message: str


@dataclass
class IssuerChecked(Message):
    """The OpenID Connect discovery check for an issuer finished."""

    result: DiscoveryResult


@dataclass
class SmtpChecked(Message):
    """The SMTP check finished (steps, findings, transcript; the password is never in it)."""

    result: SmtpCheckResult


@dataclass
class CheckFinished(Message):
    """One check of the check stage finished."""

    name: str
    title: str
    findings: list[Finding]
    lines: list[str] = field(default_factory=list)


@dataclass
class CredentialsProbed(Message):
    """One app's setup (discovery, JWKS) and credential probe finished (no user needed)."""

    slug: str
    report: ProviderReport = field(repr=False)  # holds the app row, and so its secret


@dataclass
class SignInStarted(Message):
    """A round trip was started: its authorize URL is ready for the admin's browser.

    `listening` names the address the wizard serves the callback on ("" when it cannot, and
    `why_not_listening` says why).
    """

    slug: str
    authorize_url: str
    redirect_uri: str
    listening: str
    why_not_listening: str
    report: ProviderReport = field(repr=False)
    attempt: Attempt = field(repr=False)  # state, nonce and PKCE verifier
    instance: Instance = field(repr=False)  # the install as read for this attempt
    snapshot: Snapshot = field(repr=False)


@dataclass
class SignInChecked(Message):
    """A round trip ended (passed, failed or still pending): probe, round trip, server
    cross-check and the honest verdict are in the report."""

    slug: str
    report: ProviderReport = field(repr=False)


@dataclass
class ProviderCheckFailed(Message):
    """A provider check could not run at all (the install or its database was unreadable)."""

    slug: str
    message: str


@dataclass
class UndoFinished(Message):
    """The last apply was undone (or could not be)."""

    messages: list[str]
    error: str | None = None
