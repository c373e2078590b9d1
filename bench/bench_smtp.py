"""Benchmark: the full SMTP check vs a bare aiosmtplib.send of the same message.

Both run against the same local aiosmtpd server (STARTTLS + AUTH, certificate from a trustme CA
given as a CA file), with the same TLS settings, in the same run; median of 7 each, interleaved
after one warm-up each. Target: the check costs at most 1.5x the bare send.

    .venv/bin/python bench/bench_smtp.py
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import ssl
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from sso_wizard.core.checks.smtp import SmtpSettings, check_smtp, format_result

ROUNDS = 7
TARGET_RATIO = 1.5
USER, PASSWORD = "inventree@example.com", "bench-Pa55word"
SENDER, RECIPIENT = "InvenTree <inventree@example.com>", "admin@example.org"


class _Handler:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        return "250 2.0.0 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                   auth_data: Any) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER
          and auth_data.password.decode() == PASSWORD)
    return AuthResult(success=True, auth_data=auth_data) if ok else AuthResult(
        success=False, handled=False)


class _EphemeralController(Controller):
    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = RECIPIENT
    msg["Subject"] = "[InvenTree] sso-wizard test message"
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid("sso-wizard", domain="example.com")
    msg.set_content("This is a test message from sso-wizard.\n")
    return msg


async def _run(port: int, ca_file: str, handler: _Handler) -> int:
    settings = SmtpSettings(host="127.0.0.1", port=port, username=USER, password=PASSWORD,
                            tls=True, sender=SENDER, ca_file=ca_file, timeout=10.0)

    async def full_check() -> None:
        result = await check_smtp(settings, send_to=RECIPIENT)
        if not result.ok:
            raise SystemExit("\n".join(format_result(result, verbose=True)))

    async def bare_send() -> None:
        await aiosmtplib.send(
            _message(), sender="inventree@example.com", recipients=[RECIPIENT],
            hostname="127.0.0.1", port=port, username=USER, password=PASSWORD,
            start_tls=True, cert_bundle=ca_file, timeout=10.0,
        )

    async def timed(fn: Any) -> float:
        started = time.perf_counter()
        await fn()
        return time.perf_counter() - started

    await timed(full_check)  # warm-up: imports, caches (FQDN), first TLS session
    await timed(bare_send)
    checks: list[float] = []
    sends: list[float] = []
    for _ in range(ROUNDS):
        checks.append(await timed(full_check))
        sends.append(await timed(bare_send))

    check_ms = statistics.median(checks) * 1000
    send_ms = statistics.median(sends) * 1000
    ratio = check_ms / send_ms
    print(f"server: aiosmtpd STARTTLS+AUTH on 127.0.0.1:{port}, trustme CA via ca_file")
    print(f"check_smtp (full check + test message): median {check_ms:7.2f} ms "
          f"(min {min(checks) * 1000:.2f}, max {max(checks) * 1000:.2f}) over {ROUNDS}")
    print(f"aiosmtplib.send (same message, same TLS): median {send_ms:7.2f} ms "
          f"(min {min(sends) * 1000:.2f}, max {max(sends) * 1000:.2f}) over {ROUNDS}")
    print(f"ratio: {ratio:.2f}x (target <= {TARGET_RATIO}x) "
          f"-> {'OK' if ratio <= TARGET_RATIO else 'OVER TARGET'}")
    print(f"messages received by the server: {handler.received}")
    return 0 if ratio <= TARGET_RATIO else 1


def main() -> int:
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-login deprecation note
    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as tmp:
        ca_file = str(Path(tmp) / "ca.pem")
        ca.cert_pem.write_to_path(ca_file)
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_ctx)
        handler = _Handler()
        controller = _EphemeralController(
            handler, hostname="127.0.0.1", port=0, tls_context=server_ctx,
            authenticator=_authenticator, auth_require_tls=True, ready_timeout=5.0,
        )
        controller.start()
        try:
            return asyncio.run(_run(controller.port, ca_file, handler))
        finally:
            controller.stop()


if __name__ == "__main__":
    sys.exit(main())
