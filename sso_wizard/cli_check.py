"""`sso-wizard check …` and `sso-wizard register …`: the network-facing commands.

Kept apart from cli.py so the core commands stay short; like cli.py, nothing heavy is imported
until a command runs. Every check takes --json: one object with a top-level `ok` and its
findings (`code`, `severity`, `message`, `fix`); the exit code is 0 only when `ok` is true.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

import click


def _instance(ctx: click.Context) -> Any:
    from sso_wizard.cli import load_instance
    return load_instance(ctx)


def _emit_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group()
def check() -> None:
    """Live checks: prove the settings work against the real servers (read-only)."""


@check.command("email")
@click.option("--send-to", metavar="ADDRESS", help="Also send a real test message here.")
@click.option("--verbose", "-v", is_flag=True, help="Show the SMTP dialogue (secrets redacted).")
@click.option("--ca-file", metavar="PATH", help="Trust this CA bundle too (self-signed servers).")
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="Seconds allowed for each step.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_context
def check_email(ctx: click.Context, send_to: str | None, verbose: bool, ca_file: str | None,
                timeout: float, as_json: bool) -> None:
    """Check InvenTree's email settings step by step against the SMTP server."""
    from dataclasses import replace

    from sso_wizard.cli import friendly_errors
    from sso_wizard.core import validators
    from sso_wizard.core.checks.smtp import check_smtp, format_result
    from sso_wizard.core.findings import error
    from sso_wizard.core.stages.email import effective, is_configured, smtp_settings

    @friendly_errors
    def run() -> None:
        inst = _instance(ctx)
        if send_to and validators.email_problem(send_to):
            raise click.BadParameter(f"{send_to!r} is not an email address", param_hint="--send-to")
        values = effective(inst)
        if not values.get("host"):
            finding = error("email-not-configured", "No email host is configured, so there is "
                            "nothing to check.", "Apply an email section first (stage email).")
            if as_json:
                _emit_json({"ok": False, "steps": [], "findings": [finding.to_json()]})
            else:
                click.echo(f"error: {finding.message}\n  fix: {finding.fix}", err=True)
            sys.exit(1)
        settings = replace(smtp_settings(inst, ca_file), timeout=timeout)
        import asyncio
        result = asyncio.run(check_smtp(settings, send_to=send_to))
        if as_json:
            data = result.to_json(transcript=verbose)
            data["configured_for_inventree"] = is_configured(values)
            _emit_json(data)
        else:
            for line in format_result(result, verbose=verbose):
                click.echo(line)
            if not is_configured(values):
                click.echo("note: InvenTree does not count email as configured until host and "
                           "sender are both set.")
        sys.exit(0 if result.ok else 1)

    run()


def register_command() -> click.Command:
    @click.command("register")
    @click.argument("provider")
    @click.option("--slug", metavar="SLUG", help="OpenID Connect: the provider_id used in the "
                  "callback URL (default: the preset's id, e.g. keycloak).")
    @click.option("--setting", "settings", multiple=True, metavar="KEY=VALUE",
                  help="Provider settings to fill in (tenant=…, server_url=…, gitlab_url=…).")
    @click.option("--app-name", default="InvenTree", show_default=True)
    @click.option("--copy", is_flag=True, help="Copy the callback URL to your local clipboard "
                  "(OSC 52: works over SSH in most terminals).")
    @click.option("--check-issuer", is_flag=True, help="OpenID Connect: fetch the discovery "
                  "document of server_url and report on it.")
    @click.pass_context
    def register(ctx: click.Context, provider: str, slug: str | None, settings: tuple[str, ...],
                 app_name: str, copy: bool, check_issuer: bool) -> None:
        """Step-by-step instructions to register the app at PROVIDER, with the exact values."""
        from sso_wizard.cli import BadInput, friendly_errors

        @friendly_errors
        def run() -> None:
            import asyncio

            from sso_wizard.core import providers
            from sso_wizard.core.stages import callback_url
            from sso_wizard.core.stages.register import register_instructions
            try:
                entry = providers.get_provider(provider)
            except providers.UnknownProviderError as exc:
                raise BadInput(str(exc)) from None
            values: dict[str, str] = {}
            for item in settings:
                key, sep, value = item.partition("=")
                if not sep or not key:
                    raise BadInput(f"--setting {item!r}: write it as KEY=VALUE")
                values[key.strip()] = value.strip()
            inst = _instance(ctx)
            site = inst.site_url
            if not site:
                raise BadInput("site_url is not set: the callback URL depends on it. Set it "
                               "first (answers: site_url: https://inventree.example.com).")
            the_slug = slug or entry.slug or entry.allauth_id
            from sso_wizard.core.stages.callback import app_callbacks
            url = app_callbacks(inst, [the_slug]).get(the_slug) or callback_url(site, the_slug)
            guide = register_instructions(entry, callback_url=url, homepage_url=site,
                                          app_name=app_name, settings=values)
            for line in guide.to_text():
                click.echo(line)
            click.echo("")
            click.echo("Callback URL (register exactly this):")
            click.echo(url)
            if copy:
                from sso_wizard.core.clipboard import copy as osc52_copy
                osc52_copy(url, sys.stdout, os.environ)
                click.echo("(copied to your clipboard via OSC 52)")
            if check_issuer:
                server_url = values.get("server_url")
                if not server_url:
                    raise BadInput("--check-issuer needs --setting server_url=https://…")
                from sso_wizard.core.checks.discovery import check_discovery
                result = asyncio.run(check_discovery(server_url))
                click.echo("")
                click.echo(f"Discovery {result.url}:")
                for f in result.findings:
                    click.echo(f"  {f.severity}: {f.message}")
                    if f.fix and f.severity != "info":
                        click.echo(f"    fix: {f.fix}")
                if not result.ok:
                    sys.exit(1)

        run()

    return register


