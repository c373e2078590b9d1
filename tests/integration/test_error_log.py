"""`sso-wizard check errors`: failed SSO logins explained from InvenTree's error log, on SQLite,
PostgreSQL and MariaDB — in plain words with the fix, never a stack trace or a secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from oauth_servers import Site, free_port

from sso_wizard.cli import main
from sso_wizard.core.checks.errors import explain, parse_since, redact

SECRET = "gh-secret-0123456789abcdef"
TRACE = ("Traceback (most recent call last):\n  File \"/home/inventree/src/backend/x.py\", "
         "line 1, in get_access_token\nOAuth2Error: boom")


def run_cli(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, result.output


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@pytest.fixture
def site(install: Any) -> Site:
    site = Site.from_install(install, "https://inventree.example.com")
    site.add_app("github", "Iv1.0123456789abcdef", SECRET, name="GitHub")
    t = now()
    cb = "auth:/accounts/github/login/callback/"
    site.log_error("unknown", "Error retrieving access token: b'{\"error\":\"invalid_client\","
                   f"\"error_description\":\"bad\"}}' client_secret={SECRET}", cb,
                   t - timedelta(hours=1), data=TRACE)
    site.log_error("unknown", "Error retrieving access token: b'error=incorrect_client_"
                   "credentials'", cb, t - timedelta(minutes=30), data=TRACE)
    site.log_error("ImproperlyConfigured", "ImproperlyConfigured: unknown provider: keycloak",
                   "auth:/accounts/keycloak/login/", t - timedelta(hours=2))
    site.log_error("MultipleObjectsReturned", "MultipleObjectsReturned: get() returned more "
                   "than one SocialApp", "auth:/accounts/github/login/", t - timedelta(hours=3))
    site.log_error("signup_closed", "", "auth:/accounts/github/login/callback/",
                   t - timedelta(hours=4))
    site.log_error("ValueError", "some unrelated part error", "/api/part/", t - timedelta(hours=1))
    site.log_error("unknown", "invalid_client", cb, t - timedelta(days=30))
    return site


def test_check_errors_explains_recent_failures(site: Site) -> None:
    code, data = run_cli("--config", str(site.config), "check", "errors", "--json")
    assert code == 0, data  # past failures are warnings: the log was read fine
    assert data["ok"] is True and data["count"] == 5  # the part error and the old one excluded
    failures = {(f["code"], f["slug"]): f for f in data["failures"]}
    secret = failures[("secret-wrong", "github")]
    assert secret["count"] == 2
    assert "secret" in secret["message"] and "stage credentials" in secret["fix"]
    assert ("backend-missing", "keycloak") in failures
    assert "social_backends" in failures[("backend-missing", "keycloak")]["fix"]
    assert ("app-defined-twice", "github") in failures
    assert ("signup-closed", "github") in failures
    found = {f["code"]: f["severity"] for f in data["findings"]}
    assert found["sso-failure-secret-wrong"] == "warning"
    text = json.dumps(data)
    assert SECRET not in text  # masked even where the log quoted it
    assert "Traceback" not in text and "x.py" not in text  # no stack traces


def test_check_errors_since(site: Site) -> None:
    code, data = run_cli("--config", str(site.config), "check", "errors", "--since", "90m",
                         "--json")
    assert code == 0 and data["count"] == 2
    old = (now() - timedelta(days=60)).date().isoformat()
    code, data = run_cli("--config", str(site.config), "check", "errors", "--since", old,
                         "--json")
    assert data["count"] == 6
    code, data = run_cli("--config", str(site.config), "check", "errors", "--since",
                         "yesterday-ish", "--json")
    assert code == 2 and data["findings"][0]["code"] == "bad-since"


def test_check_errors_text(site: Site) -> None:
    result = CliRunner().invoke(main, ["--config", str(site.config), "check", "errors"])
    assert result.exit_code == 0, result.output
    assert "github:" in result.output and "fix:" in result.output
    assert SECRET not in result.output and "Traceback" not in result.output


def test_no_failures(tmp_path: Any) -> None:
    site = Site.sqlite(tmp_path / "clean", "https://inventree.example.com")
    code, data = run_cli("--config", str(site.config), "check", "errors", "--json")
    assert code == 0 and data["failures"] == []
    assert data["findings"][0]["code"] == "errors-none"


@pytest.mark.parametrize("kind,text,code", [
    ("unknown", "OAuth2Error: Error retrieving access token: b'{\"error\":\"invalid_client\","
     "\"error_description\":\"AADSTS7000215: Invalid client secret provided. Ensure the secret "
     "being sent in the request is the client secret value, not the client secret ID\"}'",
     "secret-wrong"),
    ("unknown", "AADSTS7000222: The provided client secret keys are expired", "secret-expired"),
    ("unknown", "Error retrieving access token: redirect_uri_mismatch", "redirect-mismatch"),
    ("unknown", "Error retrieving access token: b'error=bad_verification_code'",
     "code-rejected"),
    ("unknown", "OAuth2Error: Invalid id_token", "id-token-invalid"),
    ("cancelled", "", "cancelled"),
    ("unknown", "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED]"
     "certificate verify failed'))", "tls"),
    ("unknown", "ConnectionError: Max retries exceeded with url: /token", "provider-unreachable"),
    ("weird", "something nobody has seen", "unrecognised"),
])
def test_explanations(kind: str, text: str, code: str) -> None:
    got, message, fix, slug = explain(kind, text, "auth:/accounts/microsoft/login/callback/")
    assert got == code
    assert slug == "microsoft" and message and fix


def test_redact_and_parse_since() -> None:
    text = redact("token=abc123secret code=xyz eyJhbGciOi.eyJzdWIiOiIx.sig Bearer abcdefghij",
                  ["abc123secret"])
    assert "abc123secret" not in text and "xyz" not in text and "eyJ" not in text
    assert "Bearer ****" in text
    ref = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
    assert parse_since("24h", ref) == datetime(2025, 6, 9, 12, 0)
    assert parse_since("7d", ref) == datetime(2025, 6, 3, 12, 0)
    assert parse_since("2025-06-01", ref) == datetime(2025, 6, 1)
    assert parse_since("2025-06-01T08:00:00+02:00", ref) == datetime(2025, 6, 1, 6, 0)
    with pytest.raises(ValueError):
        parse_since("soon", ref)


def test_check_all_warnings_do_not_fail_errors_do(tmp_path: Any) -> None:
    """`check all`: recent failures are warnings (exit 0); a broken config is an error."""
    site = Site.sqlite(tmp_path / "all", f"http://127.0.0.1:{free_port()}")
    site.log_error("signup_closed", "", "auth:/accounts/github/login/callback/", now())
    code, data = run_cli("--config", str(site.config), "check", "all", "--json",
                         "--timeout", "2")
    assert isinstance(data, dict), data
    checks = {f["check"] for f in data["findings"]}
    assert {"errors", "email", "server", "providers"} <= checks
    errors = [f for f in data["findings"] if f["severity"] == "error"]
    assert errors == [] and code == 0 and data["ok"] is True
    assert any(f["code"] == "sso-failure-signup-closed" and f["severity"] == "warning"
               for f in data["findings"])
    # a wrong value in the config (site_url invalid) is an error and fails it
    site.add_config("login_default_protocol: https")  # http site forced to https callbacks
    site.add_app("github", "Iv1.x", "", name="GitHub")  # and an app without a secret
    code, data = run_cli("--config", str(site.config), "check", "all", "--json",
                         "--timeout", "2")
    assert code == 1 and data["ok"] is False
    assert any(f["code"] == "probe-missing-credentials" for f in data["findings"])
