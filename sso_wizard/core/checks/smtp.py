"""The SMTP check of InvenTree's `email:` settings (`sso-wizard check email`).

InvenTree keeps SSO sign-up closed until email works, so this check walks the same road InvenTree's
Django mail backend walks — resolve, connect, greeting, EHLO, STARTTLS or implicit TLS, certificate,
AUTH, optionally a real test message, QUIT — one bounded step at a time, and turns every fault into
a `Finding` with a specific code, a plain-words message and the fix.

Network problems never raise to the caller; only `asyncio.CancelledError` propagates (the
connection is closed on the way out). Secrets never leave this module: the password is redacted
from the transcript (AUTH payloads become `****`), and every text that leaves (steps, findings,
transcript) is scrubbed of the password and the AUTH blobs as a second line of defence.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import email.utils
import functools
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Literal, NoReturn, TypeVar

import aiosmtplib
from aiosmtplib.response import SMTPResponse
from aiosmtplib.typing import Default

from sso_wizard.core.findings import Finding, error, has_errors, warning

__all__ = [
    "Mode",
    "SmtpCheckResult",
    "SmtpSettings",
    "SmtpStep",
    "check_smtp",
    "format_result",
    "probe_mode",
]

Mode = Literal["starttls", "implicit", "plain"]

_T = TypeVar("_T")

_MIN_SECRET_LEN = 4  # shorter "secrets" would shred every transcript line when scrubbed
_EXPIRY_WARNING_DAYS = 14
_TEST_SUBJECT = "sso-wizard test message"

# OpenSSL X509_V_ERR_* codes that need their own diagnosis.
_V_UNABLE_TO_GET_ISSUER_CERT = 2
_V_CERT_NOT_YET_VALID = 9
_V_CERT_HAS_EXPIRED = 10
_V_DEPTH_ZERO_SELF_SIGNED_CERT = 18
_V_SELF_SIGNED_CERT_IN_CHAIN = 19
_V_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
_V_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
_V_HOSTNAME_MISMATCH = 62
_V_IP_ADDRESS_MISMATCH = 64


# --------------------------------------------------------------------------------------------
# Public data types


@dataclass(frozen=True)
class SmtpSettings:
    """What InvenTree's `email:` section holds (plus what only the check needs)."""

    host: str
    port: int = 25
    username: str = ""
    password: str = field(default="", repr=False)
    tls: bool = False  # STARTTLS
    ssl: bool = False  # implicit TLS
    sender: str = ""
    prefix: str = "[InvenTree] "
    ca_file: str | None = None  # admin-supplied CA bundle to trust (on top of the system store)
    timeout: float = 10.0  # per step, seconds

    def __post_init__(self) -> None:
        if not self.timeout > 0:  # also rejects NaN
            raise ValueError("timeout must be a positive number of seconds")


@dataclass
class SmtpStep:
    name: str  # resolve, connect, tls, banner, ehlo, starttls, certificate, auth, send, quit
    ok: bool | None  # None = skipped
    detail: str = ""
    elapsed: float = 0.0  # seconds

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail,
                "elapsed": round(self.elapsed, 4)}


@dataclass
class SmtpCheckResult:
    steps: list[SmtpStep] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    inferred_mode: Mode | None = None
    suggested: dict[str, Any] = field(default_factory=dict)  # e.g. {"tls": True, "ssl": False}

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)

    def step(self, name: str) -> SmtpStep | None:
        """The first step with this name, if any."""
        return next((s for s in self.steps if s.name == name), None)

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def to_json(self, *, transcript: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ok": self.ok,
            "steps": [s.to_json() for s in self.steps],
            "findings": [f.to_json() for f in self.findings],
            "inferred_mode": self.inferred_mode,
            "suggested": dict(self.suggested),
        }
        if transcript:
            data["transcript"] = list(self.transcript)
        return data


# --------------------------------------------------------------------------------------------
# Small helpers


async def _in_daemon_thread(fn: Callable[[], _T]) -> _T:
    """Run a blocking call (DNS) in a daemon thread.

    Unlike the loop's default executor, a resolver stuck past our timeout neither blocks
    interpreter exit nor `asyncio.run()`'s executor shutdown.
    """
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[_T] = loop.create_future()

    def settle_result(value: _T) -> None:
        if not fut.done():
            fut.set_result(value)

    def settle_error(exc: BaseException) -> None:
        if not fut.done():
            fut.set_exception(exc)

    def target() -> None:
        outcome: Callable[[], None]
        try:
            outcome = functools.partial(settle_result, fn())
        except Exception as exc:
            outcome = functools.partial(settle_error, exc)
        try:
            loop.call_soon_threadsafe(outcome)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    threading.Thread(target=target, name="sso-wizard-smtp-dns", daemon=True).start()
    return await fut


_fqdn_cache: str | None = None
_EHLO_NAME_OK = re.compile(r"^[A-Za-z0-9.\-\[\]:_]+$")


async def _local_hostname(limit: float) -> str:
    """The name we say in EHLO: the machine's FQDN like Django's DNS_NAME, cached, bounded."""
    global _fqdn_cache
    if _fqdn_cache is None:
        try:
            async with asyncio.timeout(min(limit, 2.0)):
                name = await _in_daemon_thread(socket.getfqdn)
        except (OSError, TimeoutError):
            name = "localhost"
        _fqdn_cache = name if name and _EHLO_NAME_OK.match(name) else "localhost"
    return _fqdn_cache


def _unverified_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _fmt_seconds(value: float) -> str:
    return f"{value:g} s"


def _mechs(methods: list[str] | None) -> str:
    if methods is None:
        return "not asked"
    return " ".join(m.upper() for m in methods) if methods else "none"


def _response_lines(response: SMTPResponse) -> list[str]:
    parts = response.message.split("\n") if response.message else [""]
    lines = [f"{response.code}-{p}" for p in parts[:-1]]
    lines.append(f"{response.code} {parts[-1]}".rstrip())
    return lines


def _reply_text(code: int, message: str) -> str:
    text = " ".join(line.strip() for line in message.splitlines() if line.strip())
    return f"{code} {text}".strip()


def _close_socket_if_open(sock: socket.socket) -> None:
    if sock.fileno() != -1:
        sock.close()


def _ca_names(ctx: ssl.SSLContext) -> frozenset[str]:
    return frozenset(_CertInfo.from_peercert(ca).subject for ca in ctx.get_ca_certs()
                     if isinstance(ca, dict))


@functools.cache
def _system_ca_names() -> frozenset[str]:
    """Names of the CAs in the system store (loaded once per process: it takes ~20 ms)."""
    return _ca_names(ssl.create_default_context())


