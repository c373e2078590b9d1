"""Benchmark: check_discovery against a local oidc-provider-mock vs a bare httpx.get.

All variants fetch the same discovery document from the same server in the same run,
interleaved sample by sample; median of 9 each.

- ``httpx.get``: the baseline from the brief (builds a client, and so an SSL context, per call).
- ``reused client``: a bare ``AsyncClient.get`` + ``.json()`` on one open client: the pure request
  cost, to show what the check itself adds.
- ``check_discovery``: the wizard's check as callers use it (its own client per call; the SSL
  context is cached by sso_wizard.core.http).

    .venv/bin/python bench/bench_discovery.py      # exit status 1 if the ratio exceeds 1.5
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from oidc_servers import run_oidc_provider  # noqa: E402

from sso_wizard.core.checks.discovery import check_discovery  # noqa: E402

RUNS = 9
TARGET = 1.5


async def run(base_url: str, doc_url: str) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"httpx.get": [], "reused client": [],
                                       "check_discovery": []}
    async with httpx.AsyncClient() as reused:
        # warm-up: imports, the mock's first request, the cached SSL context
        httpx.get(doc_url)  # noqa: ASYNC210
        await reused.get(doc_url)
        await check_discovery(base_url)
        for _ in range(RUNS):
            t0 = time.perf_counter()
            resp = httpx.get(doc_url)  # noqa: ASYNC210 - the sync baseline, timed on purpose
            resp.raise_for_status()
            resp.json()
            samples["httpx.get"].append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            resp = await reused.get(doc_url)
            resp.raise_for_status()
            resp.json()
            samples["reused client"].append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            result = await check_discovery(base_url)
            samples["check_discovery"].append(time.perf_counter() - t0)
            assert result.ok, result.findings
    return samples


def main() -> int:
    with run_oidc_provider() as provider:
        samples = asyncio.run(run(provider.base_url, provider.discovery_url))
    med = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in med.items():
        print(f"{name:<16} median of {RUNS}: {value * 1000:7.2f} ms")
    ratio = med["check_discovery"] / med["httpx.get"]
    print(f"ratio check_discovery / httpx.get: {ratio:.2f}x (target <= {TARGET}x)")
    print(f"ratio check_discovery / reused client: "
          f"{med['check_discovery'] / med['reused client']:.2f}x (informative)")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
