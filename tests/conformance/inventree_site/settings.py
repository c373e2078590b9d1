"""Settings built from INVENTREE_CONFIG_FILE with InvenTree 1.x's rules (see the package doc)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.core.validators import URLValidator
from inventree_site import config
from inventree_site.config import get_boolean_setting, get_setting

config.CONFIG.update(config.load_config())
CONFIG = config.CONFIG

SECRET_KEY = "conformance-site-not-a-secret"
DEBUG = False
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, test-only

# -- database (section `database:`, upper- or lower-case keys; INVENTREE_DB_* wins) -----------

db_config = {str(k).upper(): v for k, v in (CONFIG.get("database") or {}).items()}
for _key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT"):
    if f"INVENTREE_DB_{_key}" in os.environ:
        db_config[_key] = os.environ[f"INVENTREE_DB_{_key}"]
DB_ENGINE = str(db_config.get("ENGINE", "")).strip().lower()
if DB_ENGINE == "sqlite":
    DB_ENGINE = "sqlite3"
if DB_ENGINE in ("sqlite3", "postgresql", "mysql"):
    DB_ENGINE = f"django.db.backends.{DB_ENGINE}"
db_config["ENGINE"] = DB_ENGINE
if "sqlite" in DB_ENGINE:
    _name = Path(str(db_config.get("NAME", ""))).expanduser()
    if not _name.is_absolute():
        _name = config.config_file().parent / _name
    db_config["NAME"] = str(_name.resolve())
    db_config["OPTIONS"] = {"timeout": 30}
elif "mysql" in DB_ENGINE:
    # The machine has PyMySQL, not mysqlclient: Django's MySQL backend works on top of it.
    import pymysql

    pymysql.install_as_MySQLdb()
    db_config.setdefault("OPTIONS", {"charset": "utf8mb4",
                                      "isolation_level": "read committed"})
for _key in ("USER", "PASSWORD", "HOST", "PORT"):
    if db_config.get(_key) is None:
        db_config[_key] = ""
    else:
        db_config[_key] = str(db_config[_key])
DATABASES = {"default": db_config}

# -- apps -----------------------------------------------------------------------------------

INSTALLED_APPS = [
    "inventree_site",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sites",
    "allauth",
    "allauth.account",
    "allauth.headless",
    "allauth.socialaccount",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "inventree_site.middleware.HostSettingsMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

ROOT_URLCONF = "inventree_site.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": sys.stderr}},
           "loggers": {"inventree": {"handlers": ["stderr"], "level": "WARNING"}}}

# -- email (InvenTree's settings: SMTP backend, sender falls back to the user name) ----------

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # never sends from tests
INTERNAL_EMAIL_BACKEND = get_setting("INVENTREE_EMAIL_BACKEND", "email.backend",
                                     "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = get_setting("INVENTREE_EMAIL_HOST", "email.host", "")
EMAIL_PORT = get_setting("INVENTREE_EMAIL_PORT", "email.port", 25, int)
EMAIL_HOST_USER = get_setting("INVENTREE_EMAIL_USERNAME", "email.username", "")
EMAIL_HOST_PASSWORD = get_setting("INVENTREE_EMAIL_PASSWORD", "email.password", "")
EMAIL_USE_TLS = get_boolean_setting("INVENTREE_EMAIL_TLS", "email.tls", False)
EMAIL_USE_SSL = get_boolean_setting("INVENTREE_EMAIL_SSL", "email.ssl", False)
EMAIL_SUBJECT_PREFIX = get_setting("INVENTREE_EMAIL_PREFIX", "email.prefix", "[InvenTree] ")
DEFAULT_FROM_EMAIL = get_setting("INVENTREE_EMAIL_SENDER", "email.sender", "")
if not DEFAULT_FROM_EMAIL:
    DEFAULT_FROM_EMAIL = get_setting("INVENTREE_EMAIL_USERNAME", "email.username", "")

# -- site URL, hosts, origins, proxy ---------------------------------------------------------

SITE_URL = get_setting("INVENTREE_SITE_URL", "site_url", None)
if SITE_URL:
    SITE_URL = str(SITE_URL).strip().rstrip("/")
    try:
        URLValidator()(SITE_URL)
    except Exception:  # InvenTree: "Invalid SITE_URL value … server cannot start."
        print(f"Invalid SITE_URL value: '{SITE_URL}'. InvenTree server cannot start.",
              file=sys.stderr)
        sys.exit(-1)

SITE_MULTI = get_boolean_setting("INVENTREE_SITE_MULTI", "site_multi", False)
SITE_ID = get_setting("INVENTREE_SITE_ID", "site_id", 1 if SITE_MULTI else None)
if SITE_ID is not None:
    SITE_ID = int(SITE_ID)
SOCIAL_BACKENDS = get_setting("INVENTREE_SOCIAL_BACKENDS", "social_backends", [], list)
if not SITE_MULTI:
    INSTALLED_APPS.remove("django.contrib.sites")

ALLOWED_HOSTS = list(get_setting("INVENTREE_ALLOWED_HOSTS", "allowed_hosts", [], list))
if SITE_URL and SITE_URL not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(SITE_URL)
for _i, _host in enumerate(ALLOWED_HOSTS):  # InvenTree strips scheme and port
    if "://" in _host:
        ALLOWED_HOSTS[_i] = _host = _host.split("://")[1]
    if ":" in _host:
        ALLOWED_HOSTS[_i] = _host = _host.split(":")[0]

CSRF_TRUSTED_ORIGINS = list(get_setting("INVENTREE_TRUSTED_ORIGINS", "trusted_origins", [],
                                        list))
if SITE_URL and SITE_URL not in CSRF_TRUSTED_ORIGINS:
    CSRF_TRUSTED_ORIGINS.append(SITE_URL)

if get_boolean_setting("INVENTREE_USE_X_FORWARDED_PROTO", "use_x_forwarded_proto", False):
    SECURE_PROXY_SSL_HEADER = (get_setting("INVENTREE_X_FORWARDED_PROTO_NAME",
                                           "x_forwarded_proto_name", "HTTP_X_FORWARDED_PROTO"),
                               "https")
USE_X_FORWARDED_HOST = get_boolean_setting("INVENTREE_USE_X_FORWARDED_HOST",
                                           "use_x_forwarded_host", False)
USE_X_FORWARDED_PORT = get_boolean_setting("INVENTREE_USE_X_FORWARDED_PORT",
                                           "use_x_forwarded_port", False)

_cookie_mode = str(get_setting("INVENTREE_COOKIE_SAMESITE", "cookie.samesite", "False"))
_cookie_mode = _cookie_mode.lower().strip()
COOKIE_MODE = _cookie_mode.capitalize() if _cookie_mode in ("lax", "strict", "none") else False
CSRF_COOKIE_SAMESITE = SESSION_COOKIE_SAMESITE = COOKIE_MODE
COOKIE_SECURE = SESSION_COOKIE_SAMESITE == "None" or get_boolean_setting(
    "INVENTREE_SESSION_COOKIE_SECURE", "cookie.secure", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE = COOKIE_SECURE

FRONTEND_URL_BASE = "web"

# -- allauth (InvenTree's `# region auth`) -----------------------------------------------------

for _app in SOCIAL_BACKENDS:
    _prefix = "allauth.socialaccount.providers."
    if not _app.startswith(_prefix):
        _app = _prefix + _app
    INSTALLED_APPS.append(_app)

SOCIALACCOUNT_PROVIDERS = get_setting("INVENTREE_SOCIAL_PROVIDERS", "social_providers", None,
                                      dict)
SOCIALACCOUNT_STORE_TOKENS = True
SOCIALACCOUNT_OPENID_CONNECT_URL_PREFIX = ""
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10

ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = get_setting("INVENTREE_LOGIN_DEFAULT_HTTP_PROTOCOL",
                                            "login_default_protocol", None)
if ACCOUNT_DEFAULT_HTTP_PROTOCOL is None:
    ACCOUNT_DEFAULT_HTTP_PROTOCOL = ("https" if SITE_URL and SITE_URL.startswith("https://")
                                     else "http")
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = EMAIL_SUBJECT_PREFIX
ACCOUNT_RATE_LIMITS = False  # the suite logs in many times from one address

SOCIALACCOUNT_ADAPTER = "inventree_site.auth.CustomSocialAccountAdapter"
ACCOUNT_ADAPTER = "inventree_site.auth.CustomAccountAdapter"
HEADLESS_ADAPTER = "inventree_site.auth.CustomHeadlessAdapter"
HEADLESS_ONLY = True
HEADLESS_CLIENTS = "browser"
MFA_ENABLED = False
LOGIN_REDIRECT_URL = "/api/auth/login-redirect/"

# Global settings overrides (1.0+): a value here wins over the database row.
GLOBAL_SETTINGS_OVERRIDES = get_setting("INVENTREE_GLOBAL_SETTINGS", "global_settings", None,
                                        dict)
