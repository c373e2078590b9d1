"""One InvenTree install: its config file, optional Docker env file, environment and database.

Every effective value is resolved with InvenTree's own precedence (environment > config file >
default; see `InvenTree/config.py:get_setting`) and remembers where it came from, so the wizard
can say "site_url = … (from INVENTREE_SITE_URL)" and never writes a key that an environment
variable silently overrides.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sso_wizard.core.configfile import ConfigDocument, ConfigFileError
from sso_wizard.core.envfile import EnvFile

Kind = Literal["str", "bool", "int", "list", "dict"]

#: InvenTree's truthy strings (config.is_true).
TRUE_STRINGS = frozenset({"1", "y", "yes", "t", "true", "on"})

#: Where InvenTree looks when INVENTREE_CONFIG_FILE is not set (checked in this order, relative
#: paths against the working directory, which is the source checkout for source installs).
STANDARD_CONFIG_LOCATIONS = (
    Path("src/backend/InvenTree/config.yaml"),  # legacy source layout, used when it exists
    Path("config/config.yaml"),  # source install (mid-2025 on)
    Path("/etc/inventree/config.yaml"),  # package install
    Path("/home/inventree/data/config.yaml"),  # Docker, inside the server container
)
DOCKER_DATA_DIR = "/home/inventree/data"


class InstanceError(Exception):
    """The install could not be read; the message says what, where and how to fix it."""


@dataclass(frozen=True)
class ConfigKey:
    path: tuple[str, ...]
    env: str | None
    kind: Kind
    default: Any = None

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def _k(dotted: str, env: str | None, kind: Kind, default: Any = None) -> ConfigKey:
    return ConfigKey(tuple(dotted.split(".")), env, kind, default)


#: The config keys the wizard reads or writes, with InvenTree's env var names and defaults.
CONFIG_KEYS: dict[str, ConfigKey] = {k.dotted: k for k in (
    _k("site_url", "INVENTREE_SITE_URL", "str"),
    _k("login_default_protocol", "INVENTREE_LOGIN_DEFAULT_HTTP_PROTOCOL", "str"),
    _k("social_backends", "INVENTREE_SOCIAL_BACKENDS", "list", []),
    _k("social_providers", "INVENTREE_SOCIAL_PROVIDERS", "dict", {}),
    _k("site_multi", "INVENTREE_SITE_MULTI", "bool", False),
    _k("site_id", "INVENTREE_SITE_ID", "int", 1),
    _k("allowed_hosts", "INVENTREE_ALLOWED_HOSTS", "list", []),
    _k("trusted_origins", "INVENTREE_TRUSTED_ORIGINS", "list", []),
    _k("use_x_forwarded_host", "INVENTREE_USE_X_FORWARDED_HOST", "bool", False),
    _k("use_x_forwarded_port", "INVENTREE_USE_X_FORWARDED_PORT", "bool", False),
    _k("use_x_forwarded_proto", "INVENTREE_USE_X_FORWARDED_PROTO", "bool", False),
    _k("global_settings", "INVENTREE_GLOBAL_SETTINGS", "dict", {}),
    _k("email.backend", "INVENTREE_EMAIL_BACKEND", "str",
       "django.core.mail.backends.smtp.EmailBackend"),
    _k("email.host", "INVENTREE_EMAIL_HOST", "str", ""),
    _k("email.port", "INVENTREE_EMAIL_PORT", "int", 25),
    _k("email.username", "INVENTREE_EMAIL_USERNAME", "str", ""),
    _k("email.password", "INVENTREE_EMAIL_PASSWORD", "str", ""),
    _k("email.tls", "INVENTREE_EMAIL_TLS", "bool", False),
    _k("email.ssl", "INVENTREE_EMAIL_SSL", "bool", False),
    _k("email.sender", "INVENTREE_EMAIL_SENDER", "str", ""),
    _k("email.prefix", "INVENTREE_EMAIL_PREFIX", "str", "[InvenTree] "),
)}

#: Config paths whose values are secrets: masked in diffs, never logged.
SECRET_LEAVES = frozenset({"password", "secret", "client_secret", "secret_key"})


def is_secret_path(path: tuple[str, ...]) -> bool:
    return bool(path) and path[-1].lower() in SECRET_LEAVES


@dataclass(frozen=True)
class Resolved:
    key: str
    value: Any
    source: Literal["env", "env-file", "config", "default"]
    env_var: str | None = None

    @property
    def origin(self) -> str:
        """Where the value came from, for humans: 'INVENTREE_SITE_URL', 'config.yaml', 'default'."""
        if self.source == "env":
            return f"environment variable {self.env_var}"
        if self.source == "env-file":
            return f"env file ({self.env_var})"
        return "config file" if self.source == "config" else "default"


def is_true(value: Any) -> bool:
    return str(value).strip().lower() in TRUE_STRINGS


def typecast(value: Any, kind: Kind) -> Any:
    """Cast like InvenTree's do_typecast: env lists comma-separated, env dicts JSON."""
    if kind == "bool":
        return is_true(value)
    if kind == "list":
        if isinstance(value, list):
            return value
        if value is None:
            return []
        return [item.strip() for item in str(value).split(",") if item.strip()]
    if kind == "dict":
        if isinstance(value, dict):
            return value
        if value is None or value == "":
            return {}
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}  # InvenTree logs the error and uses {}; `inspect` reports it.
        return parsed if isinstance(parsed, dict) else {}
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    return value


