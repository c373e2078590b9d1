"""The few pages the login round trip lands on, plus one test-only probe of allauth's adapter."""

from __future__ import annotations

from allauth.socialaccount.adapter import get_adapter
from django.http import HttpRequest, HttpResponse, JsonResponse


def logged_in(request: HttpRequest) -> HttpResponse:
    """Where the 1.x UI's callback_url points: the UI then reads /api/auth/v1/auth/session."""
    return HttpResponse("logged-in page", content_type="text/plain")


def web(request: HttpRequest, rest: str) -> HttpResponse:
    return HttpResponse(f"web/{rest}", content_type="text/plain")


def login_redirect(request: HttpRequest) -> HttpResponse:
    return HttpResponse("login redirect", content_type="text/plain")


def adapter_apps(request: HttpRequest) -> JsonResponse:
    """What allauth itself sees: list_apps(request), list_providers(request), get_app per
    provider (or the error it raises). Loopback test site only: it shows secrets."""
    adapter = get_adapter(request)
    apps = [{"provider": a.provider, "provider_id": a.provider_id, "name": a.name,
             "client_id": a.client_id, "secret": a.secret, "key": a.key,
             "settings": a.settings, "in_db": a.pk is not None}
            for a in adapter.list_apps(request)]
    providers = []
    for p in adapter.list_providers(request):
        entry = {"id": p.id, "name": p.name, "class": type(p).__name__}
        try:
            entry["login_url"] = p.get_login_url(request)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            entry["login_url_error"] = f"{type(exc).__name__}: {exc}"
        providers.append(entry)
    lookups = {}
    for slug in sorted({a["provider_id"] or a["provider"] for a in apps}):
        try:
            app = adapter.get_app(request, provider=slug)
            lookups[slug] = {"client_id": app.client_id}
        except Exception as exc:  # noqa: BLE001
            lookups[slug] = {"error": type(exc).__name__}
    from allauth import app_settings as allauth_settings
    from django.conf import settings
    return JsonResponse({
        "apps": apps, "providers": providers, "get_app": lookups,
        "socialaccount_providers": settings.SOCIALACCOUNT_PROVIDERS,
        "provider_apps": [a for a in settings.INSTALLED_APPS
                          if a.startswith("allauth.socialaccount.providers.")],
        "sites_enabled": allauth_settings.SITES_ENABLED,
        "site_id": getattr(settings, "SITE_ID", None),
        "default_http_protocol": settings.ACCOUNT_DEFAULT_HTTP_PROTOCOL,
    })
