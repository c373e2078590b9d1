"""The command line: a thin layer over core/. Heavy imports happen inside commands.

Exit codes: 0 ok, 1 failed, 2 bad input or usage (click's own usage errors are 2 as well).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from sso_wizard import __version__

F = TypeVar("F", bound=Callable[..., Any])
STAGE_NAMES = ("backends", "register", "credentials", "callback", "settings", "email", "check")


class Failed(click.ClickException):
    """A command that ran but failed (exit 1)."""

    exit_code = 1


class BadInput(click.ClickException):
    """The install, the answers or the arguments are wrong (exit 2)."""

    exit_code = 2


def friendly_errors(func: F) -> F:
    """Turn core's errors into a clear message and the right exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sso_wizard.core.answers import AnswersError
        from sso_wizard.core.configfile import ConfigFileError
        from sso_wizard.core.envfile import EnvFileError
        from sso_wizard.core.instance import InstanceError
        from sso_wizard.core.plan import ApplyError, PlanError
        try:
            return func(*args, **kwargs)
        except (AnswersError, InstanceError, ConfigFileError, EnvFileError) as exc:
            raise BadInput(str(exc)) from None
        except PlanError as exc:
            raise BadInput(str(exc)) from None
        except ApplyError as exc:
            raise Failed(str(exc)) from None
        except Exception as exc:
            from sso_wizard.core.db import DatabaseError
            if isinstance(exc, DatabaseError):
                raise BadInput(str(exc)) from None
            raise

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             invoke_without_command=True)
@click.version_option(__version__, prog_name="sso-wizard")
@click.option("--config", "config_path", metavar="PATH", envvar="SSO_WIZARD_CONFIG",
              help="InvenTree's config.yaml (default: INVENTREE_CONFIG_FILE, then InvenTree's "
                   "standard locations).")
@click.option("--env-file", metavar="PATH", help="Docker .env file the server reads "
              "INVENTREE_* variables from; keys set there are changed there.")
@click.option("--db-url", metavar="URL", help="SQLAlchemy URL of InvenTree's database, when "
              "its host is only reachable here under another name.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, env_file: str | None,
         db_url: str | None) -> None:
    """Set up single sign-on for a self-hosted InvenTree server, and prove it works.

    Stages, in order: backends, register, credentials, callback, settings, email, check.
    Without a command, the guided terminal UI starts (on a terminal).
    """
    ctx.obj = {"config": config_path, "env_file": env_file, "db_url": db_url}
    if ctx.invoked_subcommand is None:
        if on_terminal():
            ctx.invoke(tui)
        else:
            click.echo(ctx.get_help())


def on_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


@main.command()
@click.option("--stage", type=click.Choice(STAGE_NAMES), help="Open this stage directly.")
@click.pass_context
def tui(ctx: click.Context, stage: str | None = None) -> None:
    """The guided terminal UI (the default on a terminal)."""
    from sso_wizard.tui.app import run_tui
    o = ctx.obj
    sys.exit(run_tui(o["config"], env_file=o["env_file"], db_url=o["db_url"], start_stage=stage))


def load_instance(ctx: click.Context) -> Any:
    from sso_wizard.core.instance import Instance
    o = ctx.obj
    return Instance.load(o["config"], env_file=o["env_file"], db_url=o["db_url"])


def parse_only(only: str | None) -> tuple[str, ...] | None:
    if not only:
        return None
    stages = tuple(s.strip() for s in only.split(",") if s.strip())
    unknown = [s for s in stages if s not in STAGE_NAMES]
    if unknown:
        raise BadInput(f"--only: unknown stage {', '.join(unknown)}. Stages: "
                       f"{', '.join(STAGE_NAMES)}")
    return stages


# -- status ---------------------------------------------------------------------------------

