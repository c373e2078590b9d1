"""InvenTree's allauth overrides (`InvenTree/auth_overrides.py`), reduced to what SSO touches.

Global settings are read like InvenTree's `get_global_setting`: a `global_settings` override from
the config wins, else the `common_inventreesetting` row, else the setting's default. Booleans are
stored as the strings True/False.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.headless.adapter import DefaultHeadlessAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger("inventree")

#: Defaults of the settings used here, as InvenTree defines them (common/setting/system.py).
DEFAULTS: dict[str, Any] = {
    "LOGIN_ENABLE_REG": False,
    "LOGIN_ENABLE_SSO_REG": False,
    "LOGIN_SIGNUP_SSO_AUTO": True,
    "LOGIN_SIGNUP_MAIL_RESTRICTION": "",
    "LOGIN_MAIL_REQUIRED": False,
    "SIGNUP_GROUP": "",
}
BOOLEAN = {"LOGIN_ENABLE_REG", "LOGIN_ENABLE_SSO_REG", "LOGIN_SIGNUP_SSO_AUTO",
           "LOGIN_MAIL_REQUIRED"}


def str2bool(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "y", "yes", "t", "true", "on")


def get_global_setting(key: str, default: Any = None) -> Any:
    overrides = getattr(settings, "GLOBAL_SETTINGS_OVERRIDES", None) or {}
    if key in overrides:
        return overrides[key]  # returned raw, as InvenTree does
    from inventree_site.models import InvenTreeSetting
    row = InvenTreeSetting.objects.filter(key=key).values_list("value", flat=True).first()
    if row is None:
        return DEFAULTS.get(key, default)
    return str2bool(row) if key in BOOLEAN else row


def is_email_configured() -> bool:
    """InvenTree's helpers_email.is_email_configured: a host and a sender address."""
    return bool(settings.EMAIL_HOST) and bool(settings.DEFAULT_FROM_EMAIL)


def log_error(path: str, error_name: str | None = None, error_data: Any = None,
              scope: str | None = None) -> None:
    """Write the failure to error_report_error, where InvenTree's admins (and the wizard) look."""
    now = timezone.now().replace(tzinfo=None)  # the fixture's columns are naive UTC
    if scope:
        path = f"{scope}:{path}"
    info = str(error_data) if error_data is not None else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO error_report_error (kind, info, data, path, "when", html, modified) '
            "VALUES (%s, %s, %s, %s, %s, %s, %s)"
            if connection.vendor != "mysql" else
            "INSERT INTO error_report_error (kind, info, data, path, `when`, html, modified) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [str(error_name or "unknown")[:128], info, traceback.format_exc(), path[:200], now,
             "", now])


def registration_enabled(setting_name: str = "LOGIN_ENABLE_REG") -> bool:
    if str2bool(get_global_setting(setting_name)):
        if is_email_configured():
            return True
        logger.warning("INVE-W11: Registration cannot be enabled, because EMAIL_HOST is not "
                       "configured.")
    return False


class RegistrationMixin:
    REGISTRATION_SETTING = "LOGIN_ENABLE_REG"

    def is_open_for_signup(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        if registration_enabled(self.REGISTRATION_SETTING):
            return True
        logger.warning("INVE-W12: Signup attempt blocked, because registration is disabled via "
                       "setting %s.", self.REGISTRATION_SETTING)
        return False

    def clean_email(self, email: str) -> str:
        mail_restriction = get_global_setting("LOGIN_SIGNUP_MAIL_RESTRICTION", None)
        if not mail_restriction:
            return super().clean_email(email)  # type: ignore[misc]
        split_email = email.split("@")
        if len(split_email) != 2:
            raise forms.ValidationError("The provided primary email address is not valid.")
        for option in mail_restriction.split(","):
            if not option.startswith("@"):
                raise forms.ValidationError("The provided primary email address is not valid.")
            if split_email[1] == option[1:]:
                return super().clean_email(email)  # type: ignore[misc]
        logger.info("The provided email domain for %s is not approved", email)
        raise forms.ValidationError("The provided email domain is not approved.")


class CustomAccountAdapter(RegistrationMixin, DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> Any:
        if settings.EMAIL_HOST:
            try:
                return super().send_mail(template_prefix, email, context)
            except Exception:  # noqa: BLE001 - InvenTree logs and carries on
                log_error("send_mail", scope="auth")
        return False


class CustomSocialAccountAdapter(RegistrationMixin, DefaultSocialAccountAdapter):
    REGISTRATION_SETTING = "LOGIN_ENABLE_SSO_REG"

    def is_auto_signup_allowed(self, request: Any, sociallogin: Any) -> bool:
        if get_global_setting("LOGIN_SIGNUP_SSO_AUTO", True):
            return bool(super().is_auto_signup_allowed(request, sociallogin))
        return False

    def authentication_error(self, request: Any, provider_id: str, error: Any = None,
                             exception: Any = None, extra_context: Any = None) -> None:
        if not error:
            error = request.GET.get("error", None)
        if not exception:
            exception = request.GET.get("error_description", None)
        log_error(request.path or "sso", error_name=error, error_data=exception, scope="auth")
        logger.error("SSO error for provider '%s' - check admin error log", provider_id)

    def get_connect_redirect_url(self, request: Any, socialaccount: Any) -> str:
        return request.build_absolute_uri(f"/{settings.FRONTEND_URL_BASE}/")


class CustomHeadlessAdapter(DefaultHeadlessAdapter):
    FRONTEND_URLS = {
        "account_confirm_email": "verify-email/{key}",
        "account_reset_password": "reset-password",
        "account_reset_password_from_key": "set-password?key={key}",
        "account_signup": "register",
        "socialaccount_login_error": "social-login-error",
    }

    def get_frontend_url(self, urlname: str, **kwargs: Any) -> str:
        if urlname not in self.FRONTEND_URLS:
            raise ValueError(f"URL name {urlname!r} not found in HEADLESS_FRONTEND_URLS")
        return self.request.build_absolute_uri(
            f"/{settings.FRONTEND_URL_BASE}/{self.FRONTEND_URLS[urlname].format(**kwargs)}")
