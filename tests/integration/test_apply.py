"""plan → apply → undo on real databases (SQLite, PostgreSQL, MariaDB), through the core API."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from sso_wizard.core import plan as planmod
from sso_wizard.core import state
from sso_wizard.core.answers import Answers
from sso_wizard.core.demo import EXAMPLE_ANSWERS
from sso_wizard.core.plan import ApplyError, apply_plan, undo_last_apply
from sso_wizard.core.stages import Snapshot, plan_answers, status

EXAMPLE = EXAMPLE_ANSWERS
GITHUB_SECRET = "gh-s3cret: #'\"{ value"
KC_SECRET = "kc-sécret-ünïcode-∑"
SMTP_PASSWORD = "p@ss: word # with 'quotes' and \"more\" {braces}"


def example_answers(tmp_path: Path, text: str = EXAMPLE) -> Answers:
    (tmp_path / "kc-secret").write_text(KC_SECRET + "\n", encoding="utf-8")
    env = {"GITHUB_SECRET": GITHUB_SECRET, "SMTP_PASSWORD": SMTP_PASSWORD}
    return Answers.parse(text, base_dir=tmp_path, environ=env)


def test_full_apply_writes_config_and_rows(install, tmp_path):
    inst = install.instance()
    before_text = install.config.read_text()
    plan = plan_answers(inst, example_answers(tmp_path))
    assert not plan.has_errors, plan.render()
    shown = plan.render()
    for secret in (GITHUB_SECRET, KC_SECRET, SMTP_PASSWORD):
        assert secret not in shown
    result = apply_plan(plan)

    data = yaml.safe_load(install.config.read_text())
    assert data["site_url"] == "https://inventree.example.com"
    assert data["login_default_protocol"] == "https"
    assert data["social_backends"] == ["allauth.socialaccount.providers.github",
                                       "allauth.socialaccount.providers.openid_connect"]
    assert data["social_providers"] == {"github": {"VERIFIED_EMAIL": True}}
    assert data["email"]["password"] == SMTP_PASSWORD
    assert data["email"]["tls"] is True and "ssl" not in data["email"]

    apps = {r["provider_id"] or r["provider"]: r for r in install.rows("socialaccount_socialapp")}
    assert set(apps) == {"github", "keycloak"}
    assert apps["github"]["secret"] == GITHUB_SECRET
    assert apps["keycloak"]["secret"] == KC_SECRET
    assert apps["keycloak"]["provider"] == "openid_connect"
    settings = apps["keycloak"]["settings"]
    settings = json.loads(settings) if isinstance(settings, str) else settings
    assert settings == {"server_url": "https://sso.example.com/realms/main"}
    rows = {r["key"]: r["value"] for r in install.rows("common_inventreesetting")}
    assert rows == {"LOGIN_ENABLE_SSO": "True", "LOGIN_ENABLE_SSO_REG": "True",
                    "LOGIN_SIGNUP_SSO_AUTO": "True",
                    "LOGIN_SIGNUP_MAIL_RESTRICTION": "@example.com"}

    # Backup beside the config, owner-only, holding the previous text.
    assert result.config_backup is not None
    assert result.config_backup.read_text() == before_text
    assert stat.S_IMODE(result.config_backup.stat().st_mode) == 0o600
    # Outside the edited keys, every line of the admin's file survives.
    new_lines = install.config.read_text().splitlines()
    for line in before_text.splitlines():
        if line.startswith(("login_default_protocol:",)):
            continue
        assert line in new_lines
    # The undo record holds secrets: owner-only.
    record = state.undo_record_path(install.config)
    assert stat.S_IMODE(record.stat().st_mode) == 0o600


def test_second_apply_plans_no_change(install, tmp_path):
    apply_plan(plan_answers(install.instance(), example_answers(tmp_path)))
    again = plan_answers(install.instance(), example_answers(tmp_path))
    assert again.empty, again.render()
    assert again.render().startswith("No changes.")


def test_status_after_apply_is_green_except_check(install, tmp_path):
    apply_plan(plan_answers(install.instance(), example_answers(tmp_path)))
    inst = install.instance()
    reports = status(inst, Snapshot.read(inst))
    states = {name: r.state for name, r in reports.items()}
    assert states["backends"] == "done"
    assert states["credentials"] == "done"
    assert states["email"] == "done"
    errors = [f for r in reports.values() for f in r.findings if f.severity == "error"]
    assert errors == []
    # The example's domain restriction with SSO auto sign-up earns the one warning the
    # conformance suite proved necessary (allauth signs the refused address up without email).
    warnings = [f.code for f in reports["settings"].findings if f.severity == "warning"]
    assert warnings == ["mail-restriction-sso-auto"]


def test_undo_restores_file_and_rows(install, tmp_path):
    # Start with one existing app and a setting, so undo must restore, not just delete.
    apply_plan(plan_answers(install.instance(), Answers.parse(
        "apps: [{provider: github, client_id: old-id, secret: old-secret}]\n"
        "settings: {LOGIN_ENABLE_SSO: false}\n")))
    state.drop_undo_record(install.config)
    text_before = install.config.read_text()
    apps_before = install.rows("socialaccount_socialapp")
    settings_before = install.rows("common_inventreesetting")

    apply_plan(plan_answers(install.instance(), example_answers(tmp_path)))
    assert install.rows("socialaccount_socialapp") != apps_before
    messages = undo_last_apply(install.instance())
    assert any("Restored" in m for m in messages)
    assert install.config.read_text() == text_before
    assert install.rows("socialaccount_socialapp") == apps_before
    assert install.rows("common_inventreesetting") == settings_before
    with pytest.raises(planmod.PlanError, match="Nothing to undo"):
        undo_last_apply(install.instance())
    # After undo, new inserts still work (PostgreSQL sequences were kept in step).
    apply_plan(plan_answers(install.instance(), Answers.parse(
        "apps: [{provider: google, client_id: g, secret: s}]\n")))


def test_rename_updates_the_row_and_missing_secret_keeps_stored(install):
    apply_plan(plan_answers(install.instance(), Answers.parse(
        "apps: [{provider: github, name: GitHub, client_id: a, secret: keep-me}]\n")))
    plan = plan_answers(install.instance(), Answers.parse(
        "apps: [{provider: github, name: GitHub SSO, client_id: b}]\n"))
    assert [c.op for c in plan.row_changes] == ["update"]
    apply_plan(plan)
    rows = install.rows("socialaccount_socialapp")
    assert len(rows) == 1
    assert rows[0]["name"] == "GitHub SSO" and rows[0]["client_id"] == "b"
    assert rows[0]["secret"] == "keep-me"


def test_answers_speak_only_for_what_they_name(install, tmp_path):
    apply_plan(plan_answers(install.instance(), example_answers(tmp_path)))
    apply_plan(plan_answers(install.instance(), Answers.parse(
        "apps: [{provider: google, client_id: g.apps.googleusercontent.com, secret: gs}]\n"
        "settings: {LOGIN_SIGNUP_MAIL_RESTRICTION: null}\n"
        "email: {port: 465, tls: false, ssl: true}\n")))
    apps = {r["provider_id"] or r["provider"] for r in install.rows("socialaccount_socialapp")}
    assert apps == {"github", "keycloak", "google"}
    data = yaml.safe_load(install.config.read_text())
    assert data["social_backends"][-1] == "allauth.socialaccount.providers.google"
    assert data["email"]["host"] == "smtp.example.com" and data["email"]["port"] == 465
    assert data["email"]["password"] == SMTP_PASSWORD
    settings = {r["key"] for r in install.rows("common_inventreesetting")}
    assert "LOGIN_SIGNUP_MAIL_RESTRICTION" not in settings
    assert "LOGIN_ENABLE_SSO_REG" in settings


def test_remove_app(install, tmp_path):
    apply_plan(plan_answers(install.instance(), example_answers(tmp_path)))
    apply_plan(plan_answers(install.instance(), Answers.parse(
        "apps: [{provider: openid_connect, provider_id: keycloak, remove: true}]\n")))
    assert [r["provider"] for r in install.rows("socialaccount_socialapp")] == ["github"]


def test_only_credentials_still_writes_backends(install):
    plan = plan_answers(install.instance(), Answers.parse(
        "site_url: https://x.example.com\n"
        "apps: [{provider: gitlab, client_id: c, secret: s}]\n"), only=("credentials",))
    assert [e.path for e in plan.config_edits] == [("social_backends",)]
    apply_plan(plan)
    data = yaml.safe_load(install.config.read_text())
    assert data["social_backends"] == ["allauth.socialaccount.providers.gitlab"]
    assert "site_url" not in data


def test_db_failure_restores_config_file(install, tmp_path, monkeypatch):
    """The DB part fails after the config file was written: the file comes back unchanged."""
    text_before = install.config.read_text()

    def broken_undo_record(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state, "save_undo_record", broken_undo_record)
    with pytest.raises(ApplyError):
        apply_plan(plan_answers(install.instance(), example_answers(tmp_path)))
    assert install.config.read_text() == text_before
    assert install.rows("socialaccount_socialapp") == []
    assert install.rows("common_inventreesetting") == []


def test_real_db_error_rolls_back_everything(install, tmp_path):
    """A real database error mid-transaction (the settings table vanished after the plan was
    made): the apps inserted before it are rolled back and the config file is untouched."""
    import sqlalchemy as sa
    text_before = install.config.read_text()
    plan = plan_answers(install.instance(), example_answers(tmp_path))
    engine = install.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE common_inventreesetting"))
    engine.dispose()
    with pytest.raises(ApplyError, match="Nothing was changed") as caught:
        apply_plan(plan)
    for secret in (GITHUB_SECRET, KC_SECRET, SMTP_PASSWORD):
        assert secret not in str(caught.value)
    assert install.config.read_text() == text_before
    assert install.rows("socialaccount_socialapp") == []
    assert state.load_undo_record(install.config) is None


def test_duplicate_apps_are_reported(install):
    import sqlalchemy as sa
    engine = install.engine()
    with engine.begin() as conn:
        for _ in range(2):
            conn.execute(sa.text(
                "INSERT INTO socialaccount_socialapp (provider, provider_id, name, client_id, "
                "secret, " + ("`key`" if install.backend == "mysql" else '"key"') +
                ", settings) VALUES ('github', '', 'GitHub', 'id', 's', '', '{}')"))
    engine.dispose()
    inst = install.instance()
    reports = status(inst, Snapshot.read(inst))
    codes = [f.code for f in reports["credentials"].findings]
    assert "app-duplicate" in codes
    plan = plan_answers(inst, Answers.parse("apps: [{provider: github, client_id: new}]\n"))
    assert [c.op for c in plan.row_changes] == ["update"]
    assert "app-duplicate" in [f.code for f in plan.findings]


def test_app_also_in_config_is_warned(tmp_path, db_url, backend):
    from tests.conftest import Install, write_source_install
    config = write_source_install(tmp_path / "i", db_url, extra=(
        "\nsocial_providers:\n  github:\n    APP:\n      client_id: abc\n      secret: xyz\n"))
    inst = Install(tmp_path / "i", config, backend, db_url).instance()
    plan = plan_answers(inst, Answers.parse("apps: [{provider: github, client_id: a, "
                                            "secret: b}]\n"))
    assert "app-defined-twice" in [f.code for f in plan.findings]
    fixed = plan_answers(inst, Answers.parse(
        "provider_settings: {github: {APP: null}}\n"
        "apps: [{provider: github, client_id: a, secret: b}]\n"))
    assert "app-defined-twice" not in [f.code for f in fixed.findings]
    apply_plan(fixed)
    assert yaml.safe_load(config.read_text())["social_providers"] == {"github": {}}


@pytest.mark.sites
def test_multi_site_links_app_to_site(tmp_path, db_url, backend):
    from tests.conftest import Install, write_source_install
    config = write_source_install(tmp_path / "i", db_url, extra="\nsite_multi: True\nsite_id: 1\n")
    install = Install(tmp_path / "i", config, backend, db_url)
    apply_plan(plan_answers(install.instance(), Answers.parse(
        "apps: [{provider: github, client_id: a, secret: b}]\n")))
    app = install.rows("socialaccount_socialapp")[0]
    links = install.rows("socialaccount_socialapp_sites")
    assert [(lk["socialapp_id"], lk["site_id"]) for lk in links] == [(app["id"], 1)]
    again = plan_answers(install.instance(), Answers.parse(
        "apps: [{provider: github, client_id: a, secret: b}]\n"))
    assert again.empty
    undo_last_apply(install.instance())
    assert install.rows("socialaccount_socialapp_sites") == []


def test_overlong_values_refused_before_writing(install):
    from sso_wizard.core.answers import AnswersError
    with pytest.raises(AnswersError, match=r"apps\[0\]\.name: too long: 41 characters"):
        Answers.parse("apps: [{provider: github, name: '" + "n" * 41 +
                      "', client_id: a, secret: b}]\n")
    assert install.rows("socialaccount_socialapp") == []


def test_non_ascii_name_round_trips(install):
    name = "Anmeldung über Ünternehmen ✓"
    apply_plan(plan_answers(install.instance(), Answers.parse(
        f"apps: [{{provider: microsoft, name: '{name}', client_id: a, secret: b, "
        "settings: {tenant: organizations}}]\n")))
    row = install.rows("socialaccount_socialapp")[0]
    assert row["name"] == name


def test_migrations_not_run_is_refused(tmp_path):
    import sqlalchemy as sa

    from sso_wizard.core.db import DatabaseError
    from tests.conftest import write_source_install
    dbfile = tmp_path / "empty.sqlite3"
    sa.create_engine(f"sqlite:///{dbfile}").connect().close()
    config = write_source_install(tmp_path / "i", f"sqlite:///{dbfile}")
    from sso_wizard.core.instance import Instance
    inst = Instance.load(config, environ={})
    with pytest.raises(DatabaseError, match="migrations have not run"):
        plan_answers(inst, Answers.parse("apps: [{provider: github, client_id: a, secret: b}]"))
