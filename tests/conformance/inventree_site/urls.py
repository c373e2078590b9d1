"""InvenTree 1.x's auth URLs: allauth headless (browser client) under /api/auth/, allauth's
provider URLs under /accounts/, and the web UI's landing page after a login."""

from __future__ import annotations

from allauth.headless.constants import Client
from allauth.headless.urls import build_urlpatterns
from django.urls import include, path
from inventree_site import views

urlpatterns = [
    path("api/auth/", include([
        path("login-redirect/", views.login_redirect, name="api-login-redirect"),
        path("", include((build_urlpatterns(Client.BROWSER), "headless"), namespace="browser")),
    ])),
    path("accounts/", include("allauth.urls")),
    path("web/logged-in", views.logged_in, name="web-logged-in"),
    path("web/<path:rest>", views.web, name="web-wildcard"),
    path("__conformance__/apps", views.adapter_apps, name="conformance-apps"),
]