SYMBOL = {"done": "✓", "attention": "!", "todo": "·"}


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Every stage's state and findings. Exit 0 when the install could be read, 2 if not."""
    from sso_wizard.core.instance import InstanceError
    from sso_wizard.core.stages import Snapshot
    from sso_wizard.core.stages import status as stage_status
    try:
        inst = load_instance(ctx)
    except InstanceError as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "stages": {}, "error": str(exc)}))
            sys.exit(2)
        raise BadInput(str(exc)) from None
    snap = Snapshot.read(inst)
    reports = stage_status(inst, snap)
    ok = not any(f.severity == "error" for r in reports.values() for f in r.findings)
    if as_json:
        click.echo(json.dumps({
            "ok": ok,
            "stages": {name: r.to_json() for name, r in reports.items()},
            "instance": describe_instance(inst, snap),
        }, indent=2))
    else:
        info = describe_instance(inst, snap)
        click.echo(f"InvenTree config: {info['config_file']}")
        if info["env_file"]:
            click.echo(f"Env file:         {info['env_file']}")
        click.echo(f"Database:         {info['database']}")
        for key, entry in info["values"].items():
            click.echo(f"  {key} = {entry['value']!r}  (from {entry['origin']})")
        click.echo("")
        for name, report in reports.items():
            click.echo(f"{SYMBOL[report.state]} {name:<12} {report.state}")
            for f in report.findings:
                click.echo(f"    {f.severity}: {f.message}")
                if f.fix and f.severity != "info":
                    click.echo(f"      fix: {f.fix}")
    if snap.db_error:
        sys.exit(2)


def describe_instance(inst: Any, snap: Any) -> dict[str, Any]:
    values = {}
    for key in ("site_url", "login_default_protocol", "social_backends", "site_multi",
                "email.host", "email.sender"):
        r = inst.resolve(key)
        values[key] = {"value": r.value, "source": r.source, "origin": r.origin}
    return {"config_file": str(inst.config_path),
            "env_file": str(inst.env_file.path) if inst.env_file else None,
            "database": snap.db_description, "values": values}


# -- plan / apply / undo -------------------------------------------------------------------

def build_plan(ctx: click.Context, answers_path: str, only: str | None) -> Any:
    from sso_wizard.core.answers import Answers
    from sso_wizard.core.stages import plan_answers
    answers = Answers.load(answers_path)
    inst = load_instance(ctx)
    return plan_answers(inst, answers, parse_only(only))


@main.command()
@click.argument("answers", type=click.Path(dir_okay=False))
@click.option("--only", metavar="STAGE,...", help="Plan only these stages.")
@click.pass_context
@friendly_errors
def plan(ctx: click.Context, answers: str, only: str | None) -> None:
    """Show what applying ANSWERS would change (secrets masked). Writes nothing."""
    the_plan = build_plan(ctx, answers, only)
    click.echo(the_plan.render())
    if the_plan.has_errors:
        sys.exit(2)


