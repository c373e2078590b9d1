"""InvenTree 1.x refuses non-API requests whose scheme/host does not match SITE_URL (INVE-E7).

A compact version of InvenTreeHostSettingsMiddleware: /api/ and static paths are exempt; with the
default lax protocol check, the same host name passes whatever the scheme.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.http import is_same_domain

EXEMPT = ("/api/", "/static/", "/media/", "/__conformance__/")


class HostSettingsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        site = settings.SITE_URL
        if site and not request.path_info.startswith(EXEMPT):
            accessed = f"{request.scheme}://{request.get_host()}"
            seen, want = urlsplit(accessed), urlsplit(site)
            match = ((is_same_domain(seen.netloc, want.netloc) and seen.scheme == want.scheme)
                     or accessed.startswith(site) or seen.hostname == want.hostname)
            if not match and len(settings.CSRF_TRUSTED_ORIGINS) <= 1:
                return HttpResponse(f"INVE-E7: The visited path `{accessed}` does not match "
                                    f"the SITE_URL `{site}`", status=500,
                                    content_type="text/plain")
        return self.get_response(request)
