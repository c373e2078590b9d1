"""Fixtures for the conformance suite: an InvenTree install whose database was made by the real
migrations (allauth, auth, sessions, contenttypes, and sites when multi-site is on) plus
InvenTree's settings and error-log tables; the local OpenID Connect provider; the wizard's CLI
run as a real process; and the InvenTree-like Django site started on the install's site_url.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conformance import harness
from tests.conftest import write_source_install
from tests.integration.oidc_servers import OidcProvider, run_oidc_provider

OIDC_SLUG = "mockidp"

#: People at the provider: (sub, email). example.com and example.org are the allowed domains.
PEOPLE = {
    "alice": "alice@example.com",
    "bob": "bob@example.org",
    "carol": "carol@example.com",
    "dave": "dave@example.com",
    "mallory": "mallory@evil.test",
    "trudy": "trudy@evil.test",
}


@pytest.fixture(scope="session")
def idp() -> Iterator[OidcProvider]:
    """oidc-provider-mock with client registration required: a wrong secret or an unregistered
    redirect URI is really refused."""
    with run_oidc_provider(require_client_registration=True) as provider:
        for sub, email in PEOPLE.items():
            harness.set_user(provider.base_url, sub, email=email, email_verified=True,
                             preferred_username=sub, name=sub.title())
        yield provider


@dataclass(frozen=True)
class TlsFiles:
    """A private CA and a certificate for 127.0.0.1 (trustme), as PEM files."""

    ca: Path
    cert: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    import trustme
    root = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    files = TlsFiles(root / "ca.pem", root / "cert.pem", root / "key.pem")
    ca.cert_pem.write_to_path(str(files.ca))
    cert.cert_chain_pems[0].write_to_path(str(files.cert))
    cert.private_key_pem.write_to_path(str(files.key))
    return files


@dataclass
class SiteInstall:
    """One InvenTree install for the conformance site, with its port reserved."""

    root: Path
    config: Path
    db_url: str
    backend: str
    multi: bool
    state_dir: Path
    tls: TlsFiles | None = None  # serve https (site_url is then https too)
    sock: Any = None
    site_url: str = ""
    secrets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sock = harness.reserve_socket()
        scheme = "https" if self.tls else "http"
        self.site_url = f"{scheme}://127.0.0.1:{self.sock.getsockname()[1]}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What a browser that trusts this site's CA passes to httpx."""
        return self.tls.context() if self.tls else True

    # -- the wizard, as a real process ------------------------------------------------------

    def wizard(self, *args: str, check: bool = False, timeout: float = 60,
               in_process: bool = False) -> subprocess.CompletedProcess[str]:
        """`sso-wizard --config <this install> ARGS`: a real process by default; in process
        (click's CliRunner, same code, no interpreter start-up) for read-only commands."""
        if in_process:
            from click.testing import CliRunner

            from sso_wizard.cli import main
            got = CliRunner().invoke(main, ["--config", str(self.config), *args],
                                     env={"SSO_WIZARD_STATE_DIR": str(self.state_dir)},
                                     catch_exceptions=False)
            done = subprocess.CompletedProcess(["sso-wizard", *args], got.exit_code,
                                               got.stdout, got.stderr)
        else:
            env = {k: v for k, v in os.environ.items() if not k.startswith("INVENTREE_")}
            env["SSO_WIZARD_STATE_DIR"] = str(self.state_dir)
            done = subprocess.run([sys.executable, "-m", "sso_wizard", "--config",
                                   str(self.config), *args], env=env, capture_output=True,
                                  text=True, timeout=timeout, cwd=harness.REPO)
        if check and done.returncode != 0:
            raise AssertionError(f"sso-wizard {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    def apply(self, answers: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        path = self.root / "answers.yaml"
        path.write_text(textwrap.dedent(answers), encoding="utf-8")
        return self.wizard("apply", "--yes", str(path), check=check)

    def status(self) -> dict[str, Any]:
        done = self.wizard("status", "--json", in_process=True)
        data: dict[str, Any] = json.loads(done.stdout)
        return data

    def finding_codes(self, *severities: str) -> set[str]:
        wanted = severities or ("error", "warning")
        return {f["code"] for stage in self.status()["stages"].values()
                for f in stage["findings"] if f["severity"] in wanted}

    # -- the provider -----------------------------------------------------------------------

    def callback(self, slug: str = OIDC_SLUG, site_url: str | None = None) -> str:
        return f"{site_url or self.site_url}/accounts/{slug}/login/callback/"

    def register(self, idp: OidcProvider, slug: str = OIDC_SLUG,
                 redirect_uri: str | None = None) -> tuple[str, str]:
        """Register the app at the provider with this site's callback; keep the secret in a
        0600 file, the way an admin hands it to the wizard (secret_file)."""
        client_id, secret = harness.register_client(idp.base_url,
                                                    redirect_uri or self.callback(slug))
        path = self.root / "secrets" / slug
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secret + "\n")
        self.secrets[slug] = secret
        return client_id, secret

    # -- the site ---------------------------------------------------------------------------

    @contextmanager
    def serve(self) -> Iterator[harness.RunningSite]:
        """Start the site (reads config.yaml now, like InvenTree at start-up). Once only: the
        reserved socket is handed over. With TLS the site sits behind a TLS-terminating proxy
        on the public port, as most InvenTree servers do."""
        if self.tls is None:
            with harness.run_site(self.config, self.sock) as site:
                yield site
            return
        public, self.sock = self.sock, None
        with harness.run_site(self.config, harness.reserve_socket()) as site, \
                harness.tls_proxy(public, int(site.url.rsplit(":", 1)[1]), self.tls.cert,
                                  self.tls.key):
            site.url = self.site_url
            yield site

    def rows(self, table: str) -> list[dict[str, Any]]:
        import sqlalchemy as sa
        engine = sa.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return [dict(r) for r in conn.execute(
                    sa.text(f"SELECT * FROM {table} ORDER BY id")).mappings()]
        finally:
            engine.dispose()

    def execute(self, sql: str, **params: Any) -> None:
        import sqlalchemy as sa
        engine = sa.create_engine(self.db_url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(sql), params)
        finally:
            engine.dispose()

    def close(self) -> None:
        if self.sock is not None and self.sock.fileno() != -1:
            self.sock.close()
        self.sock = None


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """A migrated SQLite database per multi-site setting, made once and copied per install."""
    out: dict[bool, Path] = {}
    for multi in (False, True):
        root = tmp_path_factory.mktemp(f"template-multi-{multi}")
        db = root / "inventree.sqlite3"
        url = f"sqlite:///{db}"
        config = write_source_install(root, url, "site_multi: true\n" if multi else "")
        harness.prepare_database(config, url)
        out[multi] = db
    return out