# ---------------------------------------------------------------------------------------------
# shared pieces of the live checks

SYMBOLS = {"error": "✗", "warning": "!", "info": "·"}


def _echo_findings(title: str, findings: list[Any], err: bool = False) -> None:
    if not findings:
        return
    click.echo(title, err=err)
    for f in findings:
        click.echo(f"  {SYMBOLS.get(f.severity, '·')} {f.message}", err=err)
        if f.fix and f.severity != "info":
            click.echo(f"      fix: {f.fix}", err=err)


def _fail_input(as_json: bool, code: str, message: str, fix: str = "") -> NoReturn:
    """Bad input (exit 2): one JSON object with the finding, or the message on stderr."""
    if as_json:
        _emit_json({"ok": False, "findings": [
            {"code": code, "severity": "error", "message": message, "fix": fix}]})
        sys.exit(2)
    from sso_wizard.cli import BadInput
    raise BadInput(message + (f"\n  fix: {fix}" if fix else ""))


def _load(ctx: click.Context, as_json: bool) -> tuple[Any, Any]:
    """The instance and its DB snapshot, or a bad-input exit that says why."""
    from sso_wizard.core.instance import InstanceError
    from sso_wizard.core.stages import Snapshot
    try:
        inst = _instance(ctx)
    except InstanceError as exc:
        _fail_input(as_json, "instance-unreadable", str(exc))
    snap = Snapshot.read(inst)
    if snap.db_error:
        _fail_input(as_json, "database-unreadable", snap.db_error)
    return inst, snap


def _verify(ca_file: str | None, as_json: bool) -> Any:
    if ca_file and not os.path.exists(ca_file):
        _fail_input(as_json, "ca-file-missing", f"--ca-file {ca_file}: no such file or "
                    "directory.", "Give the path of a PEM file with the CA certificate(s).")
    return ca_file or True


def _copy_to_clipboard(url: str, stream: Any) -> bool:
    try:
        if not stream.isatty():
            return False
        from sso_wizard.core.clipboard import copy as osc52_copy
        osc52_copy(url, stream, os.environ)
        return True
    except (OSError, ValueError, AttributeError):
        return False


def _read_paste() -> str:
    """Read the pasted callback URL (one line) or an error page's text (until an empty line)."""
    lines: list[str] = []
    stream = sys.stdin
    if stream is None:
        return ""
    while True:
        line = stream.readline()
        if not line:
            break
        text = line.rstrip("\r\n")
        if not lines and not text.strip():
            continue
        if not text.strip():
            break
        lines.append(text)
        if len(lines) == 1 and text.strip().lower().startswith(("http://", "https://")):
            break
    return "\n".join(lines)


