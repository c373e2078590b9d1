"""Loopback SMTP servers for the SMTP check's tests (helpers, not a conftest: import what you need).

- ``run_smtp_server()``: a real aiosmtpd server on 127.0.0.1, ephemeral port, in a thread —
  plain, STARTTLS (``starttls=ctx``) or implicit TLS (``implicit=ctx``), with AUTH (``users``);
  every accepted message lands in ``server.handler.messages``.
- ``RecordingHandler``: the handler; it can refuse the sender or the recipient.
- ``trustme_server_context()`` / ``write_ca()``: certificates from trustme.
- ``make_pki()``: certificates trustme cannot make (expired, self-signed), built with
  ``cryptography``.
- ``silent_port()``: accepts TCP connections (kernel backlog) and never says a word.
- ``refusing_port()``: bound but not listening, so connections are refused.
- ``scripted_server()``: a tiny socket server running a script per connection (e.g. greet, read
  EHLO, hang up).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------------------------------------
# aiosmtpd


@dataclass
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    from_header: str
    raw: bytes


@dataclass
class RecordingHandler:
    """Accepts everything (unless told to refuse) and keeps what it received."""

    refuse_sender: str | None = None  # e.g. "550 5.7.1 Sender not allowed"
    refuse_recipient: str | None = None  # e.g. "550 5.1.1 User unknown"
    messages: list[ReceivedMessage] = field(default_factory=list)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.refuse_recipient:
            return self.refuse_recipient
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.messages.append(ReceivedMessage(
            mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
            subject=str(msg["Subject"] or ""), from_header=str(msg["From"] or ""), raw=raw))
        return "250 2.0.0 Message accepted for delivery"


class PasswordAuthenticator:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.attempts: list[tuple[str, str]] = []  # (mechanism, login)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        self.attempts.append((mechanism, login))
        if self.users.get(login) == auth_data.password.decode():
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535


class _EphemeralController(Controller):
    """aiosmtpd's threaded Controller on port 0: learn the real port before the first probe."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler
    authenticator: PasswordAuthenticator | None


@contextmanager
def run_smtp_server(
    *,
    handler: RecordingHandler | None = None,
    starttls: ssl.SSLContext | None = None,
    implicit: ssl.SSLContext | None = None,
    users: dict[str, str] | None = None,
    auth_require_tls: bool = True,
    require_starttls: bool = False,
    **smtp_kwargs: Any,
) -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1:<ephemeral>; extra keywords go to aiosmtpd's SMTP class."""
    handler = handler or RecordingHandler()
    authenticator = PasswordAuthenticator(users) if users is not None else None
    kwargs: dict[str, Any] = {"auth_require_tls": auth_require_tls, **smtp_kwargs}
    if starttls is not None:
        kwargs["tls_context"] = starttls
        kwargs["require_starttls"] = require_starttls
    if authenticator is not None:
        kwargs["authenticator"] = authenticator
    controller = _EphemeralController(handler, hostname=LOOPBACK, port=0, ssl_context=implicit,
                                      ready_timeout=5.0, server_hostname="smtp.test", **kwargs)
    controller.start()
    try:
        yield SmtpServer(LOOPBACK, controller.port, handler, authenticator)
    finally:
        controller.stop()


# ---------------------------------------------------------------------------------------------
# certificates


def trustme_server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("localhost", LOOPBACK))).configure_cert(ctx)
    return ctx


def write_ca(ca: trustme.CA, directory: Path) -> str:
    path = directory / "trusted-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@dataclass
class Pki:
    server_context: ssl.SSLContext
    ca_file: str  # the CA to trust (for a self-signed certificate: the certificate itself)


def make_pki(
    directory: Path,
    *,
    names: tuple[str, ...] = ("localhost", LOOPBACK),
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    self_signed: bool = False,
) -> Pki:
    """A server certificate with the given validity, signed by a fresh CA (or by itself)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    not_before = not_before or now - dt.timedelta(days=1)
    not_after = not_after or now + dt.timedelta(days=90)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sso-wizard tests"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    if self_signed:
        issuer_name, issuer_key = name(names[0]), leaf_key
    else:
        issuer_key = ec.generate_private_key(ec.SECP256R1())
        issuer_name = name("sso-wizard test CA")
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(issuer_name).issuer_name(issuer_name)
            .public_key(issuer_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=3650))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(issuer_key, hashes.SHA256())
        )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(names[0])).issuer_name(issuer_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        # like `openssl req -x509`: a self-signed certificate is its own CA
        .add_extension(x509.BasicConstraints(ca=self_signed, path_length=None), critical=True)
    )
    leaf = builder.sign(issuer_key, hashes.SHA256())

    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ca_path = directory / "ca.pem"
    ca_path.write_bytes((leaf if self_signed else ca_cert).public_bytes(serialization.Encoding.PEM))

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert_path), str(key_path))
    return Pki(ctx, str(ca_path))


# ---------------------------------------------------------------------------------------------
# raw sockets


@contextmanager
def silent_port() -> Iterator[int]:
    """Listening, never accepting: the kernel completes the handshake, nobody ever speaks."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@contextmanager
def refusing_port() -> Iterator[int]:
    """Bound but not listening: connections are refused, and no other test can take the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        yield sock.getsockname()[1]


@contextmanager
def scripted_server(script: Callable[[socket.socket], None]) -> Iterator[int]:
    """Run `script(conn)` in a thread for every accepted connection, then close it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOOPBACK, 0))
    listener.listen(16)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with suppress(OSError):
                    script(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)


def read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def refuse_service(conn: socket.socket) -> None:
    conn.sendall(b"554 5.7.1 No SMTP service here for you\r\n")
    read_line(conn)


def helo_only(conn: socket.socket) -> None:
    """An old server: EHLO unknown, HELO fine, then QUIT."""
    conn.sendall(b"220 old.test SMTP\r\n")
    while line := read_line(conn):
        verb = line.split(b" ", 1)[0].strip().upper()
        if verb == b"EHLO":
            conn.sendall(b"502 5.5.2 Command not recognized\r\n")
        elif verb == b"HELO":
            conn.sendall(b"250 old.test\r\n")
        elif verb == b"QUIT":
            conn.sendall(b"221 Bye\r\n")
            return
        else:
            conn.sendall(b"502 5.5.2 Command not recognized\r\n")


def greet_then_ignore(conn: socket.socket) -> None:
    """Greets, then swallows every command without a reply until the client leaves."""
    conn.sendall(b"220 mute.test ESMTP\r\n")
    while read_line(conn):
        pass


def greet_then_hang_up_after_ehlo(conn: socket.socket) -> None:
    conn.sendall(b"220 flaky.test ESMTP\r\n")
    read_line(conn)  # EHLO ... — and hang up without a word
