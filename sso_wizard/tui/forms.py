"""From what the admin typed to an `Answers` object, through the answers file's own parser.

The screens build the same plain data an answers file holds and hand it to `Answers.parse`, so a
value typed on screen is checked by exactly the rules (and words) a headless run uses. The data
travels as JSON (valid YAML); `${` is escaped so a typed secret is never expanded as a variable.
"""

from __future__ import annotations

import json
from typing import Any

from sso_wizard.core.answers import Answers


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def answers_from(data: dict[str, Any]) -> Answers:
    """Parse form data as an answers file would be parsed; raises AnswersError."""
    text = json.dumps(_escape(data), ensure_ascii=False)
    return Answers.parse(text, source="form", environ={})


def split_problem(problem: str) -> tuple[str, str]:
    """'apps[0].secret: is empty' -> ('apps[0].secret', 'is empty')."""
    place, sep, message = problem.partition(": ")
    return (place, message) if sep else ("", problem)
