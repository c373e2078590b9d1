"""InvenTree's config lookup (`InvenTree/config.py`): environment variable > config.yaml > default.

An environment variable counts when it is set at all (even to ""). Lists from the environment are
comma-separated; dicts are JSON (bad JSON becomes {}). Booleans are true only for
1/y/yes/t/true/on. Nothing here is shared with sso-wizard on purpose.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

_TRUE = {"1", "y", "yes", "t", "true", "on"}


def is_true(value: Any) -> bool:
    return str(value).strip().lower() in _TRUE


def config_file() -> Path:
    path = os.environ.get("INVENTREE_CONFIG_FILE", "").strip()
    if not path:
        raise RuntimeError("INVENTREE_CONFIG_FILE is not set: the conformance site reads only "
                           "the config file it is given.")
    return Path(path)


def load_config() -> dict[str, Any]:
    with config_file().open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return data if isinstance(data, dict) else {}


CONFIG: dict[str, Any] = {}


def _from_config(key: str) -> Any:
    node: Any = CONFIG
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def typecast(value: Any, kind: type | None) -> Any:
    if kind is None or value is None and kind not in (list, dict):
        return value
    if kind is bool:
        return is_true(value)
    if kind is int:
        return int(value)
    if kind is list:
        if value is None:
            return []
        if isinstance(value, list):
            return value
        return [item.strip() for item in str(value).split(",") if item.strip()]
    if kind is dict:
        if value is None or value == "":
            return {}
        if isinstance(value, dict):
            return value
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return kind(value)


def get_setting(env_var: str | None, config_key: str | None, default: Any = None,
                kind: type | None = None) -> Any:
    if env_var and env_var in os.environ:
        return typecast(os.environ[env_var], kind)
    if config_key:
        value = _from_config(config_key)
        if value is not None:
            return typecast(value, kind)
    return typecast(default, kind)


def get_boolean_setting(env_var: str | None, config_key: str | None, default: bool) -> bool:
    return is_true(get_setting(env_var, config_key, default))
