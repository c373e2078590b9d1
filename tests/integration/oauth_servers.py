"""Loopback servers for the live OAuth checks (helpers, not a conftest: import what you need).

- ``run_github_provider()``: a GitHub-style OAuth2 provider built with authlib's server classes
  (Flask integration): authorization code only, no ID token, PKCE enforced, GitHub's URL layout
  (``/login/oauth/authorize``, ``/login/oauth/access_token``, ``/api/v3/user``,
  ``/api/v3/user/emails`` — what allauth uses with ``GITHUB_URL``) and GitHub's way of answering
  a bad code or a wrong secret (HTTP 200 with ``bad_verification_code`` /
  ``incorrect_client_credentials``, 404 for an unknown client).
- ``run_replay_server()``: answers token requests the way each provider documents it
  (providers.md "Token endpoint answers"), judging the request like the real one would: unknown
  client, wrong secret, wrong auth method, or (credentials right) the provider's bad-code answer.
- ``run_fake_inventree()``: the two login endpoints of InvenTree 1.x (or the 0.16/0.17 ones) with
  a CSRF cookie, for ``check server``.
- ``register_oidc_client()`` / ``play_oidc_browser()`` / ``play_github_browser()``: the browser
  part of a sign-in, played with httpx.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# the browser, played with httpx


def register_oidc_client(base_url: str, redirect_uris: list[str],
                         auth_method: str = "client_secret_post") -> tuple[str, str]:
    """Register a client at oidc-provider-mock (dynamic registration): (client_id, secret)."""
    resp = httpx.post(f"{base_url}/oauth2/clients", json={
        "redirect_uris": redirect_uris, "token_endpoint_auth_method": auth_method}, timeout=5)
    resp.raise_for_status()
    data = resp.json()
    return data["client_id"], data["client_secret"]


def set_oidc_user(base_url: str, sub: str, claims: dict[str, Any]) -> None:
    httpx.put(f"{base_url}/users/{sub}", json=claims, timeout=5).raise_for_status()


@dataclass
class BrowserResult:
    callback_url: str | None  # where the provider sent the browser (Location), if it did
    page_text: str  # the page shown instead (an error page), if any
    status: int


def _text(html: str) -> str:
    import re
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def play_oidc_browser(authorize_url: str, sub: str = "alice", deny: bool = False
                      ) -> BrowserResult:
    """GET the authorize URL at oidc-provider-mock, submit its form, read the redirect."""
    with httpx.Client(timeout=5, follow_redirects=False) as browser:
        page = browser.get(authorize_url)
        if page.status_code != 200:
            return BrowserResult(None, _text(page.text), page.status_code)
        form = {"action": "deny"} if deny else {"sub": sub}
        resp = browser.post(authorize_url, data=form)
        return BrowserResult(resp.headers.get("location"), _text(resp.text), resp.status_code)


def play_github_browser(authorize_url: str, login: str = "octocat", deny: bool = False
                        ) -> BrowserResult:
    with httpx.Client(timeout=5, follow_redirects=False) as browser:
        page = browser.get(authorize_url)
        if page.status_code != 200 or "<form" not in page.text:
            return BrowserResult(None, _text(page.text), page.status_code)
        resp = browser.post(authorize_url, data={"login": login,
                                                 "authorize": "0" if deny else "1"})
        return BrowserResult(resp.headers.get("location"), _text(resp.text), resp.status_code)


# ---------------------------------------------------------------------------------------------
# a GitHub-style provider built with authlib's server classes


@dataclass
class GitHubUser:
    id: int
    login: str
    name: str
    email: str | None  # the public email on /user (None: private)
    emails: list[dict[str, Any]] = field(default_factory=list)  # /user/emails


@dataclass
class GitHubClient:
    client_id: str
    client_secret: str
    redirect_uri: str  # GitHub OAuth Apps have ONE callback URL; sub-paths are allowed


@dataclass
class GitHubProvider:
    base_url: str  # GITHUB_URL for allauth
    clients: dict[str, GitHubClient]
    users: dict[str, GitHubUser]
    emails_forbidden: bool = False  # a GitHub App without "Email addresses: Read"
    token_requests: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def run_github_provider(clients: list[GitHubClient], users: list[GitHubUser]
                        ) -> Iterator[GitHubProvider]:
    import werkzeug.serving

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import flask
        from authlib.integrations.flask_oauth2 import AuthorizationServer
        from authlib.oauth2.rfc6749 import ClientMixin, grants
        from authlib.oauth2.rfc6749.errors import OAuth2Error
        from authlib.oauth2.rfc7636 import CodeChallenge

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    state = GitHubProvider(base_url="", clients={c.client_id: c for c in clients},
                           users={u.login: u for u in users})
    codes: dict[str, dict[str, Any]] = {}
    tokens: dict[str, str] = {}  # access token -> login

    class Client(ClientMixin):  # type: ignore[misc]
        def __init__(self, c: GitHubClient) -> None:
            self.c = c

        def get_client_id(self) -> str:
            return self.c.client_id

        def get_default_redirect_uri(self) -> str:
            return self.c.redirect_uri

        def get_allowed_scope(self, scope: str) -> str:
            return scope

        def check_redirect_uri(self, redirect_uri: str) -> bool:
            reg, got = urlsplit(self.c.redirect_uri), urlsplit(redirect_uri)
            return (reg.scheme, reg.netloc) == (got.scheme, got.netloc) and (
                got.path == reg.path or got.path.startswith(reg.path.rstrip("/") + "/"))

        def check_client_secret(self, client_secret: str) -> bool:
            return secrets.compare_digest(client_secret, self.c.client_secret)

        def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
            return method in ("client_secret_post", "client_secret_basic")

        def check_response_type(self, response_type: str) -> bool:
            return response_type == "code"

        def check_grant_type(self, grant_type: str) -> bool:
            return grant_type == "authorization_code"

    @dataclass
    class Code:
        code: str
        client_id: str
        redirect_uri: str
        scope: str
        login: str
        code_challenge: str | None
        code_challenge_method: str | None
        created: float

        def get_redirect_uri(self) -> str:
            return self.redirect_uri

        def get_scope(self) -> str:
            return self.scope

        def is_expired(self) -> bool:
            return time.time() - self.created > 600

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        def save_authorization_code(self, code: str, request: Any) -> None:
            data = request.payload.data
            codes[code] = {"obj": Code(code, request.client.get_client_id(),
                                       request.payload.redirect_uri or "",
                                       request.payload.scope or "", request.user,
                                       data.get("code_challenge"),
                                       data.get("code_challenge_method"), time.time())}

        def query_authorization_code(self, code: str, client: Any) -> Any:
            item = codes.get(code)
            if item and item["obj"].client_id == client.get_client_id():
                return item["obj"]
            return None

        def delete_authorization_code(self, authorization_code: Any) -> None:
            codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Any) -> str:
            return str(authorization_code.login)

    def query_client(client_id: str) -> Client | None:
        c = state.clients.get(client_id)
        return Client(c) if c else None

    def save_token(token: dict[str, Any], request: Any) -> None:
        tokens[token["access_token"]] = request.user

    app = flask.Flask("github-style")
    app.secret_key = secrets.token_bytes(16)
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_grant(CodeGrant, [CodeChallenge(required=True)])

    def page(title: str, body: str, status: int = 200) -> Any:
        return flask.Response(f"<!doctype html><title>{title}</title><h1>{title}</h1>{body}",
                              status=status, content_type="text/html")

    @app.route("/login/oauth/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        args = flask.request.args
        client = state.clients.get(args.get("client_id", ""))
        if client is None:
            return page("404", "<p>Not Found</p>", 404)
        if args.get("redirect_uri") and not Client(client).check_redirect_uri(
                args["redirect_uri"]):
            return page("Redirect URI mismatch",
                        "<p>The redirect_uri is not associated with this application.</p>"
                        "<p>The application might be misconfigured or could be trying to "
                        "redirect you somewhere you do not expect.</p>")
        if not args.get("code_challenge"):  # PKCE enforced
            return page("Bad request", "<p>PKCE required: code_challenge missing.</p>", 400)
        try:
            grant = server.get_consent_grant(end_user=None)
        except OAuth2Error as exc:
            return page("Error", f"<p>{exc.error}: {exc.description}</p>", 400)
        if flask.request.method == "GET":
            return page("Authorize application",
                        '<form method="post"><input name="login" placeholder="login">'
                        '<button name="authorize" value="1">Authorize</button></form>')
        if flask.request.form.get("authorize") != "1":
            redirect = args.get("redirect_uri") or client.redirect_uri
            query = urlencode({"error": "access_denied",
                               "error_description": "The user has denied your application "
                                                    "access.",
                               "state": args.get("state", "")})
            return flask.redirect(f"{redirect}?{query}")
        login = flask.request.form.get("login", "")
        if login not in state.users:
            return page("Sign in", "<p>Incorrect username or password.</p>", 401)
        del grant
        return server.create_authorization_response(grant_user=login)

    def github_answer(data: dict[str, Any], status: int = 200) -> Any:
        accept = flask.request.headers.get("Accept", "")
        if "json" in accept:
            return flask.Response(json.dumps(data), status=status,
                                  content_type="application/json")
        return flask.Response(urlencode(data), status=status,
                              content_type="application/x-www-form-urlencoded")

    @app.post("/login/oauth/access_token")
    def access_token() -> Any:
        form = flask.request.form
        state.token_requests.append(dict(form))
        client_id = form.get("client_id")
        auth = flask.request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        if client_id not in state.clients:
            return flask.Response('{"error":"Not Found"}', status=404,
                                  content_type="application/json")
        resp = server.create_token_response()
        if resp.status_code == 200:
            token = json.loads(resp.get_data())
            return github_answer({"access_token": token["access_token"],
                                  "token_type": "bearer", "scope": token.get("scope", "")})
        err = json.loads(resp.get_data())
        kind = err.get("error")
        if kind == "invalid_client":
            return github_answer({
                "error": "incorrect_client_credentials",
                "error_description": "The client_id and/or client_secret passed are "
                                     "incorrect.",
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/"
                             "troubleshooting-oauth-app-access-token-request-errors/"
                             "#incorrect-client-credentials"})
        if kind == "invalid_grant" and "redirect_uri" in str(err.get("error_description")):
            return github_answer({"error": "redirect_uri_mismatch",
                                  "error_description": "The redirect_uri MUST match the "
                                                       "registered callback URL for this "
                                                       "application."})
        if kind in ("invalid_grant", "invalid_request"):
            desc = str(err.get("error_description") or "")
            if "verifier" in desc.lower() or "challenge" in desc.lower():
                return github_answer({"error": "invalid_grant",
                                      "error_description": "PKCE verification failed: " + desc})
            return github_answer({"error": "bad_verification_code",
                                  "error_description": "The code passed is incorrect or "
                                                       "expired."})
        return github_answer(err, resp.status_code)

    def api_user() -> GitHubUser | None:
        auth = flask.request.headers.get("Authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        login = tokens.get(token)
        return state.users.get(login) if login else None

    @app.get("/api/v3/user")
    def user() -> Any:
        u = api_user()
        if u is None:
            return flask.Response('{"message":"Bad credentials"}', 401,
                                  content_type="application/json")
        return flask.jsonify({"id": u.id, "login": u.login, "name": u.name, "email": u.email})

    @app.get("/api/v3/user/emails")
    def user_emails() -> Any:
        u = api_user()
        if u is None:
            return flask.Response('{"message":"Bad credentials"}', 401,
                                  content_type="application/json")
        if state.emails_forbidden:
            return flask.Response('{"message":"Resource not accessible by integration"}', 403,
                                  content_type="application/json")
        return flask.jsonify(u.emails)

    httpd = werkzeug.serving.make_server(LOOPBACK, 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              name="github-style", daemon=True)
    thread.start()
    state.base_url = f"http://{LOOPBACK}:{httpd.server_port}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(2)


# ---------------------------------------------------------------------------------------------
# replaying each provider's documented token endpoint answers


def _j(status: int, **data: Any) -> tuple[int, str, str]:
    return status, "application/json", json.dumps(data)


def _form(status: int, **data: Any) -> tuple[int, str, str]:
    return status, "application/x-www-form-urlencoded", urlencode(data)


#: flavour -> answer kind -> (status, content type, body), from providers.md.
ANSWERS: dict[str, dict[str, tuple[int, str, str]]] = {
    "google": {
        "bad-code": _j(400, error="invalid_grant", error_description="Malformed auth code."),
        "wrong-secret": _j(401, error="invalid_client", error_description="Unauthorized"),
        "unknown-client": _j(401, error="invalid_client",
                             error_description="The OAuth client was not found."),
        "redirect": _j(400, error="redirect_uri_mismatch", error_description="Bad Request"),
    },
    "microsoft": {
        "bad-code": _j(400, error="invalid_grant", error_codes=[9002313],
                       error_description="AADSTS9002313: Invalid request. Request is malformed "
                                         "or invalid. Trace ID: x Correlation ID: y"),
        "wrong-secret": _j(401, error="invalid_client", error_codes=[7000215],
                           error_description="AADSTS7000215: Invalid client secret provided. "
                                             "Ensure the secret being sent in the request is "
                                             "the client secret value, not the client secret "
                                             "ID, for a secret added to app 'x'."),
        "expired-secret": _j(401, error="invalid_client", error_codes=[7000222],
                             error_description="AADSTS7000222: The provided client secret "
                                               "keys for app 'x' are expired."),
        "unknown-client": _j(400, error="unauthorized_client", error_codes=[700016],
                             error_description="AADSTS700016: Application with identifier 'x' "
                                               "was not found in the directory 'y'."),
        "redirect": _j(400, error="invalid_grant", error_codes=[500112],
                       error_description="AADSTS500112: The reply address 'x' does not match "
                                         "the reply address 'y' provided when requesting "
                                         "Authorization code."),
        "token": _j(200, token_type="Bearer", expires_in=3599, access_token="eyJ0eXAi.app.only"),
        "common-cc": _j(400, error="invalid_request", error_codes=[9001023],
                        error_description="AADSTS9001023: The grant type is not supported over "
                                          "the /common or /consumers endpoints."),
    },
    "github": {
        "bad-code": _form(200, error="bad_verification_code",
                          error_description="The code passed is incorrect or expired."),
        "wrong-secret": _form(200, error="incorrect_client_credentials",
                              error_description="The client_id and/or client_secret passed "
                                                "are incorrect."),
        "unknown-client": _j(404, error="Not Found"),
        "redirect": _form(200, error="redirect_uri_mismatch",
                          error_description="The redirect_uri MUST match the registered "
                                            "callback URL for this application."),
    },
    "gitlab": {
        "bad-code": _j(400, error="invalid_grant",
                       error_description="The provided authorization grant is invalid, "
                                         "expired, revoked, does not match the redirection URI "
                                         "used in the authorization request, or was issued to "
                                         "another client."),
        "wrong-secret": _j(401, error="invalid_client",
                           error_description="Client authentication failed due to unknown "
                                             "client, no client authentication included, or "
                                             "unsupported authentication method."),
    },
    "keycloak": {
        "bad-code": _j(400, error="invalid_grant", error_description="Code not valid"),
        "wrong-secret": _j(401, error="unauthorized_client",
                           error_description="Invalid client or Invalid client credentials"),
        "unknown-client": _j(401, error="invalid_client",
                             error_description="Invalid client or Invalid client credentials"),
    },
    "authentik": {
        "bad-code": _j(400, error="invalid_grant",
                       error_description="The provided authorization grant or refresh token "
                                         "is invalid, expired, revoked, does not match the "
                                         "redirection URI used in the authorization request, "
                                         "or was issued to another client"),
        "wrong-secret": _j(400, error="invalid_client",
                           error_description="Client authentication failed (e.g., unknown "
                                             "client, no client authentication included, or "
                                             "unsupported authentication method)"),
    },
    "okta": {
        "bad-code": _j(400, error="invalid_grant",
                       error_description="The authorization code is invalid or has expired."),
        "wrong-secret": _j(401, error="invalid_client",
                           error_description="The client secret supplied for a confidential "
                                             "client is invalid."),
        "unknown-client": _j(401, errorCode="invalid_client",
                             errorSummary="Invalid value for 'client_id' parameter.",
                             errorLink="invalid_client", errorId="oaeX", errorCauses=[]),
    },
    "auth0": {
        "bad-code": _j(403, error="invalid_grant", error_description="Invalid authorization code"),
        "wrong-secret": _j(401, error="access_denied", error_description="Unauthorized"),
    },
    "zitadel": {
        "bad-code": _j(400, error="invalid_request",
                       error_description="Errors.AuthRequest.NotFound"),
        "wrong-secret": _j(400, error="invalid_client", error_description="invalid secret"),
    },
    "authelia": {
        "bad-code": _j(400, error="invalid_grant",
                       error_description="The provided authorization grant (e.g., "
                                         "authorization code, resource owner credentials) or "
                                         "refresh token is invalid, expired, revoked."),
        "wrong-secret": _j(401, error="invalid_client",
                           error_description="Client authentication failed (e.g., unknown "
                                             "client, no client authentication included, or "
                                             "unsupported authentication method). The provided "
                                             "client secret did not match the registered "
                                             "client secret."),
        "wrong-method": _j(401, error="invalid_client",
                           error_description="Client authentication failed. The request was "
                                             "determined to be using 'token_endpoint_auth_"
                                             "method' method 'client_secret_post', however the "
                                             "OAuth 2.0 client registration does not allow "
                                             "this method."),
    },
}


@dataclass
class ReplayClient:
    client_id: str
    secret: str
    redirect_uri: str
    auth_method: str | None = None  # None: both accepted


@dataclass
class ReplayServer:
    base_url: str
    client: ReplayClient
    requests: list[dict[str, Any]] = field(default_factory=list)
    forced: dict[str, str] = field(default_factory=dict)  # flavour -> answer kind to force

    def token_url(self, flavour: str) -> str:
        return f"{self.base_url}/{flavour}/token"


@contextmanager
def run_replay_server(client: ReplayClient) -> Iterator[ReplayServer]:
    """Token endpoints at /<flavour>/token (and GitHub/GitLab/Microsoft's own paths)."""
    state = ReplayServer(base_url="", client=client)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            auth = self.headers.get("Authorization", "")
            method = "client_secret_post"
            if auth.startswith("Basic "):
                method = "client_secret_basic"
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            else:
                cid, secret = form.get("client_id", ""), form.get("client_secret", "")
            path = urlsplit(self.path).path
            flavour = path.strip("/").split("/")[0]
            state.requests.append({"path": path, "method": method, "form": form})
            kind = self._judge(flavour, path, form, cid, secret, method)
            answers = ANSWERS.get(flavour, ANSWERS["keycloak"])
            if kind not in answers:
                kind = "wrong-secret" if kind in ("unknown-client", "wrong-method") else "bad-code"
            status, ctype, body = answers[kind]
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _judge(self, flavour: str, path: str, form: dict[str, str], cid: str, secret: str,
                   method: str) -> str:
            if flavour in state.forced:
                return state.forced[flavour]
            c = state.client
            if cid != c.client_id:
                return "unknown-client"
            if c.auth_method and method != c.auth_method:
                return "wrong-method" if flavour == "authelia" else "wrong-secret"
            if secret != c.secret:
                return "wrong-secret"
            if form.get("grant_type") == "client_credentials":
                return "common-cc" if "/common/" in path else "token"
            if form.get("redirect_uri") != c.redirect_uri and flavour in ("google", "github"):
                return "redirect"
            return "bad-code"

    httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    state.base_url = f"http://{LOOPBACK}:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(2)


# ---------------------------------------------------------------------------------------------
# a fake InvenTree: the login API the web UI uses


@dataclass
class FakeApp:
    slug: str
    client_id: str
    authorize_url: str
    redirect_uri: str
    name: str = ""
    scope: str = "openid profile email"
    openid_configuration_url: str | None = None


@dataclass
class FakeInvenTree:
    base_url: str
    apps: dict[str, FakeApp] = field(default_factory=dict)
    legacy: bool = False  # 0.16/0.17
    cookie_secure: bool = False
    csrf_refuse: bool = False  # answer 403 to the login form (untrusted origin)
    requests: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def run_fake_inventree(apps: list[FakeApp] | None = None, *, legacy: bool = False,
                       cookie_secure: bool = False, port: int = 0) -> Iterator[FakeInvenTree]:
    state = FakeInvenTree(base_url="", apps={a.slug: a for a in apps or []}, legacy=legacy,
                          cookie_secure=cookie_secure)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _send(self, status: int, body: Any = b"", ctype: str = "application/json",
                  headers: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _cookies(self) -> dict[str, str]:
            out = {}
            for part in self.headers.get("Cookie", "").split(";"):
                k, _, v = part.strip().partition("=")
                if k:
                    out[k] = v
            return out

        def _csrf_cookie(self) -> tuple[str, str]:
            token = secrets.token_hex(16)
            attrs = "; Path=/; SameSite=Lax" + ("; Secure" if state.cookie_secure else "")
            return ("Set-Cookie", f"csrftoken={token}{attrs}")

        def _redirect_to_provider(self, app: FakeApp) -> None:
            query = urlencode({"client_id": app.client_id, "redirect_uri": app.redirect_uri,
                               "scope": app.scope, "response_type": "code",
                               "state": secrets.token_urlsafe(12)})
            self._send(302, b"", "text/html", [("Location", f"{app.authorize_url}?{query}"),
                                               ("Set-Cookie", "sessionid=s; Path=/")])

        def do_GET(self) -> None:  # noqa: N802
            path = urlsplit(self.path).path
            state.requests.append(("GET", path))
            if not state.legacy and path == "/api/auth/v1/config":
                providers = []
                for a in state.apps.values():
                    entry: dict[str, Any] = {"id": a.slug, "name": a.name or a.slug,
                                             "flows": ["provider_redirect"],
                                             "client_id": a.client_id}
                    if a.openid_configuration_url:
                        entry["openid_configuration_url"] = a.openid_configuration_url
                    providers.append(entry)
                self._send(200, {"status": 200, "data": {
                    "account": {"authentication_method": "username"},
                    "socialaccount": {"providers": providers}}})
            elif not state.legacy and path == "/api/auth/v1/auth/session":
                self._send(401, {"status": 401, "data": {"flows": []}, "meta": {
                    "is_authenticated": False}}, headers=[self._csrf_cookie()])
            elif state.legacy and path == "/api/auth/providers/":
                self._send(200, {"sso_enabled": True, "sso_registration": False,
                                 "providers": {a.slug: {"name": a.name or a.slug,
                                                        "login": f"/accounts/{a.slug}/login/"}
                                               for a in state.apps.values()}})
            elif state.legacy and path.startswith("/accounts/") and path.endswith("/login/"):
                self._send(200, b"<form method=post>Continue</form>", "text/html",
                           [self._csrf_cookie()])
            else:
                self._send(404, {"status": 404})

        def do_POST(self) -> None:  # noqa: N802
            path = urlsplit(self.path).path
            state.requests.append(("POST", path))
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            token = self._cookies().get("csrftoken")
            if state.csrf_refuse or not token or form.get("csrfmiddlewaretoken") != token:
                self._send(403, b"<h1>Forbidden (403)</h1><p>CSRF verification failed.</p>",
                           "text/html")
                return
            if not state.legacy and path == "/api/auth/v1/auth/provider/redirect":
                app = state.apps.get(form.get("provider", ""))
                if app is None or form.get("process") != "login":
                    cb = form.get("callback_url", "/")
                    self._send(302, b"", "text/html", [
                        ("Location", f"{cb}?error=unknown&error_process=login")])
                    return
                self._redirect_to_provider(app)
            elif state.legacy and path.startswith("/accounts/"):
                slug = path.split("/")[2]
                app = state.apps.get(slug)
                if app is None:
                    self._send(404, b"not found", "text/html")
                    return
                self._redirect_to_provider(app)
            else:
                self._send(404, {"status": 404})

    httpd = ThreadingHTTPServer((LOOPBACK, port), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    state.base_url = f"http://{LOOPBACK}:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(2)


# ---------------------------------------------------------------------------------------------
# an InvenTree install to check (config file + database rows)


class Site:
    """An InvenTree install under test: its config file and database, with row helpers."""

    def __init__(self, config: Any, db_url: str) -> None:
        self.config = config
        self.db_url = db_url

    @classmethod
    def sqlite(cls, root: Any, site_url: str | None, extra: str = "") -> Site:
        """A fresh source-layout install on SQLite with InvenTree's tables."""
        import sqlalchemy as sa

        from sso_wizard.core.demo import CONFIG_TEMPLATE, create_schema
        root.mkdir(parents=True, exist_ok=True)
        database = root / "inventree.sqlite3"
        engine = sa.create_engine(f"sqlite:///{database}")
        create_schema(engine)
        engine.dispose()
        config = root / "config.yaml"
        text = CONFIG_TEMPLATE.format(engine="sqlite3", name=str(database))
        if site_url:
            text += f"\nsite_url: {site_url}\n"
        config.write_text(text + extra, encoding="utf-8")
        return cls(config, f"sqlite:///{database}")

    @classmethod
    def from_install(cls, install: Any, site_url: str | None, extra: str = "") -> Site:
        """The conftest `install` fixture (SQLite, PostgreSQL or MariaDB) as a Site."""
        text = install.config.read_text(encoding="utf-8")
        if site_url:
            text += f"\nsite_url: {site_url}\n"
        install.config.write_text(text + extra, encoding="utf-8")
        return cls(install.config, install.db_url)

    def add_config(self, text: str) -> None:
        with open(self.config, "a", encoding="utf-8") as fh:
            fh.write("\n" + text + "\n")

    def instance(self) -> Any:
        from sso_wizard.core.instance import Instance
        return Instance.load(self.config, environ={})

    def snapshot(self) -> Any:
        from sso_wizard.core.stages import Snapshot
        return Snapshot.read(self.instance())

    def _exec(self, fn: Any) -> Any:
        import sqlalchemy as sa
        engine = sa.create_engine(self.db_url)
        try:
            with engine.begin() as conn:
                return fn(conn)
        finally:
            engine.dispose()

    def add_app(self, provider: str, client_id: str, secret: str, *, provider_id: str = "",
                name: str = "", settings: dict[str, Any] | None = None) -> None:
        import sqlalchemy as sa

        from sso_wizard.core import db as dbm
        values = {"provider": provider, "provider_id": provider_id,
                  "name": name or provider_id or provider, "client_id": client_id,
                  "secret": secret, "key": "", "settings": settings or {}}
        self._exec(lambda c: c.execute(sa.insert(dbm.socialapp).values(**values)))

    def update_app(self, slug: str, **values: Any) -> None:
        import sqlalchemy as sa

        from sso_wizard.core import db as dbm
        t = dbm.socialapp
        self._exec(lambda c: c.execute(sa.update(t).where(sa.or_(
            t.c.provider_id == slug, sa.and_(t.c.provider_id == "", t.c.provider == slug)))
            .values(**values)))

    def set_settings(self, **settings: Any) -> None:
        import sqlalchemy as sa

        from sso_wizard.core import db as dbm
        t = dbm.settings_table

        def write(conn: Any) -> None:
            for key, value in settings.items():
                text = str(value) if not isinstance(value, bool) else ("True" if value
                                                                        else "False")
                conn.execute(sa.delete(t).where(t.c.key == key))
                conn.execute(sa.insert(t).values(key=key, value=text))
        self._exec(write)

    def add_user(self, username: str, email: str, *, verified: bool | None = None,
                 active: bool = True) -> int:
        import datetime as dt

        import sqlalchemy as sa

        from sso_wizard.core import demo

        def write(conn: Any) -> int:
            now = dt.datetime(2025, 1, 1)
            uid = conn.execute(sa.insert(demo.auth_user).values(
                password="!", is_superuser=False, username=username, first_name="",
                last_name="", email=email, is_staff=False, is_active=active,
                date_joined=now)).inserted_primary_key[0]
            if verified is not None:
                conn.execute(sa.insert(demo.account_emailaddress).values(
                    email=email, verified=verified, primary=True, user_id=uid))
            return int(uid)
        return int(self._exec(write))

    def link(self, user_id: int, provider: str, uid: str) -> None:
        import datetime as dt

        import sqlalchemy as sa

        from sso_wizard.core import demo
        now = dt.datetime(2025, 1, 1)
        self._exec(lambda c: c.execute(sa.insert(demo.socialaccount).values(
            provider=provider, uid=uid, last_login=now, date_joined=now, extra_data={},
            user_id=user_id)))

    def log_error(self, kind: str, info: str, path: str, when: Any, data: str = "") -> None:
        import sqlalchemy as sa

        from sso_wizard.core import db as dbm
        self._exec(lambda c: c.execute(sa.insert(dbm.error_table).values(
            kind=kind, info=info, data=data, path=path, when=when, html="<pre>trace</pre>",
            modified=when)))


EMAIL_CONFIG = """email:
  host: smtp.example.com
  port: 587
  tls: true
  sender: inventree@example.com
"""
