"""Tests for sso_wizard.core.configfile: byte-exact edits of a hand-commented config.yaml."""

from __future__ import annotations

import difflib
import os
import random
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from sso_wizard.core import configfile
from sso_wizard.core.configfile import ConfigDocument, ConfigFileError, atomic_write, list_backups

# Modelled on InvenTree's src/backend/InvenTree/config_template.yaml, with the SSO keys the wizard
# edits in the shapes real installs have them.
TEMPLATE = """\
# InvenTree configuration file (modelled on InvenTree's config_template.yaml)
# Ref: https://docs.inventree.org/en/stable/start/config/
# Note: Environment variables take precedence over values set in this file

# Secret key for backend
#secret_key_file: '/etc/inventree/secret_key.txt'

# Database backend selection - Configure backend database settings
# Note: Database configuration options can also be specified from environmental variables,
#       with the prefix INVENTREE_DB_
database:
  # --- Available options: ---
  # ENGINE: Database engine. Selection from:
  #         - mysql
  #         - postgresql
  #         - sqlite3
  # NAME: Database name
  # USER: Database username (if required)
  # PASSWORD: Database password (if required)

  # --- Example configuration - MYSQL ---
  #ENGINE: mysql
  #NAME: inventree
  #USER: inventree
  #PASSWORD: inventree_password
  #HOST: 'localhost'
  #PORT: '3306'

  ENGINE: sqlite3
  NAME: '/home/inventree/data/database.sqlite3'

# Set debug to False to run in production mode, or use the environment variable INVENTREE_DEBUG
debug: False  # never True in production

# Additional debug options
debug_querycount: False
debug_shell: False

# Configure the system logging level (or use environment variable INVENTREE_LOG_LEVEL)
# Options: DEBUG / INFO / WARNING / ERROR / CRITICAL
log_level: WARNING

# Select default system language , or use the environment variable INVENTREE_LANGUAGE
language: en-us

# System time-zone (default is UTC)
timezone: UTC

# Base URL for the InvenTree server (or use the environment variable INVENTREE_SITE_URL)
site_url: 'http://localhost:8000'

# Email backend configuration
# Ref: https://docs.djangoproject.com/en/dev/topics/email/
# Alternatively, these options can all be set using environment variables,
# with the INVENTREE_EMAIL_ prefix:
# email:
#   host: ''
#   port: 25
#   username: ''
#   password: ''
#   sender: ''
#   tls: False
#   ssl: False

# Set sentry_enabled to True to report errors back to the maintainers
sentry_enabled: False
#sentry_dsn: https://custom@custom.ingest.sentry.io/custom

# OpenTelemetry tracing/metrics - disabled by default
tracing:
  enabled: false

# Set this variable to True to enable InvenTree Plugins (env: INVENTREE_PLUGINS_ENABLED)
plugins_enabled: False
#plugin_file: '/path/to/plugins.txt'

# Allowed hosts (see ALLOWED_HOSTS in Django settings documentation)
# A list of strings representing the host/domain names that this Django site can serve.
# Default behaviour is to allow all hosts (THIS IS NOT SECURE!)
allowed_hosts:
  - '*'

# Trusted origins (see CSRF_TRUSTED_ORIGINS in Django settings documentation)
# trusted_origins:
#   - 'http://localhost'
#   - 'http://*.localhost'

# Proxy forwarding settings
use_x_forwarded_host: false
use_x_forwarded_port: false

# Cookie settings (nominally the default settings should be fine)
cookie:
  secure: false
  samesite: false

# Cross Origin Resource Sharing (CORS) settings
cors:
  allow_all: true
  allow_credentials: true

  # whitelist:
  # - https://example.com
  # - https://sub.example.com

  # regex:

# Background worker options
background:
  workers: 4
  timeout: 90

# External cache configuration
cache:
  enabled: false
  host: 'inventree-cache'
  port: 6379


# Login configuration
login_confirm_days: 3
login_attempts: 5
login_default_protocol: http

# Remote / proxy login
remote_login_enabled: False
remote_login_header: HTTP_REMOTE_USER

# Add SSO login-backends (see examples below)
social_backends: []
# social_backends:
#  - 'allauth.socialaccount.providers.google'
#  - 'allauth.socialaccount.providers.github'

# Add specific settings for social account providers (if required)
# Refer to the django-allauth documentation for more details:
# https://docs.allauth.org/en/latest/socialaccount/provider_configuration.html
social_providers:
  # github:
  #   VERIFIED_EMAIL: true
  # microsoft:
  #   TENANT: organizations

# Global settings override: values set here win over the database and are locked in the UI
# global_settings:
#   LOGIN_ENABLE_SSO: true
#   LOGIN_ENABLE_SSO_REG: true

# Add LDAP support (refer to the documentation for available options)
ldap:
  enabled: false

# Customization options
# customize:
#   login_message: InvenTree demo - <a href='https://inventree.org/demo.html'>details</a>
#   hide_admin_link: true

# Set enabled frontends
# classic_frontend: True
"""


