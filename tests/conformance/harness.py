"""Test-side helpers for the conformance suite: run the InvenTree-like Django site in its own
process (Django's settings are per process, and InvenTree itself only reads its config at start),
prepare its database the way an InvenTree upgrade does, and play the browser through a login.

Nothing here imports Django: the site runs in a child process with `inventree_site` on its path.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PYTHON = sys.executable


def site_env(config: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: this config file, no INVENTREE_* from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVENTREE_")}
    env["INVENTREE_CONFIG_FILE"] = str(config)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO)])
    env["DJANGO_SETTINGS_MODULE"] = "inventree_site.settings"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def manage(config: Path, *args: str, timeout: float = 60,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`manage.py ARGS` on the conformance site for this config."""
    return subprocess.run([PYTHON, "-m", "inventree_site", *args], env=site_env(config, env),
                          capture_output=True, text=True, timeout=timeout, cwd=HERE)


def prepare_database(config: Path, db_url: str) -> None:
    """What `invoke migrate` leaves: allauth's, auth's, sessions' (and, with multi-site, sites')
    tables from their own migrations, and InvenTree's settings and error-log tables."""
    done = manage(config, "migrate", "--noinput", "-v", "0")
    if done.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{done.stdout}\n{done.stderr}")
    create_inventree_tables(db_url)


def create_inventree_tables(db_url: str) -> None:
    import sqlalchemy as sa

    from sso_wizard.core import db as dbmod
    engine = sa.create_engine(db_url)
    try:
        dbmod.metadata.create_all(engine, tables=[dbmod.settings_table, dbmod.error_table])
    finally:
        engine.dispose()


def drop_all_tables(db_url: str) -> None:
    """Empty a server database (every table, whoever made it)."""
    import sqlalchemy as sa
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            names = sa.inspect(conn).get_table_names()
            if conn.dialect.name == "postgresql":
                for name in names:
                    conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
            elif conn.dialect.name == "mysql":
                conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
                for name in names:
                    conn.execute(sa.text(f"DROP TABLE IF EXISTS `{name}`"))
                conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 1"))
            else:
                for name in names:
                    conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"'))
    finally:
        engine.dispose()


def reserve_socket() -> socket.socket:
    """A listening socket on 127.0.0.1: its port goes into site_url before the site starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@dataclass
class RunningSite:
    url: str
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    def stderr(self) -> str:
        return "".join(self.log)

    def adapter_view(self, verify: Any = True) -> dict[str, Any]:
        """allauth's own view of the apps (list_apps, list_providers, get_app per slug)."""
        resp = httpx.get(f"{self.url}/__conformance__/apps", timeout=10, verify=verify)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data


@contextmanager
def run_site(config: Path, sock: socket.socket, *, startup_timeout: float = 30,
             tls: tuple[Path, Path] | None = None) -> Iterator[RunningSite]:
    """Start the site on `sock` (a reserved listening socket) and stop it afterwards; with
    `tls` (certificate file, key file) it serves https."""
    import threading
    extra = ["--certfile", str(tls[0]), "--keyfile", str(tls[1])] if tls else []
    proc = subprocess.Popen(
        [PYTHON, "-m", "inventree_site", "serve", "--fd", str(sock.fileno()), *extra],
        env=site_env(config), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, pass_fds=(sock.fileno(),), cwd=HERE)
    sock.close()  # the child holds it now
    assert proc.stdout is not None and proc.stderr is not None
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(iter(proc.stderr.readline, "")),  # type: ignore[union-attr]
                     daemon=True).start()
    deadline = time.monotonic() + startup_timeout
    line = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("READY ") or not line:
            break
    if not line.startswith("READY "):
        proc.kill()
        proc.wait(5)
        time.sleep(0.1)
        raise RuntimeError(f"the conformance site did not start:\n{''.join(log)}")
    site = RunningSite(url=line.split(" ", 1)[1].strip(), process=proc, log=log)
    try:
        yield site
    finally:
        try:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(10)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            proc.kill()
            proc.wait(5)