def locate_config_file(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str],
                       env_file: EnvFile | None, cwd: Path | None = None) -> Path:
    """Find config.yaml the way InvenTree does, and say where we looked when it is nowhere."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = environ.get("INVENTREE_CONFIG_FILE", "").strip()
    if from_env:
        return Path(from_env).expanduser()
    if env_file is not None:
        in_container = env_file.values.get("INVENTREE_CONFIG_FILE", "").strip()
        if in_container:
            return map_container_path(Path(in_container), env_file)
        # Compose setups keep config.yaml in the data volume beside the .env file.
        mapped = map_container_path(Path(DOCKER_DATA_DIR) / "config.yaml", env_file)
        if mapped.exists():
            return mapped
    base = cwd or Path.cwd()
    tried = []
    for candidate in STANDARD_CONFIG_LOCATIONS:
        path = candidate if candidate.is_absolute() else base / candidate
        tried.append(str(path))
        if path.exists():
            return path
    raise InstanceError(
        "No InvenTree config file found. Looked in: " + ", ".join(tried) + ". "
        "Pass --config PATH, or set INVENTREE_CONFIG_FILE."
    )


def map_container_path(path: Path, env_file: EnvFile | None) -> Path:
    """Map a path inside the InvenTree container to the host, via INVENTREE_EXT_VOLUME.

    Only when the container path does not exist here (the wizard runs on the host).
    """
    if env_file is None or path.exists():
        return path
    text = str(path)
    ext = env_file.values.get("INVENTREE_EXT_VOLUME", "").strip()
    if ext and (text == DOCKER_DATA_DIR or text.startswith(DOCKER_DATA_DIR + "/")):
        host_dir = Path(ext)
        if not host_dir.is_absolute():
            host_dir = env_file.path.parent / host_dir
        return host_dir / text[len(DOCKER_DATA_DIR):].lstrip("/")
    return path


@dataclass
class Instance:
    """A loaded install. Cheap to build; the database is opened only when asked for."""

    config_path: Path
    config: ConfigDocument
    environ: Mapping[str, str]
    env_file: EnvFile | None = None
    db_url: str | None = None

    @classmethod
    def load(cls, config: str | os.PathLike[str] | None = None, *,
             env_file: str | os.PathLike[str] | None = None, db_url: str | None = None,
             environ: Mapping[str, str] | None = None) -> Instance:
        environ = dict(os.environ if environ is None else environ)
        envf = EnvFile.load(Path(env_file)) if env_file else None
        path = locate_config_file(config, environ, envf)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise InstanceError(f"{path}: config file does not exist. Pass --config with the "
                                "path InvenTree uses (INVENTREE_CONFIG_FILE).") from exc
        except PermissionError as exc:
            raise InstanceError(f"{path}: permission denied reading the config file. Run as "
                                "the user InvenTree runs as, or with sudo.") from exc
        except UnicodeDecodeError as exc:
            raise InstanceError(f"{path}: not a UTF-8 text file.") from exc
        try:
            doc = ConfigDocument.parse(text, source=str(path))
        except ConfigFileError as exc:
            raise InstanceError(str(exc)) from exc
        return cls(config_path=path, config=doc, environ=environ, env_file=envf, db_url=db_url)

    # -- value resolution -------------------------------------------------------------------

    def env_value(self, name: str) -> tuple[str, Literal["env", "env-file"]] | None:
        """An environment variable as InvenTree would see it (set at all counts, even to "")."""
        if name in self.environ:
            return self.environ[name], "env"
        if self.env_file is not None and name in self.env_file.values:
            return self.env_file.values[name], "env-file"
        return None

    def resolve(self, dotted: str) -> Resolved:
        key = CONFIG_KEYS[dotted]
        if key.env:
            found = self.env_value(key.env)
            if found is not None:
                raw, source = found
                return Resolved(dotted, typecast(raw, key.kind), source, key.env)
        value = self.config.get(key.path)
        if value is not None:  # InvenTree treats an empty YAML value as unset
            return Resolved(dotted, typecast(value, key.kind), "config")
        default = key.default.copy() if isinstance(key.default, list | dict) else key.default
        return Resolved(dotted, default, "default")

    def value(self, dotted: str) -> Any:
        return self.resolve(dotted).value

    @property
    def site_url(self) -> str:
        raw = self.value("site_url")
        return str(raw).strip().rstrip("/") if raw else ""

    @property
    def login_protocol(self) -> str:
        """ACCOUNT_DEFAULT_HTTP_PROTOCOL as InvenTree computes it (unset: from site_url)."""
        explicit = self.resolve("login_default_protocol")
        if explicit.source != "default" and explicit.value:
            return str(explicit.value)
        return "https" if self.site_url.startswith("https://") else "http"

    @property
    def multi_site(self) -> bool:
        return bool(self.value("site_multi"))

    def global_setting_lock(self, setting_key: str) -> Resolved | None:
        """A DB setting pinned by global_settings / INVENTREE_GLOBAL_SETTINGS (1.0+), if any."""
        resolved = self.resolve("global_settings")
        if isinstance(resolved.value, dict) and setting_key in resolved.value:
            return Resolved(f"global_settings.{setting_key}", resolved.value[setting_key],
                            resolved.source, resolved.env_var)
        return None

    def social_backends(self) -> list[str]:
        """Backends as full module paths (InvenTree adds the allauth prefix when missing)."""
        out = []
        for entry in self.value("social_backends") or []:
            entry = str(entry).strip()
            if entry:
                out.append(entry if "." in entry else f"allauth.socialaccount.providers.{entry}")
        return out

    def backend_ids(self) -> set[str]:
        return {b.rsplit(".", 1)[-1] for b in self.social_backends()}

    # -- database -----------------------------------------------------------------------------

    def database_settings(self) -> dict[str, Any]:
        """The `database` section merged with INVENTREE_DB_* (upper- or lower-case keys)."""
        section = self.config.get(("database",)) or {}
        out: dict[str, Any] = {}
        if isinstance(section, dict):
            for k, v in section.items():
                out[str(k).upper()] = v
        for name in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS"):
            found = self.env_value(f"INVENTREE_DB_{name}")
            if found is not None:
                out[name] = found[0]
        if isinstance(out.get("OPTIONS"), str):
            out["OPTIONS"] = typecast(out["OPTIONS"], "dict")
        return out

    def open_database(self) -> Any:
        """The install's database (see core.db). Imported lazily: SQLAlchemy is heavy."""
        from sso_wizard.core.db import Database
        return Database.for_instance(self)

    def reload(self) -> Instance:
        """Read the files again (after an apply)."""
        return Instance.load(self.config_path,
                             env_file=self.env_file.path if self.env_file else None,
                             db_url=self.db_url, environ=self.environ)
