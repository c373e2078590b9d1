"""The project's one HTTP client factory.

Every network check builds its client here, so timeouts, redirects, TLS trust and the
User-Agent are the same everywhere. Plain ``httpx`` (not authlib's deprecated httpx integration):
OAuth requests are simple form posts and the checks need full control over errors.

Defaults: connect 5 s, read 10 s, write 10 s, pool 5 s; redirects are NOT followed (a check that
wants them passes ``follow_redirects=True`` per request); certificates verified against certifi
or a CA file the admin names (``verify="/path/ca.pem"``), the same trust store allauth's
``requests`` uses on the InvenTree server unless that server sets REQUESTS_CA_BUNDLE.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Mapping
from os import PathLike

import httpx

from sso_wizard import __version__

__all__ = [
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "VerifyOption",
    "create_client",
    "make_timeout",
    "ssl_context",
]

USER_AGENT = f"sso-wizard/{__version__}"

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=5.0)

# True: system-independent default (certifi); False: no verification (never by default);
# a path: a PEM CA bundle; an SSLContext: used as is.
VerifyOption = bool | str | PathLike[str] | ssl.SSLContext


def make_timeout(total: float | None) -> httpx.Timeout:
    """A timeout no phase of which exceeds ``total`` seconds (None: the defaults)."""
    if total is None:
        return DEFAULT_TIMEOUT
    total = max(float(total), 0.001)
    return httpx.Timeout(connect=min(5.0, total), read=min(10.0, total),
                         write=min(10.0, total), pool=min(5.0, total))


def ssl_context(verify: VerifyOption = True, *, trust_env: bool = True
                ) -> ssl.SSLContext | bool:
    """What httpx's ``verify=`` gets; contexts are built once per trust store and reused.

    Loading a CA bundle costs ~20 ms, more than a loopback request: one check per click in the
    TUI should not pay it every time. ``True`` follows httpx's own rule (SSL_CERT_FILE /
    SSL_CERT_DIR when ``trust_env``, else certifi); a path is a CA file or directory (httpx
    deprecates ``verify=<str>``, hence the context). ``False`` and contexts pass through.
    """
    if isinstance(verify, ssl.SSLContext | bool) and verify is not True:
        return verify
    if verify is True:
        env_file = os.environ.get("SSL_CERT_FILE") if trust_env else None
        env_dir = os.environ.get("SSL_CERT_DIR") if trust_env else None
        if env_file:
            return _context(env_file, None, _stamp(env_file))
        if env_dir:
            return _context(None, env_dir, _stamp(env_dir))
        import certifi

        return _context(certifi.where(), None, 0.0)
    path = os.fspath(verify)
    if os.path.isdir(path):
        return _context(None, path, _stamp(path))
    return _context(path, None, _stamp(path))


def _stamp(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return -1.0  # let ssl raise its own clear error for a missing file


@functools.lru_cache(maxsize=16)
def _context(cafile: str | None, capath: str | None, stamp: float) -> ssl.SSLContext:
    # stamp (mtime) is part of the cache key so an edited CA file is reloaded
    return ssl.create_default_context(cafile=cafile, capath=capath)


def create_client(
    *,
    timeout: float | httpx.Timeout | None = None,
    verify: VerifyOption = True,
    follow_redirects: bool = False,
    headers: Mapping[str, str] | None = None,
    base_url: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
    trust_env: bool = True,
) -> httpx.AsyncClient:
    """The project's AsyncClient. Use it as ``async with create_client() as client:``.

    ``timeout`` is a float (an upper bound for every phase) or an ``httpx.Timeout``.
    ``trust_env`` keeps HTTP(S)_PROXY / NO_PROXY working for admins behind a proxy.
    """
    if isinstance(timeout, httpx.Timeout):
        t = timeout
    else:
        t = make_timeout(timeout)
    all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if headers:
        all_headers.update(headers)
    return httpx.AsyncClient(
        timeout=t,
        verify=ssl_context(verify, trust_env=trust_env),
        follow_redirects=follow_redirects,
        headers=all_headers,
        base_url=base_url,
        trust_env=trust_env,
        transport=transport,
    )
