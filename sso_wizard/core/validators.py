"""Value validators shared by the answers file, the CLI and the TUI's inputs.

Each returns None when the value is fine, else a short message saying what is wrong, so every
front end rejects the same things with the same words.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# InvenTree's own rule for LOGIN_SIGNUP_MAIL_RESTRICTION (common/setting validators).
_DOMAIN_RULE = re.compile(r"^@[a-zA-Z0-9\.\-_]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOST = re.compile(r"^[A-Za-z0-9.\-_\[\]:]+$")

#: Column limits of allauth's SocialApp (checked before writing: SQLite would keep a too-long
#: value silently, PostgreSQL and MySQL refuse the whole transaction).
SOCIALAPP_LIMITS = {"provider": 30, "provider_id": 200, "name": 40, "client_id": 191,
                    "secret": 191, "key": 191}
SETTING_VALUE_LIMIT = 2000


def url_problem(value: object, *, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "not a URL (empty)"
    text = value.strip()
    if text[0] in "'\"" or text[-1] in "'\"":
        return "not a URL: it carries quote characters (remove them)"
    parts = urlsplit(text)
    if parts.scheme not in schemes:
        return f"not a URL: scheme must be {' or '.join(schemes)}, e.g. https://host"
    if not parts.hostname or not _HOST.match(parts.netloc.rsplit("@", 1)[-1]):
        return "not a URL: no valid host name"
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "not a URL: invalid port"
    if parts.query or parts.fragment:
        return "not a URL to use here: remove the query string or fragment"
    return None


def site_url_problem(value: object) -> str | None:
    problem = url_problem(value)
    if problem:
        return problem
    assert isinstance(value, str)
    path = urlsplit(value.strip()).path
    if path not in ("", "/"):
        return "site_url must be the server's root URL, without a path"
    return None


def mail_restriction_problem(value: object) -> str | None:
    """Validate LOGIN_SIGNUP_MAIL_RESTRICTION as InvenTree does, and refuse upper case, which
    InvenTree stores but can never match."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        return "must be a string like '@example.com,@example.org'"
    for domain in value.split(","):
        if not domain:
            return "an empty domain is not allowed (check for a stray comma)"
        if not _DOMAIN_RULE.match(domain):
            hint = " (no spaces around commas)" if domain != domain.strip() else ""
            return (f"invalid domain {domain!r}{hint}: each entry must look like @example.com, "
                    "comma-separated")
        if domain != domain.lower():
            # InvenTree's own rule allows it, but allauth lower-cases every address before
            # InvenTree compares domains exactly: nobody could ever match it.
            return (f"write {domain!r} in lower case ({domain.lower()}): allauth lower-cases "
                    "addresses before InvenTree compares them, so it would refuse everyone")
    return None


def email_problem(value: object) -> str | None:
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        return "not an email address (e.g. inventree@example.com)"
    return None


def port_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        return "must be a port number between 1 and 65535"
    return None


def length_problem(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"too long: {len(value)} characters, the database column holds {limit}"
    return None


def json_object_problem(value: object) -> str | None:
    """SSO_GROUP_MAP: a mapping, or a string holding a JSON object."""
    import json
    if isinstance(value, dict):
        return None
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return "must be a JSON object string or a mapping ({\"provider-group\": \"group\"})"
        if isinstance(parsed, dict):
            return None
    return "must be a mapping of provider group to InvenTree group"