def diff(old: str, new: str) -> tuple[list[str], list[str]]:
    """(removed lines, added lines) between two texts, line endings included."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    removed: list[str] = []
    added: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            removed.extend(a[i1:i2])
            added.extend(b[j1:j2])
    return removed, added


def check(doc: ConfigDocument) -> None:
    """The document's data is what yaml.safe_load reads from its text."""
    assert doc.data == (yaml.safe_load(doc.text) or {})


@pytest.fixture
def doc() -> ConfigDocument:
    return ConfigDocument.parse(TEMPLATE)


# ------------------------------------------------------------------------------ parsing


def test_parse_reads_template_and_keeps_text(doc: ConfigDocument) -> None:
    assert doc.text == TEMPLATE
    assert doc.data == yaml.safe_load(TEMPLATE)
    assert doc.get(("debug",)) is False
    assert doc.get(("social_providers",)) is None
    assert doc.get(("email", "host"), "none") == "none"
    assert doc.get(("database", "ENGINE")) == "sqlite3"


def test_empty_file_is_empty_mapping() -> None:
    doc = ConfigDocument.parse("")
    assert doc.data == {}
    doc.set(("site_url",), "https://inv.example.com")
    assert doc.text == "site_url: https://inv.example.com\n"


def test_comment_only_file() -> None:
    doc = ConfigDocument.parse("# nothing yet\n")
    doc.set(("debug",), False)
    assert doc.text == "# nothing yet\n\ndebug: false\n"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("debug: False\nsite_url: http: //x\n", "config.yaml, line 2, column 15: "
                                                "mapping values are not allowed"),
        ("a:\n  b: 1\n c: 2\n", "config.yaml, line 3, column 2: "),
        ("a: 'unclosed\nb: 1\n", "config.yaml, line 3, column 1: "),
        ("a:\n\t- b\n", "config.yaml, line 2, column 1: "),
    ],
)
def test_syntax_error_names_line_and_column(text: str, where: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        ConfigDocument.parse(text)
    assert str(info.value).startswith(where), str(info.value)
    assert "run again" in str(info.value)


def test_syntax_error_uses_source_name() -> None:
    with pytest.raises(ConfigFileError, match=r"^/etc/inventree/config.yaml, line 2, column 1: "):
        ConfigDocument.parse("a: [1, 2\n", source="/etc/inventree/config.yaml")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_mapping(text: str) -> None:
    with pytest.raises(ConfigFileError, match="top level must be a mapping"):
        ConfigDocument.parse(text)


# ------------------------------------------------------------------------------ scalars


def test_scalar_edit_changes_only_that_line_and_keeps_comment(doc: ConfigDocument) -> None:
    doc.set(("debug",), True)
    assert diff(TEMPLATE, doc.text) == (
        ["debug: False  # never True in production\n"],
        ["debug: True  # never True in production\n"],
    )
    check(doc)


def test_same_value_changes_nothing(doc: ConfigDocument) -> None:
    doc.set(("debug",), False)
    doc.set(("allowed_hosts",), ["*"])
    doc.set(("site_url",), "http://localhost:8000")
    doc.delete(("email", "host"))
    doc.delete(("no_such_key",))
    assert doc.text == TEMPLATE


def test_bool_keeps_the_keys_own_style(doc: ConfigDocument) -> None:
    doc.set(("tracing", "enabled"), True)
    doc.set(("sentry_enabled",), True)
    removed, added = diff(TEMPLATE, doc.text)
    assert removed == ["sentry_enabled: False\n", "  enabled: false\n"]
    assert added == ["sentry_enabled: True\n", "  enabled: true\n"]


@pytest.mark.parametrize(
    ("old", "new"),
    [("yes", "no"), ("On", "Off"), ("TRUE", "FALSE"), ("true", "false"), ("True", "False")],
)
def test_bool_family_and_case_kept(old: str, new: str) -> None:
    doc = ConfigDocument.parse(f"flag: {old}\nother: 1\n")
    doc.set(("flag",), False)
    assert doc.text == f"flag: {new}\nother: 1\n"


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("a: False\nb: True\nc: false\n", "True"),
        ("a: false\nb: true\nc: False\n", "true"),
        ("a: 1\n", "true"),
    ],
)
def test_new_bool_follows_dominant_style(text: str, word: str) -> None:
    doc = ConfigDocument.parse(text)
    doc.set(("cookie", "secure"), True)
    assert doc.text.endswith(f"cookie:\n  secure: {word}\n")
    assert doc.data["cookie"] == {"secure": True}


