"""A sandbox InvenTree install: a commented config.yaml as InvenTree ships it, and a database
with InvenTree's real table shapes (the ones the wizard touches, plus those it reads).

Used by `sso-wizard demo` and by the tests, which build the same tables on SQLite, PostgreSQL
and MariaDB.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from sso_wizard.core import db as dbmod

# The parts of InvenTree's config_template.yaml that matter here, comments and all.
CONFIG_TEMPLATE = """\
# Database backend selection - Configure backend database settings
# Documentation: https://docs.inventree.org/en/latest/start/config/

# Note: Database configuration options can also be specified from environmental variables,
# with the prefix INVENTREE_DB_
# e.g INVENTREE_DB_NAME / INVENTREE_DB_USER / INVENTREE_DB_PASSWORD
database:
  # Uncomment (and edit) one of the database configurations below,
  # or specify database options using environment variables

  # --- Available options: ---
  # ENGINE: Database engine. Selection from:
  #         - mysql
  #         - postgresql
  #         - sqlite3
  # NAME: Database name
  # USER: Database username (if required)
  # PASSWORD: Database password (if required)
  # HOST: Database host address (if required)
  # PORT: Database host port (if required)

  # --- Example Configuration - MySQL ---
  #ENGINE: mysql
  #NAME: inventree
  #USER: inventree
  #PASSWORD: inventree_password
  #HOST: 'localhost'
  #PORT: '3306'

  ENGINE: {engine}
  NAME: '{name}'

# Set debug to False to run in production mode, or use the environment variable INVENTREE_DEBUG
debug: False

# Set to False to disable the admin interfac, or use the environment variable INVENTREE_ADMIN_ENABLED
#admin_enabled: True

# Base URL for the admin interface
#admin_url: 'admin'

# Configure the system logging level
log_level: WARNING

# Enable database-level logging, or use the environment variable INVENTREE_DB_LOGGING
db_logging: False

# Select default system language , or use the environment variable INVENTREE_LANGUAGE
language: en-us

# System time-zone (default is UTC). Reference: https://en.wikipedia.org/wiki/List_of_tz_database_time_zones
timezone: UTC

# Base URL for the InvenTree server (or use the environment variable INVENTREE_SITE_URL)
# site_url: 'http://localhost:8000'

# Base currency code (or use env var INVENTREE_BASE_CURRENCY)
base_currency: USD

# Add new user on first startup by either adding values here or from a file
#admin_user: admin
#admin_email: info@example.com
#admin_password: inventree
#admin_password_file: '/etc/inventree/admin_password.txt'

# Configure email backend (or use the environment variables)
#email:
#  host: ''
#  port: 25
#  username: ''
#  password: ''
#  tls: False
#  ssl: False
#  sender: ''

# Set debug to False to run in production mode, or use the environment variable INVENTREE_DEBUG
# Login configuration
login_confirm_days: 3
login_attempts: 5
login_default_protocol: http

# Allowed hosts (see ALLOWED_HOSTS in Django settings documentation)
# A list of strings representing the host/domain names that this Django site can serve.
# Default behaviour is to allow all hosts (THIS IS NOT SECURE!)
allowed_hosts:
  - '*'

# Trusted origins (see CSRF_TRUSTED_ORIGINS in Django settings documentation)
# If you are running behind a proxy, you may need to add the proxy address here
# trusted_origins:
#  - 'http://localhost'
#  - 'http://*.localhost'

# Proxy forwarding settings
# If InvenTree is running behind a proxy, you may need to configure these settings

# Override with the environment variable INVENTREE_USE_X_FORWARDED_HOST
use_x_forwarded_host: false

# Override with the environment variable INVENTREE_USE_X_FORWARDED_PORT
use_x_forwarded_port: false

# Cookie settings
cookie:
  secure: false
  samesite: false

# Cross Origin Resource Sharing (CORS) settings (see https://github.com/adamchainz/django-cors-headers)
cors:
  allow_all: true
  allow_credentials: true,

# Remote / proxy login
remote_login_enabled: False
remote_login_header: HTTP_REMOTE_USER