async def _paste_from_stdin() -> str:
    import asyncio
    import threading
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def deliver(text: str) -> None:
        if not future.done():
            future.set_result(text)

    def worker() -> None:
        try:
            text = _read_paste()
        except (OSError, ValueError, UnicodeDecodeError):
            text = ""
        try:
            loop.call_soon_threadsafe(deliver, text)
        except RuntimeError:  # the loop is gone: nobody waits any more
            pass

    threading.Thread(target=worker, name="sso-wizard-paste", daemon=True).start()
    return await future


async def _wait_for_callback(listener: Any, wait: float) -> tuple[str, str]:
    """(text, mode): whichever comes first — the browser at our listener, or a paste."""
    import asyncio
    tasks: dict[asyncio.Task[str], str] = {asyncio.create_task(_paste_from_stdin()): "paste"}
    if listener is not None:
        tasks[asyncio.create_task(listener.wait())] = "listen"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    try:
        while tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            done, _ = await asyncio.wait(tasks, timeout=remaining,
                                         return_when=asyncio.FIRST_COMPLETED)
            if not done:
                break
            for task in done:
                mode = tasks.pop(task)
                text = task.result() if not task.cancelled() and task.exception() is None \
                    else ""
                if text.strip():
                    return text, mode
        return "", "none"
    finally:
        for task in tasks:
            task.cancel()


def _roundtrip_intro(setup: Any, attempt: Any, listening: str, err: bool, copied: bool) -> None:
    from sso_wizard.core.checks.oauth import ATTEMPT_LIFETIME
    name = setup.display
    out = click.echo
    out("", err=err)
    out(f"Round trip: sign in once through {name} to prove the whole path works.", err=err)
    out("1. Open this address in a browser" + (" (also copied to your clipboard)" if copied
                                               else "") + ":", err=err)
    out("", err=err)
    out(attempt.authorize_url, err=err)
    out("", err=err)
    out(f"2. Sign in. {name} then sends the browser to InvenTree's callback", err=err)
    out(f"   {setup.redirect_uri}", err=err)
    out("   InvenTree will not accept this sign-in (the wizard, not InvenTree, started it): "
        "that is expected. Do not press its Continue button.", err=err)
    out("3. Copy the full address of that page and paste it here, then Enter. If the provider "
        "showed an error page instead, paste its text and an empty line.", err=err)
    if listening:
        out(f"   (Also listening on {listening}: if the browser reaches this machine there, "
            "the wizard catches it by itself.)", err=err)
    out(f"Finish later (within {ATTEMPT_LIFETIME // 60} minutes): sso-wizard check provider "
        f"{setup.slug} --paste 'ADDRESS'", err=err)
    out("", err=err)


@check.command("provider")
@click.argument("name")
@click.option("--probe", "probe_only", is_flag=True,
              help="Only probe the stored credentials (no user needed).")
@click.option("--paste", "paste", metavar="URL",
              help="Finish an attempt started earlier: the address the browser landed on "
                   "(or the provider's error text).")
@click.option("--no-listen", is_flag=True, help="Never serve the callback here; paste only.")
@click.option("--wait", type=float, default=600.0, show_default=True,
              help="Seconds to wait for the sign-in.")
@click.option("--no-server", is_flag=True, help="Skip the cross-check with the running server.")
@click.option("--server-url", metavar="URL", help="Cross-check this address (default site_url).")
@click.option("--ca-file", metavar="PATH", help="Trust this CA bundle too (private CAs).")
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="Seconds allowed for each network step.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_context
def check_provider(ctx: click.Context, name: str, probe_only: bool, paste: str | None,
                   no_listen: bool, wait: float, no_server: bool, server_url: str | None,
                   ca_file: str | None, timeout: float, as_json: bool) -> None:
    """Prove the provider NAME (an app's slug) works: probe, round trip, server, verdict."""
    from sso_wizard.cli import friendly_errors

    @friendly_errors
    def run() -> None:
        from sso_wizard.core.checks.oauth import AppNotFoundError, find_app
        if timeout <= 0 or wait <= 0:
            _fail_input(as_json, "bad-timeout", "--timeout and --wait must be positive.")
        if probe_only and paste is not None:
            _fail_input(as_json, "bad-options", "--probe checks the credentials without a "
                        "sign-in; --paste finishes a sign-in. Use one of them.")
        verify = _verify(ca_file, as_json)
        inst, snap = _load(ctx, as_json)
        try:
            app = find_app(snap.apps, name)
        except AppNotFoundError as exc:
            _fail_input(as_json, "provider-unknown", str(exc),
                        "Give the app's slug: sso-wizard callback lists them.")
        import asyncio
        try:
            report = asyncio.run(_provider_flow(
                inst, snap, app, probe_only=probe_only, paste=paste, listen=not no_listen,
                wait=wait, server=not no_server, server_url=server_url, verify=verify,
                timeout=timeout, as_json=as_json))
        except KeyboardInterrupt:
            click.echo(f"\nInterrupted. Finish later with: sso-wizard check provider "
                       f"{app.slug} --paste 'ADDRESS'", err=True)
            sys.exit(1)
        if as_json:
            _emit_json(report.to_json())
        else:
            click.echo(f"Provider {app.slug} ({app.provider}, client id {app.client_id!r}); "
                       f"callback {report.setup.redirect_uri or '(site_url not set)'}")
            for title, findings in report.sections():
                _echo_findings(title, findings)
        sys.exit(0 if report.ok else 1)

    run()