def test_quoted_string_keeps_its_quote_style(doc: ConfigDocument) -> None:
    doc.set(("site_url",), "https://inventree.example.com")
    doc.set(("login_default_protocol",), "https")
    removed, added = diff(TEMPLATE, doc.text)
    assert added == ["site_url: 'https://inventree.example.com'\n",
                     "login_default_protocol: https\n"]
    doc2 = ConfigDocument.parse('site_url: "http://a"\n')
    doc2.set(("site_url",), "https://b")
    assert doc2.text == 'site_url: "https://b"\n'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("https", "https"),
        ("*", "'*'"),
        ("yes", "'yes'"),
        ("123", "'123'"),
        ("", "''"),
        ("a: b", "'a: b'"),
        (25, "25"),
        (1.5, "1.5"),
        (None, "null"),
    ],
)
def test_strings_quoted_only_when_needed(value: Any, text: str) -> None:
    doc = ConfigDocument.parse("log_level: WARNING  # level\n")
    doc.set(("log_level",), value)
    assert doc.text == f"log_level: {text}  # level\n"
    assert doc.data == {"log_level": value}


SECRETS = [
    "p@ss: word # not a comment",
    "it's \"quoted\" {braces} [and] , commas",
    "'leading quote",
    '"leading double',
    "{starts with brace",
    "# starts with hash",
    "- dash first",
    "trailing space ",
    " leading space",
    "ünïcödé pässwörd ✓ 密码 🔑",
    "back\\slash\\n not a newline",
    "line1\nline2",
    "tab\there",
    "nel\x85ls\u2028ps\u2029end",
    "&anchor *alias !tag %percent @at `tick",
    "null",
    "0x1F",
    "1e3",
    "~",
    "",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_secrets_round_trip_exactly(secret: str, tmp_path: Path) -> None:
    doc = ConfigDocument.parse(TEMPLATE)
    doc.set(("email", "password"), secret)
    doc.set(("debug",), secret)  # replace an existing scalar too
    doc.set(("site_url",), secret)  # ... and a quoted one
    for key in (("email", "password"), ("debug",), ("site_url",)):
        assert doc.get(key) == secret
    assert yaml.safe_load(doc.text)["email"]["password"] == secret
    target = tmp_path / "config.yaml"
    atomic_write(target, doc.text)
    again = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert again["email"]["password"] == secret
    assert again["site_url"] == secret
    # the secret is on one line: nothing else in the file moved
    removed, added = diff(TEMPLATE, doc.text)
    assert len(removed) == 2


# ------------------------------------------------------------------------------ collections


def test_flow_list_replaced_by_block_list(doc: ConfigDocument) -> None:
    backends = ["allauth.socialaccount.providers.github",
                "allauth.socialaccount.providers.openid_connect"]
    doc.set(("social_backends",), backends)
    assert diff(TEMPLATE, doc.text) == (
        ["social_backends: []\n"],
        ["social_backends:\n",
         "  - allauth.socialaccount.providers.github\n",
         "  - allauth.socialaccount.providers.openid_connect\n"],
    )
    assert doc.get(("social_backends",)) == backends
    doc.set(("social_backends",), [])
    assert doc.text == TEMPLATE


def test_flow_list_with_comment_keeps_comment() -> None:
    doc = ConfigDocument.parse("social_backends: [github]  # sso\nnext: 1\n")
    doc.set(("social_backends",), ["github", "google"])
    assert doc.text == "social_backends:  # sso\n  - github\n  - google\nnext: 1\n"


def test_block_list_keeps_its_indent(doc: ConfigDocument) -> None:
    doc.set(("allowed_hosts",), ["inventree.example.com", "*"])
    removed, added = diff(TEMPLATE, doc.text)
    assert removed == []
    assert added == ["  - inventree.example.com\n"]


def test_indentless_list_style_detected() -> None:
    text = "allowed_hosts:\n- '*'\n\ntrusted_origins: []\n"
    doc = ConfigDocument.parse(text)
    doc.set(("trusted_origins",), ["https://a", "https://b"])
    doc.set(("allowed_hosts",), ["a", "b"])
    assert doc.text == "allowed_hosts:\n- a\n- b\n\ntrusted_origins:\n- https://a\n- https://b\n"


def test_four_space_mapping_indent_detected() -> None:
    text = "database:\n    ENGINE: sqlite3\n\ncors:\n    allow_all: true\n"
    doc = ConfigDocument.parse(text)
    doc.set(("social_providers", "github", "VERIFIED_EMAIL"), True)
    doc.set(("cors", "allowed", "x"), 1)
    assert doc.text == (
        "database:\n    ENGINE: sqlite3\n\ncors:\n    allow_all: true\n"
        "    allowed:\n        x: 1\n"
        "\nsocial_providers:\n    github:\n        VERIFIED_EMAIL: true\n"
    )


def test_nested_keys_created_under_empty_parent_after_its_comments(doc: ConfigDocument) -> None:
    doc.set(("social_providers", "github", "VERIFIED_EMAIL"), True)
    doc.set(("social_providers", "microsoft", "TENANT"), "organizations")
    lines = doc.text.splitlines()
    i = lines.index("social_providers:")
    assert lines[i + 1:i + 10] == [
        "  # github:",
        "  #   VERIFIED_EMAIL: true",
        "  # microsoft:",
        "  #   TENANT: organizations",
        "  github:",
        "    VERIFIED_EMAIL: true",
        "  microsoft:",
        "    TENANT: organizations",
        "",
    ]
    removed, added = diff(TEMPLATE, doc.text)
    assert removed == []
    assert len(added) == 4
    check(doc)


def test_new_key_in_existing_mapping_goes_after_last_content_line(doc: ConfigDocument) -> None:
    doc.set(("cors", "whitelist"), ["https://a.example.com"])
    removed, added = diff(TEMPLATE, doc.text)
    assert removed == []
    lines = doc.text.splitlines()
    i = lines.index("  allow_credentials: true")
    assert lines[i + 1:i + 5] == ["  whitelist:", "    - https://a.example.com", "",
                                  "  # whitelist:"]


def test_new_top_level_key_appended_commented_template_untouched(doc: ConfigDocument) -> None:
    doc.set(("email", "host"), "smtp.example.com")
    doc.set(("email", "port"), 587)
    doc.set(("email", "tls"), True)
    assert doc.text == TEMPLATE + "\nemail:\n  host: smtp.example.com\n  port: 587\n  tls: true\n"
    assert "# email:\n#   host: ''\n" in doc.text


def test_file_without_final_newline() -> None:
    doc = ConfigDocument.parse("debug: False")
    doc.set(("debug",), True)
    assert doc.text == "debug: True"
    doc.set(("site_url",), "https://x")
    assert doc.text == "debug: True\n\nsite_url: https://x\n"


def test_scalar_and_none_parents_become_mappings() -> None:
    text = "email:\n# comment\nldap: ''  # off\nrest: 1\n"
    doc = ConfigDocument.parse(text)
    doc.set(("email", "host"), "smtp")
    doc.set(("ldap", "enabled"), True)
    assert doc.text == "email:\n  host: smtp\n# comment\nldap:  # off\n  enabled: true\nrest: 1\n"


def test_flow_mapping_parent_merged_into_block(doc: ConfigDocument) -> None:
    doc = ConfigDocument.parse("social_providers: {github: {VERIFIED_EMAIL: true}}\nx: 1\n")
    doc.set(("social_providers", "google", "SCOPE"), ["profile", "email"])
    assert doc.text == (
        "social_providers:\n  github:\n    VERIFIED_EMAIL: true\n"
        "  google:\n    SCOPE:\n      - profile\n      - email\nx: 1\n"
    )


def test_list_parent_is_refused(doc: ConfigDocument) -> None:
    with pytest.raises(ConfigFileError, match="allowed_hosts is a list"):
        doc.set(("allowed_hosts", "x"), 1)
    assert doc.text == TEMPLATE


def test_multiline_block_replaced_up_to_last_content_line() -> None:
    text = (
        "database:\n"
        "  # choose one\n"
        "  ENGINE: sqlite3\n"
        "  OPTIONS:\n"
        "    timeout: 20\n"
        "    # trailing comment inside\n"
        "\n"
        "  # after the block\n"
        "debug: False\n"
    )
    doc = ConfigDocument.parse(text)
    doc.set(("database",), {"ENGINE": "postgresql", "NAME": "inventree"})
    assert doc.text == (
        "database:\n"
        "  # choose one\n"
        "  ENGINE: postgresql\n"
        "  NAME: inventree\n"
        "    # trailing comment inside\n"
        "\n"
        "  # after the block\n"
        "debug: False\n"
    )
    doc.set(("database",), "none")
    assert doc.text.startswith("database: none\n  # choose one\n    # trailing")
    check(doc)


def test_block_scalar_value_replaced() -> None:
    text = "motd: |\n  line one\n  # not a comment\n\nnext: 1\n"
    doc = ConfigDocument.parse(text)
    doc.set(("motd",), "short")
    assert doc.text == "motd: short\n\nnext: 1\n"


# ------------------------------------------------------------------------------ delete


def test_delete_nested_key_removes_only_its_line(doc: ConfigDocument) -> None:
    doc.delete(("cache", "port"))
    assert diff(TEMPLATE, doc.text) == (["  port: 6379\n"], [])
    check(doc)


def test_delete_top_level_block(doc: ConfigDocument) -> None:
    doc.delete(("allowed_hosts",))
    assert diff(TEMPLATE, doc.text) == (["allowed_hosts:\n", "  - '*'\n"], [])
    assert "allowed_hosts" not in doc.data
    doc.delete(("database",))
    removed, _ = diff(TEMPLATE, doc.text)
    assert "database:\n" in removed and "  ENGINE: sqlite3\n" in removed
    assert "  #ENGINE: mysql\n" not in doc.text  # indented comments went with their block
    assert "# Set debug to False to run in production mode" in doc.text  # the next one stays
    check(doc)


def test_delete_last_key_leaves_empty_mapping(doc: ConfigDocument) -> None:
    doc.delete(("tracing", "enabled"))
    assert diff(TEMPLATE, doc.text) == (["tracing:\n", "  enabled: false\n"],
                                        ["tracing: {}\n"])
    assert doc.data["tracing"] == {}


def test_delete_everything() -> None:
    doc = ConfigDocument.parse("# head\na: 1\n# between\nb:\n  c: 2\n# tail\n")
    doc.delete(("b",))
    doc.delete(("a",))
    assert doc.data == {}
    assert doc.text == "# head\n# between\n# tail\n"
    doc.set(("a",), 1)
    assert doc.text == "# head\n# between\n# tail\n\na: 1\n"


def test_delete_inside_flow_mapping() -> None:
    doc = ConfigDocument.parse("p: {a: 1, b: 2}\n")
    doc.delete(("p", "a"))
    assert doc.text == "p:\n  b: 2\n"


# ------------------------------------------------------------------------------ encodings


def test_crlf_line_endings_kept() -> None:
    crlf = TEMPLATE.replace("\n", "\r\n")
    doc = ConfigDocument.parse(crlf)
    doc.set(("debug",), True)
    doc.set(("social_backends",), ["github"])
    doc.set(("social_providers", "github", "VERIFIED_EMAIL"), True)
    doc.set(("email", "host"), "smtp")
    doc.delete(("cache", "port"))
    text = doc.text
    assert "\n" not in text.replace("\r\n", "")
    assert text.endswith("\r\n")
    lf = ConfigDocument.parse(TEMPLATE)
    for change in [(("debug",), True), (("social_backends",), ["github"]),
                   (("social_providers", "github", "VERIFIED_EMAIL"), True),
                   (("email", "host"), "smtp")]:
        lf.set(*change)
    lf.delete(("cache", "port"))
    assert text == lf.text.replace("\n", "\r\n")


def test_bom_kept() -> None:
    doc = ConfigDocument.parse("\ufeffdebug: False\n")
    assert doc.data == {"debug": False}
    doc.set(("debug",), True)
    assert doc.text == "\ufeffdebug: True\n"


def test_non_ascii_file_columns() -> None:
    text = "customize:\n  login_message: Grüße aus Köln 🎉  # ü\nnäme: 'wért'\n"
    doc = ConfigDocument.parse(text)
    doc.set(("näme",), "neü")
    doc.set(("customize", "login_message"), "Hallo ✓")
    assert doc.text == "customize:\n  login_message: Hallo ✓  # ü\nnäme: 'neü'\n"


# ------------------------------------------------------------------------------ safety net


def test_safety_net_fires_on_a_bad_render(doc: ConfigDocument,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(configfile, "_render_scalar", lambda value, **kw: "wrong")
    with pytest.raises(ConfigFileError, match="nothing was changed"):
        doc.set(("debug",), True)
    with pytest.raises(ConfigFileError, match="nothing was changed"):
        doc.set(("email", "host"), "smtp")
    assert doc.text == TEMPLATE
    assert doc.data == yaml.safe_load(TEMPLATE)


def test_safety_net_fires_on_invalid_yaml(doc: ConfigDocument,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(configfile, "_render_scalar", lambda value, **kw: "'unclosed")
    with pytest.raises(ConfigFileError, match="not valid YAML"):
        doc.set(("site_url",), "x")
    assert doc.text == TEMPLATE


def test_anchors_fall_back_to_whole_file_editing() -> None:
    text = "base: &b\n  x: 1\nother: *b\nplain: 2\n"
    doc = ConfigDocument.parse(text)
    doc.set(("plain",), 3)
    assert doc.text == "base: &b\n  x: 1\nother: *b\nplain: 3\n"
    doc.set(("new",), {"k": "v"})
    assert doc.data["new"] == {"k": "v"}
    # editing the anchored value would also change the alias: refused, not silently wrong
    for path in [("base", "x"), ("other", "y"), ("base",)]:
        with pytest.raises(ConfigFileError, match="anchor"):
            doc.set(path, 5)
    check(doc)


def test_merge_keys() -> None:
    doc = ConfigDocument.parse("base: &b\n  x: 1\nchild:\n  <<: *b\n  y: 2\n")
    doc.set(("child", "x"), 3)  # overrides the merged value, base untouched
    assert doc.data == {"base": {"x": 1}, "child": {"x": 3, "y": 2}}
    assert doc.text == "base: &b\n  x: 1\nchild:\n  <<: *b\n  y: 2\n  x: 3\n"
    doc2 = ConfigDocument.parse("base: &b\n  x: 1\nchild:\n  <<: *b\n  y: 2\n")
    with pytest.raises(ConfigFileError, match="merge"):
        doc2.delete(("child", "x"))
    doc3 = ConfigDocument.parse("child:\n  <<: {x: 1}\n  y: 2\n")  # no alias: sections mode
    doc3.set(("child", "z"), 3)
    assert doc3.text == "child:\n  <<: {x: 1}\n  y: 2\n  z: 3\n"
    doc3.delete(("child", "y"))
    assert doc3.data == {"child": {"x": 1, "z": 3}}


def test_duplicate_keys_last_one_wins() -> None:
    doc = ConfigDocument.parse("debug: True\nx: 1\ndebug: False\n")
    assert doc.data == {"debug": False, "x": 1}
    doc.set(("debug",), True)
    assert doc.text == "debug: True\nx: 1\ndebug: True\n"
    check(doc)


@pytest.mark.parametrize("text", ["a: 1\n...\n", "---\na: 1\n...\n", "---\n# only\n...\n"])
def test_document_end_marker_stays_last(text: str) -> None:
    doc = ConfigDocument.parse(text)
    doc.set(("b",), 2)
    assert doc.text.endswith("b: 2\n...\n")
    assert doc.data["b"] == 2
    check(doc)


def test_random_edits_keep_data_correct() -> None:
    rng = random.Random(20261204)
    keys = ["debug", "site_url", "email", "social_providers", "social_backends", "cors", "cache",
            "database", "tracing", "allowed_hosts", "newkey", "login_default_protocol"]
    subkeys = ["host", "github", "VERIFIED_EMAIL", "port", "enabled", "x", "ENGINE"]
    scalars: list[Any] = [True, False, None, 0, 25, 1.5, "", "plain", "needs: quotes", "'q'",
                          "ü✓", "line\nbreak", "*", "yes", "123", "# hash"]

    def random_value(depth: int = 0) -> Any:
        roll = rng.random()
        if depth < 2 and roll < 0.15:
            return {rng.choice(subkeys): random_value(depth + 1) for _ in range(rng.randint(0, 3))}
        if depth < 2 and roll < 0.3:
            return [random_value(depth + 1) for _ in range(rng.randint(0, 3))]
        return rng.choice(scalars)

    for variant in (TEMPLATE, TEMPLATE.replace("\n", "\r\n"), "anchor: &a 1\nalias: *a\n" +
                    TEMPLATE):
        doc = ConfigDocument.parse(variant)
        model: dict[str, Any] = yaml.safe_load(variant)
        for _ in range(150):
            path = (rng.choice(keys),) + tuple(rng.choice(subkeys)
                                               for _ in range(rng.randint(0, 2)))
            if rng.random() < 0.25:
                doc.delete(path)
                node: Any = model
                for key in path[:-1]:
                    node = node.get(key) if isinstance(node, dict) else None
                if isinstance(node, dict):
                    node.pop(path[-1], None)
            else:
                parent_is_list = any(isinstance(doc.get(path[:i]), list)
                                     for i in range(1, len(path)))
                value = random_value()
                if parent_is_list:
                    with pytest.raises(ConfigFileError):
                        doc.set(path, value)
                    continue
                doc.set(path, value)
                node = model
                for key in path[:-1]:
                    if not isinstance(node.get(key), dict):
                        node[key] = {}
                    node = node[key]
                node[path[-1]] = value
            assert doc.data == model
            assert (yaml.safe_load(doc.text) or {}) == model
        # the commented-out template sections are never touched
        assert "# email:\n#   host: ''\n" in doc.text.replace("\r\n", "\n")
        assert "\n# social_backends:\n#  - 'allauth.socialaccount.providers.google'\n" in \
            doc.text.replace("\r\n", "\n")


# ------------------------------------------------------------------------------ atomic_write


def test_atomic_write_keeps_mode_and_makes_0600_backup(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    target.write_text(TEMPLATE)
    target.chmod(0o640)
    doc = ConfigDocument.parse(target.read_text())
    doc.set(("debug",), True)
    backup = atomic_write(target, doc.text)
    assert target.read_text() == doc.text
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert backup is not None and backup.parent == tmp_path
    assert backup.name.startswith("config.yaml.sso-wizard-") and backup.name.endswith(".bak")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert backup.read_text() == TEMPLATE
    assert list_backups(target) == [backup]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["config.yaml", backup.name])


def test_atomic_write_new_file_no_backup(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    assert atomic_write(target, "debug: False\n") is None
    assert target.read_text() == "debug: False\n"
    assert atomic_write(target, "debug: True\n", backup=False) is None
    assert list_backups(target) == []


def test_atomic_write_writes_bytes_exactly(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    text = "\ufeffa: 'ü'\r\nb: 1\r\n"
    atomic_write(target, text)
    assert target.read_bytes() == text.encode("utf-8")


def test_backups_pruned_to_keep_newest_first(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    target.write_text("n: 0\n")
    made = [atomic_write(target, f"n: {i}\n") for i in range(1, 14)]  # fast: same second
    assert len(set(made)) == 13
    backups = list_backups(target)
    assert len(backups) == 10
    assert backups == list(reversed(made))[:10]
    assert [b.read_text() for b in backups] == [f"n: {i}\n" for i in range(12, 2, -1)]
    atomic_write(target, "n: 99\n", keep=3)
    assert len(list_backups(target)) == 3


def test_backup_name_collision_gets_counter(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Frozen:  # type: ignore[override]
            return cls(2026, 12, 4, 20, 15, 0, 0, tzinfo=tz)

    monkeypatch.setattr(configfile._dt, "datetime", Frozen)
    target = tmp_path / "config.yaml"
    target.write_text("n: 0\n")
    first = atomic_write(target, "n: 1\n")
    second = atomic_write(target, "n: 2\n")
    assert first is not None and second is not None
    assert first.name == "config.yaml.sso-wizard-20261204T201500.000000Z.bak"
    assert second.name == "config.yaml.sso-wizard-20261204T201500.000000Z-1.bak"
    assert list_backups(target) == [second, first]


def test_refuses_when_directory_is_not_a_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(ConfigFileError) as info:
        atomic_write(blocker / "config.yaml", "a: 1\n")
    assert str(blocker) in str(info.value)
    assert blocker.read_text() == "x"


def test_refuses_unwritable_directory_before_changing_anything(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "config.yaml"
    target.write_text(TEMPLATE)

    def denied(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    # os.access is no use as root, so the real test is creating the temp file: make it fail
    monkeypatch.setattr(configfile.tempfile, "mkstemp", denied)
    with pytest.raises(ConfigFileError) as info:
        atomic_write(target, "debug: True\n")
    message = str(info.value)
    assert str(target) in message and "Permission denied" in message
    assert "owner" in message and "permission" in message
    assert target.read_text() == TEMPLATE
    assert os.listdir(tmp_path) == ["config.yaml"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_refuses_real_read_only_directory(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    target.write_text(TEMPLATE)
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ConfigFileError, match="config.yaml"):
            atomic_write(target, "debug: True\n")
    finally:
        tmp_path.chmod(0o700)
    assert target.read_text() == TEMPLATE
    assert os.listdir(tmp_path) == ["config.yaml"]


def _as_nobody(fn: Any) -> str:
    """Run ``fn()`` in a forked child with uid/gid 65534; return what it reports."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read)
        try:
            os.setgid(65534)
            os.setuid(65534)
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - report anything to the parent
            result = f"{type(exc).__name__}: {exc}"
        os.write(write, str(result).encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to an unprivileged user")
@pytest.mark.parametrize("file_mode", [0o644, 0o666])
def test_refuses_as_unprivileged_user(file_mode: int) -> None:
    import shutil
    import tempfile

    # pytest's tmp_path sits under a 0700 directory the unprivileged user cannot enter
    tmp_path = Path(tempfile.mkdtemp(prefix="sso-wizard-test-"))
    tmp_path.chmod(0o755)
    target = tmp_path / "config.yaml"
    target.write_text(TEMPLATE)
    target.chmod(file_mode)  # 0o666: the file is writable, only the directory is not
    try:
        result = _as_nobody(lambda: atomic_write(target, "debug: True\n"))
        assert result.startswith("ConfigFileError: cannot write " + str(target)), result
        assert "owner: root" in result and "Nothing was changed" in result
        assert target.read_text() == TEMPLATE
        assert os.listdir(tmp_path) == ["config.yaml"]
    finally:
        shutil.rmtree(tmp_path)


def test_failure_mid_way_leaves_original_and_no_leftovers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "config.yaml"
    target.write_text(TEMPLATE)

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(configfile.os, "replace", broken_replace)
    with pytest.raises(ConfigFileError, match="original file is unchanged"):
        atomic_write(target, "debug: True\n")
    assert target.read_text() == TEMPLATE
    assert os.listdir(tmp_path) == ["config.yaml"]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_owner_kept_when_root(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    target.write_text("a: 1\n")
    os.chown(target, 12345, 23456)
    atomic_write(target, "a: 2\n")
    st = target.stat()
    assert (st.st_uid, st.st_gid) == (12345, 23456)


def test_symlink_target_is_written(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("a: 1\n")
    link = tmp_path / "config.yaml"
    link.symlink_to(real)
    backup = atomic_write(link, "a: 2\n")
    assert link.is_symlink() and real.read_text() == "a: 2\n"
    assert backup is not None and backup.name.startswith("real.yaml.")


# ------------------------------------------------------------------------------ speed


def test_large_file_many_edits_is_fast() -> None:
    import time

    padding = "".join(f"# section {i}\nsection_{i}:\n  a: 1\n  b: 'two'  # c\n  c: False\n\n"
                      for i in range(1000))
    text = TEMPLATE + padding
    start = time.perf_counter()
    doc = ConfigDocument.parse(text)
    for i in range(50):
        doc.set(("social_providers", f"provider{i}", "VERIFIED_EMAIL"), True)
    doc.set(("social_backends",), [f"p{i}" for i in range(50)])
    _ = doc.text
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed  # the benchmark aims much lower; this only catches regressions
    check(doc)