@dataclass
class _CertInfo:
    subject: str
    names: list[str]
    issuer: str
    not_before: datetime | None
    not_after: datetime | None
    self_signed: bool

    @classmethod
    def from_peercert(cls, cert: dict[str, Any]) -> _CertInfo:
        def pick(rdns: Any, *keys: str) -> str:
            flat = {k: v for rdn in rdns or () for (k, v) in rdn}
            return next((flat[k] for k in keys if k in flat), "")

        names = [v for (k, v) in cert.get("subjectAltName", ()) if k in ("DNS", "IP Address")]
        subject = pick(cert.get("subject"), "commonName", "organizationName")
        issuer = pick(cert.get("issuer"), "commonName", "organizationName")

        def when(key: str) -> datetime | None:
            raw = cert.get(key)
            if not raw:
                return None
            return datetime.fromtimestamp(ssl.cert_time_to_seconds(raw), UTC)

        return cls(subject or (names[0] if names else "?"), names, issuer or "?",
                   when("notBefore"), when("notAfter"),
                   cert.get("subject") == cert.get("issuer"))

    @classmethod
    def from_der(cls, der: bytes) -> _CertInfo | None:
        try:
            from cryptography import x509
            from cryptography.x509.oid import NameOID
        except ImportError:  # cryptography comes with authlib; without it, no details
            return None
        try:
            cert = x509.load_der_x509_certificate(der)

            def name_of(name: x509.Name) -> str:
                for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
                    attrs = name.get_attributes_for_oid(oid)
                    if attrs:
                        return str(attrs[0].value)
                return name.rfc4514_string() or "?"

            names: list[str] = []
            try:
                san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
                names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
            except x509.ExtensionNotFound:
                pass
            return cls(name_of(cert.subject), names, name_of(cert.issuer),
                       cert.not_valid_before_utc, cert.not_valid_after_utc,
                       cert.issuer == cert.subject)
        except Exception:  # a certificate we cannot parse: report without details
            return None

    def covers(self) -> str:
        names = self.names or ([self.subject] if self.subject != "?" else [])
        return ", ".join(names[:5]) + (" …" if len(names) > 5 else "") if names else "no names"


def _days(delta_from: datetime, to: datetime) -> int:
    return int((to - delta_from).total_seconds() // 86400)


# --------------------------------------------------------------------------------------------
# Transcript and the recording client


class _Transcript:
    """`C:`/`S:` lines and `-- notes --`, with AUTH payloads redacted as they are written."""

    def __init__(self, password: str) -> None:
        self.lines: list[str] = []
        self._secrets: set[str] = set()
        self.add_secret(password)

    def add_secret(self, secret: str) -> None:
        if len(secret) >= _MIN_SECRET_LEN:
            self._secrets.add(secret)

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, "****")
        return text

    def client(self, text: str) -> None:
        self.lines.append(f"C: {text}")

    def server(self, response: SMTPResponse) -> None:
        self.lines.extend(f"S: {line}" for line in _response_lines(response))

    def note(self, text: str) -> None:
        self.lines.append(f"-- {text} --")


class _RecordingSMTP(aiosmtplib.SMTP):
    """aiosmtplib's client, writing every command and reply to the transcript.

    `execute_command` is the single funnel for EHLO/HELO/AUTH/MAIL/RCPT/RSET/QUIT; the greeting,
    STARTTLS and DATA go through the protocol directly and are logged by the check itself.
    """

    def __init__(self, transcript: _Transcript, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._log = transcript
        self._credential_next = False  # the last reply was 334: the next line is a credential

    def _describe(self, args: tuple[bytes, ...]) -> str:
        if self._credential_next:
            for arg in args:
                self._log.add_secret(arg.decode("ascii", "replace"))
            return "****"
        if args and args[0].upper() == b"AUTH":
            mech = args[1].decode("ascii", "replace") if len(args) > 1 else ""
            for arg in args[2:]:
                self._log.add_secret(arg.decode("ascii", "replace"))
            return f"AUTH {mech} ****" if len(args) > 2 else f"AUTH {mech}".rstrip()
        return b" ".join(args).decode("utf-8", "replace")

    async def execute_command(
        self,
        *args: bytes,
        timeout: float | Literal[Default.token] | None = Default.token,  # noqa: ASYNC109
    ) -> SMTPResponse:
        self._log.client(self._describe(args))
        self._credential_next = False
        try:
            response = await super().execute_command(*args, timeout=timeout)
        except aiosmtplib.SMTPTimeoutError:
            self._log.note("no reply in time")
            raise
        except aiosmtplib.SMTPServerDisconnected:
            self._log.note("connection closed by the server")
            raise
        except asyncio.CancelledError:
            self._log.note("gave up waiting for the reply")
            raise
        self._credential_next = response.code == 334
        self._log.server(response)
        return response


# --------------------------------------------------------------------------------------------
# Mode inference


async def _read_reply(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
    lines: list[str] = []
    for _ in range(200):
        raw = await reader.readline()
        if not raw:
            raise ConnectionResetError("closed")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if len(line) < 3 or not line[:3].isdigit():
            raise ValueError("not an SMTP reply")
        lines.append(line[4:])
        if line[3:4] != "-":
            return int(line[:3]), lines
    raise ValueError("reply too long")


def _ehlo_literal(writer: asyncio.StreamWriter) -> bytes:
    sockname = writer.get_extra_info("sockname")
    try:
        ip = ipaddress.ip_address(sockname[0])
    except (TypeError, ValueError, IndexError):
        return b"localhost"
    return f"[IPv6:{ip}]".encode() if ip.version == 6 else f"[{ip}]".encode()


async def probe_mode(host: str, port: int, timeout: float) -> Mode | None:  # noqa: ASYNC109
    """Which way this port starts encryption, found by talking to it.

    A TLS handshake that succeeds (certificate not judged here) means implicit TLS; otherwise a
    plain-text greeting whose EHLO reply lists STARTTLS means STARTTLS, and one without means
    plain SMTP. None when nothing SMTP-like answers within `timeout` (per attempt).
    """
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=_unverified_context(),
                                    server_hostname=host, ssl_handshake_timeout=timeout),
            timeout,
        )
    except TimeoutError:
        # A plain-text server would have greeted during our handshake and broken it at once;
        # silence means nothing speaks on this port at all.
        return None
    except (ConnectionRefusedError, socket.gaierror):
        return None
    except OSError:  # ssl.SSLError (plain text where TLS was expected) or a reset: try plain
        pass
    else:
        writer.transport.abort()
        await asyncio.sleep(0)  # let the aborted transport release its socket
        return "implicit"

    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except OSError:  # includes TimeoutError
        return None
    try:
        async with asyncio.timeout(timeout):
            code, _ = await _read_reply(reader)
            if code != 220:
                return None
            writer.write(b"EHLO " + _ehlo_literal(writer) + b"\r\n")
            await writer.drain()
            code, lines = await _read_reply(reader)
            writer.write(b"QUIT\r\n")
        if code != 250:
            return "plain"  # HELO-only server: no extensions, so no STARTTLS
        offered = {line.split(" ", 1)[0].upper() for line in lines[1:] if line}
        return "starttls" if "STARTTLS" in offered else "plain"
    except (OSError, ValueError, asyncio.LimitOverrunError):
        return None
    finally:
        writer.close()
        await asyncio.sleep(0)  # let the transport release its socket


# --------------------------------------------------------------------------------------------
# The check


class _Abort(Exception):
    """Internal: stop the dialogue; the step and the finding are already recorded."""