async def _provider_flow(inst: Any, snap: Any, app: Any, *, probe_only: bool,
                         paste: str | None, listen: bool, wait: float, server: bool,
                         server_url: str | None, verify: Any, timeout: float,  # noqa: ASYNC109
                         as_json: bool) -> Any:
    from sso_wizard.core.checks.oauth import (
        CallbackListener,
        RoundTripResult,
        begin_roundtrip,
        complete_roundtrip,
        describe_listen,
    )
    from sso_wizard.core.checks.server import check_server
    from sso_wizard.core.checks.verdict import make_verdict, probe_report, record_proof
    from sso_wizard.core.findings import error, warning
    from sso_wizard.core.http import create_client

    async with create_client(timeout=timeout, verify=verify) as client:
        report = await probe_report(inst, app, client=client, timeout=timeout)
        setup = report.setup
        if probe_only:
            return report
        rt = RoundTripResult(slug=setup.slug)
        report.roundtrip = rt
        if paste is not None:
            rt = await complete_roundtrip(inst, snap, setup, paste, client=client,
                                          timeout=timeout)
            report.roundtrip = rt
        elif not setup.supported or not setup.redirect_uri:
            rt.status = "failed"
            rt.findings.append(error(
                "roundtrip-impossible", "The round trip cannot start: the provider's "
                "endpoints or the callback URL are unknown (see the setup findings).",
                "Fix the setup findings first."))
        else:
            attempt = begin_roundtrip(inst, setup)
            rt.authorize_url = attempt.authorize_url
            listener, why_not = (None, "listening disabled (--no-listen)")
            if listen:
                listener, why_not = await CallbackListener.open(setup.redirect_uri)
            stream = sys.stderr if as_json else sys.stdout
            copied = _copy_to_clipboard(attempt.authorize_url, stream)
            _roundtrip_intro(setup, attempt, describe_listen(setup.redirect_uri)
                             if listener else "", as_json, copied)
            try:
                text, mode = await _wait_for_callback(listener, wait)
            finally:
                if listener is not None:
                    await listener.close()
            if not text:
                rt.status = "pending"
                rt.findings.append(warning(
                    "roundtrip-pending",
                    "No sign-in came back" + (f" within {wait:g} s" if listener else "")
                    + f" (listen mode: {why_not or 'waited'}).",
                    f"Open the address above, sign in, then run: sso-wizard check provider "
                    f"{setup.slug} --paste 'ADDRESS' (within 10 minutes)."))
            else:
                rt = await complete_roundtrip(inst, snap, setup, text, client=client,
                                              timeout=timeout, attempt=attempt,
                                              mode=mode if mode == "listen" else "paste")
                rt.authorize_url = attempt.authorize_url
                report.roundtrip = rt
        if rt.passed:
            record_proof(inst, setup, rt)
    if server:
        report.server = await check_server(inst, snap, server_url, slugs=[setup.slug],
                                           timeout=timeout, verify=verify)
    report.verdict = make_verdict(setup.slug, probe=report.probe, roundtrip=report.roundtrip,
                                  server=report.server)
    return report


@check.command("server")
@click.argument("url", required=False)
@click.option("--provider", "slugs", multiple=True, metavar="SLUG",
              help="Check only this app (repeatable).")
