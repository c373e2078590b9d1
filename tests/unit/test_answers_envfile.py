"""The answers file, env files and shared validators, on plain data."""

from __future__ import annotations

import pytest

from sso_wizard.core.answers import Answers, AnswersError
from sso_wizard.core.envfile import EnvFile, quote_value
from sso_wizard.core.validators import mail_restriction_problem, site_url_problem

# -- answers ---------------------------------------------------------------------------------


def test_expansion_and_literal_dollar():
    a = Answers.parse("apps: [{provider: github, client_id: 'x$${HOME}y', secret: '${S}'}]\n",
                      environ={"S": "v:a#l'u\"e{"})
    assert a.apps[0].client_id == "x${HOME}y"
    assert a.apps[0].secret == "v:a#l'u\"e{"


def test_all_problems_reported_with_paths():
    with pytest.raises(AnswersError) as caught:
        Answers.parse(
            "site_url: ftp://x\n"
            "apps:\n"
            "  - {provider: github, client_id: a, secret: b}\n"
            "  - {provider: openid_connect, provider_id: kc, client_id: a, secret: b,\n"
            "     settings: {server_url: nope}}\n"
            "settings: {LOGIN_ENABLE_SSO: 'yes', LOGIN_ENABLE_SSOO: true}\n"
            "email: {port: 99999}\n", environ={})
    problems = caught.value.problems
    assert any(p.startswith("site_url: not a URL") for p in problems)
    assert any(p.startswith("apps[1].settings.server_url: not a URL") for p in problems)
    assert "settings.LOGIN_ENABLE_SSO: must be true or false" in problems
    assert any(p.startswith("settings.LOGIN_ENABLE_SSOO: unknown setting. Did you mean "
                            "LOGIN_ENABLE_SSO") for p in problems)
    assert any(p.startswith("email.port: must be a port number") for p in problems)


def test_yaml_error_has_line_and_column():
    pattern = r"a\.yaml: line 3, column 1: .*flow mapping at line 2, column 9"
    with pytest.raises(AnswersError, match=pattern):
        Answers.parse("site_url: https://x.example.com\napps: [ {provider: github\n",
                      source="a.yaml")


def test_secret_file_read_and_errors(tmp_path):
    (tmp_path / "s").write_text("line-secret\n")
    a = Answers.parse("apps: [{provider: github, client_id: a, secret_file: s}]",
                      base_dir=tmp_path)
    assert a.apps[0].secret == "line-secret"
    (tmp_path / "empty").write_text("")
    for name, message in (("missing", "no such file"), ("empty", "the file is empty"),
                          (".", "is a directory")):
        with pytest.raises(AnswersError, match=message):
            Answers.parse(f"apps: [{{provider: github, client_id: a, secret_file: '{name}'}}]",
                          base_dir=tmp_path)


def test_unknown_provider_suggests():
    with pytest.raises(AnswersError, match="Did you mean: google"):
        Answers.parse("apps: [{provider: gogle, client_id: a, secret: b}]")
    a = Answers.parse("apps: [{provider: discord, client_id: a, secret: b}]")
    assert a.apps[0].provider == "discord"  # allauth providers without a guide are accepted


def test_oidc_needs_provider_id_and_slug_is_unique():
    with pytest.raises(AnswersError, match=r"apps\[0\]\.provider_id: required"):
        Answers.parse("apps: [{provider: openid_connect, client_id: a, secret: b}]")
    with pytest.raises(AnswersError, match="already given as apps\\[0\\]"):
        Answers.parse("apps: [{provider: github, client_id: a}, {provider: github, "
                      "client_id: b}]")


def test_nulls_mean_remove():
    a = Answers.parse("settings: {LOGIN_SIGNUP_MAIL_RESTRICTION: null}\n"
                      "email: {password: null}\nprovider_settings: {github: null}\n")
    assert a.settings == {"LOGIN_SIGNUP_MAIL_RESTRICTION": None}
    assert a.email == {"password": None}
    assert a.provider_settings == {"github": None}


def test_repr_hides_secrets():
    a = Answers.parse("apps: [{provider: github, client_id: a, secret: top-secret-value}]\n"
                      "email: {password: smtp-secret-value}\n")
    assert "top-secret-value" not in repr(a)
    assert "smtp-secret-value" not in repr(a)


# -- validators ------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "ok"), [
    ("", True), ("@example.com", True), ("@example.com,@example.org", True),
    ("@sub-domain.example_x.com", True), ("example.com", False), ("@example.com, @b.org", False),
    ("@example.com,", False), ("@exa mple.com", False),
])
def test_mail_restriction_as_inventree_validates(value, ok):
    assert (mail_restriction_problem(value) is None) is ok


@pytest.mark.parametrize(("value", "fragment"), [
    ("https://inv.example.com", None), ("http://localhost:8000", None),
    ("'https://inv.example.com'", "quote"), ("inv.example.com", "scheme"),
    ("https://inv.example.com/inventree", "without a path"), ("https://", "host"),
])
def test_site_url(value, fragment):
    problem = site_url_problem(value)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem


# -- env files -------------------------------------------------------------------------------

ENV = """\
# comment
INVENTREE_SITE_URL="https://inv.example.com"
export INVENTREE_DEBUG=False   # inline comment
INVENTREE_SOCIAL_PROVIDERS='{"github": {"VERIFIED_EMAIL": true}}'
INVENTREE_DB_PASSWORD=pa$$word
EMPTY=
"""


def test_parse_like_compose(tmp_path):
    env = EnvFile.parse(tmp_path / ".env", ENV)
    assert env.values["INVENTREE_SITE_URL"] == "https://inv.example.com"
    assert env.values["INVENTREE_DEBUG"] == "False"
    assert env.values["INVENTREE_SOCIAL_PROVIDERS"] == '{"github": {"VERIFIED_EMAIL": true}}'
    assert env.values["INVENTREE_DB_PASSWORD"] == "pa$word"
    assert env.values["EMPTY"] == ""


@pytest.mark.parametrize("value", [
    "https://inv.example.com", '{"a": [1, "b c"]}', "it's $HOME # not a comment", "",
    "plain", "tab\there", "both ' and \" quotes $x",
])
def test_written_values_read_back_exactly(tmp_path, value):
    env = EnvFile.parse(tmp_path / ".env", ENV)
    changed = env.with_changes({"NEW": value, "INVENTREE_SITE_URL": value})
    reread = EnvFile.parse(tmp_path / ".env", changed.text)
    assert reread.values["NEW"] == value
    assert reread.values["INVENTREE_SITE_URL"] == value
    # Every other line is kept byte for byte.
    for line in ENV.splitlines():
        if not line.startswith("INVENTREE_SITE_URL"):
            assert line in changed.text.splitlines()


def test_remove_variable(tmp_path):
    env = EnvFile.parse(tmp_path / ".env", ENV).with_changes({"INVENTREE_DEBUG": None})
    assert "INVENTREE_DEBUG" not in env.values and "# comment" in env.text


def test_quote_value_plain_url_unquoted():
    assert quote_value("https://inv.example.com:8443") == "https://inv.example.com:8443"
    assert quote_value('{"a":1}') == "'{\"a\":1}'"