class _Check:
    def __init__(self, settings: SmtpSettings, send_to: str | None, infer_mode: bool) -> None:
        self.s = settings
        self.send_to = send_to
        self.infer = infer_mode
        self.t = settings.timeout
        self.r = SmtpCheckResult()
        self.log = _Transcript(settings.password)
        self.where = f"{settings.host}:{settings.port}"
        self.ctx: ssl.SSLContext | None = None
        self.smtp: _RecordingSMTP | None = None
        self.local_name = "localhost"
        self.tls_active = False
        self.starttls_offered = False
        self.auth_before: list[str] | None = None  # AUTH mechanisms offered before TLS
        self.auth_after: list[str] | None = None  # ... and after TLS (None: no TLS upgrade)
        self.skip_reasons: dict[str, str] = {}
        self.stopped_at: str | None = None
        self.envelope_from = ""

    # -- bookkeeping ----------------------------------------------------------------------

    def planned(self) -> list[str]:
        names = ["resolve", "connect"]
        if self.s.ssl:
            names += ["tls", "certificate", "banner", "ehlo"]
        else:
            names += ["banner", "ehlo"]
            if self.s.tls:
                names += ["starttls", "certificate"]
        return names + ["auth", "send", "quit"]

    def record(self, name: str, ok: bool | None, detail: str, started: float) -> SmtpStep:
        step = SmtpStep(name, ok, detail, time.perf_counter() - started if started else 0.0)
        self.r.steps.append(step)
        return step

    def skip(self, name: str, reason: str) -> None:
        self.r.steps.append(SmtpStep(name, None, reason, 0.0))

    def find(self, finding: Finding) -> None:
        if finding.code not in self.r.codes():
            self.r.findings.append(finding)

    def fail(self, name: str, started: float, detail: str, finding: Finding | None) -> NoReturn:
        self.record(name, False, detail, started)
        if finding is not None:
            self.find(finding)
        self.stopped_at = name
        raise _Abort

    def suggest(self, *, tls: bool, ssl: bool) -> None:
        self.r.suggested = {"tls": tls, "ssl": ssl}

    def fault(self, name: str, started: float, what: str, exc: BaseException) -> NoReturn:
        """A fault any step can meet mid-dialogue: hang-up, silence, garbage."""
        if self.smtp is not None and isinstance(exc, OSError):
            self.smtp.close()  # after silence or a hang-up the dialogue is out of step: no QUIT
        if isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError):
            self.fail(name, started, f"connection closed by the server during {what}", error(
                "smtp-connection-dropped",
                f"{self.where} closed the connection during {what}.",
                "The server hung up mid-conversation. Its mail log says why; common causes are "
                "a block on this machine's address (rate limits, fail2ban, IP reputation), a "
                "port that expects TLS from the first byte (try ssl: true on port 465), or a "
                "crashed mail service.",
            ))
        if isinstance(exc, TimeoutError):  # includes aiosmtplib.SMTPTimeoutError
            self.fail(name, started, f"no reply within {_fmt_seconds(self.t)}", error(
                "smtp-no-reply",
                f"{self.where} did not answer {what} within {_fmt_seconds(self.t)}.",
                "The server is overloaded, tarpitting this client, or a proxy in between holds "
                "the connection. Check the server's mail log, or raise the timeout.",
            ))
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            text = _reply_text(exc.code, exc.message)
            self.fail(name, started, f"unexpected reply: {text}", error(
                "smtp-protocol-error",
                f"{self.where} answered {what} with something this check does not understand: "
                f"{text}.",
                "Check that the host and port point to an SMTP server, not a web or IMAP server.",
            ))
        self.fail(name, started, f"{type(exc).__name__}: {exc}", error(
            "smtp-network-error",
            f"The connection to {self.where} failed during {what}: {exc}.",
            "Check the network path between this machine and the mail server.",
        ))

    # -- run ----------------------------------------------------------------------------

    async def run(self) -> SmtpCheckResult:
        try:
            if self.check_config():
                try:
                    await self.dialogue()
                except _Abort:
                    pass
                if self.smtp is not None and self.smtp.is_connected:
                    await self.quit()
        finally:
            if self.smtp is not None:
                self.smtp.close()
        await asyncio.sleep(0)  # let the transport finish closing: the socket is gone on return
        self.finish()
        return self.r

    def finish(self) -> None:
        done = {s.name for s in self.r.steps}
        for name in self.planned():
            if name not in done:
                reason = self.skip_reasons.get(name)
                if reason is None:
                    reason = (f"not reached (stopped at {self.stopped_at})" if self.stopped_at
                              else "not run")
                self.skip(name, reason)
        scrub = self.log.scrub
        self.r.transcript = [scrub(line) for line in self.log.lines]
        for step in self.r.steps:
            step.detail = scrub(step.detail)
        self.r.findings = [Finding(f.code, f.severity, scrub(f.message), scrub(f.fix))
                           for f in self.r.findings]

    def check_config(self) -> bool:
        s = self.s
        host = s.host or ""
        if not host.strip():
            self.find(error(
                "smtp-host-missing",
                "No SMTP host is set, so InvenTree cannot send email and SSO sign-up stays "
                "closed.",
                "Set email.host (INVENTREE_EMAIL_HOST) to your mail server's name, e.g. "
                "smtp.example.com.",
            ))
            self.stopped_at = "settings"
            return False
        if any(ch.isspace() or ord(ch) < 32 for ch in host):
            self.find(error(
                "smtp-host-invalid",
                f"The SMTP host {host!r} contains spaces or control characters.",
                "Set email.host to the bare server name, without spaces, scheme or port.",
            ))
            self.stopped_at = "settings"
            return False
        if not 0 < s.port < 65536:
            self.find(error(
                "smtp-port-invalid",
                f"The SMTP port {s.port} is not a valid port number.",
                "Use 587 with tls: true (STARTTLS), 465 with ssl: true (implicit TLS), or 25.",
            ))
            self.stopped_at = "settings"
            return False
        if s.tls and s.ssl:
            if s.port == 465:
                self.suggest(tls=False, ssl=True)
                fix = "Port 465 speaks implicit TLS: set ssl: true and tls: false."
            else:
                self.suggest(tls=True, ssl=False)
                fix = (f"Port {s.port} most likely speaks STARTTLS: set tls: true and ssl: false "
                       "(or use port 465 with ssl: true and tls: false).")
            self.find(error(
                "smtp-tls-and-ssl",
                "Both tls (STARTTLS) and ssl (implicit TLS) are true. They are two different "
                "ways of starting encryption; Django refuses the combination, so InvenTree "
                "sends no email at all.",
                fix,
            ))
            self.stopped_at = "settings"
            return False
        if not s.sender.strip():
            self.find(error(
                "smtp-sender-missing",
                "No sender address is set. InvenTree counts email as configured only when both "
                "host and sender are set, so SSO sign-up stays closed.",
                "Set email.sender (INVENTREE_EMAIL_SENDER) to an address this SMTP account may "
                "send as, e.g. inventree@example.com.",
            ))
        else:
            addr = email.utils.parseaddr(s.sender)[1]
            if "@" not in addr:
                self.find(error(
                    "smtp-sender-invalid",
                    f"The sender {s.sender!r} is not an email address.",
                    "Set email.sender to an address such as inventree@example.com (a display "
                    "name is allowed: InvenTree <inventree@example.com>).",
                ))
            else:
                self.envelope_from = addr
        if not s.sender.strip() and "@" in s.username:
            self.envelope_from = s.username  # Django falls back to the login address
        if self.send_to is not None and "@" not in email.utils.parseaddr(self.send_to)[1]:
            self.find(error(
                "smtp-send-to-invalid",
                f"The test recipient {self.send_to!r} is not an email address.",
                "Give a full address such as you@example.com.",
            ))
            self.skip_reasons["send"] = "skipped: the test recipient is not an email address"
            self.send_to = None
        return True

    def build_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if self.s.ca_file:
            ctx.load_verify_locations(cafile=self.s.ca_file)
        return ctx

    async def dialogue(self) -> None:
        try:
            self.ctx = await asyncio.to_thread(self.build_context)
        except (OSError, ssl.SSLError, ValueError) as exc:
            self.find(error(
                "smtp-ca-file-invalid",
                f"The CA file {self.s.ca_file!r} cannot be loaded: "
                f"{getattr(exc, 'strerror', None) or exc}.",
                "Give the path of a PEM file holding the CA certificate(s) to trust.",
            ))
            self.stopped_at = "settings"
            raise _Abort from None
        infos = await self.resolve()
        self.local_name = await _local_hostname(self.t)
        sock = await self.connect(infos)
        self.smtp = _RecordingSMTP(
            self.log, hostname=self.s.host, sock=sock, timeout=self.t, use_tls=self.s.ssl,
            start_tls=False, tls_context=self.ctx, local_hostname=self.local_name,
        )
        await self.greet(sock)
        await self.ehlo()
        if self.s.tls:
            await self.starttls()
        self.unencrypted_warnings()
        await self.auth()
        await self.send()

    # -- resolve / connect --------------------------------------------------------------

    async def resolve(self) -> list[tuple[Any, ...]]:
        host, started = self.s.host, time.perf_counter()
        unknown = error(
            "smtp-host-unknown",
            f"The host name {host} does not exist (DNS has no such name).",
            "Check email.host for typos and use the mail server's full name (e.g. "
            "smtp.example.com). For an internal name, make sure the machine (or container) "
            "running InvenTree can resolve it.",
        )
        if host.lower().rstrip(".").endswith(".invalid") or host.lower() == "invalid":
            # RFC 6761: resolvers must answer names under .invalid negatively, at once.
            self.fail("resolve", started, "no such host (.invalid is never resolvable)", unknown)
        try:
            async with asyncio.timeout(self.t):
                infos = await _in_daemon_thread(
                    lambda: socket.getaddrinfo(host, self.s.port, type=socket.SOCK_STREAM))
        except socket.gaierror as exc:
            if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                self.fail("resolve", started, "no such host", unknown)
            self.fail("resolve", started, f"DNS lookup failed: {exc.strerror}", error(
                "smtp-dns-failed",
                f"Looking up {host} failed: {exc.strerror}.",
                "This looks like a DNS problem on this machine rather than a wrong name: "
                "check its resolver settings and network, then try again.",
            ))
        except TimeoutError:
            self.fail("resolve", started, f"no DNS answer within {_fmt_seconds(self.t)}", error(
                "smtp-dns-failed",
                f"Looking up {host} got no answer within {_fmt_seconds(self.t)}.",
                "The DNS server does not answer: check this machine's resolver settings and "
                "network, then try again.",
            ))
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        self.record("resolve", True, f"{host} → {', '.join(addresses)}", started)
        return infos

    async def connect(self, infos: list[tuple[Any, ...]]) -> socket.socket:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        deadline = loop.time() + self.t
        errors: list[tuple[str, OSError]] = []
        for family, type_, proto, _, sockaddr in infos:
            remaining = deadline - loop.time()
            if remaining <= 0:
                errors.append((str(sockaddr[0]), TimeoutError("no time left")))
                break
            sock = socket.socket(family, type_, proto)
            try:
                sock.setblocking(False)
                async with asyncio.timeout(remaining):
                    await loop.sock_connect(sock, sockaddr)
            except OSError as exc:  # includes TimeoutError
                sock.close()
                errors.append((str(sockaddr[0]), exc))
                continue
            except BaseException:
                sock.close()
                raise
            self.log.note(f"connected to {sockaddr[0]} port {sockaddr[1]}")
            self.record("connect", True, f"connected to {sockaddr[0]} port {sockaddr[1]}",
                        started)
            return sock
        ips = ", ".join(dict.fromkeys(ip for ip, _ in errors))
        if errors and all(isinstance(e, ConnectionRefusedError) for _, e in errors):
            self.fail("connect", started, f"connection refused by {ips}", error(
                "smtp-connection-refused",
                f"{self.s.host} ({ips}) refused the connection on port {self.s.port}: no mail "
                "service listens there.",
                "Check email.port — 587 (with tls: true) and 465 (with ssl: true) are the usual "
                "submission ports, 25 is for server-to-server mail — and that the mail service "
                "is running (and, in Docker, that the port is published).",
            ))
        if any(isinstance(e, TimeoutError) for _, e in errors):
            self.fail("connect", started, f"no answer within {_fmt_seconds(self.t)}", error(
                "smtp-connect-timeout",
                f"Connecting to {self.where} got no answer within {_fmt_seconds(self.t)}: the "
                "attempt is silently dropped.",
                "A firewall is most likely dropping the traffic. Many hosting providers block "
                "outgoing port 25 (sometimes 465 and 587 too); check the firewall on both "
                "ends, or use the provider's submission port.",
            ))
        first = errors[0][1] if errors else OSError("no address to connect to")
        reason = first.strerror or str(first)
        self.fail("connect", started, f"cannot connect: {reason}", error(
            "smtp-host-unreachable",
            f"Cannot reach {self.where}: {reason}.",
            "Check the network route from this machine to the mail server (and IPv6 "
            "connectivity if the name resolves to an IPv6 address).",
        ))

    # -- greeting, implicit TLS ---------------------------------------------------------

    async def greet(self, sock: socket.socket) -> None:
        assert self.smtp is not None
        started = time.perf_counter()
        implicit = self.s.ssl
        try:
            banner = await self.smtp.connect()
        except asyncio.CancelledError:
            # If the connection coroutine never started, nobody owns the socket: close it
            # after the transport (if any) had its chance.
            asyncio.get_running_loop().call_soon(_close_socket_if_open, sock)
            raise
        except aiosmtplib.SMTPConnectTimeoutError as exc:
            if implicit and not isinstance(exc.__cause__, aiosmtplib.SMTPReadTimeoutError):
                await self.tls_failed(started, f"no handshake within {_fmt_seconds(self.t)}")
            await self.silent_server(started)
        except aiosmtplib.SMTPConnectResponseError as exc:
            self.log.server(SMTPResponse(exc.code, exc.message))
            if implicit:
                self.record("tls", True, "handshake completed", started)
            text = _reply_text(exc.code, exc.message)
            self.fail("banner", started, f"refused: {text}", error(
                "smtp-banner-refused",
                f"{self.where} refuses service to this machine: {text}.",
                "The server turns this client away from the start (often an IP block list, "
                "or a server reserved for other networks). Its reply above says why.",
            ))
        except aiosmtplib.SMTPConnectError as exc:
            cause = exc.__cause__
            if isinstance(cause, ssl.SSLCertVerificationError):
                self.record("tls", False, "handshake stopped: certificate rejected", started)
                await self.certificate_failed(cause)
            if implicit and isinstance(cause, OSError) and not isinstance(
                    cause, aiosmtplib.SMTPServerDisconnected):
                reason = getattr(cause, "reason", None) or str(cause) or type(cause).__name__
                if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE",
                              "PACKET_LENGTH_TOO_LONG"):
                    reason = f"the server answered in plain text, not TLS ({reason})"
                await self.tls_failed(started, reason)
            await self.closed_before_banner(started)
        except aiosmtplib.SMTPResponseException as exc:  # garbage instead of a greeting
            mode = await self.probe() if not implicit else None
            if mode == "implicit":
                self.wrong_mode_needs_implicit(started)
            self.fail("banner", started, "no SMTP greeting", error(
                "smtp-not-smtp",
                f"{self.where} does not answer like an SMTP server ({exc.message[:80]}).",
                "Check email.host and email.port: they point to some other service.",
            ))
        except OSError as exc:
            self.fault("banner", started, "the greeting", exc)

        if implicit:
            self.tls_ok(started)
            await self.certificate_ok()
            self.r.inferred_mode = "implicit"
        self.log.server(banner)
        first = banner.message.split("\n", 1)[0]
        self.record("banner", True, _reply_text(banner.code, first),
                    0.0 if implicit else started)

    def tls_ok(self, started: float) -> None:
        assert self.smtp is not None
        ssl_object = self.smtp.get_transport_info("ssl_object")
        version = ssl_object.version() if ssl_object else "?"
        cipher = ssl_object.cipher()[0] if ssl_object and ssl_object.cipher() else "?"
        self.log.note(f"TLS started ({version}, cipher {cipher})")
        self.tls_active = True
        name = "tls" if self.s.ssl else "starttls"
        self.record(name, True, f"{version}, cipher {cipher}", started)

    async def probe(self) -> Mode | None:
        if not self.infer:
            return None
        mode = await probe_mode(self.s.host, self.s.port, self.t)
        if mode is not None:
            self.r.inferred_mode = mode
            self.log.note(f"probe: port {self.s.port} speaks {mode}")
        return mode

    def wrong_mode_needs_implicit(self, started: float) -> NoReturn:
        self.suggest(tls=False, ssl=True)
        how = ("tls: true starts in plain text and waits for the greeting before STARTTLS"
               if self.s.tls else "these settings start in plain text")
        self.fail("banner", started, "no greeting: the port expects TLS first", error(
            "smtp-wrong-tls-mode",
            f"Port {self.s.port} on {self.s.host} expects TLS from the first byte (implicit "
            f"TLS, usually port 465), but {how}; the server waits for a TLS handshake that "
            "never comes.",
            "Set ssl: true and tls: false (INVENTREE_EMAIL_SSL=True, INVENTREE_EMAIL_TLS=False)"
            ", or keep tls: true and use the server's STARTTLS port (usually 587).",
        ))

    async def silent_server(self, started: float) -> NoReturn:
        self.log.note(f"no greeting within {_fmt_seconds(self.t)}")
        mode = await self.probe()
        if mode == "implicit":
            self.wrong_mode_needs_implicit(started)
        self.fail("banner", started, f"no greeting within {_fmt_seconds(self.t)}", error(
            "smtp-banner-timeout",
            f"{self.where} accepted the connection but sent no SMTP greeting within "
            f"{_fmt_seconds(self.t)}.",
            "Something listens on this port but it is not answering as a mail server: check "
            "the port number, that the mail service is healthy, and that no proxy or firewall "
            "holds the connection. Some servers delay the greeting on purpose; if so, raise "
            "the timeout.",
        ))

    async def closed_before_banner(self, started: float) -> NoReturn:
        self.log.note("connection closed by the server before the greeting")
        mode = await self.probe() if not self.s.ssl else None
        if mode == "implicit":
            self.wrong_mode_needs_implicit(started)
        self.fail("banner", started, "closed before the greeting", error(
            "smtp-closed-before-banner",
            f"{self.where} closed the connection before greeting.",
            "The server turns this client away (IP allow lists, rate limits, fail2ban) or the "
            "port belongs to another service: check the server's log and the port number.",
        ))

    async def tls_failed(self, started: float, reason: str) -> NoReturn:
        """The handshake of implicit TLS failed for another reason than the certificate."""
        detail = f"TLS handshake failed: {reason}"
        self.log.note(detail)
        mode = await self.probe()
        if mode in ("starttls", "plain"):
            if mode == "starttls":
                self.suggest(tls=True, ssl=False)
                speaks = "greets in plain text and offers STARTTLS"
                fix = ("Set tls: true and ssl: false (INVENTREE_EMAIL_TLS=True, "
                       "INVENTREE_EMAIL_SSL=False), or keep ssl: true and use the server's "
                       "implicit-TLS port (usually 465).")
            else:
                self.suggest(tls=False, ssl=False)
                speaks = "speaks plain SMTP and offers no encryption at all"
                fix = ("Set ssl: false. Better, use a port of this provider that offers "
                       "encryption (587 with tls: true, or 465 with ssl: true) so the password "
                       "does not cross the network in clear.")
            self.fail("tls", started, f"{detail}; the port speaks {mode}", error(
                "smtp-wrong-tls-mode",
                f"Port {self.s.port} on {self.s.host} does not speak implicit TLS: the server "
                f"{speaks}. With ssl: true the connection fails before the first SMTP line.",
                fix,
            ))
        self.fail("tls", started, detail, error(
            "smtp-tls-handshake-failed",
            f"The TLS handshake with {self.where} failed: {reason}.",
            "Check that the server's TLS setup is sound and supports TLS 1.2 or newer "
            "(old servers offering only TLS 1.0/1.1 are refused by current Python/OpenSSL).",
        ))

    # -- certificate ---------------------------------------------------------------------

    async def certificate_ok(self) -> None:
        assert self.smtp is not None
        started = time.perf_counter()
        ssl_object = self.smtp.get_transport_info("ssl_object")
        peer = ssl_object.getpeercert() if ssl_object else None
        if not peer:
            self.record("certificate", True, "verified (no details available)", started)
            return
        cert = _CertInfo.from_peercert(peer)
        now = datetime.now(UTC)
        detail = f"valid for {self.s.host}, issued by {cert.issuer}"
        if cert.not_after is not None:
            days = _days(now, cert.not_after)
            detail += f", expires {cert.not_after:%Y-%m-%d} ({days} days left)"
            if days < _EXPIRY_WARNING_DAYS:
                self.find(warning(
                    "smtp-certificate-expires-soon",
                    f"The server's certificate expires on {cert.not_after:%Y-%m-%d}, in {days} "
                    "days; after that InvenTree cannot send email.",
                    "Renew the certificate on the mail server now (for Let's Encrypt, check "
                    "that automatic renewal runs and reloads the mail service).",
                ))
        self.record("certificate", True, detail, started)
        private = bool(self.s.ca_file) and await asyncio.to_thread(
            self.trusted_only_via_ca_file, cert)
        if private:
            self.find(warning(
                "smtp-certificate-private-ca",
                f"The certificate is trusted here only because ca_file names its CA "
                f"({cert.issuer}). InvenTree's mail backend uses the system trust store and "
                "will refuse this certificate unless that CA is installed there too.",
                "Install the CA in the trust store of the machine or container running "
                "InvenTree (e.g. copy it to /usr/local/share/ca-certificates/ and run "
                "update-ca-certificates, or point SSL_CERT_FILE at a bundle that includes it).",
            ))

    def trusted_only_via_ca_file(self, cert: _CertInfo) -> bool:
        """Is the certificate's CA (or the certificate itself) in ca_file but not in the
        system store? (Matched by name; a store kept only as a directory reads as empty.)"""

        try:
            own = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            own.load_verify_locations(cafile=self.s.ca_file)
            in_ca_file = _ca_names(own)
            in_system = _system_ca_names()
        except (OSError, ssl.SSLError, ValueError):
            return False
        wanted = {cert.issuer, cert.subject}
        return bool(wanted & in_ca_file) and not wanted & in_system

    async def peek_certificate(self) -> _CertInfo | None:
        """Fetch the certificate without verifying it, for the details of a failure."""
        try:
            async with asyncio.timeout(self.t * 2):
                if self.s.ssl:
                    _, writer = await asyncio.open_connection(
                        self.s.host, self.s.port, ssl=_unverified_context(),
                        server_hostname=self.s.host, ssl_handshake_timeout=self.t)
                    try:
                        ssl_object = writer.get_extra_info("ssl_object")
                        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
                    finally:
                        writer.close()
                    with contextlib.suppress(OSError, TimeoutError):
                        async with asyncio.timeout(min(self.t, 1.0)):
                            await writer.wait_closed()
                else:
                    peek = aiosmtplib.SMTP(
                        hostname=self.s.host, port=self.s.port, start_tls=True,
                        tls_context=_unverified_context(), timeout=self.t,
                        local_hostname=self.local_name)
                    try:
                        await peek.connect()
                        ssl_object = peek.get_transport_info("ssl_object")
                        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
                    finally:
                        peek.close()
        except (OSError, aiosmtplib.SMTPException, ValueError):
            return None
        return _CertInfo.from_der(der) if der else None

    async def certificate_failed(self, exc: ssl.SSLCertVerificationError) -> NoReturn:
        started = time.perf_counter()
        code = exc.verify_code
        reason = exc.verify_message or exc.reason or str(exc)
        self.log.note(f"certificate rejected: {reason}")
        cert = await self.peek_certificate()
        now = datetime.now(UTC)
        host = self.s.host
        trust_fix = (
            "Best: give the mail server a certificate from a public CA (e.g. Let's Encrypt). "
            "Otherwise install this certificate's CA in the trust store of the machine running "
            "InvenTree, and pass it to this check with ca_file."
        )
        finding: Finding
        if code == _V_CERT_HAS_EXPIRED:
            when = ""
            if cert is not None and cert.not_after is not None:
                when = (f" on {cert.not_after:%Y-%m-%d} "
                        f"({_days(cert.not_after, now)} days ago)")
            detail = f"expired{when}"
            finding = error(
                "smtp-certificate-expired",
                f"The server's certificate expired{when}, so InvenTree refuses the connection.",
                "Renew the certificate on the mail server (for Let's Encrypt, check that "
                "automatic renewal runs and that the mail service reloads the new "
                "certificate).",
            )
        elif code == _V_CERT_NOT_YET_VALID:
            when = (f" until {cert.not_before:%Y-%m-%d %H:%M} UTC"
                    if cert is not None and cert.not_before is not None else " yet")
            detail = f"not valid{when}"
            finding = error(
                "smtp-certificate-not-yet-valid",
                f"The server's certificate is not valid{when}.",
                "Check the clocks of this machine and of the mail server (NTP), or wait until "
                "the certificate becomes valid.",
            )
        elif code in (_V_DEPTH_ZERO_SELF_SIGNED_CERT, _V_SELF_SIGNED_CERT_IN_CHAIN):
            who = f" ({cert.subject})" if cert is not None else ""
            detail = f"self-signed{who}"
            finding = error(
                "smtp-certificate-self-signed",
                f"The server presents a self-signed certificate{who} that this machine does not "
                "trust, so InvenTree refuses the connection.",
                trust_fix,
            )
        elif code in (_V_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, _V_UNABLE_TO_GET_ISSUER_CERT,
                      _V_UNABLE_TO_VERIFY_LEAF_SIGNATURE):
            issuer = cert.issuer if cert is not None else "an unknown CA"
            detail = f"issued by {issuer}, which is not trusted here"
            finding = error(
                "smtp-certificate-untrusted",
                f"The server's certificate is issued by {issuer}, a CA this machine does not "
                "trust, so InvenTree refuses the connection.",
                "If it is your organisation's CA, pass its certificate with ca_file and install "
                "it in the trust store of the machine running InvenTree. If the CA is public, "
                "the server probably does not send its intermediate certificate: configure it "
                "to send the full chain.",
            )
        elif code in (_V_HOSTNAME_MISMATCH, _V_IP_ADDRESS_MISMATCH):
            covers = cert.covers() if cert is not None else "other names"
            detail = f"issued for {covers}, not {host}"
            first = cert.names[0] if cert is not None and cert.names else ""
            finding = error(
                "smtp-certificate-hostname-mismatch",
                f"The server's certificate is issued for {covers}, not for {host}, so "
                "InvenTree refuses the connection.",
                (f"Set email.host to a name the certificate covers (e.g. {first}) " if first
                 else "Set email.host to a name the certificate covers ")
                + f"or give the server a certificate that includes {host}.",
            )
        else:
            detail = f"rejected: {reason}"
            finding = error(
                "smtp-certificate-invalid",
                f"The server's certificate was rejected: {reason}.",
                trust_fix,
            )
        self.fail("certificate", started, detail, finding)

    # -- EHLO / STARTTLS ------------------------------------------------------------------

    async def ehlo(self, *, after_tls: bool = False) -> None:
        assert self.smtp is not None
        started = time.perf_counter()
        prefix = "after TLS: " if after_tls else ""
        try:
            async with asyncio.timeout(self.t):
                response = await self.smtp.ehlo()
        except aiosmtplib.SMTPHeloError as exc:
            text = _reply_text(exc.code, exc.message)
            try:
                async with asyncio.timeout(self.t):
                    await self.smtp.helo()
            except (aiosmtplib.SMTPException, OSError):
                self.fail("ehlo", started, f"{prefix}EHLO and HELO refused: {text}", error(
                    "smtp-ehlo-refused",
                    f"{self.where} refused both EHLO and HELO ({text}).",
                    f"The server does not accept this machine's name ({self.local_name}) or "
                    "this client: check its log.",
                ))
            self.record("ehlo", True, f"{prefix}EHLO refused ({text}); HELO accepted, "
                        "so no extensions (no STARTTLS, no AUTH)", started)
        except (aiosmtplib.SMTPException, OSError) as exc:
            self.fault("ehlo", started, "EHLO", exc)
        else:
            names = [line.split(" ", 1)[0].upper()
                     for line in response.message.split("\n")[1:] if line.strip()]
            listing = ", ".join(names) if names else "no extensions"
            self.record("ehlo", True, f"{prefix}{listing}", started)
        smtp = self.smtp
        methods = list(smtp.server_auth_methods) if smtp.supports_extension("auth") else []
        if after_tls:
            self.auth_after = methods
        else:
            self.auth_before = methods
            self.starttls_offered = smtp.supports_extension("starttls")
            if not self.s.ssl:
                self.r.inferred_mode = "starttls" if self.starttls_offered else "plain"

    async def starttls(self, *, diagnostic: bool = False) -> None:
        assert self.smtp is not None
        started = time.perf_counter()
        if not self.starttls_offered:
            self.suggest(tls=False, ssl=False)
            self.fail("starttls", started, "not offered by the server", error(
                "smtp-starttls-not-offered",
                f"tls: true is set, but {self.where} does not offer STARTTLS (its EHLO reply "
                "has no STARTTLS line), so InvenTree's connection fails.",
                "If the server speaks implicit TLS on another port, use it with ssl: true "
                "(usually 465). If it offers no encryption at all, tls: false works, but the "
                "password then crosses the network in clear: prefer a server or port with TLS.",
            ))
        self.log.client("STARTTLS")
        try:
            response = await self.smtp.starttls(server_hostname=self.s.host,
                                                tls_context=self.ctx)
        except aiosmtplib.SMTPResponseException as exc:
            self.log.server(SMTPResponse(exc.code, exc.message))
            text = _reply_text(exc.code, exc.message)
            self.fail("starttls", started, f"refused: {text}", error(
                "smtp-starttls-refused",
                f"{self.where} offers STARTTLS but refused it: {text}.",
                "The server's TLS setup is broken (often a missing or unreadable certificate "
                "file): check its log. Meanwhile InvenTree cannot send with tls: true.",
            ))
        except ssl.SSLCertVerificationError as exc:
            self.log.note("TLS handshake stopped: certificate rejected")
            self.record("starttls", False, "handshake stopped: certificate rejected", started)
            await self.certificate_failed(exc)
        except ssl.SSLError as exc:
            reason = exc.reason or str(exc)
            self.log.note(f"TLS handshake failed: {reason}")
            self.fail("starttls", started, f"TLS handshake failed: {reason}", error(
                "smtp-tls-handshake-failed",
                f"The TLS handshake with {self.where} after STARTTLS failed: {reason}.",
                "Check that the server's TLS setup is sound and supports TLS 1.2 or newer "
                "(old servers offering only TLS 1.0/1.1 are refused by current Python).",
            ))
        except (aiosmtplib.SMTPException, OSError) as exc:
            self.fault("starttls", started, "STARTTLS", exc)
        self.log.server(response)
        self.tls_ok(started)
        if diagnostic:
            self.r.steps[-1].detail += " (diagnostic: tls is false in the settings)"
        await self.certificate_ok()
        await self.ehlo(after_tls=True)

    def unencrypted_warnings(self) -> None:
        if self.tls_active or _is_loopback(self.s.host):
            return
        if self.starttls_offered:
            self.suggest(tls=True, ssl=False)
            self.find(warning(
                "smtp-starttls-not-used",
                f"{self.where} offers STARTTLS but tls is false, so mail"
                + (" and the password travel" if self.s.username else " travels")
                + " unencrypted.",
                "Set tls: true (INVENTREE_EMAIL_TLS=True).",
            ))
        elif self.s.username:
            self.find(warning(
                "smtp-auth-unencrypted",
                f"{self.where} offers no encryption, so the password crosses the network in "
                "clear text.",
                "Use a port of your provider that offers encryption: 587 with tls: true, or "
                "465 with ssl: true.",
            ))

    # -- AUTH -----------------------------------------------------------------------------

    def offered_text(self) -> str:
        if self.s.ssl:
            return f"offered over TLS: {_mechs(self.auth_before)}"
        text = f"offered before TLS: {_mechs(self.auth_before)}"
        if self.auth_after is not None:
            text += f"; after TLS: {_mechs(self.auth_after)}"
        return text

    async def auth(self) -> None:
        assert self.smtp is not None
        if not self.s.username:
            self.skip("auth", "skipped: no username set, InvenTree sends without logging in "
                      f"(server {self.offered_text()})")
            return
        started = time.perf_counter()
        smtp = self.smtp
        if not smtp.supports_extension("auth"):
            if not self.tls_active and self.starttls_offered:
                await self.auth_after_starttls(started)
            self.fail("auth", started, f"AUTH not offered ({self.offered_text()})", error(
                "smtp-auth-not-offered",
                f"A username is set, but {self.where} does not offer AUTH"
                + (" even after TLS" if self.tls_active else "")
                + ", so InvenTree's login fails.",
                "If this server relays mail for your network without a login, leave username "
                "and password empty. Otherwise use your provider's submission port (587 with "
                "tls: true, or 465 with ssl: true).",
            ))
        handlers: dict[str, Callable[..., Awaitable[SMTPResponse]]] = {
            "cram-md5": smtp.auth_crammd5, "plain": smtp.auth_plain, "login": smtp.auth_login,
        }
        mechanisms = [m for m in smtp.supported_auth_methods if m in handlers]
        if not mechanisms:
            offered = _mechs(list(smtp.server_auth_methods))
            self.fail("auth", started, f"no usable mechanism ({self.offered_text()})", error(
                "smtp-auth-mechanism-unsupported",
                f"{self.where} offers only {offered}; InvenTree (Python's smtplib) can log in "
                "with CRAM-MD5, PLAIN or LOGIN.",
                "Enable PLAIN or LOGIN on the server (over TLS). Microsoft 365 and Google need "
                "SMTP AUTH (basic authentication / app passwords) enabled for the mailbox.",
            ))
        # Like smtplib (and so InvenTree), try each mechanism until one succeeds.
        last: aiosmtplib.SMTPAuthenticationError | None = None
        for mech in mechanisms:
            try:
                async with asyncio.timeout(self.t):
                    await handlers[mech](self.s.username, self.s.password)
            except aiosmtplib.SMTPAuthenticationError as exc:
                last = exc
                if exc.code not in (535, 504, 534):  # not "wrong credentials": stop here
                    break
                continue
            except (aiosmtplib.SMTPException, OSError) as exc:
                self.fault("auth", started, "AUTH", exc)
            self.record("auth", True, f"logged in as {self.s.username} with {mech.upper()} "
                        f"({self.offered_text()})", started)
            return
        assert last is not None
        self.auth_refused(started, last)

    async def auth_after_starttls(self, started: float) -> NoReturn:
        """AUTH missing in plain text but STARTTLS offered: look after STARTTLS (no login)."""
        try:
            await self.starttls(diagnostic=True)
        except _Abort:
            # The diagnostic STARTTLS failed (its own finding is recorded); AUTH is still
            # missing in plain text while STARTTLS is offered, and that alone says tls: true.
            self.suggest(tls=True, ssl=False)
            self.record("auth", False, f"AUTH not offered before TLS ({self.offered_text()})",
                        started)
            self.find(error(
                "smtp-auth-requires-starttls",
                "The server offers AUTH only after STARTTLS (none in plain text); set tls: true. "
                "With tls: false InvenTree cannot log in.",
                "Set tls: true and ssl: false (INVENTREE_EMAIL_TLS=True), and fix the TLS "
                "problem reported above.",
            ))
            raise
        if self.auth_after:
            self.suggest(tls=True, ssl=False)
            self.fail("auth", started, f"AUTH only after STARTTLS ({self.offered_text()})",
                      error(
                          "smtp-auth-requires-starttls",
                          "The server offers AUTH only after STARTTLS; set tls: true. With "
                          "tls: false InvenTree cannot log in.",
                          "Set tls: true and ssl: false (INVENTREE_EMAIL_TLS=True); the server "
                          "accepts a login only over an encrypted connection.",
                      ))
        self.fail("auth", started, f"AUTH not offered ({self.offered_text()})", error(
            "smtp-auth-not-offered",
            f"A username is set, but {self.where} does not offer AUTH, not even after STARTTLS, "
            "so InvenTree's login fails.",
            "If this server relays mail for your network without a login, leave username and "
            "password empty. Otherwise use your provider's submission port (587 with tls: "
            "true, or 465 with ssl: true).",
        ))

    def auth_refused(self, started: float, exc: aiosmtplib.SMTPAuthenticationError) -> NoReturn:
        text = _reply_text(exc.code, exc.message)
        detail = f"refused: {text} ({self.offered_text()})"
        if exc.code in (530, 538):
            self.suggest(tls=True, ssl=False)
            self.fail("auth", started, detail, error(
                "smtp-auth-requires-tls",
                f"{self.where} accepts a login only over an encrypted connection ({text}).",
                "Set tls: true (or use port 465 with ssl: true).",
            ))
        if exc.code == 454 or 400 <= exc.code < 500:
            self.fail("auth", started, detail, error(
                "smtp-auth-temporary-failure",
                f"{self.where} could not check the login right now ({text}).",
                "A temporary failure on the server's side (its authentication backend): try "
                "again later, and check the server's log if it persists.",
            ))
        self.fail("auth", started, detail, error(
            "smtp-auth-failed",
            f"The server rejected the username or password for {self.s.username} ({text}).",
            "Check email.username and email.password. Many providers (Gmail, Microsoft 365, "
            "Yahoo, iCloud) want an app password, or SMTP AUTH enabled for the mailbox, "
            "rather than the normal login password.",
        ))

    # -- test message -------------------------------------------------------------------

    def build_message(self, sender: str, to: str) -> bytes:
        msg = EmailMessage()
        msg["From"] = self.s.sender.strip() or sender
        msg["To"] = to
        msg["Subject"] = f"{self.s.prefix}{_TEST_SUBJECT}"
        msg["Date"] = email.utils.formatdate(localtime=True)
        domain = sender.rsplit("@", 1)[-1] or "localhost"
        msg["Message-ID"] = email.utils.make_msgid("sso-wizard", domain=domain)
        msg.set_content(
            "This is a test message from sso-wizard, sent with the SMTP settings of your "
            "InvenTree server.\n\nIf you can read it, InvenTree can send email (and SSO "
            "sign-up can be opened).\n"
        )
        return msg.as_bytes(policy=email.policy.SMTP)

    async def send(self) -> None:
        assert self.smtp is not None
        if self.send_to is None:
            self.skip("send", self.skip_reasons.pop(
                "send", "skipped: no test recipient given (--send-to)"))
            return
        if not self.envelope_from:
            self.skip("send", "skipped: no sender address to send from")
            return
        started = time.perf_counter()
        smtp, sender, to = self.smtp, self.envelope_from, self.send_to
        try:
            body = self.build_message(sender, to)
        except (ValueError, TypeError, UnicodeError) as exc:
            self.fail("send", started, f"cannot build the message: {exc}", error(
                "smtp-message-invalid",
                f"The test message cannot be built from these addresses: {exc}.",
                "Use plain ASCII email addresses for sender and recipient.",
            ))
        try:
            async with asyncio.timeout(self.t):
                await smtp.mail(sender)
        except aiosmtplib.SMTPSenderRefused as exc:
            self.envelope_refused(started, "sender", sender, exc)
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            self.fault("send", started, "MAIL FROM", exc)
        try:
            async with asyncio.timeout(self.t):
                await smtp.rcpt(to)
        except aiosmtplib.SMTPRecipientRefused as exc:
            self.envelope_refused(started, "recipient", to, exc)
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            self.fault("send", started, "RCPT TO", exc)
        self.log.client("DATA")
        self.log.client(f"<message body, {len(body)} bytes>")
        try:
            async with asyncio.timeout(self.t):
                response = await smtp.data(body, timeout=self.t)
        except aiosmtplib.SMTPDataError as exc:
            self.log.server(SMTPResponse(exc.code, exc.message))
            text = _reply_text(exc.code, exc.message)
            self.fail("send", started, f"message refused: {text}", error(
                "smtp-message-refused",
                f"{self.where} refused the test message: {text}.",
                "The server's reply says why (spam filter, size limit, sender policy such as "
                "SPF/DMARC); adjust the sender or the server's policy.",
            ))
        except (aiosmtplib.SMTPException, OSError) as exc:
            self.log.note("no final reply to the message")
            self.fault("send", started, "the message data", exc)
        self.log.server(response)
        self.record("send", True, f"test message from {sender} to {to} accepted: "
                    f"{_reply_text(response.code, response.message)}", started)

    def envelope_refused(self, started: float, role: Literal["sender", "recipient"],
                         address: str, exc: aiosmtplib.SMTPResponseException) -> NoReturn:
        text = _reply_text(exc.code, exc.message)
        detail = f"{role} {address} refused: {text}"
        if exc.code == 530 or (exc.code in (550, 554) and "auth" in exc.message.lower()):
            self.fail("send", started, detail, error(
                "smtp-auth-required",
                f"{self.where} wants a login before it accepts mail ({text}).",
                "Set email.username and email.password for the SMTP account"
                + ("" if self.tls_active else ", with tls: true or ssl: true") + ".",
            ))
        if role == "sender":
            self.fail("send", started, detail, error(
                "smtp-sender-refused",
                f"The server refused the sender {address}: {text}.",
                "Set email.sender to an address this SMTP account may send as — often the "
                "login address itself"
                + (f" ({self.s.username})" if "@" in self.s.username else "")
                + " or an alias/domain verified at your provider.",
            ))
        self.fail("send", started, detail, error(
            "smtp-recipient-refused",
            f"The server refused the recipient {address}: {text}.",
            "If the address is right, the server will not relay to it for this client: log in "
            "(username and password) or allow this machine to relay. A 'user unknown' reply "
            "means the mailbox does not exist.",
        ))

    # -- QUIT -----------------------------------------------------------------------------

    async def quit(self) -> None:
        assert self.smtp is not None
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.t):
                response = await self.smtp.quit()
        except (aiosmtplib.SMTPException, OSError) as exc:
            detail = (_reply_text(exc.code, exc.message)
                      if isinstance(exc, aiosmtplib.SMTPResponseException)
                      else type(exc).__name__)
            self.record("quit", False, f"no clean goodbye ({detail})", started)
            return
        self.record("quit", True, _reply_text(response.code, response.message), started)


