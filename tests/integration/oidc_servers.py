"""Loopback servers for OpenID Connect tests (helpers, not a conftest: import what you need).

- ``run_oidc_provider()``: the real ``oidc-provider-mock`` on 127.0.0.1, ephemeral port, in a
  thread. Its issuer is taken from the request's Host, so always use the returned ``base_url``
  (``http://127.0.0.1:<port>``), never ``localhost``.
- ``DocServer`` / ``run_doc_server()``: a tiny HTTP(S) server answering fixed routes with any
  status, content type and body — for broken discovery documents and key sets.
- ``stalling_port()``: a port that accepts TCP connections and never answers (timeouts).
- ``refusing_port()``: a port bound but not listening, so connections are refused.
- ``make_discovery_doc(issuer)``: a complete, valid discovery document for ``issuer``.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------------------------------------
# the real OpenID Connect provider


@dataclass(frozen=True)
class OidcProvider:
    base_url: str  # http://127.0.0.1:<port> — also the issuer
    port: int

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def discovery_url(self) -> str:
        return self.base_url + "/.well-known/openid-configuration"


@contextmanager
def run_oidc_provider(
    *,
    require_client_registration: bool = False,
    require_nonce: bool = False,
    user_claims: Sequence[Any] = (),
) -> Iterator[OidcProvider]:
    """Run oidc-provider-mock on 127.0.0.1:<ephemeral> in a daemon thread."""
    import werkzeug.serving

    with warnings.catch_warnings():
        # oidc-provider-mock imports authlib.jose and authlib's httpx integration, both of which
        # warn that they are deprecated; that is the mock's business, not ours. authlib installs
        # an "always" filter when first imported, so import it first, then ignore on top.
        import authlib.deprecate  # noqa: F401

        warnings.simplefilter("ignore", DeprecationWarning)
        import oidc_provider_mock

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log in test output
    app = oidc_provider_mock.app(
        require_client_registration=require_client_registration,
        require_nonce=require_nonce,
        user_claims=user_claims,
    )
    server = werkzeug.serving.make_server(LOOPBACK, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="oidc-provider-mock", daemon=True)
    thread.start()
    try:
        yield OidcProvider(base_url=f"http://{LOOPBACK}:{server.server_port}",
                           port=server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(2)


# ---------------------------------------------------------------------------------------------
# a server for broken documents


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


class DocServer:
    """Serves ``routes`` (path -> Route, or a callable taking the base URL and returning one)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route | Callable[[str], Route]] = {}
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                owner.requests.append(self.path)
                route = owner.routes.get(self.path)
                if callable(route):
                    route = route(owner.base_url)
                if route is None:
                    route = Route(404, b"not found", "text/plain")
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                for k, v in route.headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.base_url = f"{'https' if tls else 'http'}://{LOOPBACK}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def json(self, path: str, data: Any, status: int = 200) -> None:
        self.routes[path] = Route(status, json.dumps(data).encode())

    def doc(self, path: str, make: Callable[[str], Any], status: int = 200) -> None:
        """Serve JSON built from the server's base URL (known only once it is bound)."""
        self.routes[path] = lambda base: Route(status, json.dumps(make(base)).encode())

    def raw(self, path: str, body: bytes, status: int = 200,
            content_type: str = "application/json") -> None:
        self.routes[path] = Route(status, body, content_type)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = Route(status, b"", "text/plain", (("Location", location),))

    def start(self) -> DocServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2)


@contextmanager
def run_doc_server(tls: ssl.SSLContext | None = None) -> Iterator[DocServer]:
    server = DocServer(tls).start()
    try:
        yield server
    finally:
        server.stop()


WELL_KNOWN = "/.well-known/openid-configuration"


def make_discovery_doc(issuer: str, /, **overrides: Any) -> dict[str, Any]:
    """A complete discovery document for ``issuer``; ``key=None`` in overrides removes a key."""
    base = issuer.rstrip("/")
    doc: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }
    for key, value in overrides.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


# ---------------------------------------------------------------------------------------------
# ports that misbehave


@contextmanager
def stalling_port() -> Iterator[int]:
    """A listening socket nobody accepts from: connections succeed, no byte ever comes back."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@contextmanager
def refusing_port() -> Iterator[int]:
    """A port that is bound but not listening: connecting is refused (no race with others)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()