def new_install(root: Path, backend: str, multi: bool, request: pytest.FixtureRequest,
                templates: dict[bool, Path], tls: TlsFiles | None = None) -> SiteInstall:
    """An install on `backend` with freshly migrated tables."""
    root.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        db = root / "inventree.sqlite3"
        shutil.copyfile(templates[multi], db)
        url = f"sqlite:///{db}"
    else:
        url = request.getfixturevalue("pg_database" if backend == "postgresql"
                                      else "mysql_database")
        harness.drop_all_tables(url)
    extra = "site_multi: true\n" if multi else ""
    config = write_source_install(root / "inventree", url, extra)
    if backend != "sqlite":
        harness.prepare_database(config, url)
    return SiteInstall(root=root, config=config, db_url=url, backend=backend, multi=multi,
                       state_dir=root / "wizard-state", tls=tls)


@pytest.fixture
def make_install(tmp_path: Path, request: pytest.FixtureRequest,
                 sqlite_templates: dict[bool, Path]) -> Iterator[Any]:
    """Factory: make_install(backend="sqlite", multi=False) -> SiteInstall (function scope)."""
    made: list[SiteInstall] = []

    def make(backend: str = "sqlite", multi: bool = False, name: str = "install",
             tls: bool = False) -> SiteInstall:
        inst = new_install(tmp_path / name, backend, multi, request, sqlite_templates,
                           tls=request.getfixturevalue("tls_files") if tls else None)
        made.append(inst)
        return inst

    yield make
    for inst in made:
        inst.close()
        if inst.backend != "sqlite":
            harness.drop_all_tables(inst.db_url)