@contextmanager
def tls_proxy(listener: socket.socket, backend_port: int, certfile: Path, keyfile: Path
              ) -> Iterator[None]:
    """A TLS-terminating proxy in front of the site, the way most InvenTree servers run: the
    browser speaks https to `listener`, the site gets plain http on `backend_port` (and, like
    a proxy without X-Forwarded-Proto, no hint that the browser used https)."""
    import ssl
    import threading
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(certfile), str(keyfile))
    listener.settimeout(0.1)
    stop = threading.Event()

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve(conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            tls = ctx.wrap_socket(conn, server_side=True)
            tls.settimeout(None)
            backend = socket.create_connection(("127.0.0.1", backend_port), timeout=10)
            backend.settimeout(None)
        except OSError:
            conn.close()
            return
        threading.Thread(target=pump, args=(backend, tls), daemon=True).start()
        pump(tls, backend)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(2)
        listener.close()


# -- the browser ----------------------------------------------------------------------------


class LoginFailed(AssertionError):
    """A hop of the round trip failed: `step` is redirect, authorize or callback."""

    def __init__(self, step: str, status: int | None, detail: str) -> None:
        self.step, self.status, self.detail = step, status, detail
        super().__init__(f"{step} failed ({status}): {detail}")


@dataclass
class LoginResult:
    """Where one login round trip ended."""

    landed: str  # the URL the site finally redirected the browser to
    session: dict[str, Any]  # GET /api/auth/v1/auth/session (status + body)
    authorize_url: str = ""
    redirect_uri: str = ""
    signup: dict[str, Any] | None = None  # the provider sign-up form's answer, when sent

    @property
    def pending_signup(self) -> bool:
        """allauth holds the sign-in for a sign-up form (auto sign-up was not possible)."""
        flows = self.session.get("data", {}).get("flows", [])
        return any(f.get("id") == "provider_signup" and f.get("is_pending") for f in flows)

    @property
    def error(self) -> str | None:
        query = parse_qs(urlsplit(self.landed).query)
        return query.get("error", [None])[0]

    @property
    def user(self) -> dict[str, Any] | None:
        if self.session.get("status") != 200:
            return None
        user: dict[str, Any] | None = self.session.get("data", {}).get("user")
        return user


def sign_in(site_url: str, provider_slug: str, sub: str, *, timeout: float = 15,
            signup_form: dict[str, str] | None = None, verify: Any = True) -> LoginResult:
    """Sign in through the 1.x UI's flow, playing the browser with httpx (no redirects followed
    automatically: every hop is checked).

    1. GET /api/auth/v1/auth/session (401, sets csrftoken);
    2. form POST /api/auth/v1/auth/provider/redirect -> 302 to the provider's authorize URL;
    3. at oidc-provider-mock: GET the consent form, POST sub=<sub> -> 302 back with code and state;
    4. GET /accounts/<slug>/login/callback/?code=…&state=… -> 302 to /web/logged-in[?error=…];
    5. GET /api/auth/v1/auth/session: 200 with the user when signed in;
    6. with `signup_form`, when allauth asks for a sign-up form (auto sign-up off), fill it in:
       POST /api/auth/v1/auth/provider/signup, then read the session again.
    """
    with httpx.Client(timeout=timeout, follow_redirects=False, verify=verify) as browser:
        authorize_url = start_login(browser, site_url, provider_slug)
        query = parse_qs(urlsplit(authorize_url).query)
        redirect_uri = query.get("redirect_uri", [""])[0]
        try:
            form = browser.get(authorize_url)
        except httpx.HTTPError as exc:
            raise LoginFailed("authorize", None, f"the site sent the browser to "
                              f"{authorize_url}, which cannot be reached ({exc})") from exc
        if form.status_code != 200:
            raise LoginFailed("authorize", form.status_code, _text(form.text))
        back = browser.post(authorize_url, data={"sub": sub})
        if back.status_code != 302:
            raise LoginFailed("authorize", back.status_code, _text(back.text))
        callback = back.headers["location"]
        done = browser.get(callback)
        if done.status_code != 302:
            raise LoginFailed("callback", done.status_code, _text(done.text))
        landed = done.headers["location"]
        session = browser.get(f"{site_url}/api/auth/v1/auth/session")
        result = LoginResult(landed=landed, session=session.json(), authorize_url=authorize_url,
                             redirect_uri=redirect_uri)
        if signup_form is not None and result.pending_signup:
            sent = browser.post(f"{site_url}/api/auth/v1/auth/provider/signup", json=signup_form,
                                headers={"X-CSRFToken": browser.cookies.get("csrftoken") or "",
                                         "Origin": site_url,
                                         "Referer": f"{site_url}/web/register"})
            result.signup = {"status": sent.status_code, **sent.json()}
            result.session = browser.get(f"{site_url}/api/auth/v1/auth/session").json()
        return result


def start_login(browser: httpx.Client, site_url: str, provider_slug: str) -> str:
    """Steps 1–2 of `sign_in`: where the site sends the browser to authorize."""
    first = browser.get(f"{site_url}/api/auth/v1/auth/session")
    assert first.status_code == 401, first.text
    token = browser.cookies.get("csrftoken")
    assert token, "the site set no csrftoken cookie"
    start = browser.post(f"{site_url}/api/auth/v1/auth/provider/redirect", data={
        "provider": provider_slug, "callback_url": f"{site_url}/web/logged-in",
        "process": "login", "csrfmiddlewaretoken": token},
        # What a browser on the login page sends (Django checks them on https).
        headers={"Origin": site_url, "Referer": f"{site_url}/web/login"})
    if start.status_code != 302:
        raise LoginFailed("redirect", start.status_code, _text(start.text))
    return str(start.headers["location"])


def where_login_goes(site_url: str, provider_slug: str, verify: Any = True) -> str:
    with httpx.Client(timeout=10, follow_redirects=False, verify=verify) as browser:
        return start_login(browser, site_url, provider_slug)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()[:300]


def register_client(provider_url: str, redirect_uri: str) -> tuple[str, str]:
    """Register a confidential client at oidc-provider-mock (RFC 7591): (client_id, secret)."""
    resp = httpx.post(f"{provider_url}/oauth2/clients", json={
        "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "client_secret_post"},
        timeout=10)
    resp.raise_for_status()
    data = resp.json()
    return data["client_id"], data["client_secret"]


def set_user(provider_url: str, sub: str, **claims: Any) -> None:
    resp = httpx.put(f"{provider_url}/users/{sub}", json=claims, timeout=10)
    assert resp.status_code == 204, resp.text


def get_json(url: str, verify: Any = True) -> tuple[int, Any]:
    resp = httpx.get(url, timeout=10, verify=verify)
    try:
        return resp.status_code, resp.json()
    except json.JSONDecodeError:
        return resp.status_code, resp.text


def codes_in(data: Any) -> dict[str, str]:
    """Every finding (code -> severity + message) anywhere in a check's JSON."""
    found: dict[str, str] = {}
    if isinstance(data, dict):
        if isinstance(data.get("code"), str) and "severity" in data:
            found[data["code"]] = f"{data['severity']}: {data.get('message', '')}"
        for value in data.values():
            found.update(codes_in(value))
    elif isinstance(data, list):
        for value in data:
            found.update(codes_in(value))
    return found
