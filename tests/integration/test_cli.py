"""The CLI as scripts use it: exit codes, JSON shapes, and every bad input the foundation must
survive with a specific message and nothing changed on disk or in the database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sso_wizard.cli import main

GOOD = "apps: [{provider: github, client_id: a, secret: b}]\nsettings: {LOGIN_ENABLE_SSO: true}\n"


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.output


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(install) -> tuple[str, list, list]:
    return (install.config.read_text(), install.rows("socialaccount_socialapp"),
            install.rows("common_inventreesetting"))


def test_status_json_shape(install):
    code, out = run("--config", str(install.config), "status", "--json")
    assert code == 0
    data = json.loads(out)
    assert isinstance(data["ok"], bool)
    assert list(data["stages"]) == ["backends", "register", "credentials", "callback",
                                    "settings", "email", "check"]
    for stage in data["stages"].values():
        assert stage["state"] in ("done", "attention", "todo")
        for f in stage["findings"]:
            assert set(f) == {"code", "severity", "message", "fix"}
            assert f["severity"] in ("error", "warning", "info")
    assert data["ok"] is False  # site_url missing is an error
    assert "site-url-missing" in [f["code"] for f in data["stages"]["callback"]["findings"]]


def test_status_unreadable_install_exits_2(tmp_path):
    code, out = run("--config", str(tmp_path / "nope.yaml"), "status", "--json")
    assert code == 2
    assert json.loads(out)["ok"] is False


def test_plan_apply_plan_again(install, tmp_path):
    answers = write(tmp_path / "a.yaml", GOOD)
    code, out = run("--config", str(install.config), "plan", str(answers))
    assert code == 0 and "+ SocialApp github" in out and "secret=****" in out
    assert install.rows("socialaccount_socialapp") == []  # plan writes nothing
    code, out = run("--config", str(install.config), "apply", "--yes", str(answers))
    assert code == 0, out
    assert "Applied." in out
    code, out = run("--config", str(install.config), "plan", str(answers))
    assert code == 0 and out.strip() == "No changes."
    code, out = run("--config", str(install.config), "callback", "github")
    assert code == 2 and "site_url is not set" in out


def test_apply_without_terminal_needs_yes(install, tmp_path):
    answers = write(tmp_path / "a.yaml", GOOD)
    before = snapshot(install)
    code, out = run("--config", str(install.config), "apply", str(answers))
    assert code == 2 and "--yes" in out
    assert snapshot(install) == before


def test_callback_lines(install, tmp_path):
    answers = write(tmp_path / "a.yaml",
                    "site_url: https://inv.example.com/\n"
                    "apps:\n - {provider: github, client_id: a, secret: b}\n"
                    " - {provider: openid_connect, provider_id: kc, client_id: x, secret: y, "
                    "settings: {server_url: 'https://sso.example.com/realms/r'}}\n")
    assert run("--config", str(install.config), "apply", "--yes", str(answers))[0] == 0
    code, out = run("--config", str(install.config), "callback", "kc")
    assert (code, out) == (0, "https://inv.example.com/accounts/kc/login/callback/\n")
    code, out = run("--config", str(install.config), "callback")
    assert out.splitlines() == ["github https://inv.example.com/accounts/github/login/callback/",
                                "kc https://inv.example.com/accounts/kc/login/callback/"]
    code, out = run("--config", str(install.config), "callback", "github", "--registered",
                    "https://www.inv.example.com/accounts/github/login/callback")
    assert code == 1
    assert "www." in out and "trailing slash" in out


# -- bad input: a specific message, non-zero exit, nothing changed ---------------------------

BAD_ANSWERS = [
    ("apps: [{provider: github, client_id: a\n", r"line \d+, column \d+"),
    ("apps: [{provider: gihtub, client_id: a, secret: b}]\n", r"Did you mean: github"),
    ("apps: [{provider: keycloak, client_id: a, secret: b}]\n", r"openid_connect"),
    ("apps: [{provider: github, client_id: a, secret: '${NOT_SET_ANYWHERE}'}]\n",
     r"apps\[0\]\.secret: environment variable NOT_SET_ANYWHERE is not set"),
    ("apps: [{provider: github, client_id: a, secret_file: /nonexistent/kc}]\n",
     r"apps\[0\]\.secret_file: /nonexistent/kc: no such file"),
    ("apps: [{provider: openid_connect, provider_id: kc, client_id: a, secret: b, "
     "settings: {server_url: 'sso.example.com'}}]\n",
     r"apps\[0\]\.settings\.server_url: not a URL"),
    ("settings: {LOGIN_SIGNUP_MAIL_RESTRICTION: 'example.com, @b.org'}\n",
     r"settings\.LOGIN_SIGNUP_MAIL_RESTRICTION: invalid domain"),
    ("email: {host: h, port: 465, tls: true, ssl: true, sender: a@b.example}\n",
     r"tls and ssl are both true"),
    ("site_url: \"'https://x.example.com'\"\n", r"site_url: .*quote"),
    ("sitee_url: https://x.example.com\n", r"Did you mean site_url"),
]


@pytest.mark.parametrize(("text", "message"), BAD_ANSWERS)
def test_bad_answers(install, tmp_path, text, message):
    import re
    answers = write(tmp_path / "bad.yaml", text)
    before = snapshot(install)
    code, out = run("--config", str(install.config), "apply", "--yes", str(answers))
    assert code == 2
    assert re.search(message, out), out
    assert "Traceback" not in out
    assert snapshot(install) == before


def test_malformed_config_names_line_and_column(tmp_path):
    config = write(tmp_path / "config.yaml", "database:\n  ENGINE: sqlite3\n bad: [\n")
    answers = write(tmp_path / "a.yaml", GOOD)
    code, out = run("--config", str(config), "apply", "--yes", str(answers))
    assert code == 2
    assert "config.yaml" in out and "line" in out and "column" in out
    assert config.read_text() == "database:\n  ENGINE: sqlite3\n bad: [\n"


@pytest.mark.parametrize("backend", ["postgresql"])
def test_db_unreachable(tmp_path, backend):
    config = write(tmp_path / "config.yaml", "database:\n  ENGINE: postgresql\n  NAME: inv\n"
                   "  USER: postgres\n  PASSWORD: 'hunter2-secret'\n  HOST: 127.0.0.1\n"
                   "  PORT: 1\n")
    answers = write(tmp_path / "a.yaml", GOOD)
    code, out = run("--config", str(config), "apply", "--yes", str(answers))
    assert code == 2
    assert "unreachable" in out and "hunter2-secret" not in out
    assert "--db-url" in out


def test_db_wrong_password(tmp_path, mysql_database):
    import sqlalchemy as sa
    url = sa.make_url(mysql_database)
    config = write(tmp_path / "config.yaml", f"database:\n  ENGINE: mysql\n  NAME: {url.database}\n"
                   f"  USER: sso_wizard_nobody\n  PASSWORD: 'wrong-pw-secret'\n"
                   f"  HOST: {url.host}\n  PORT: {url.port or 3306}\n")
    answers = write(tmp_path / "a.yaml", GOOD)
    code, out = run("--config", str(config), "apply", "--yes", str(answers))
    assert code == 2
    assert "refused the user name or password" in out and "wrong-pw-secret" not in out


def test_db_url_overrides_config(install, tmp_path):
    config = write(tmp_path / "config.yaml", "database:\n  ENGINE: postgresql\n  NAME: x\n"
                   "  HOST: db.internal.invalid\n")
    answers = write(tmp_path / "a.yaml", GOOD)
    code, out = run("--config", str(config), "--db-url", install.db_url, "apply", "--yes",
                    str(answers))
    assert code == 0, out
    assert len(install.rows("socialaccount_socialapp")) == 1


def test_tables_missing(tmp_path):
    import sqlalchemy as sa
    db = tmp_path / "fresh.sqlite3"
    sa.create_engine(f"sqlite:///{db}").connect().close()
    config = write(tmp_path / "config.yaml", f"database:\n  ENGINE: sqlite3\n  NAME: '{db}'\n")
    answers = write(tmp_path / "a.yaml", GOOD)
    code, out = run("--config", str(config), "apply", "--yes", str(answers))
    assert code == 2 and "migrations have not run" in out and "invoke migrate" in out


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root to drop to an unprivileged user")
def test_config_not_writable(tmp_path):
    """A real permission failure: the wizard runs as a user who may read but not write."""
    import tempfile

    import sqlalchemy as sa

    from sso_wizard.core.demo import create_schema
    from tests.conftest import write_source_install
    top = Path(tempfile.mkdtemp(prefix="sso-wizard-ro-", dir="/tmp"))
    try:
        top.chmod(0o755)
        data = top / "data"  # the database may be written (SQLite needs its folder writable)
        data.mkdir(mode=0o777)
        data.chmod(0o777)
        db = data / "inventree.sqlite3"
        engine = sa.create_engine(f"sqlite:///{db}")
        create_schema(engine)
        engine.dispose()
        db.chmod(0o666)
        config = write_source_install(top / "inventree", f"sqlite:///{db}")
        for p in (top / "inventree", config.parent):
            p.chmod(0o755)
        config.chmod(0o644)
        state = top / "state"
        state.mkdir(mode=0o777)
        state.chmod(0o777)
        answers = write(top / "a.yaml", "site_url: https://x.example.com\n" + GOOD)
        answers.chmod(0o644)
        before = config.read_text()
        env = {**os.environ, "SSO_WIZARD_STATE_DIR": str(state), "HOME": str(state)}
        proc = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             sys.executable, "-m", "sso_wizard", "--config", str(config), "apply", "--yes",
             str(answers)], capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode in (1, 2), proc.stdout + proc.stderr
        assert str(config) in proc.stderr or str(config.parent) in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.count("Nothing was changed") == 1
        assert config.read_text() == before
        assert list(config.parent.iterdir()) == [config]  # no temp file or backup left
        with sa.create_engine(f"sqlite:///{db}").connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM socialaccount_socialapp")
                                ).scalar() == 0
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_help_and_module_entry():
    proc = subprocess.run([sys.executable, "-m", "sso_wizard", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    for command in ("status", "plan", "apply", "callback", "undo", "demo"):
        assert command in proc.stdout


def test_startup_imports_nothing_heavy():
    code = ("import sys; import sso_wizard.cli; "
            "heavy = [m for m in ('textual', 'sqlalchemy', 'authlib', 'httpx', 'aiosmtplib', "
            "'yaml') if m in sys.modules]; print(heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.strip() == "[]"


def test_demo_then_apply_example(tmp_path):
    code, out = run("demo", str(tmp_path / "sandbox"))
    assert code == 0, out
    assert "config.yaml" in out and "backends" in out
    config = tmp_path / "sandbox" / "config.yaml"
    answers = tmp_path / "sandbox" / "answers.yaml"
    code, out = run("--config", str(config), "apply", "--yes", str(answers))
    assert code == 0, out
    code, out = run("--config", str(config), "status", "--json")
    data = json.loads(out)
    assert data["stages"]["credentials"]["state"] == "done"
    assert "demo-github-secret" not in out
