"""Docker-compose style `.env` files: read them as compose does, change single variables in place.

Compose reads `KEY=VALUE` lines: unquoted values run to the end of the line (a ` #` starts a
comment), single quotes are literal, double quotes take backslash escapes and `$` interpolation.
We write values single-quoted whenever they hold anything compose could reinterpret (JSON,
`$`, `#`, spaces, quotes), so what InvenTree receives is byte for byte what we meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s?(.*)$")
_SAFE_UNQUOTED = re.compile(r"^[A-Za-z0-9_./:@,+=%-]*$")


class EnvFileError(Exception):
    pass


def _parse_value(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith("'"):
        end = raw.find("'", 1)
        return raw[1:end] if end > 0 else raw[1:]
    if raw.startswith('"'):
        out: list[str] = []
        i = 1
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                nxt = raw[i + 1]
                out.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
                i += 2
                continue
            if ch == '"':
                break
            out.append(ch)
            i += 1
        return "".join(out).replace("$$", "$")
    # Unquoted: an inline comment starts at a '#' preceded by whitespace.
    m = re.search(r"\s#", raw)
    if m:
        raw = raw[: m.start()]
    return raw.strip().replace("$$", "$")


def quote_value(value: str) -> str:
    """Render a value so docker compose reads back exactly `value`."""
    if _SAFE_UNQUOTED.match(value):
        return value
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("$", "$$"))
    return f'"{escaped}"'


@dataclass
class EnvFile:
    path: Path
    text: str = ""
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> EnvFile:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        except OSError as exc:
            raise EnvFileError(f"{path}: cannot read the env file ({exc.strerror}).") from exc
        return cls.parse(path, text)

    @classmethod
    def parse(cls, path: Path, text: str) -> EnvFile:
        values: dict[str, str] = {}
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = _LINE.match(line)
            if m:
                values[m.group(1)] = _parse_value(m.group(2))
        return cls(path=path, text=text, values=values)

    def with_changes(self, changes: dict[str, str | None]) -> EnvFile:
        """A copy with variables set (or removed when None); other lines stay byte for byte."""
        lines = self.text.splitlines(keepends=True)
        pending = dict(changes)
        out: list[str] = []
        for line in lines:
            m = _LINE.match(line) if not line.lstrip().startswith("#") else None
            if m and m.group(1) in pending:
                name = m.group(1)
                value = pending.pop(name)
                if value is None:
                    continue
                ending = "\r\n" if line.endswith("\r\n") else "\n"
                out.append(f"{name}={quote_value(value)}{ending}")
            else:
                out.append(line)
        additions = [(k, v) for k, v in pending.items() if v is not None]
        if additions:
            if out and not out[-1].endswith("\n"):
                out[-1] += "\n"
            for name, added in additions:
                out.append(f"{name}={quote_value(added)}\n")
        result = EnvFile.parse(self.path, "".join(out))
        for name, wanted in changes.items():  # verify: compose must read back what we meant
            if result.values.get(name) != wanted:
                raise EnvFileError(f"{self.path}: could not write {name} so that docker compose "
                                   "reads it back unchanged; edit it by hand.")
        return result