# Plugin options
plugins_enabled: False
#plugin_noinstall: True
#plugin_file: '/path/to/plugins.txt'
#plugin_dir: '/path/to/plugins/'

# Set this variable to True to enable auto-migrations
auto_update: False

# Permit custom authentication backends
#authentication_backends:
#  - 'django.contrib.auth.backends.ModelBackend'

# Custom middleware, sometimes needed alongside an authentication backend change.
#middleware:
#  - 'django.middleware.security.SecurityMiddleware'

# Add SSO login-backends (see examples below)
# social_backends:
#   - 'allauth.socialaccount.providers.google'
#   - 'allauth.socialaccount.providers.github'
#   - 'allauth.socialaccount.providers.keycloak'

# Add specific settings for SSO login-backends (see examples below)
# social_providers:
#   google:
#     SCOPE:
#       - 'profile'
#       - 'email'
#     AUTH_PARAMS:
#       access_type: 'online'
#   github:
#     VERIFIED_EMAIL: true
#     APP:
#       client_id: 'abc'
#       secret: 'xyz'
#       key: ''

# Customization options
# customize:
#   login_message: InvenTree demo instance - <a href='https://inventree.org/demo.html'> Click here for login details</a>
#   navbar_message: <h6>InvenTree demo mode <a href='https://inventree.org/demo.html'><span class='fas fa-info-circle'></span></a></h6>
#   logo: logo.png
#   splash: splash.jpg
#   hide_admin_link: true
#   hide_password_reset: true

# Set the default date format (or use the environment variable INVENTREE_DATE_FORMAT)
# global_settings:
#   LOGIN_ENABLE_SSO: true
"""

DEMO_ANSWERS = """\
# An example answers file for the demo install. Apply it with:
#   sso-wizard --config {config} apply --yes {answers}
site_url: https://inventree.example.com
login_default_protocol: https
use_x_forwarded_proto: true
use_x_forwarded_host: true
provider_settings: {{github: {{VERIFIED_EMAIL: true}}}}
apps:
  - {{provider: github, name: GitHub, client_id: Iv1.demo0123456789, secret_file: secrets/github}}
  - provider: openid_connect
    provider_id: keycloak
    name: Keycloak
    client_id: inventree
    secret_file: secrets/keycloak
    settings: {{server_url: "https://sso.example.com/realms/main"}}
settings: {{LOGIN_ENABLE_SSO: true, LOGIN_ENABLE_SSO_REG: true, LOGIN_SIGNUP_SSO_AUTO: true,
           LOGIN_SIGNUP_MAIL_RESTRICTION: "@example.com"}}
email: {{host: smtp.example.com, port: 587, tls: true, username: inventree,
        sender: inventree@example.com}}
"""

#: The answers-file example of the README, as a script would write it: secrets from the
#: environment (GITHUB_SECRET, SMTP_PASSWORD) and from `kc-secret` beside the answers file.
EXAMPLE_ANSWERS = """\
site_url: https://inventree.example.com
login_default_protocol: https
backends: [github]
provider_settings: {github: {VERIFIED_EMAIL: true}}
apps:
  - {provider: github, name: GitHub, client_id: Iv1.abc, secret: "${GITHUB_SECRET}"}
  - provider: openid_connect
    provider_id: keycloak
    name: Keycloak
    client_id: inventree
    secret_file: kc-secret
    settings: {server_url: "https://sso.example.com/realms/main"}
settings: {LOGIN_ENABLE_SSO: true, LOGIN_ENABLE_SSO_REG: true, LOGIN_SIGNUP_SSO_AUTO: true,
           LOGIN_SIGNUP_MAIL_RESTRICTION: "@example.com"}
email: {host: smtp.example.com, port: 587, tls: true, username: inventree,
        password: "${SMTP_PASSWORD}", sender: inventree@example.com}
