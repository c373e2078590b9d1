"""The SMTP check against real SMTP servers on loopback (aiosmtpd, trustme, raw sockets)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from smtp_servers import (
    LOOPBACK,
    RecordingHandler,
    SmtpServer,
    greet_then_hang_up_after_ehlo,
    greet_then_ignore,
    helo_only,
    make_pki,
    refuse_service,
    refusing_port,
    run_smtp_server,
    scripted_server,
    silent_port,
    trustme_server_context,
    write_ca,
)

from sso_wizard.core.checks.smtp import (
    SmtpCheckResult,
    SmtpSettings,
    check_smtp,
    format_result,
    probe_mode,
)

pytestmark = pytest.mark.network

USER = "inventree@example.com"
PASSWORD = "s3cr3t-Pa55w0rd!"
SENDER = "InvenTree <inventree@example.com>"
RECIPIENT = "admin@example.org"


def secret_forms() -> list[str]:
    """Every way the password could leak into text: raw and inside AUTH blobs."""
    return [
        PASSWORD,
        base64.b64encode(PASSWORD.encode()).decode(),
        base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),
    ]


def assert_no_secret(result: SmtpCheckResult, settings: SmtpSettings) -> None:
    texts = [
        *result.transcript,
        *format_result(result, verbose=True),
        json.dumps(result.to_json(transcript=True)),
        repr(result),
        repr(settings),
        str(settings),
    ]
    for text in texts:
        for secret in secret_forms():
            assert secret not in text, f"secret leaked into: {text!r}"


def error_codes(result: SmtpCheckResult) -> list[str]:
    return [f.code for f in result.findings if f.severity == "error"]


def step_names(result: SmtpCheckResult) -> list[str]:
    return [s.name for s in result.steps]


def ok_steps(result: SmtpCheckResult) -> list[str]:
    return [s.name for s in result.steps if s.ok]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_ca(ca, tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def starttls_server(ca: trustme.CA) -> Iterator[SmtpServer]:
    """STARTTLS with AUTH offered only after STARTTLS (aiosmtpd's auth_require_tls)."""
    with run_smtp_server(starttls=trustme_server_context(ca), users={USER: PASSWORD},
                         auth_require_tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def implicit_server(ca: trustme.CA) -> Iterator[SmtpServer]:
    with run_smtp_server(implicit=trustme_server_context(ca), users={USER: PASSWORD},
                         auth_require_tls=False) as server:
        yield server


@pytest.fixture(scope="module")
def plain_server() -> Iterator[SmtpServer]:
    with run_smtp_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_messages(request: pytest.FixtureRequest) -> None:
    for name in ("starttls_server", "implicit_server", "plain_server"):
        if name in request.fixturenames:
            request.getfixturevalue(name).handler.messages.clear()


def starttls_settings(server: SmtpServer, ca_file: str | None, **changes: object) -> SmtpSettings:
    base = SmtpSettings(host=LOOPBACK, port=server.port, username=USER, password=PASSWORD,
                        tls=True, sender=SENDER, ca_file=ca_file, timeout=5.0)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# the happy paths


async def test_starttls_with_auth_sends_the_test_message(
    starttls_server: SmtpServer, ca_file: str
) -> None:
    settings = starttls_settings(starttls_server, ca_file)
    result = await check_smtp(settings, send_to=RECIPIENT)

    assert result.ok, format_result(result, verbose=True)
    assert step_names(result) == ["resolve", "connect", "banner", "ehlo", "starttls",
                                  "certificate", "ehlo", "auth", "send", "quit"]
    assert all(s.ok for s in result.steps)
    assert result.inferred_mode == "starttls"
    assert result.suggested == {}

    received = starttls_server.handler.messages
    assert len(received) == 1
    assert received[0].mail_from == "inventree@example.com"
    assert received[0].rcpt_tos == [RECIPIENT]
    assert received[0].subject.startswith("[InvenTree] ")
    assert received[0].subject == "[InvenTree] sso-wizard test message"
    assert received[0].from_header == SENDER
    # the only remark: the CA is trusted thanks to ca_file, InvenTree needs it in its store
    assert result.codes() == ["smtp-certificate-private-ca"]

    cert = result.step("certificate")
    assert cert is not None and "days left" in cert.detail and "expires" in cert.detail
    auth = result.step("auth")
    assert auth is not None
    assert "before TLS: none" in auth.detail and "after TLS: LOGIN PLAIN" in auth.detail
    assert "PLAIN" in auth.detail

    transcript = result.transcript
    assert "C: AUTH PLAIN ****" in transcript
    assert any(line.startswith("-- TLS started (TLSv1.") and "cipher" in line
               for line in transcript)
    assert "C: STARTTLS" in transcript
    assert any(line.startswith("C: <message body, ") for line in transcript)
    assert transcript[-1].startswith("S: 221")
    assert_no_secret(result, settings)
    assert starttls_server.authenticator is not None


async def test_implicit_tls(implicit_server: SmtpServer, ca_file: str) -> None:
    settings = SmtpSettings(host=LOOPBACK, port=implicit_server.port, username=USER,
                            password=PASSWORD, ssl=True, sender=SENDER, ca_file=ca_file,
                            timeout=5.0)
    result = await check_smtp(settings, send_to=RECIPIENT)

    assert result.ok, format_result(result, verbose=True)
    assert step_names(result) == ["resolve", "connect", "tls", "certificate", "banner", "ehlo",
                                  "auth", "send", "quit"]
    assert result.inferred_mode == "implicit"
    assert len(implicit_server.handler.messages) == 1
    tls_index = next(i for i, line in enumerate(result.transcript) if "TLS started" in line)
    banner_index = next(i for i, line in enumerate(result.transcript) if line.startswith("S: 220"))
    assert tls_index < banner_index  # TLS first, then the greeting
    assert_no_secret(result, settings)


async def test_no_username_skips_auth_and_no_recipient_skips_send(
    plain_server: SmtpServer,
) -> None:
    settings = SmtpSettings(host=LOOPBACK, port=plain_server.port, sender=SENDER, timeout=5.0)
    result = await check_smtp(settings)
    assert result.ok, format_result(result)
    auth, send = result.step("auth"), result.step("send")
    assert auth is not None and auth.ok is None and "no username" in auth.detail
    assert send is not None and send.ok is None and "--send-to" in send.detail
    assert result.inferred_mode == "plain"
    assert plain_server.handler.messages == []


# ---------------------------------------------------------------------------------------------
# AUTH


async def test_auth_only_after_starttls_with_tls_off(
    starttls_server: SmtpServer, ca_file: str
) -> None:
    settings = starttls_settings(starttls_server, ca_file, tls=False)
    result = await check_smtp(settings, send_to=RECIPIENT)

    assert not result.ok
    assert "smtp-auth-requires-starttls" in result.codes()
    finding = next(f for f in result.findings if f.code == "smtp-auth-requires-starttls")
    assert "the server offers AUTH only after STARTTLS; set tls: true" in finding.message.lower() \
        or "offers AUTH only after STARTTLS; set tls: true" in finding.message
    assert result.suggested == {"tls": True, "ssl": False}
    assert result.inferred_mode == "starttls"
    # no credentials went out at all
    assert not any(line.startswith("C: AUTH") for line in result.transcript)
    assert starttls_server.handler.messages == []
    assert_no_secret(result, settings)


async def test_wrong_password(starttls_server: SmtpServer, ca_file: str) -> None:
    settings = starttls_settings(starttls_server, ca_file, password="not-the-password")
    result = await check_smtp(settings, send_to=RECIPIENT)

    assert error_codes(result) == ["smtp-auth-failed"]
    finding = next(f for f in result.findings if f.code == "smtp-auth-failed")
    assert "535" in finding.message
    assert "app password" in finding.fix
    assert "not-the-password" not in "\n".join(format_result(result, verbose=True))
    quit_step = result.step("quit")
    assert quit_step is not None and quit_step.ok  # still said goodbye
    send = result.step("send")
    assert send is not None and send.ok is None
    assert starttls_server.handler.messages == []


async def test_auth_login_is_redacted_too(ca: trustme.CA, ca_file: str) -> None:
    with run_smtp_server(starttls=trustme_server_context(ca), users={USER: PASSWORD},
                         auth_exclude_mechanism=["PLAIN"]) as server:
        settings = starttls_settings(server, ca_file)
        result = await check_smtp(settings, send_to=RECIPIENT)
        assert result.ok, format_result(result, verbose=True)
        assert len(server.handler.messages) == 1
    transcript = result.transcript
    login = transcript.index("C: AUTH LOGIN ****")
    assert transcript[login + 1].startswith("S: 334")
    assert transcript[login + 2] == "C: ****"
    assert transcript[login + 3].startswith("S: 235")
    auth = result.step("auth")
    assert auth is not None and "with LOGIN" in auth.detail
    assert_no_secret(result, settings)


# ---------------------------------------------------------------------------------------------
# certificates


async def test_untrusted_ca_then_trusted_via_ca_file(
    starttls_server: SmtpServer, ca_file: str
) -> None:
    untrusted = await check_smtp(starttls_settings(starttls_server, None))
    assert error_codes(untrusted) == ["smtp-certificate-untrusted"]
    assert "ca_file" in untrusted.findings[0].fix
    auth = untrusted.step("auth")
    assert auth is not None and auth.ok is None  # no password over an unverified connection
    assert not any(line.startswith("C: AUTH") for line in untrusted.transcript)

    trusted = await check_smtp(starttls_settings(starttls_server, ca_file))
    assert trusted.ok, format_result(trusted, verbose=True)
    # trusted only thanks to ca_file: InvenTree needs the CA in its own trust store
    assert "smtp-certificate-private-ca" in trusted.codes()


async def test_self_signed_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, self_signed=True)
    with run_smtp_server(starttls=pki.server_context) as server:
        settings = SmtpSettings(host=LOOPBACK, port=server.port, tls=True, sender=SENDER,
                                timeout=5.0)
        result = await check_smtp(settings)
        assert error_codes(result) == ["smtp-certificate-self-signed"]
        cert = result.step("certificate")
        assert cert is not None and cert.ok is False and "self-signed" in cert.detail

        # the admin hands the certificate over as ca_file: now it verifies
        trusted = await check_smtp(dataclasses.replace(settings, ca_file=pki.ca_file))
        assert trusted.ok, format_result(trusted, verbose=True)


@pytest.mark.parametrize("host", [LOOPBACK, "localhost"])
async def test_certificate_for_another_name(
    ca: trustme.CA, ca_file: str, host: str
) -> None:
    with run_smtp_server(starttls=trustme_server_context(ca, "mail.example.org")) as server:
        settings = SmtpSettings(host=host, port=server.port, tls=True, sender=SENDER,
                                ca_file=ca_file, timeout=5.0)
        result = await check_smtp(settings)
    assert error_codes(result) == ["smtp-certificate-hostname-mismatch"]
    finding = next(f for f in result.findings if f.severity == "error")
    assert "mail.example.org" in finding.message and host in finding.message


async def test_expired_certificate(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    pki = make_pki(tmp_path, not_before=now - dt.timedelta(days=400),
                   not_after=now - dt.timedelta(days=30))
    with run_smtp_server(implicit=pki.server_context) as server:
        settings = SmtpSettings(host=LOOPBACK, port=server.port, ssl=True, sender=SENDER,
                                ca_file=pki.ca_file, timeout=5.0)
        result = await check_smtp(settings)
    assert error_codes(result) == ["smtp-certificate-expired"]
    expired_on = (now - dt.timedelta(days=30)).strftime("%Y-%m-%d")
    assert expired_on in result.findings[0].message
    assert "days ago" in result.findings[0].message


async def test_certificate_not_yet_valid(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    pki = make_pki(tmp_path, not_before=now + dt.timedelta(days=2),
                   not_after=now + dt.timedelta(days=90))
    with run_smtp_server(starttls=pki.server_context) as server:
        result = await check_smtp(SmtpSettings(host=LOOPBACK, port=server.port, tls=True,
                                               sender=SENDER, ca_file=pki.ca_file, timeout=5.0))
    assert error_codes(result) == ["smtp-certificate-not-yet-valid"]
    assert "clock" in result.findings[-1].fix


async def test_certificate_expiring_soon_is_a_warning(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=5, hours=1))
    with run_smtp_server(starttls=pki.server_context) as server:
        result = await check_smtp(SmtpSettings(host=LOOPBACK, port=server.port, tls=True,
                                               sender=SENDER, ca_file=pki.ca_file, timeout=5.0))
    assert result.ok
    assert "smtp-certificate-expires-soon" in result.codes()
    cert = result.step("certificate")
    assert cert is not None and "(5 days left)" in cert.detail


# ---------------------------------------------------------------------------------------------
# the envelope


async def test_sender_refused(ca: trustme.CA, ca_file: str) -> None:
    handler = RecordingHandler(refuse_sender="550 5.7.1 Sender address rejected: not owned")
    with run_smtp_server(starttls=trustme_server_context(ca), users={USER: PASSWORD},
                         handler=handler) as server:
        result = await check_smtp(starttls_settings(server, ca_file), send_to=RECIPIENT)
    assert error_codes(result) == ["smtp-sender-refused"]
    finding = next(f for f in result.findings if f.code == "smtp-sender-refused")
    assert "inventree@example.com" in finding.message and "550" in finding.message
    quit_step = result.step("quit")
    assert quit_step is not None and quit_step.ok
    assert handler.messages == []


async def test_recipient_refused(ca: trustme.CA, ca_file: str) -> None:
    handler = RecordingHandler(refuse_recipient="550 5.1.1 User unknown")
    with run_smtp_server(starttls=trustme_server_context(ca), users={USER: PASSWORD},
                         handler=handler) as server:
        result = await check_smtp(starttls_settings(server, ca_file), send_to=RECIPIENT)
    assert error_codes(result) == ["smtp-recipient-refused"]
    finding = next(f for f in result.findings if f.code == "smtp-recipient-refused")
    assert RECIPIENT in finding.message and "User unknown" in finding.message
    assert handler.messages == []


async def test_no_sender_configured(plain_server: SmtpServer) -> None:
    settings = SmtpSettings(host=LOOPBACK, port=plain_server.port, timeout=5.0)
    result = await check_smtp(settings, send_to=RECIPIENT)
    assert error_codes(result) == ["smtp-sender-missing"]
    # the connection is still checked
    assert ok_steps(result)[:4] == ["resolve", "connect", "banner", "ehlo"]
    send = result.step("send")
    assert send is not None and send.ok is None


# ---------------------------------------------------------------------------------------------
# the network


async def test_connection_refused() -> None:
    with refusing_port() as port:
        result = await check_smtp(SmtpSettings(host=LOOPBACK, port=port, sender=SENDER,
                                               timeout=2.0))
    assert error_codes(result) == ["smtp-connection-refused"]
    assert step_names(result)[:2] == ["resolve", "connect"]
    assert [s.ok for s in result.steps][:2] == [True, False]
    assert all(s.ok is None for s in result.steps[2:])


async def test_unknown_host() -> None:
    result = await check_smtp(SmtpSettings(host="no-such-mail-server.invalid", port=587,
                                           tls=True, sender=SENDER, timeout=2.0))
    assert error_codes(result) == ["smtp-host-unknown"]
    resolve = result.step("resolve")
    assert resolve is not None and resolve.ok is False


async def test_server_that_never_greets_times_out_quickly() -> None:
    with silent_port() as port:
        started = time.perf_counter()
        result = await check_smtp(SmtpSettings(host=LOOPBACK, port=port, sender=SENDER,
                                               timeout=0.3))
        elapsed = time.perf_counter() - started
    assert error_codes(result) == ["smtp-banner-timeout"]
    assert "0.3 s" in result.findings[0].message
    assert elapsed < 2.0
    assert result.inferred_mode is None


async def test_connection_dropped_mid_dialogue() -> None:
    with scripted_server(greet_then_hang_up_after_ehlo) as port:
        result = await check_smtp(SmtpSettings(host=LOOPBACK, port=port, sender=SENDER,
                                               timeout=2.0))
    assert error_codes(result) == ["smtp-connection-dropped"]
    assert "EHLO" in result.findings[0].message
    ehlo = result.step("ehlo")
    assert ehlo is not None and ehlo.ok is False
    assert "-- connection closed by the server --" in result.transcript


async def test_server_that_refuses_service() -> None:
    with scripted_server(refuse_service) as port:
        result = await check_smtp(SmtpSettings(host=LOOPBACK, port=port, sender=SENDER,
                                               timeout=2.0))
    assert error_codes(result) == ["smtp-banner-refused"]
    assert "554" in result.findings[0].message
    assert "S: 554 5.7.1 No SMTP service here for you" in result.transcript


async def test_helo_only_server_cannot_do_starttls() -> None:
    with scripted_server(helo_only) as port:
        result = await check_smtp(SmtpSettings(host=LOOPBACK, port=port, tls=True,
                                               sender=SENDER, timeout=2.0))
    ehlo = result.step("ehlo")
    assert ehlo is not None and ehlo.ok and "HELO accepted" in ehlo.detail
    assert error_codes(result) == ["smtp-starttls-not-offered"]
    quit_step = result.step("quit")
    assert quit_step is not None and quit_step.ok


async def test_server_that_stops_answering_after_the_greeting() -> None:
    with scripted_server(greet_then_ignore) as port:
        started = time.perf_counter()
        result = await check_smtp(SmtpSettings(host=LOOPBACK, port=port, sender=SENDER,
                                               timeout=0.3))
        elapsed = time.perf_counter() - started
    assert error_codes(result) == ["smtp-no-reply"]
    assert "EHLO" in result.findings[0].message
    assert elapsed < 2.0


async def test_implicit_tls_to_a_silent_port_is_bounded() -> None:
    with silent_port() as port:
        started = time.perf_counter()
        result = await check_smtp(SmtpSettings(host=LOOPBACK, port=port, ssl=True,
                                               sender=SENDER, timeout=0.3))
        elapsed = time.perf_counter() - started
    assert error_codes(result) == ["smtp-tls-handshake-failed"]
    assert elapsed < 2.0


async def test_cancellation_propagates_and_is_prompt() -> None:
    with silent_port() as port:
        task = asyncio.create_task(check_smtp(SmtpSettings(host=LOOPBACK, port=port,
                                                           sender=SENDER, timeout=30)))
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.perf_counter() - started < 1.0


# ---------------------------------------------------------------------------------------------
# TLS mode


async def test_tls_and_ssl_both_true_does_not_connect() -> None:
    with silent_port() as port:
        result = await check_smtp(SmtpSettings(host=LOOPBACK, port=port, tls=True, ssl=True,
                                               sender=SENDER, timeout=5.0))
    assert error_codes(result) == ["smtp-tls-and-ssl"]
    assert all(s.ok is None for s in result.steps)
    assert result.transcript == []
    assert result.suggested == {"tls": True, "ssl": False}
    on_465 = await check_smtp(SmtpSettings(host=LOOPBACK, port=465, tls=True, ssl=True,
                                           sender=SENDER))
    assert on_465.suggested == {"tls": False, "ssl": True}


async def test_starttls_on_an_implicit_tls_port(implicit_server: SmtpServer, ca_file: str) -> None:
    settings = SmtpSettings(host=LOOPBACK, port=implicit_server.port, username=USER,
                            password=PASSWORD, tls=True, sender=SENDER, ca_file=ca_file,
                            timeout=0.5)
    result = await check_smtp(settings)
    assert error_codes(result) == ["smtp-wrong-tls-mode"]
    assert result.inferred_mode == "implicit"
    assert result.suggested == {"tls": False, "ssl": True}
    assert "ssl: true" in result.findings[-1].fix
    assert_no_secret(result, settings)


async def test_ssl_on_a_starttls_port(starttls_server: SmtpServer, ca_file: str) -> None:
    settings = starttls_settings(starttls_server, ca_file, tls=False, ssl=True)
    result = await check_smtp(settings)
    assert error_codes(result) == ["smtp-wrong-tls-mode"]
    assert result.inferred_mode == "starttls"
    assert result.suggested == {"tls": True, "ssl": False}
    tls = result.step("tls")
    assert tls is not None and tls.ok is False


async def test_ssl_on_a_plain_port(plain_server: SmtpServer) -> None:
    result = await check_smtp(SmtpSettings(host=LOOPBACK, port=plain_server.port, ssl=True,
                                           sender=SENDER, timeout=2.0))
    assert error_codes(result) == ["smtp-wrong-tls-mode"]
    assert result.inferred_mode == "plain"
    assert result.suggested == {"tls": False, "ssl": False}


async def test_starttls_not_offered(plain_server: SmtpServer) -> None:
    result = await check_smtp(SmtpSettings(host=LOOPBACK, port=plain_server.port, tls=True,
                                           sender=SENDER, timeout=2.0))
    assert error_codes(result) == ["smtp-starttls-not-offered"]
    assert result.inferred_mode == "plain"


async def test_without_inference_a_wrong_mode_is_just_silence(implicit_server: SmtpServer) -> None:
    result = await check_smtp(
        SmtpSettings(host=LOOPBACK, port=implicit_server.port, tls=True, sender=SENDER,
                     timeout=0.3),
        infer_mode=False,
    )
    assert error_codes(result) == ["smtp-banner-timeout"]
    assert result.inferred_mode is None and result.suggested == {}


async def test_probe_mode(
    implicit_server: SmtpServer, starttls_server: SmtpServer, plain_server: SmtpServer
) -> None:
    assert await probe_mode(LOOPBACK, implicit_server.port, 2.0) == "implicit"
    assert await probe_mode(LOOPBACK, starttls_server.port, 2.0) == "starttls"
    assert await probe_mode(LOOPBACK, plain_server.port, 2.0) == "plain"
    with silent_port() as port:
        assert await probe_mode(LOOPBACK, port, 0.2) is None
    with refusing_port() as port:
        assert await probe_mode(LOOPBACK, port, 0.2) is None


# ---------------------------------------------------------------------------------------------
# output


async def test_format_result_and_json(starttls_server: SmtpServer, ca_file: str) -> None:
    settings = starttls_settings(starttls_server, ca_file, password="wrong-password-123")
    result = await check_smtp(settings, send_to=RECIPIENT)

    short = format_result(result)
    assert short[0].startswith("✓ resolve")
    assert any(line.startswith("✗ auth") for line in short)
    assert any(line.startswith("– send") for line in short)
    assert any("[smtp-auth-failed]" in line for line in short)
    assert any(line.startswith("  fix: ") for line in short)
    assert not any(line.startswith("  C: ") for line in short)

    verbose = format_result(result, verbose=True)
    assert "Transcript:" in verbose
    assert "  C: AUTH PLAIN ****" in verbose
    assert not any("wrong-password-123" in line for line in verbose)

    data = result.to_json()
    assert set(data) == {"ok", "steps", "findings", "inferred_mode", "suggested"}
    assert data["ok"] is False
    assert "smtp-auth-failed" in [f["code"] for f in data["findings"]]
    json.dumps(data)


async def test_unreadable_ca_file(plain_server: SmtpServer, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    result = await check_smtp(SmtpSettings(host=LOOPBACK, port=plain_server.port, tls=True,
                                           sender=SENDER, ca_file=missing))
    assert error_codes(result) == ["smtp-ca-file-invalid"]
    assert all(s.ok is None for s in result.steps)


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout"):
        SmtpSettings(host="smtp.example.com", timeout=0)


def test_password_is_not_in_repr() -> None:
    settings = SmtpSettings(host="smtp.example.com", password=PASSWORD)
    assert PASSWORD not in repr(settings)
    assert "password" not in repr(settings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.host = "other"  # type: ignore[misc]
    assert ssl.OPENSSL_VERSION  # the check needs a working ssl module
