"""Registration guides rendered with real values; the OSC 52 clipboard helper."""

from __future__ import annotations

import base64
import io
from types import SimpleNamespace
from typing import Any

import pytest

from sso_wizard.core import clipboard
from sso_wizard.core.providers import get_provider, load_catalogue
from sso_wizard.core.stages import register

SITE = "https://inventree.example.com"


def cb(slug: str) -> str:
    return f"{SITE}/accounts/{slug}/login/callback/"


def guide(pid: str, **settings: str) -> register.RegisterGuide:
    return register.register_instructions(get_provider(pid), callback_url=cb(pid),
                                          homepage_url=SITE, settings=settings)


@pytest.mark.parametrize("pid", list(load_catalogue()))
def test_every_provider_renders_with_exact_values(pid: str) -> None:
    settings = {"server_url": "https://sso.example.com/realms/inv"} if get_provider(
        pid).is_oidc else {}
    g = guide(pid, **settings)
    text = "\n".join(g.to_text())
    assert cb(pid) in text and g.callback_url == cb(pid)
    assert "{" not in text  # every placeholder filled (or shown as <NAME>)
    assert text.splitlines()[0] == f"Register InvenTree at {get_provider(pid).name}"
    assert [line for line in g.to_text() if line.startswith("1. ")]
    assert ("Callback URL", cb(pid)) in g.paste
    assert g.unfilled == ()


def test_github_steps() -> None:
    g = guide("github")
    lines = g.to_text()
    assert "Where: https://github.com/settings/applications/new" in lines
    assert "2. Application name: InvenTree" in lines
    assert f"3. Homepage URL: {SITE}" in lines
    assert f"4. Authorization callback URL: {cb('github')}" in lines
    assert any("ONE" in g.callback_rules for _ in [0])
    assert "  Scopes:       user:email" in lines
    assert lines[-1] == "Bring back to the wizard: Client ID, Client secret (secret)"


def test_microsoft_tenant_and_secret_value_trap() -> None:
    g = guide("microsoft", tenant="contoso.onmicrosoft.com")
    text = "\n".join(g.to_text())
    assert f'Redirect URI: platform "Web", value {cb("microsoft")}' in text
    assert "currently contoso.onmicrosoft.com" in text
    assert "  Tenant:       contoso.onmicrosoft.com" in g.to_text()
    assert any("not its Secret ID" in t for t in g.traps)
    assert [f.name for f in g.bring_back] == ["client_id", "secret"]
    # no tenant given: allauth's default fills the text, and the wizard still asks for it
    plain = guide("microsoft")
    assert "currently common" in "\n".join(plain.to_text())
    assert [f.name for f in plain.bring_back] == ["client_id", "secret", "tenant"]


def test_gitlab_self_hosted_console_url() -> None:
    g = guide("gitlab", gitlab_url="https://git.example.com/")
    assert g.console_url == "https://git.example.com/-/user_settings/applications"
    assert guide("gitlab").console_url == "https://gitlab.com/-/user_settings/applications"


def test_keycloak_console_from_realm_url() -> None:
    g = guide("keycloak", server_url="https://sso.example.com/realms/Inv")
    assert g.console_url == "https://sso.example.com/admin/master/console/#/Inv/clients/add-client"
    text = "\n".join(g.to_text())
    assert f"Valid redirect URIs: {cb('keycloak')}" in text
    assert "  Realm URL:    https://sso.example.com/realms/Inv" in g.to_text()


def test_unknown_values_are_visible_blanks() -> None:
    g = guide("keycloak")
    assert g.unfilled == ("server_origin", "realm")
    assert g.console_url == "<SERVER_ORIGIN>/admin/master/console/#/<REALM>/clients/add-client"
    assert [f.name for f in g.bring_back] == ["client_id", "secret", "server_url"]