"""

# Extra tables the wizard reads (or that fixtures need for foreign keys).
_extra = sa.MetaData()
auth_user = sa.Table(
    "auth_user", _extra,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("password", sa.String(128), nullable=False),
    sa.Column("last_login", sa.DateTime, nullable=True),
    sa.Column("is_superuser", sa.Boolean, nullable=False),
    sa.Column("username", sa.String(150), nullable=False, unique=True),
    sa.Column("first_name", sa.String(150), nullable=False),
    sa.Column("last_name", sa.String(150), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("is_staff", sa.Boolean, nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("date_joined", sa.DateTime, nullable=False),
)
account_emailaddress = sa.Table(
    "account_emailaddress", _extra,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("verified", sa.Boolean, nullable=False),
    sa.Column("primary", sa.Boolean, nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
)
socialaccount = sa.Table(
    "socialaccount_socialaccount", _extra,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("provider", sa.String(200), nullable=False),
    sa.Column("uid", sa.String(191), nullable=False),
    sa.Column("last_login", sa.DateTime, nullable=False),
    sa.Column("date_joined", sa.DateTime, nullable=False),
    sa.Column("extra_data", sa.JSON, nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
)
socialtoken = sa.Table(
    "socialaccount_socialtoken", _extra,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token", sa.Text, nullable=False),
    sa.Column("token_secret", sa.Text, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=True),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("app_id", sa.Integer, nullable=True),
)
django_migrations = sa.Table(
    "django_migrations", _extra,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("app", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("applied", sa.DateTime, nullable=False),
)

# Django checks JSON on SQLite with a constraint; so do we, to catch a mis-bound value.
_json_check = sa.CheckConstraint("JSON_VALID(settings)", name="socialapp_settings_json_valid")
dbmod.socialapp.append_constraint(_json_check.ddl_if(dialect="sqlite"))  # type: ignore[arg-type]


def create_schema(engine: sa.Engine, *, sites: bool = False) -> None:
    """Create InvenTree's tables (as its migrations leave them) on an empty database."""
    core = [dbmod.socialapp, dbmod.settings_table, dbmod.error_table]
    if sites:
        core += [dbmod.django_site, dbmod.socialapp_sites]
    dbmod.metadata.create_all(engine, tables=core)
    _extra.create_all(engine)
    with engine.begin() as conn:
        now = datetime.now(UTC).replace(tzinfo=None)
        conn.execute(sa.insert(django_migrations), [
            {"app": "socialaccount", "name": "0006_alter_socialaccount_extra_data",
             "applied": now},
            {"app": "common", "name": "0001_initial", "applied": now},
        ])
        if sites:
            conn.execute(sa.insert(dbmod.django_site).values(id=1, domain="example.com",
                                                             name="example.com"))


def drop_schema(engine: sa.Engine) -> None:
    _extra.drop_all(engine)
    dbmod.metadata.drop_all(engine)


def default_demo_dir() -> Path:
    from sso_wizard.core.state import state_dir
    return state_dir() / "demo"


@dataclass(frozen=True)
class Sandbox:
    root: Path
    config: Path
    database: Path
    answers: Path


def create_demo(root: Path, *, force: bool = False) -> Sandbox:
    """Create (or reuse) a demo install under `root`."""
    root = root.expanduser().resolve()
    config = root / "config.yaml"
    database = root / "inventree.sqlite3"
    answers = root / "answers.yaml"
    if force and root.exists():
        shutil.rmtree(root)
    if config.exists() and database.exists():
        return Sandbox(root, config, database, answers)
    root.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG_TEMPLATE.format(engine="sqlite3", name=str(database)),
                      encoding="utf-8")
    config.chmod(0o640)
    engine = sa.create_engine(sa.URL.create("sqlite", database=str(database)))
    try:
        create_schema(engine)
    finally:
        engine.dispose()
    secrets = root / "secrets"
    secrets.mkdir(mode=0o700, exist_ok=True)
    for name, value in (("github", "demo-github-secret-0123456789abcdef"),
                        ("keycloak", "demo-keycloak-secret-Zx9!#:{'\"")):
        path = secrets / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(value + "\n")
    answers.write_text(DEMO_ANSWERS.format(config=config, answers=answers), encoding="utf-8")
    return Sandbox(root, config, database, answers)
