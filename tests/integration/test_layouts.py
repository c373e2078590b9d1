"""The real install layouts: source, package (/etc/inventree), Docker (.env + data volume).

Values resolve with InvenTree's precedence and know their source; a key an environment variable
overrides is written where InvenTree reads it (the env file), or warned about.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sso_wizard.core import instance as instmod
from sso_wizard.core.answers import Answers
from sso_wizard.core.envfile import EnvFile
from sso_wizard.core.instance import Instance, InstanceError
from sso_wizard.core.plan import apply_plan, undo_last_apply
from sso_wizard.core.stages import plan_answers
from tests.conftest import write_source_install


def make_docker_install(tmp_path: Path, db_url: str) -> tuple[Path, Path]:
    """docker compose layout: .env beside the compose file, config.yaml in the data volume."""
    import sqlalchemy as sa
    compose_dir = tmp_path / "compose"
    data = compose_dir / "inventree-data"
    data.mkdir(parents=True)
    write_source_install(tmp_path / "tmp-src", db_url)
    (data / "config.yaml").write_text(
        (tmp_path / "tmp-src" / "config" / "config.yaml").read_text())
    url = sa.make_url(db_url)
    env = compose_dir / ".env"
    lines = [
        "# InvenTree environment variables for docker compose",
        "INVENTREE_EXT_VOLUME=./inventree-data",
        "INVENTREE_CONFIG_FILE=/home/inventree/data/config.yaml",
        "INVENTREE_SITE_URL=\"http://inventree.localhost\"  ",
        "INVENTREE_SOCIAL_BACKENDS=allauth.socialaccount.providers.google",
        "INVENTREE_EMAIL_HOST=smtp.old.example.com",
        "",
    ]
    if url.get_backend_name() != "sqlite":
        lines[4:4] = [f"INVENTREE_DB_ENGINE={url.get_backend_name()}",
                      f"INVENTREE_DB_NAME={url.database}", f"INVENTREE_DB_HOST={url.host}",
                      f"INVENTREE_DB_PORT={url.port}", f"INVENTREE_DB_USER={url.username}"]
    env.write_text("\n".join(lines))
    return env, data / "config.yaml"


def test_docker_layout_resolves_from_env_file(tmp_path, db_url):
    env, config = make_docker_install(tmp_path, db_url)
    inst = Instance.load(None, env_file=env, environ={})
    assert inst.config_path == config
    r = inst.resolve("site_url")
    assert r.value == "http://inventree.localhost" and r.source == "env-file"
    assert "INVENTREE_SITE_URL" in r.origin
    assert inst.resolve("social_backends").value == ["allauth.socialaccount.providers.google"]
    assert inst.resolve("email.port").source == "default"
    # The DB is the one the env file names (or the SQLite path from the config).
    assert inst.open_database().read_apps() == []


def test_docker_apply_writes_env_file_for_env_keys(tmp_path, db_url):
    env, config = make_docker_install(tmp_path, db_url)
    inst = Instance.load(None, env_file=env, environ={})
    config_before = config.read_text()
    answers = Answers.parse(
        "site_url: https://inventree.example.com\n"
        "provider_settings: {microsoft: {TENANT: organizations}}\n"
        "apps: [{provider: github, client_id: a, secret: b}]\n"
        "email: {host: smtp.example.com, sender: inventree@example.com, port: 587, tls: true}\n")
    plan = plan_answers(inst, answers)
    env_edits = {e.name: e.new for e in plan.env_edits}
    assert env_edits["INVENTREE_SITE_URL"] == "https://inventree.example.com"
    assert env_edits["INVENTREE_SOCIAL_BACKENDS"] == (
        "allauth.socialaccount.providers.google,allauth.socialaccount.providers.github")
    assert env_edits["INVENTREE_EMAIL_HOST"] == "smtp.example.com"
    # Keys the env file does not set still go to the config file.
    config_paths = {e.path for e in plan.config_edits}
    assert ("email", "sender") in config_paths and ("site_url",) not in config_paths
    apply_plan(plan)

    reread = EnvFile.load(env)
    assert reread.values["INVENTREE_SITE_URL"] == "https://inventree.example.com"
    assert "# InvenTree environment variables for docker compose" in env.read_text()
    assert "INVENTREE_EXT_VOLUME=./inventree-data" in env.read_text()
    data = yaml.safe_load(config.read_text())
    assert data["social_providers"] == {"microsoft": {"TENANT": "organizations"}}
    assert "site_url" not in data
    fresh = Instance.load(None, env_file=env, environ={})
    assert fresh.site_url == "https://inventree.example.com"
    assert fresh.login_protocol == "https"
    assert plan_answers(fresh, answers).empty

    undo_last_apply(fresh)
    assert config.read_text() == config_before
    assert EnvFile.load(env).values["INVENTREE_SITE_URL"] == "http://inventree.localhost"


def test_env_json_dict_written_quoted_for_compose(tmp_path, backend, db_url):
    env, _ = make_docker_install(tmp_path, db_url)
    env.write_text(env.read_text() + "INVENTREE_SOCIAL_PROVIDERS={\"github\": {}}\n")
    inst = Instance.load(None, env_file=env, environ={})
    plan = plan_answers(inst, Answers.parse(
        "provider_settings: {github: {VERIFIED_EMAIL: true, SCOPE: ['user:email']}}\n"))
    apply_plan(plan)
    line = [ln for ln in env.read_text().splitlines()
            if ln.startswith("INVENTREE_SOCIAL_PROVIDERS=")][0]
    assert line.startswith("INVENTREE_SOCIAL_PROVIDERS='")  # literal for compose
    value = EnvFile.load(env).values["INVENTREE_SOCIAL_PROVIDERS"]
    assert json.loads(value) == {"github": {"VERIFIED_EMAIL": True, "SCOPE": ["user:email"]}}


def test_process_env_override_is_warned_not_silent(tmp_path, install):
    inst = install.instance(environ={"INVENTREE_SITE_URL": "http://old.example.com"})
    assert inst.resolve("site_url").origin == "environment variable INVENTREE_SITE_URL"
    plan = plan_answers(inst, Answers.parse("site_url: https://new.example.com\n"))
    warned = [f for f in plan.findings if f.code == "env-overrides-config"]
    assert warned and "INVENTREE_SITE_URL" in warned[0].message
    assert ("site_url",) in {e.path for e in plan.config_edits}


def test_env_set_to_empty_still_counts(install):
    inst = install.instance(environ={"INVENTREE_SOCIAL_BACKENDS": ""})
    r = inst.resolve("social_backends")
    assert r.source == "env" and r.value == []


def test_global_settings_lock_writes_where_pinned(tmp_path, db_url, backend):
    from tests.conftest import Install
    config = write_source_install(tmp_path / "i", db_url, extra=(
        "\nglobal_settings:\n  LOGIN_ENABLE_SSO_REG: false\n"))
    install = Install(tmp_path / "i", config, backend, db_url)
    inst = install.instance()
    lock = inst.global_setting_lock("LOGIN_ENABLE_SSO_REG")
    assert lock is not None and lock.value is False
    plan = plan_answers(inst, Answers.parse(
        "settings: {LOGIN_ENABLE_SSO_REG: true, SSO_GROUP_KEY: roles}\n"))
    assert [c.key for c in plan.row_changes] == ["SSO_GROUP_KEY"]
    apply_plan(plan)
    data = yaml.safe_load(config.read_text())
    assert data["global_settings"]["LOGIN_ENABLE_SSO_REG"] is True  # a real boolean
    assert {r["key"] for r in install.rows("common_inventreesetting")} == {"SSO_GROUP_KEY"}


def test_global_settings_in_process_env_is_warned(install):
    inst = install.instance(environ={"INVENTREE_GLOBAL_SETTINGS": '{"LOGIN_ENABLE_SSO": true}'})
    plan = plan_answers(inst, Answers.parse("settings: {LOGIN_ENABLE_SSO: false}\n"))
    assert plan.row_changes == []
    assert "setting-locked-env" in [f.code for f in plan.findings]


def test_package_layout_found_in_standard_location(tmp_path, monkeypatch, db_url):
    etc = tmp_path / "etc" / "inventree"
    etc.mkdir(parents=True)
    write_source_install(tmp_path / "src", db_url)
    (etc / "config.yaml").write_text((tmp_path / "src" / "config" / "config.yaml").read_text())
    monkeypatch.setattr(instmod, "STANDARD_CONFIG_LOCATIONS",
                        (Path("config/config.yaml"), etc / "config.yaml"))
    monkeypatch.chdir(tmp_path)
    assert Instance.load(environ={}).config_path == etc / "config.yaml"


def test_source_layout_found_from_checkout(tmp_path, monkeypatch, db_url):
    config = write_source_install(tmp_path / "InvenTree", db_url)
    monkeypatch.chdir(tmp_path / "InvenTree")
    assert Instance.load(environ={}).config_path.resolve() == config.resolve()
    # INVENTREE_CONFIG_FILE wins over the standard locations.
    other = tmp_path / "other.yaml"
    other.write_text(config.read_text())
    assert Instance.load(environ={"INVENTREE_CONFIG_FILE": str(other)}).config_path == other


def test_no_config_anywhere_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(instmod, "STANDARD_CONFIG_LOCATIONS", (Path("config/config.yaml"),))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InstanceError, match="Looked in: .*config/config.yaml.*--config"):
        Instance.load(environ={})


def test_lower_case_database_keys(tmp_path):
    import sqlalchemy as sa

    from sso_wizard.core.db import url_from_settings
    config = tmp_path / "config.yaml"
    config.write_text("database:\n  engine: postgresql\n  name: inv\n  user: u\n  password: "
                      "'p@ss:w'\n  host: db\n  port: 5432\n")
    inst = Instance.load(config, environ={"INVENTREE_DB_HOST": "127.0.0.1"})
    url = url_from_settings(inst.database_settings(), tmp_path)
    assert url.host == "127.0.0.1" and url.database == "inv" and url.password == "p@ss:w"
    assert url.drivername == "postgresql+psycopg"
    assert "p@ss" not in sa.URL.render_as_string(url, hide_password=True)


def test_env_json_secrets_masked_in_plan(tmp_path, db_url):
    env, _ = make_docker_install(tmp_path, db_url)
    providers = {"gitlab": {"APP": {"client_id": "c", "secret": "json-s3cret"}}}
    env.write_text(env.read_text() + f"INVENTREE_SOCIAL_PROVIDERS='{json.dumps(providers)}'\n")
    inst = Instance.load(None, env_file=env, environ={})
    plan = plan_answers(inst, Answers.parse("provider_settings: {gitlab: {GITLAB_URL: "
                                            "'https://git.example.com'}}\n"))
    shown = plan.render()
    assert "INVENTREE_SOCIAL_PROVIDERS" in shown and "GITLAB_URL" in shown
    assert "json-s3cret" not in shown
