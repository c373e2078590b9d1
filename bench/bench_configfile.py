"""Benchmark: 50 edits on a 5,000-line InvenTree config, against one plain libyaml load.

Run: .venv/bin/python bench/bench_configfile.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))

from test_configfile import TEMPLATE  # noqa: E402

from sso_wizard.core.configfile import ConfigDocument  # noqa: E402

RUNS = 7
LINES = 5000


def build_config() -> str:
    """The template plus padding sections (comments, blocks, lists, inline comments)."""
    parts = [TEMPLATE]
    count = TEMPLATE.count("\n")
    i = 0
    while count < LINES:
        section = (
            f"\n# Plugin section {i}: settings for an imaginary plugin\n"
            f"plugin_{i}:\n"
            f"  enabled: False  # off by default\n"
            f"  url: 'https://plugin{i}.example.com/api'\n"
            f"  retries: {i % 7}\n"
            f"  hosts:\n"
            f"    - host-a.example.com\n"
            f"    - host-b.example.com\n"
            f"  # options:\n"
            f"  #   verbose: true\n"
        )
        parts.append(section)
        count += section.count("\n")
        i += 1
    text = "".join(parts)
    return "\n".join(text.split("\n")[:LINES]) + "\n"


def edit(text: str) -> str:
    doc = ConfigDocument.parse(text)
    for n in range(49):
        doc.set(("social_providers", f"provider{n}", "VERIFIED_EMAIL"), True)
    doc.set(("social_backends",), [f"allauth.socialaccount.providers.p{n}" for n in range(50)])
    return doc.text


def baseline(text: str) -> object:
    return yaml.load(text, Loader=yaml.CSafeLoader)


def median_ms(fn: Callable[[str], object], text: str) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    text = build_config()
    result = edit(text)  # warm-up, and a correctness check
    data = yaml.safe_load(result)
    assert data["social_providers"]["provider48"] == {"VERIFIED_EMAIL": True}
    assert len(data["social_backends"]) == 50
    base = median_ms(baseline, text)
    ours = median_ms(edit, text)
    print(f"config lines: {text.count(chr(10))}")
    print("edits: 50 set() calls (49 social_providers entries, 1 backends list)")
    print(f"runs: {RUNS} (median)")
    print(f"baseline one yaml.load CSafeLoader: {base:.1f} ms")
    print(f"parse + 50 edits + text: {ours:.1f} ms")
    print(f"ratio: {ours / base:.1f}x baseline")
    print(f"per edit (amortised): {ours / 50:.2f} ms")
    print(f"budget 500 ms: {'ok' if ours < 500 else 'OVER'}")


if __name__ == "__main__":
    main()
