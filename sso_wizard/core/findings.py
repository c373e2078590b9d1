"""A finding: one thing a stage or a check found, in plain words, with the fix.

The same shape serves `status --json`, every `check --json`, and the TUI's finding lists.
Messages never carry secrets: build them from masked values only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    code: str  # stable, kebab-case identifier scripts can match on
    severity: Severity
    message: str  # what is wrong, in plain words
    fix: str = ""  # how to fix it ("" when nothing needs doing)

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "fix": self.fix}


def error(code: str, message: str, fix: str = "") -> Finding:
    return Finding(code, "error", message, fix)


def warning(code: str, message: str, fix: str = "") -> Finding:
    return Finding(code, "warning", message, fix)


def info(code: str, message: str, fix: str = "") -> Finding:
    return Finding(code, "info", message, fix)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def mask_secret(value: str | None) -> str:
    """Show that a secret is set without revealing it (length hint only for long values)."""
    if not value:
        return "(empty)"
    return "****" if len(value) < 12 else f"****({len(value)} chars)"
