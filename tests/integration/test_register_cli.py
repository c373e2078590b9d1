"""`sso-wizard register`: the guide with the exact values, the OSC 52 copy, and the issuer check
against a real OpenID Connect provider on loopback."""

from __future__ import annotations

import base64

from click.testing import CliRunner

from sso_wizard.cli import main
from tests.integration.oidc_servers import run_oidc_provider


def config_with_site(tmp_path, site="https://inv.example.com"):
    config = tmp_path / "config.yaml"
    config.write_text(f"site_url: {site}\nlogin_default_protocol: https\n")
    return config


def test_guide_has_the_values_to_paste(tmp_path):
    config = config_with_site(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config), "register", "microsoft",
                                       "--setting", "tenant=contoso.onmicrosoft.com"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "https://inv.example.com/accounts/microsoft/login/callback/" in out
    assert "contoso.onmicrosoft.com" in out
    assert "1. " in out and "2. " in out
    assert "Value" in out  # the secret ID vs secret value trap


def test_copy_emits_osc52(tmp_path):
    config = config_with_site(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config), "register", "github", "--copy"],
                                env={"TMUX": ""})
    assert result.exit_code == 0
    url = "https://inv.example.com/accounts/github/login/callback/"
    assert base64.b64encode(url.encode()).decode() in result.output
    assert "\x1b]52;" in result.output


def test_unknown_provider_lists_known(tmp_path):
    config = config_with_site(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config), "register", "gitlba"])
    assert result.exit_code == 2
    assert "Did you mean: gitlab" in result.output and "keycloak" in result.output


def test_register_needs_site_url(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("debug: False\n")
    result = CliRunner().invoke(main, ["--config", str(config), "register", "google"])
    assert result.exit_code == 2 and "site_url is not set" in result.output


def test_check_issuer_against_local_provider(tmp_path):
    config = config_with_site(tmp_path)
    with run_oidc_provider() as idp:
        ok = CliRunner().invoke(main, ["--config", str(config), "register", "keycloak",
                                       "--setting", f"server_url={idp.issuer}",
                                       "--check-issuer"])
        assert ok.exit_code == 0, ok.output
        assert "Discovery" in ok.output
        slash = CliRunner().invoke(main, ["--config", str(config), "register", "keycloak",
                                          "--setting", f"server_url={idp.issuer}/",
                                          "--check-issuer"])
        assert "//.well-known" in slash.output or "trailing" in slash.output.lower()
