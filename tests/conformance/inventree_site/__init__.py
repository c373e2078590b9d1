"""A small Django site that reads InvenTree's config.yaml the way InvenTree 1.x does.

It is the *independent reader* of what sso-wizard writes: it shares no code with the wizard (it
reads the YAML with PyYAML and the database through Django's ORM and allauth's own models), and
it builds its settings with InvenTree's rules, read from InvenTree's source
(`src/backend/InvenTree/InvenTree/settings.py`, `config.py`, `auth_overrides.py`, `sso.py`):

- `social_backends` -> INSTALLED_APPS, with `allauth.socialaccount.providers.` added when missing;
- `social_providers` -> SOCIALACCOUNT_PROVIDERS;
- SOCIALACCOUNT_OPENID_CONNECT_URL_PREFIX = '' (callbacks at /accounts/<slug>/login/callback/);
- allauth headless, HEADLESS_ONLY, the browser client mounted at /api/auth/ (so /api/auth/v1/…);
- `site_multi` on: django.contrib.sites installed and SITE_ID set; off: no sites app at all;
- `login_default_protocol` -> ACCOUNT_DEFAULT_HTTP_PROTOCOL (unset: https if site_url is https);
- adapters that enforce LOGIN_ENABLE_SSO_REG, "email configured", LOGIN_SIGNUP_SSO_AUTO and
  LOGIN_SIGNUP_MAIL_RESTRICTION from the `common_inventreesetting` table, and log SSO errors to
  `error_report_error` like InvenTree's CustomSocialAccountAdapter.

Run it with `python -m inventree_site <command>` (a manage.py) with this directory's parent on
PYTHONPATH and INVENTREE_CONFIG_FILE pointing at the config file.
"""
