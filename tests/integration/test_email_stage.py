"""The email stage: what InvenTree counts as configured, what it costs when it is not, and the
Docker env-file variant (INVENTREE_EMAIL_*)."""

from __future__ import annotations

import yaml

from sso_wizard.core.answers import Answers
from sso_wizard.core.envfile import EnvFile
from sso_wizard.core.instance import Instance
from sso_wizard.core.plan import apply_plan
from sso_wizard.core.stages import Snapshot, plan_answers, status
from sso_wizard.core.stages.email import smtp_settings


def findings(inst, stage="email"):
    return {f.code: f for f in status(inst, Snapshot.read(inst))[stage].findings}


def test_not_configured_costs_sso_signup(install):
    apply_plan(plan_answers(install.instance(), Answers.parse(
        "settings: {LOGIN_ENABLE_SSO_REG: true}\n"
        "apps: [{provider: github, client_id: a, secret: b}]\n")))
    inst = install.instance()
    email = findings(inst)
    assert email["email-not-configured"].severity == "warning"
    assert "SSO registration" in email["email-not-configured"].message
    assert "signup-closed-no-email" in findings(inst, "settings")


def test_host_without_sender_refused_in_plan(install):
    plan = plan_answers(install.instance(), Answers.parse("email: {host: smtp.example.com}\n"))
    assert plan.has_errors
    assert "email-no-sender" in [f.code for f in plan.findings]


def test_configured_with_prefix_and_settings_for_the_check(install):
    apply_plan(plan_answers(install.instance(), Answers.parse(
        "email: {host: smtp.example.com, port: 465, ssl: true, username: u, password: 'p:w#',"
        " sender: inv@example.com, prefix: '[Inv] '}\n")))
    inst = install.instance()
    assert "email-configured" in findings(inst)
    s = smtp_settings(inst)
    assert (s.host, s.port, s.ssl, s.tls, s.password, s.prefix) == (
        "smtp.example.com", 465, True, False, "p:w#", "[Inv] ")
    assert "p:w#" not in repr(s)
    data = yaml.safe_load(install.config.read_text())
    assert data["email"]["prefix"] == "[Inv] "


def test_wrong_mode_for_port_is_warned(install):
    apply_plan(plan_answers(install.instance(), Answers.parse(
        "email: {host: smtp.example.com, port: 465, tls: true, sender: inv@example.com}\n")))
    assert "email-port-465-starttls" in findings(install.instance())


def test_tls_and_ssl_both_true_from_merge_refused(install):
    apply_plan(plan_answers(install.instance(), Answers.parse(
        "email: {host: smtp.example.com, port: 587, tls: true, sender: inv@example.com}\n")))
    plan = plan_answers(install.instance(), Answers.parse("email: {ssl: true}\n"))
    assert "email-tls-and-ssl" in [f.code for f in plan.findings]
    assert plan.has_errors


def test_env_file_variant(tmp_path, install):
    env = tmp_path / ".env"
    env.write_text("INVENTREE_EMAIL_HOST=old.example.com\nINVENTREE_EMAIL_PASSWORD=old\n")
    inst = Instance.load(install.config, env_file=env, environ={})
    assert inst.resolve("email.host").source == "env-file"
    plan = plan_answers(inst, Answers.parse(
        "email: {host: smtp.example.com, password: 'n3w$ecret #1', sender: inv@example.com}\n"))
    shown = plan.render()
    assert "n3w$ecret" not in shown and "old\n" not in shown
    apply_plan(plan)
    values = EnvFile.load(env).values
    assert values["INVENTREE_EMAIL_HOST"] == "smtp.example.com"
    assert values["INVENTREE_EMAIL_PASSWORD"] == "n3w$ecret #1"
    data = yaml.safe_load(install.config.read_text())
    assert data["email"] == {"sender": "inv@example.com"}  # not overridden: stays in config
    fresh = Instance.load(install.config, env_file=env, environ={})
    assert smtp_settings(fresh).password == "n3w$ecret #1"
