"""Textual validators built on `sso_wizard.core.validators`.

Each wraps a core `*_problem` function, so an input refuses exactly what the answers file
refuses, with the same words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from textual.validation import ValidationResult, Validator

from sso_wizard.core import validators as core

Problem = Callable[[str], str | None]

#: The answers file's rule for an OpenID Connect app's provider_id (its words, too).
_SLUG = re.compile(r"[A-Za-z0-9_\-]+")
SLUG_PROBLEM = ("required for openid_connect: the slug used in the callback URL, letters, digits, "
                "- and _ only (e.g. keycloak)")


class CoreRule(Validator):
    """A validator that asks a core problem function; empty passes when `optional`."""

    def __init__(self, problem: Problem, *, optional: bool = False) -> None:
        super().__init__()
        self.problem = problem
        self.optional = optional

    def validate(self, value: str) -> ValidationResult:
        if self.optional and not value.strip():
            return self.success()
        found = self.problem(value)
        return self.failure(found, value) if found else self.success()


def _port(value: str) -> str | None:
    text = value.strip()
    return core.port_problem(int(text) if text.isdigit() else text)


def _slug(value: str) -> str | None:
    return None if _SLUG.fullmatch(value) else SLUG_PROBLEM


def _not_empty(value: str) -> str | None:
    return None if value.strip() else "is empty"


def _no_outer_space(value: str) -> str | None:
    if value != value.strip():
        return "has leading or trailing whitespace (a copy-paste slip?)"
    return None


def site_url(*, optional: bool = False) -> CoreRule:
    return CoreRule(core.site_url_problem, optional=optional)


def url(*, optional: bool = True) -> CoreRule:
    return CoreRule(core.url_problem, optional=optional)


def email(*, optional: bool = False) -> CoreRule:
    return CoreRule(core.email_problem, optional=optional)


def mail_restriction() -> CoreRule:
    return CoreRule(core.mail_restriction_problem, optional=True)


def port() -> CoreRule:
    return CoreRule(_port)


def max_length(limit: int) -> CoreRule:
    return CoreRule(lambda v: core.length_problem(v, limit), optional=True)


def json_object() -> CoreRule:
    return CoreRule(core.json_object_problem, optional=True)


def slug() -> CoreRule:
    return CoreRule(_slug)


def required() -> CoreRule:
    return CoreRule(_not_empty)


def secret_text() -> CoreRule:
    """A pasted secret: no stray whitespace (the answers file's rule)."""
    return CoreRule(_no_outer_space, optional=True)
