"""Where the wizard keeps its own files: progress (never a secret) and undo records (mode 0600).

The directory comes from platformdirs; SSO_WIZARD_STATE_DIR overrides it (tests, containers).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any


def state_dir() -> Path:
    override = os.environ.get("SSO_WIZARD_STATE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_state_dir
    return Path(user_state_dir("sso-wizard", appauthor=False))


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    return path


def instance_key(config_path: Path) -> str:
    """A stable file-name-safe key for one install (its resolved config path)."""
    return hashlib.sha256(str(config_path.resolve()).encode()).hexdigest()[:16]


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON readable by the owner only, atomically (created 0600 before any byte)."""
    _private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def undo_record_path(config_path: Path) -> Path:
    return state_dir() / "undo" / f"{instance_key(config_path)}.json"


def save_undo_record(config_path: Path, record: dict[str, Any]) -> Path:
    path = undo_record_path(config_path)
    write_private_json(path, record)
    return path


def load_undo_record(config_path: Path) -> dict[str, Any] | None:
    path = undo_record_path(config_path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def drop_undo_record(config_path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        undo_record_path(config_path).unlink()
