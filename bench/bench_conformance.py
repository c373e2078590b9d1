"""Benchmark: `sso-wizard apply` of the example answers vs the scripted way admins do it today.

The scripted way is `manage.py shell -c "<ORM script>"` on the conformance Django site (built
from the same config.yaml the way InvenTree builds its settings): it creates the same SocialApp
rows and InvenTree settings through the ORM — and leaves config.yaml (backends, site_url, email)
to be edited by hand. The wizard does both, validated, with a backup and one transaction.

Both run as real processes (interpreter start-up included), each on a fresh copy of the same
migrated SQLite install; both results are checked to hold the same rows. A real InvenTree
`manage.py shell` takes about 4 s on this kind of machine: the conformance site loads only
Django, allauth and four apps, so it is the *fastest* the scripted way can be.

Run: .venv/bin/python bench/bench_conformance.py [runs]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sso_wizard.core.demo import CONFIG_TEMPLATE, DEMO_ANSWERS  # noqa: E402
from tests.conformance import harness  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
SECRETS = {"github": "demo-github-secret-0123456789abcdef",
           "keycloak": "demo-keycloak-secret-Zx9!#:{'\""}

# The same rows, through Django's ORM, the way an admin scripts it in `manage.py shell -c`.
SHELL_SCRIPT = """
from pathlib import Path
from allauth.socialaccount.models import SocialApp
from inventree_site.models import InvenTreeSetting
secrets = Path({secrets!r})
SocialApp.objects.update_or_create(provider="github", provider_id="", defaults=dict(
    name="GitHub", client_id="Iv1.demo0123456789", key="", settings={{}},
    secret=(secrets / "github").read_text().rstrip("\\n")))
SocialApp.objects.update_or_create(provider="openid_connect", provider_id="keycloak",
    defaults=dict(name="Keycloak", client_id="inventree", key="",
                  secret=(secrets / "keycloak").read_text().rstrip("\\n"),
                  settings={{"server_url": "https://sso.example.com/realms/main"}}))
for key, value in {{"LOGIN_ENABLE_SSO": "True", "LOGIN_ENABLE_SSO_REG": "True",
                    "LOGIN_SIGNUP_SSO_AUTO": "True",
                    "LOGIN_SIGNUP_MAIL_RESTRICTION": "@example.com"}}.items():
    InvenTreeSetting.objects.update_or_create(key=key, defaults={{"value": value}})
"""


def make_template(root: Path) -> tuple[Path, Path]:
    """A migrated install (config.yaml as InvenTree ships it, SQLite DB), plus secrets."""
    db = root / "inventree.sqlite3"
    config = root / "config.yaml"
    config.write_text(CONFIG_TEMPLATE.format(engine="sqlite3", name=str(db)), encoding="utf-8")
    harness.prepare_database(config, f"sqlite:///{db}")
    secrets = root / "secrets"
    secrets.mkdir(mode=0o700)
    for name, value in SECRETS.items():
        path = secrets / name
        path.write_text(value + "\n", encoding="utf-8")
        path.chmod(0o600)
    return config, db


def fresh_copy(template: Path, target: Path) -> tuple[Path, Path]:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(template, target)
    config = target / "config.yaml"
    db = target / "inventree.sqlite3"
    config.write_text(CONFIG_TEMPLATE.format(engine="sqlite3", name=str(db)), encoding="utf-8")
    return config, db


def bytecode_allowed(env: dict[str, str]) -> dict[str, str]:
    """Both sides run from cached bytecode, as installed packages do (the warm-up round writes
    it): PYTHONDONTWRITEBYTECODE would make every run recompile the repository's modules."""
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_wizard(config: Path, answers: Path, state: Path) -> float:
    env = bytecode_allowed({k: v for k, v in os.environ.items()
                            if not k.startswith("INVENTREE_")})
    env["SSO_WIZARD_STATE_DIR"] = str(state)
    start = time.perf_counter()
    done = subprocess.run([str(REPO / ".venv" / "bin" / "sso-wizard"), "--config", str(config),
                           "apply", "--yes", str(answers)], env=env, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sso-wizard apply failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def run_shell(config: Path, secrets: Path) -> float:
    script = SHELL_SCRIPT.format(secrets=str(secrets))
    env = bytecode_allowed(harness.site_env(config))
    start = time.perf_counter()
    done = subprocess.run([harness.PYTHON, "-m", "inventree_site", "shell", "-c", script],
                          env=env, capture_output=True, text=True, cwd=harness.HERE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"manage.py shell failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def rows(db: Path) -> dict[str, Any]:
    import sqlalchemy as sa
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        apps = sorted(
            (r["provider"], r["provider_id"], r["name"], r["client_id"], r["secret"], r["key"],
             json.dumps(json.loads(r["settings"]), sort_keys=True))
            for r in conn.execute(sa.text("SELECT * FROM socialaccount_socialapp")).mappings())
        settings = dict(conn.execute(sa.text(
            "SELECT key, value FROM common_inventreesetting")).all())
    engine.dispose()
    return {"apps": apps, "settings": settings}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-conformance-") as tmp:
        base = Path(tmp)
        template = base / "template"
        template.mkdir()
        make_template(template)
        wizard_times: list[float] = []
        shell_times: list[float] = []
        results: dict[str, Any] = {}
        for i in range(RUNS + 1):  # the first round warms the file cache and is not counted
            config, db = fresh_copy(template, base / "wizard")
            answers = base / "wizard" / "answers.yaml"
            answers.write_text(DEMO_ANSWERS.format(config=config, answers=answers),
                               encoding="utf-8")
            t_wizard = run_wizard(config, answers, base / "state")
            results["wizard"] = rows(db)
            config, db = fresh_copy(template, base / "shell")
            t_shell = run_shell(config, base / "shell" / "secrets")
            results["shell"] = rows(db)
            if i:
                wizard_times.append(t_wizard)
                shell_times.append(t_shell)
        assert results["wizard"] == results["shell"], results  # the same rows either way
        wizard = statistics.median(wizard_times)
        shell = statistics.median(shell_times)
        print(f"sso-wizard apply (example answers: 2 apps, 4 settings, config edits), "
              f"median of {RUNS}: {wizard * 1000:.0f} ms")
        print(f"manage.py shell -c (same apps and settings through the ORM, no config), "
              f"median of {RUNS}: {shell * 1000:.0f} ms")
        print(f"ratio wizard / shell: {wizard / shell:.2f}  "
              f"(min {min(wizard_times) * 1000:.0f} / {min(shell_times) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