@click.option("--ca-file", metavar="PATH", help="Trust this CA bundle too (private CAs).")
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="Seconds allowed for each request.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_context
def check_server_cmd(ctx: click.Context, url: str | None, slugs: tuple[str, ...],
                     ca_file: str | None, timeout: float, as_json: bool) -> None:
    """Cross-check the running InvenTree at URL (default site_url) against the database."""
    from sso_wizard.cli import friendly_errors

    @friendly_errors
    def run() -> None:
        from sso_wizard.core.checks.server import check_server
        if timeout <= 0:
            _fail_input(as_json, "bad-timeout", "--timeout must be positive.")
        verify = _verify(ca_file, as_json)
        inst, snap = _load(ctx, as_json)
        known = {a.slug for a in snap.apps}
        unknown = [s for s in slugs if s not in known]
        if unknown:
            _fail_input(as_json, "provider-unknown", f"No app {', '.join(unknown)}. Stored "
                        f"apps: {', '.join(sorted(known)) or 'none'}.")
        if not url and not inst.site_url:
            _fail_input(as_json, "server-url-missing", "site_url is not set and no URL was "
                        "given.", "sso-wizard check server https://inventree.example.com")
        import asyncio
        result = asyncio.run(check_server(inst, snap, url, slugs=list(slugs) or None,
                                          timeout=timeout, verify=verify))
        if as_json:
            data = result.to_json()
            data["findings"] = [f.to_json() for f in result.all_findings]
            _emit_json(data)
        else:
            _echo_findings(f"Server {result.url}" + (f" (InvenTree {result.version})"
                                                     if result.version else ""),
                           result.all_findings)
            if result.restart_needed:
                click.echo("Restart needed: the server still runs the old configuration.")
        sys.exit(0 if result.ok else 1)

    run()


@check.command("errors")
@click.option("--since", metavar="WHEN", default="7d", show_default=True,
              help="ISO date/time (2025-06-01, 2025-06-01T08:00) or a duration (24h, 7d).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_context
def check_errors_cmd(ctx: click.Context, since: str, as_json: bool) -> None:
    """Explain recent failed SSO logins from InvenTree's error log, with the fix."""
    from sso_wizard.cli import friendly_errors

    @friendly_errors
    def run() -> None:
        from sso_wizard.core.checks.errors import check_errors, parse_since
        try:
            when = parse_since(since)
        except ValueError as exc:
            _fail_input(as_json, "bad-since", str(exc))
        inst, snap = _load(ctx, as_json)
        result = check_errors(inst.open_database(), snap.apps, when)
        if as_json:
            _emit_json(result.to_json())
        else:
            _echo_findings(f"SSO failures since {when:%Y-%m-%d %H:%M} UTC", result.findings)
            for f in result.failures:
                if f.excerpt:
                    click.echo(f"    logged ({f.slug or 'sso'}): {f.excerpt}")
        sys.exit(0 if result.ok else 1)

    run()


@check.command("all")
@click.option("--since", metavar="WHEN", default="7d", show_default=True,
              help="How far back to read SSO failures (ISO date/time or 24h, 7d).")
@click.option("--ca-file", metavar="PATH", help="Trust this CA bundle too (private CAs).")
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="Seconds allowed for each network step.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_context
def check_all_cmd(ctx: click.Context, since: str, ca_file: str | None, timeout: float,
                  as_json: bool) -> None:
    """Every non-interactive check, for cron and after upgrades (warnings do not fail it)."""
    from sso_wizard.cli import friendly_errors

    @friendly_errors
    def run() -> None:
        from sso_wizard.core.checks.errors import parse_since
        from sso_wizard.core.checks.verdict import run_all
        try:
            parse_since(since)
        except ValueError as exc:
            _fail_input(as_json, "bad-since", str(exc))
        if timeout <= 0:
            _fail_input(as_json, "bad-timeout", "--timeout must be positive.")
        verify = _verify(ca_file, as_json)
        inst, snap = _load(ctx, as_json)
        import asyncio
        report = asyncio.run(run_all(inst, snap, timeout=timeout, verify=verify, since=since))
        if as_json:
            _emit_json(report.to_json())
        else:
            groups: dict[str, list[Any]] = {}
            for where, f in report.findings:
                groups.setdefault(where, []).append(f)
            for where, findings in groups.items():
                _echo_findings(where, findings)
            errors = sum(1 for _, f in report.findings if f.severity == "error")
            warnings_ = sum(1 for _, f in report.findings if f.severity == "warning")
            click.echo(f"{'OK' if report.ok else 'FAILED'}: {errors} error(s), "
                       f"{warnings_} warning(s).")
        sys.exit(0 if report.ok else 1)

    run()