def standard_answers(inst: SiteInstall, idp: OidcProvider, client_id: str, *,
                     restriction: str = "@example.com,@example.org", auto: bool = True,
                     email: bool = True) -> str:
    """What an admin would apply: an OpenID Connect app at the local provider, two more apps
    (with provider settings and app settings), InvenTree's SSO settings and email."""
    email_block = ("email: {host: smtp.example.com, port: 587, tls: true, username: inventree,"
                   " sender: inventree@example.com}\n") if email else ""
    return f"""\
site_url: {inst.site_url}
provider_settings:
  github: {{VERIFIED_EMAIL: true}}
  microsoft: {{TENANT: organizations}}
apps:
  - provider: openid_connect
    provider_id: {OIDC_SLUG}
    name: Mock IdP
    client_id: {client_id}
    secret_file: secrets/{OIDC_SLUG}
    settings: {{server_url: "{idp.base_url}", fetch_userinfo: true}}
  - provider: github
    name: GitHub
    client_id: Iv1.conformance0123
    secret: "gh-secret-Zx9!#:{{'\\"-ü"
  - provider: microsoft
    name: Microsoft Entra ID
    client_id: 00000000-aaaa-bbbb-cccc-000000000001
    secret: ms-secret-value~0123456789
    settings: {{tenant: organizations}}
settings:
  LOGIN_ENABLE_SSO: true
  LOGIN_ENABLE_SSO_REG: true
  LOGIN_SIGNUP_SSO_AUTO: {'true' if auto else 'false'}
  LOGIN_SIGNUP_MAIL_RESTRICTION: "{restriction}"
{email_block}"""


def oidc_only_answers(inst: SiteInstall, idp: OidcProvider, client_id: str, *,
                      settings: str = "{LOGIN_ENABLE_SSO_REG: true}", email: bool = True,
                      site_url: str | None = None) -> str:
    email_block = ("email: {host: smtp.example.com, port: 587, tls: true, "
                   "sender: inventree@example.com}\n") if email else ""
    return f"""\
site_url: {site_url or inst.site_url}
apps:
  - provider: openid_connect
    provider_id: {OIDC_SLUG}
    name: Mock IdP
    client_id: {client_id}
    secret_file: secrets/{OIDC_SLUG}
    settings: {{server_url: "{idp.base_url}"}}
settings: {settings}
{email_block}"""


def wizard_has_command(*path: str) -> bool:
    """Is `sso-wizard <path…>` a registered command (the live checks are being built)?"""
    from sso_wizard.cli import main
    command: Any = main
    for name in path:
        commands = getattr(command, "commands", {})
        if name not in commands:
            return False
        command = commands[name]
    return True


NEEDS_CHECK_ALL = pytest.mark.skipif(
    not wizard_has_command("check", "all"),
    reason="`sso-wizard check all` is not in the CLI yet (being built in "
           "sso_wizard/core/checks/{oauth,server,errors}.py and cli_check.py)")
NEEDS_CHECK_SERVER = pytest.mark.skipif(
    not wizard_has_command("check", "server"),
    reason="`sso-wizard check server` is not in the CLI yet (being built in "
           "sso_wizard/core/checks/server.py and cli_check.py)")
