"""`sso-wizard check …` and `sso-wizard register …`: the network-facing commands.

Kept apart from cli.py so the core commands stay short; like cli.py, nothing heavy is imported
until a command runs. Every check takes --json: one object with a top-level `ok` and its
findings (`code`, `severity`, `message`, `fix`); the exit code is 0 only when `ok` is true.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

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
