"""Foundation figures (issue 2), as ratios against baselines measured in the same run.

1. `sso-wizard --help` wall time vs `python -c pass` (aim ≤ 6×: nothing heavier than click at
   start-up).
2. `status` and a full `apply` of the example answers on SQLite, next to the import time of
   SQLAlchemy in the same run (aim: apply < 0.5 s).
3. Scale: 50 apps and a 5,000-line config file in one apply (aim < 2 s).

Run: .venv/bin/python bench/bench_foundation.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))



def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def fresh_demo(root: Path) -> tuple[Path, Path]:
    from sso_wizard.core.demo import EXAMPLE_ANSWERS, create_demo
    sandbox = create_demo(root, force=True)
    (root / "kc-secret").write_text("kc-secret\n")
    answers = root / "example.yaml"
    answers.write_text(EXAMPLE_ANSWERS)
    return sandbox.config, answers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    runs = args.runs
    tmp = Path(tempfile.mkdtemp(prefix="sso-wizard-bench-"))
    env = {**os.environ, "SSO_WIZARD_STATE_DIR": str(tmp / "state"),
           "GITHUB_SECRET": "gh-secret", "SMTP_PASSWORD": "smtp-secret"}
    os.environ.update({k: env[k] for k in ("SSO_WIZARD_STATE_DIR", "GITHUB_SECRET",
                                           "SMTP_PASSWORD")})
    exe = [sys.executable, "-m", "sso_wizard"]

    # 1. start-up
    base = [wall([sys.executable, "-c", "pass"], env) for _ in range(runs)]
    helps = [wall([*exe, "--help"], env) for _ in range(runs)]
    sqla = [wall([sys.executable, "-c", "import sqlalchemy"], env) for _ in range(runs)]
    print(f"python -c pass          {median_ms(base):8.1f} ms")
    print(f"sso-wizard --help       {median_ms(helps):8.1f} ms  "
          f"ratio {statistics.median(helps) / statistics.median(base):.2f}x (aim <= 6x)")
    print(f"python -c 'import sqlalchemy' {median_ms(sqla):8.1f} ms (baseline for the next two)")

    # 2. status and a full apply of the example, each as a whole command, on SQLite
    statuses, applies = [], []
    for i in range(runs):
        config, answers = fresh_demo(tmp / f"demo{i}")
        statuses.append(wall([*exe, "--config", str(config), "status", "--json"], env))
        applies.append(wall([*exe, "--config", str(config), "apply", "--yes", str(answers)],
                            env))
    sq = statistics.median(sqla)
    print(f"status (command)        {median_ms(statuses):8.1f} ms  "
          f"= {statistics.median(statuses) / sq:.2f}x sqlalchemy import")
    print(f"apply example (command) {median_ms(applies):8.1f} ms  "
          f"= {statistics.median(applies) / sq:.2f}x sqlalchemy import (aim < 500 ms)")

    # 2b. in-process: plan + apply alone, without interpreter start-up
    from sso_wizard.core.answers import Answers
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.plan import apply_plan
    from sso_wizard.core.stages import plan_answers
    inproc = []
    for i in range(runs):
        config, answers = fresh_demo(tmp / f"inproc{i}")
        start = time.perf_counter()
        apply_plan(plan_answers(Instance.load(config), Answers.load(answers)))
        inproc.append(time.perf_counter() - start)
    print(f"apply example (in-process, no start-up) {median_ms(inproc):8.1f} ms")

    # 3. scale: 50 apps, 5,000-line config
    scale = []
    for i in range(max(3, runs // 2)):
        config, _ = fresh_demo(tmp / f"scale{i}")
        text = config.read_text()
        padding = "".join(f"\n# section {n}\nextra_section_{n}:\n" +
                          "".join(f"  key_{m}: value {m}  # comment\n" for m in range(9))
                          for n in range(500))
        config.write_text(text + padding)
        lines = len(config.read_text().splitlines())
        big = tmp / f"scale{i}" / "answers50.yaml"
        apps = "".join(f"  - {{provider: openid_connect, provider_id: idp{n}, name: IdP {n}, "
                       f"client_id: client-{n}, secret: secret-{n}, "
                       f"settings: {{server_url: 'https://idp{n}.example.com/realms/r'}}}}\n"
                       for n in range(50))
        big.write_text("site_url: https://inv.example.com\napps:\n" + apps)
        start = time.perf_counter()
        apply_plan(plan_answers(Instance.load(config), Answers.load(big)))
        scale.append(time.perf_counter() - start)
    print(f"scale: 50 apps, {lines}-line config, one apply (in-process) "
          f"{median_ms(scale):8.1f} ms (aim < 2000 ms)")


if __name__ == "__main__":
    main()
