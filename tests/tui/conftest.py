"""Fixtures for the TUI tests: a demo InvenTree install (config.yaml + SQLite) per test.

The root conftest already isolates the environment (no INVENTREE_*, state dir under tmp_path).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sso_wizard.core.demo import Sandbox, create_demo
from sso_wizard.core.instance import Instance
from sso_wizard.tui.app import SsoWizardApp


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return create_demo(tmp_path / "demo")


@pytest.fixture
def make_app(sandbox: Sandbox) -> Callable[..., SsoWizardApp]:
    def make(**kwargs: Any) -> SsoWizardApp:
        kwargs.setdefault("environ", {})
        return SsoWizardApp(str(sandbox.config), cursor_blink=False, **kwargs)
    return make


@pytest.fixture
def read_install(sandbox: Sandbox) -> Callable[[], Instance]:
    """The install as core reads it now (after the TUI wrote to it)."""
    def read() -> Instance:
        return Instance.load(sandbox.config, environ={})
    return read