def test_authelia_multiline_step_is_indented() -> None:
    lines = guide("authelia").to_text()
    i = next(n for n, line in enumerate(lines) if line.startswith("2. "))
    assert lines[i + 1] == "     - client_id: inventree"
    assert f"       redirect_uris: ['{cb('authelia')}']" in lines
    assert "       scopes: [openid, profile, email]" in lines


def test_custom_app_name_and_unguided_provider() -> None:
    g = register.register_instructions(get_provider("discord"), callback_url=cb("discord"),
                                       homepage_url=SITE, app_name="Parts DB")
    assert g.to_text()[0] == "Register Parts DB at discord"
    assert any("no guide" in t for t in g.traps)
    with pytest.raises(ValueError):
        register.register_instructions(get_provider("google"), callback_url=" ",
                                       homepage_url=SITE)


def _snap(apps: list[Any], site: str = SITE) -> Any:
    return SimpleNamespace(instance=SimpleNamespace(site_url=site), apps=apps)


def test_inspect_and_state() -> None:
    empty = _snap([])
    findings = register.inspect(empty)
    assert [f.code for f in findings] == ["register-todo"]
    assert register.state(empty, findings) == "todo"
    apps = [SimpleNamespace(provider="openid_connect", slug="keycloak", name="Keycloak"),
            SimpleNamespace(provider="github", slug="github", name="GitHub"),
            SimpleNamespace(provider="discord", slug="discord", name="")]
    snap = _snap(apps)
    findings = register.inspect(snap)
    msgs = [f.message for f in findings if f.code == "register-redirect-uri"]
    assert msgs[0].endswith(f"at Keycloak must be exactly {cb('keycloak')}")
    assert "GitHub (https://github.com/settings/applications/new)" in msgs[1]
    assert [f.code for f in findings].count("register-no-guide") == 1
    assert register.state(snap, findings) == "done"


# ---------------------------------------------------------------------------------------------
# clipboard (OSC 52): the register screen copies the callback URL to the admin's machine


def test_osc52_plain() -> None:
    seq = clipboard.osc52(cb("github"))
    assert seq.startswith("\x1b]52;c;") and seq.endswith("\x07")
    assert base64.b64decode(seq[7:-1]).decode() == cb("github")


def test_osc52_tmux_doubles_escape() -> None:
    seq = clipboard.osc52("héllo", "tmux")
    assert seq == "\x1bPtmux;\x1b\x1b]52;c;" + base64.b64encode("héllo".encode()).decode() + (
        "\x07\x1b\\")


def test_osc52_screen_chunks() -> None:
    text = "x" * 300
    seq = clipboard.osc52(text, "screen")
    assert seq.startswith("\x1bP\x1b]52;c;") and seq.endswith("\x07\x1b\\")
    parts = seq[len("\x1bP\x1b]52;c;"):-len("\x07\x1b\\")].split("\x1b\\\x1bP")
    assert all(len(p) <= 76 for p in parts) and len(parts) == 6
    assert base64.b64decode("".join(parts)).decode() == text


def test_osc52_limits() -> None:
    with pytest.raises(ValueError):
        clipboard.osc52("x" * 200_000)
    with pytest.raises(ValueError):
        clipboard.osc52("x", "zellij")  # type: ignore[arg-type]


@pytest.mark.parametrize(("env", "expected"), [
    ({"TMUX": "/tmp/tmux-0/default,1,0", "TERM": "screen-256color"}, "tmux"),
    ({"STY": "1234.pts-0.host"}, "screen"),
    ({"TERM": "screen.xterm-256color"}, "screen"),
    ({"TERM": "xterm-256color"}, None),
    ({}, None),
])
def test_detect_multiplexer(env: dict[str, str], expected: str | None) -> None:
    assert clipboard.detect_multiplexer(env) == expected


def test_copy_writes_wrapped_sequence() -> None:
    out = io.StringIO()
    clipboard.copy("u", out, {"TMUX": "x"})
    assert out.getvalue().startswith("\x1bPtmux;")
