"""Helpers for driving the wizard with Pilot."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Static


async def settle(pilot: Pilot[Any]) -> None:
    """Let messages, workers and the workers they start finish."""
    await pilot.pause()
    for _ in range(10):
        if all(worker.is_finished for worker in pilot.app.workers):
            break
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def type_into(pilot: Pilot[Any], selector: str, text: str) -> None:
    """Focus an input, clear it and type `text` key by key (as a person would)."""
    control = pilot.app.screen.query_one(selector, Input)
    control.focus()
    await pilot.pause()
    control.value = ""
    if text:
        await pilot.press(*text)
    await pilot.pause()


async def paste_into(pilot: Pilot[Any], selector: str, text: str) -> None:
    """Focus an input, clear it and paste `text` (how URLs and secrets usually arrive)."""
    control = pilot.app.screen.query_one(selector, Input)
    control.focus()
    await pilot.pause()
    control.value = ""
    if text:
        control.post_message(events.Paste(text))
    await pilot.pause()


def text_of(pilot: Pilot[Any], selector: str) -> str:
    """The plain text a Static (or subclass) shows."""
    widget = pilot.app.screen.query_one(selector, Static)
    return str(widget.render())


def problem_of(pilot: Pilot[Any], field_id: str) -> str:
    return text_of(pilot, f"#{field_id} > .field-problem")


def screen_svg(pilot: Pilot[Any]) -> str:
    return pilot.app.export_screenshot()