@main.command()
@click.argument("answers", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Apply without asking (needed without a terminal).")
@click.option("--only", metavar="STAGE,...", help="Apply only these stages "
              "(credentials still writes the backends its apps need).")
@click.pass_context
@friendly_errors
def apply(ctx: click.Context, answers: str, yes: bool, only: str | None) -> None:
    """Apply ANSWERS: one config write, one env-file write, one DB transaction, one backup."""
    from sso_wizard.core.plan import apply_plan
    the_plan = build_plan(ctx, answers, only)
    click.echo(the_plan.render())
    if the_plan.has_errors:
        sys.exit(2)
    if the_plan.empty:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise BadInput("Standard input is not a terminal: pass --yes to apply without "
                           "asking.")
        if not click.confirm("Apply these changes?", default=False):
            raise Failed("Nothing applied.")
    result = apply_plan(the_plan)
    click.echo("Applied.")
    if result.config_backup:
        click.echo(f"Previous config kept as {result.config_backup}")
    if result.env_backup:
        click.echo(f"Previous env file kept as {result.env_backup}")
    if result.rows_changed:
        click.echo(f"{result.rows_changed} database row(s) changed in one transaction.")
    if the_plan.config_edits or the_plan.env_edits:
        click.echo("Restart InvenTree (server and worker) so it reads the new config.")
    click.echo("Undo with: sso-wizard undo")


@main.command()
@click.option("--force", is_flag=True, help="Restore even if the files changed after the apply.")
@click.pass_context
@friendly_errors
def undo(ctx: click.Context, force: bool) -> None:
    """Restore the config file, env file and rows the last apply changed."""
    from sso_wizard.core.plan import undo_last_apply
    for line in undo_last_apply(load_instance(ctx), force=force):
        click.echo(line)


# -- callback ------------------------------------------------------------------------------

@main.command()
@click.argument("slug", required=False)
@click.option("--registered", metavar="URL", help="The callback URL registered at the "
              "provider: name every difference from what InvenTree sends.")
@click.pass_context
@friendly_errors
def callback(ctx: click.Context, slug: str | None, registered: str | None) -> None:
    """The callback URL of each app (SLUG: provider id, or provider_id for OpenID Connect)."""
    from sso_wizard.core.stages import Snapshot
    from sso_wizard.core.stages.callback import app_callbacks, compare_callback
    inst = load_instance(ctx)
    if not inst.site_url:
        raise BadInput("site_url is not set, so InvenTree's callback URL is not fixed. Set it "
                       "first (answers: site_url: https://inventree.example.com).")
    if slug:
        urls = app_callbacks(inst, [slug])
    else:
        snap = Snapshot.read(inst)
        if snap.db_error:
            raise BadInput(snap.db_error)
        urls = app_callbacks(inst, [a.slug for a in snap.apps])
        if not urls and registered is None:
            raise Failed("No apps are stored yet; give a SLUG (e.g. github) to see its URL.")
    if registered is not None:
        if len(urls) != 1:
            raise BadInput("--registered needs one app: give its SLUG.")
        (expected,) = urls.values()
        diffs = compare_callback(expected, registered)
        click.echo(expected)
        if not diffs:
            click.echo("The registered URL matches.")
            return
        for d in diffs:
            click.echo(f"differs: {d}")
        raise Failed(f"Register exactly {expected} at the provider.")
    if slug:
        click.echo(urls[slug])
    else:
        for s, url in urls.items():
            click.echo(f"{s} {url}")


# -- demo ----------------------------------------------------------------------------------

@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Recreate the sandbox if it exists.")
@click.option("--no-tui", is_flag=True, help="Only print the status, even on a terminal.")
@click.pass_context
@friendly_errors
def demo(ctx: click.Context, directory: str | None, force: bool, no_tui: bool) -> None:
    """Create a sandbox InvenTree install (config + SQLite DB) and open the wizard on it.

    Without a terminal (or with --no-tui) it prints the sandbox's status instead.
    """
    from pathlib import Path

    from sso_wizard.core.demo import create_demo, default_demo_dir
    target = Path(directory) if directory else default_demo_dir()
    sandbox = create_demo(target, force=force)
    click.echo(f"Demo install in {sandbox.root}")
    click.echo(f"  config:   {sandbox.config}")
    click.echo(f"  database: {sandbox.database}")
    click.echo(f"  answers:  {sandbox.answers} (an example answers file)")
    click.echo("")
    ctx.obj["config"] = str(sandbox.config)
    if on_terminal() and not no_tui:
        ctx.invoke(tui)
        return
    ctx.invoke(status)
    click.echo("")
    click.echo("Next: see the plan for the example answers, then apply it:")
    click.echo(f"  sso-wizard --config {sandbox.config} plan {sandbox.answers}")
    click.echo(f"  sso-wizard --config {sandbox.config} apply --yes {sandbox.answers}")


def _add_network_commands() -> None:
    from sso_wizard.cli_check import check, register_command
    main.add_command(check)
    main.add_command(register_command())


_add_network_commands()

if __name__ == "__main__":
    main()