async def check_smtp(
    settings: SmtpSettings, *, send_to: str | None = None, infer_mode: bool = True
) -> SmtpCheckResult:
    """Check InvenTree's SMTP settings step by step; never raises for network faults.

    With `send_to`, a real test message goes out (From: the sender; Subject: the configured
    prefix + "sso-wizard test message"). With `infer_mode`, a failure that looks like the wrong
    TLS mode is followed by `probe_mode` to say which mode the port actually speaks.
    """
    return await _Check(settings, send_to, infer_mode).run()


# --------------------------------------------------------------------------------------------
# Plain-text rendering for the CLI


def format_result(result: SmtpCheckResult, *, verbose: bool = False) -> list[str]:
    """Plain text lines: each step ✓/✗/– with its detail, then findings with fixes, then (when
    verbose) the transcript."""
    lines: list[str] = []
    width = max((len(s.name) for s in result.steps), default=0)
    for step in result.steps:
        mark = "✓" if step.ok else ("✗" if step.ok is False else "–")
        timing = f" ({step.elapsed * 1000:.0f} ms)" if step.ok is not None else ""
        lines.append(f"{mark} {step.name:<{width}}  {step.detail}{timing}".rstrip())
    if result.findings:
        lines.append("")
        for finding in result.findings:
            lines.append(f"{finding.severity}: {finding.message} [{finding.code}]")
            if finding.fix:
                lines.append(f"  fix: {finding.fix}")
    if result.suggested:
        pairs = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}"
                          for k, v in result.suggested.items())
        lines.append(f"suggested settings: {pairs}")
    if result.ok:
        lines.append("")
        lines.append("The email settings work." if not result.findings
                     else "The email settings work, with the warnings above.")
    if verbose and result.transcript:
        lines.append("")
        lines.append("Transcript:")
        lines.extend(f"  {line}" for line in result.transcript)
    return lines

