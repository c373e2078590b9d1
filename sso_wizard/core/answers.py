"""The answers file: what a headless or scripted run wants the install to look like.

A file speaks only for what it names: `backends` adds to the list; `provider_settings`, `email`,
`settings` and each app's `settings` merge key by key; a key given as null is removed; an app is
removed with `remove: true`. `${VAR}` reads the environment (`$${` is a literal `${`),
`secret_file` reads a file. Every error names its exact place: `apps[1].settings.server_url`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml

from sso_wizard.core import validators
from sso_wizard.core.validators import SOCIALAPP_LIMITS

OIDC = "openid_connect"

BOOL_SETTINGS = frozenset({
    "LOGIN_ENABLE_SSO", "LOGIN_ENABLE_SSO_REG", "LOGIN_SIGNUP_SSO_AUTO",
    "LOGIN_ENABLE_SSO_GROUP_SYNC", "SSO_REMOVE_GROUPS", "LOGIN_ENABLE_REG",
    "LOGIN_MAIL_REQUIRED", "LOGIN_ENFORCE_MFA",
})
STR_SETTINGS = frozenset({"LOGIN_SIGNUP_MAIL_RESTRICTION", "SSO_GROUP_KEY", "SIGNUP_GROUP"})
JSON_SETTINGS = frozenset({"SSO_GROUP_MAP"})
KNOWN_SETTINGS = BOOL_SETTINGS | STR_SETTINGS | JSON_SETTINGS

EMAIL_KEYS = {"host": str, "port": int, "username": str, "password": str, "tls": bool,
              "ssl": bool, "sender": str, "prefix": str, "backend": str}
TOP_LEVEL = ("site_url", "login_default_protocol", "backends", "provider_settings", "apps",
             "settings", "email", "use_x_forwarded_host", "use_x_forwarded_proto",
             "use_x_forwarded_port", "allowed_hosts", "trusted_origins")
APP_KEYS = ("provider", "provider_id", "name", "client_id", "secret", "secret_file", "key",
            "settings", "remove")

_VAR = re.compile(r"\$\$\{|\$\{([^}]*)\}")


class AnswersError(Exception):
    """Every problem in an answers file, one per line, each naming its place."""

    def __init__(self, problems: list[str], source: str = "answers file") -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


@dataclass
class AppAnswer:
    index: int
    provider: str
    provider_id: str = ""
    name: str | None = None
    client_id: str | None = None
    secret: str | None = field(default=None, repr=False)
    key: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    remove: bool = False

    @property
    def slug(self) -> str:
        return self.provider_id if self.provider == OIDC else self.provider

    @property
    def where(self) -> str:
        return f"apps[{self.index}]"


@dataclass
class Answers:
    given: set[str] = field(default_factory=set)  # top-level keys the file names
    site_url: str | None = None
    login_default_protocol: str | None = None
    backends: list[str] = field(default_factory=list)
    provider_settings: dict[str, Any] = field(default_factory=dict)
    apps: list[AppAnswer] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    email: dict[str, Any] = field(default_factory=dict, repr=False)
    proxy: dict[str, Any] = field(default_factory=dict)  # use_x_forwarded_*, hosts, origins

    @classmethod
    def load(cls, path: str | Path, environ: dict[str, str] | None = None) -> Answers:
        import os
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AnswersError([f"cannot read the answers file ({exc.strerror})"],
                               str(path)) from None
        return cls.parse(text, source=str(path), base_dir=path.parent,
                         environ=dict(os.environ) if environ is None else environ)

    @classmethod
    def parse(cls, text: str, *, source: str = "answers file", base_dir: Path | None = None,
              environ: dict[str, str] | None = None) -> Answers:
        try:
            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            context = ""
            if exc.context and exc.context_mark is not None:
                cm = exc.context_mark
                context = f" ({exc.context} at line {cm.line + 1}, column {cm.column + 1})"
            raise AnswersError([f"{where}{exc.problem or exc}{context}"], source) from None
        except yaml.YAMLError as exc:
            raise AnswersError([f"not valid YAML ({exc})"], source) from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise AnswersError(["the top level must be a mapping of keys (site_url:, apps:, …)"],
                               source)
        return _Parser(source, base_dir or Path.cwd(), environ or {}).parse(data)


class _Parser:
    def __init__(self, source: str, base_dir: Path, environ: dict[str, str]) -> None:
        self.source = source
        self.base_dir = base_dir
        self.environ = environ
        self.problems: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    # ${VAR} expansion over every string, tracking where each came from.
    def expand(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            def sub(m: re.Match[str]) -> str:
                if m.group(0) == "$${":
                    return "${"
                name = m.group(1)
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    self.fail(where, f"${{{name}}} is not a valid variable name")
                    return ""
                if name not in self.environ:
                    self.fail(where, f"environment variable {name} is not set (export it, or "
                              "write $${ for a literal ${)")
                    return ""
                return self.environ[name]
            return _VAR.sub(sub, value)
        if isinstance(value, dict):
            return {k: self.expand(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.expand(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    def parse(self, raw: dict[Any, Any]) -> Answers:
        ans = Answers()
        for key in raw:
            if key not in TOP_LEVEL:
                close = get_close_matches(str(key), TOP_LEVEL, n=1)
                hint = f" Did you mean {close[0]}?" if close else ""
                self.fail(str(key), f"unknown key.{hint} Known: {', '.join(TOP_LEVEL)}")
        data = {k: self.expand(v, str(k)) for k, v in raw.items() if k in TOP_LEVEL}
        ans.given = set(data)

        if "site_url" in data:
            value = data["site_url"]
            problem = validators.site_url_problem(value)
            if problem:
                self.fail("site_url", problem)
            else:
                ans.site_url = str(value).strip().rstrip("/")
        if "login_default_protocol" in data:
            value = data["login_default_protocol"]
            if value not in ("http", "https"):
                self.fail("login_default_protocol", "must be http or https")
            else:
                ans.login_default_protocol = value
        if "backends" in data:
            ans.backends = self.parse_backends(data["backends"])
        if "provider_settings" in data:
            ans.provider_settings = self.parse_provider_settings(data["provider_settings"])
        if "apps" in data:
            ans.apps = self.parse_apps(data["apps"])
        if "settings" in data:
            ans.settings = self.parse_settings(data["settings"])
        if "email" in data:
            ans.email = self.parse_email(data["email"])
        for key in ("use_x_forwarded_host", "use_x_forwarded_proto", "use_x_forwarded_port"):
            if key in data:
                if not isinstance(data[key], bool):
                    self.fail(key, "must be true or false")
                else:
                    ans.proxy[key] = data[key]
        for key in ("allowed_hosts", "trusted_origins"):
            if key in data:
                value = data[key]
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    self.fail(key, "must be a list of strings")
                else:
                    if key == "trusted_origins":
                        for i, origin in enumerate(value):
                            problem = validators.url_problem(origin)
                            if problem:
                                self.fail(f"{key}[{i}]", problem)
                    ans.proxy[key] = value
        if self.problems:
            raise AnswersError(self.problems, self.source)
        return ans

    def check_provider(self, where: str, provider: Any) -> str | None:
        from sso_wizard.core import providers
        if not isinstance(provider, str) or not provider:
            self.fail(where, "must name an allauth provider id, e.g. github")
            return None
        pid = provider.strip()
        if pid.startswith("allauth.socialaccount.providers."):
            pid = pid.rsplit(".", 1)[-1]
        if providers.is_known_allauth_provider(pid):
            return pid
        close = providers.suggest(pid)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        known = ", ".join(sorted(providers.load_catalogue()))
        if pid == "keycloak":
            hint = (" allauth dropped the keycloak provider: use provider: openid_connect with "
                    "settings.server_url https://HOST/realms/REALM.")
        self.fail(where, f"unknown provider {pid!r}.{hint} Providers with a guide: {known}")
        return None

    def parse_backends(self, value: Any) -> list[str]:
        if not isinstance(value, list):
            self.fail("backends", "must be a list, e.g. [github, google]")
            return []
        out = []
        for i, item in enumerate(value):
            pid = self.check_provider(f"backends[{i}]", item)
            if pid:
                out.append(pid)
        return out

    def parse_provider_settings(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail("provider_settings", "must be a mapping: {github: {VERIFIED_EMAIL: true}}")
            return {}
        out: dict[str, Any] = {}
        for pid, conf in value.items():
            where = f"provider_settings.{pid}"
            if self.check_provider(where, pid) is None:
                continue
            if conf is not None and not isinstance(conf, dict):
                self.fail(where, "must be a mapping of allauth settings, or null to remove")
                continue
            out[str(pid)] = conf
        return out

    def parse_apps(self, value: Any) -> list[AppAnswer]:
        if not isinstance(value, list):
            self.fail("apps", "must be a list of apps")
            return []
        apps: list[AppAnswer] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            where = f"apps[{i}]"
            if not isinstance(item, dict):
                self.fail(where, "must be a mapping with provider, client_id, secret, …")
                continue
            for key in item:
                if key not in APP_KEYS:
                    close = get_close_matches(str(key), APP_KEYS, n=1)
                    hint = f" Did you mean {close[0]}?" if close else ""
                    self.fail(f"{where}.{key}", f"unknown key.{hint}")
            provider = self.check_provider(f"{where}.provider", item.get("provider"))
            if provider is None:
                continue
            app = AppAnswer(index=i, provider=provider)
            app.remove = bool(item.get("remove", False))
            if "remove" in item and not isinstance(item["remove"], bool):
                self.fail(f"{where}.remove", "must be true or false")
            pid = item.get("provider_id")
            if provider == OIDC:
                if not isinstance(pid, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+", pid or ""):
                    self.fail(f"{where}.provider_id", "required for openid_connect: the slug used "
                              "in the callback URL, letters, digits, - and _ only (e.g. keycloak)")
                    continue
                app.provider_id = pid
            elif pid not in (None, "", provider):
                self.fail(f"{where}.provider_id", f"only openid_connect apps take a provider_id "
                          f"(the callback URL of a {provider} app is /accounts/{provider}/…)")
            for fname in ("name", "client_id", "key"):
                if fname in item:
                    v = item[fname]
                    if v is None or isinstance(v, bool) or not isinstance(v, str | int):
                        self.fail(f"{where}.{fname}", "must be a string")
                        continue
                    setattr(app, fname, str(v))
            if "secret" in item and "secret_file" in item:
                self.fail(where, "give secret or secret_file, not both")
            if "secret" in item:
                v = item["secret"]
                if not isinstance(v, str | int) or isinstance(v, bool):
                    self.fail(f"{where}.secret", "must be a string")
                else:
                    app.secret = str(v)
            if "secret_file" in item:
                app.secret = self.read_secret_file(f"{where}.secret_file", item["secret_file"])
            if not app.remove:
                self.check_app(app, where, item.get("settings"))
            if app.slug in seen:
                self.fail(where, f"app {app.slug!r} is already given as apps[{seen[app.slug]}] "
                          "(allauth allows one app per provider slug)")
            seen[app.slug] = i
            apps.append(app)
        return apps

    def check_app(self, app: AppAnswer, where: str, settings: Any) -> None:
        for fname in ("name", "client_id", "secret", "key", "provider_id"):
            value = getattr(app, fname)
            if value is not None:
                problem = validators.length_problem(value, SOCIALAPP_LIMITS[fname])
                if problem:
                    self.fail(f"{where}.{fname}", problem)
        if app.client_id is not None and not app.client_id.strip():
            self.fail(f"{where}.client_id", "is empty")
        if app.secret is not None and app.secret != app.secret.strip():
            self.fail(f"{where}.secret", "has leading or trailing whitespace (a copy-paste slip?)")
        if settings is not None and not isinstance(settings, dict):
            self.fail(f"{where}.settings", "must be a mapping")
            return
        app.settings = dict(settings or {})
        server_url = app.settings.get("server_url")
        if app.provider == OIDC and server_url is not None:
            problem = validators.url_problem(server_url)
            if problem:
                self.fail(f"{where}.settings.server_url", problem)

    def read_secret_file(self, where: str, value: Any) -> str | None:
        if not isinstance(value, str) or not value:
            self.fail(where, "must be a file path")
            return None
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.fail(where, f"{path}: no such file")
            return None
        except IsADirectoryError:
            self.fail(where, f"{path}: is a directory, not a file")
            return None
        except PermissionError:
            self.fail(where, f"{path}: permission denied (run as a user who can read it)")
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(where, f"{path}: cannot read it ({exc})")
            return None
        secret = text.rstrip("\r\n")
        if not secret:
            self.fail(where, f"{path}: the file is empty")
            return None
        return secret

    def parse_settings(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail("settings", "must be a mapping of InvenTree setting keys")
            return {}
        out: dict[str, Any] = {}
        for key, v in value.items():
            where = f"settings.{key}"
            if key not in KNOWN_SETTINGS:
                close = get_close_matches(str(key).upper(), KNOWN_SETTINGS, n=2)
                hint = f" Did you mean {' or '.join(close)}?" if close else ""
                self.fail(where, f"unknown setting.{hint}")
                continue
            if v is None:
                out[key] = None
            elif key in BOOL_SETTINGS:
                if not isinstance(v, bool):
                    self.fail(where, "must be true or false")
                    continue
                out[key] = v
            elif key in JSON_SETTINGS:
                problem = validators.json_object_problem(v)
                if problem:
                    self.fail(where, problem)
                    continue
                out[key] = v
            else:
                if not isinstance(v, str):
                    self.fail(where, "must be a string")
                    continue
                if key == "LOGIN_SIGNUP_MAIL_RESTRICTION":
                    problem = validators.mail_restriction_problem(v)
                    if problem:
                        self.fail(where, problem)
                        continue
                out[key] = v
        return out

    def parse_email(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail("email", "must be a mapping (host, port, tls, username, password, sender)")
            return {}
        out: dict[str, Any] = {}
        for key, v in value.items():
            where = f"email.{key}"
            if key not in EMAIL_KEYS:
                close = get_close_matches(str(key), EMAIL_KEYS, n=1)
                hint = f" Did you mean {close[0]}?" if close else ""
                self.fail(where, f"unknown key.{hint} Known: {', '.join(EMAIL_KEYS)}")
                continue
            if v is None:
                out[key] = None
                continue
            want = EMAIL_KEYS[key]
            if want is int:
                problem = validators.port_problem(v)
                if problem:
                    self.fail(where, problem)
                    continue
            elif want is bool and not isinstance(v, bool):
                self.fail(where, "must be true or false")
                continue
            elif want is str:
                if isinstance(v, bool) or not isinstance(v, str | int):
                    self.fail(where, "must be a string")
                    continue
                v = str(v)
                if key == "sender":
                    problem = validators.email_problem(v)
                    if problem:
                        self.fail(where, problem)
                        continue
            out[key] = v
        if out.get("tls") is True and out.get("ssl") is True:
            self.fail("email", "tls and ssl are both true: use tls (STARTTLS, usually port 587) "
                      "or ssl (implicit TLS, usually port 465), not both")
        return out

