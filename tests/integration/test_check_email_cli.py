"""`sso-wizard check email` end to end: settings written by `apply`, read back from the install,
checked against a real SMTP server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import trustme
from click.testing import CliRunner

from sso_wizard.cli import main
from tests.integration.smtp_servers import run_smtp_server, trustme_server_context, write_ca

PASSWORD = "sm:tp#pa'ss\"{"


def apply_email(config: Path, tmp_path: Path, host: str, port: int, **extra: object) -> None:
    answers = tmp_path / "email.yaml"
    fields = {"host": host, "port": port, "tls": True, "username": "inventree",
              "password": PASSWORD, "sender": "inventree@example.com", "prefix": "[Inv] ",
              **extra}
    answers.write_text("email: " + json.dumps(fields) + "\n")
    result = CliRunner().invoke(main, ["--config", str(config), "apply", "--yes", str(answers)])
    assert result.exit_code == 0, result.output


def test_check_email_sends_through_starttls(tmp_path, install):
    ca = trustme.CA()
    ca_file = write_ca(ca, tmp_path)
    with run_smtp_server(starttls=trustme_server_context(ca, "127.0.0.1"),
                         users={"inventree": PASSWORD}) as server:
        apply_email(install.config, tmp_path, server.host, server.port)
        result = CliRunner().invoke(main, [
            "--config", str(install.config), "check", "email", "--send-to",
            "admin@example.com", "--ca-file", ca_file, "--verbose", "--timeout", "5"])
        assert result.exit_code == 0, result.output
        assert "The email settings work" in result.output
        assert "TLS started" in result.output or "TLS" in result.output
        assert PASSWORD not in result.output
        [message] = server.handler.messages
        assert message.subject.startswith("[Inv] ")
        assert message.mail_from == "inventree@example.com"
        assert message.rcpt_tos == ["admin@example.com"]


def test_check_email_json_reports_wrong_password(tmp_path, install):
    ca = trustme.CA()
    ca_file = write_ca(ca, tmp_path)
    with run_smtp_server(starttls=trustme_server_context(ca, "127.0.0.1"),
                         users={"inventree": "another-password"}) as server:
        apply_email(install.config, tmp_path, server.host, server.port)
        result = CliRunner().invoke(main, [
            "--config", str(install.config), "check", "email", "--json", "--ca-file", ca_file,
            "--timeout", "5"])
        assert result.exit_code == 1
        data = json.loads(result.output)
        assert data["ok"] is False
        assert "smtp-auth-failed" in [f["code"] for f in data["findings"]]
        assert PASSWORD not in result.output


def test_check_email_without_email_configured(install):
    result = CliRunner().invoke(main, ["--config", str(install.config), "check", "email",
                                       "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["findings"][0]["code"] == "email-not-configured"
