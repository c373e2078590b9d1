"""Stage 4, callback: the URL the provider sends people back to, and everything that bends it.

InvenTree builds `<scheme>://<host>/accounts/<slug>/login/callback/` from the request (forwarded
headers only when `use_x_forwarded_*` is on) and forces https when `login_default_protocol` is
https. Most SSO failures are a callback that differs from the registered one by a scheme, host,
port or slash; `inspect` finds the causes on the server side, `compare_callback` names the
difference against what was registered at the provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sso_wizard.core import validators
from sso_wizard.core.findings import Finding, error, info, warning
from sso_wizard.core.stages import Snapshot, StageState, callback_url, default_state

if TYPE_CHECKING:
    from sso_wizard.core.answers import Answers
    from sso_wizard.core.instance import Instance
    from sso_wizard.core.plan import PlanBuilder

NAME = "callback"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_local(host: str | None) -> bool:
    return bool(host) and (host in LOCAL_HOSTS or str(host).endswith(".localhost"))


def app_callbacks(instance: Instance, slugs: list[str]) -> dict[str, str]:
    """The callback URL InvenTree will send for each slug (scheme forced as InvenTree does)."""
    site = instance.site_url
    if not site:
        return {}
    parts = urlsplit(site)
    scheme = "https" if instance.login_protocol == "https" else parts.scheme
    base = f"{scheme}://{parts.netloc}"
    return {slug: callback_url(base, slug) for slug in slugs}


def inspect(snap: Snapshot) -> list[Finding]:
    inst = snap.instance
    findings: list[Finding] = []
    site = inst.resolve("site_url")
    raw = site.value
    if not raw:
        findings.append(error(
            "site-url-missing",
            "site_url is not set: InvenTree builds callback URLs from whatever host a request "
            "arrives on, and 1.x refuses requests whose host it cannot match.",
            "Set site_url to the public address people use, e.g. https://inventree.example.com"))
        return findings
    problem = validators.site_url_problem(str(raw))
    if problem:
        findings.append(error("site-url-invalid", f"site_url {raw!r} (from {site.origin}) is "
                              f"{problem.removeprefix('not a URL: ')}.",
                              "Write it as scheme://host[:port] with no quotes, e.g. "
                              "https://inventree.example.com"))
        return findings
    parts = urlsplit(inst.site_url)
    host = parts.hostname or ""
    proto = inst.resolve("login_default_protocol")
    if parts.scheme == "https" and inst.login_protocol == "http":
        findings.append(error(
            "callback-http-on-https-site",
            f"site_url is https but login_default_protocol is http (from {proto.origin}): the "
            "callback goes out as http:// and the provider refuses it (redirect_uri mismatch).",
            "Set login_default_protocol: https"))
    if parts.scheme == "http" and not is_local(host):
        findings.append(warning(
            "callback-plain-http",
            f"site_url is plain http on {host}: sign-in codes and session cookies travel "
            "unencrypted, and Microsoft and most providers refuse http callbacks outside "
            "localhost.",
            "Serve InvenTree over https (a TLS proxy) and set site_url to https://…"))
    if parts.scheme == "https":
        missing = [k for k in ("use_x_forwarded_proto", "use_x_forwarded_host")
                   if not inst.value(k)]
        if missing:
            findings.append(warning(
                "proxy-headers-off",
                f"An https site behind a TLS proxy needs {' and '.join(missing)}: without them "
                "InvenTree sees plain http from the proxy and builds http:// callbacks (unless "
                "login_default_protocol is https) and wrong hosts.",
                f"Set {': true and '.join(missing)}: true, and make the proxy send "
                "X-Forwarded-Proto and X-Forwarded-Host."))
    allowed = [str(h) for h in (inst.value("allowed_hosts") or [])]
    if allowed and "*" not in allowed and not _host_allowed(host, allowed):
        findings.append(warning(
            "host-not-allowed",
            f"{host} is not in allowed_hosts ({', '.join(allowed)}). InvenTree 1.x adds the "
            "site_url host itself; older versions answer 400 Bad Request.",
            f"Add {host} to allowed_hosts."))
    origins = [str(o).rstrip("/") for o in (inst.value("trusted_origins") or [])]
    origin = f"{parts.scheme}://{parts.netloc}"
    if origins and origin not in origins:
        findings.append(warning(
            "origin-not-trusted",
            f"{origin} is not in trusted_origins ({', '.join(origins)}). InvenTree 1.x adds "
            "site_url itself; older versions refuse the login form's CSRF check.",
            f"Add {origin} to trusted_origins."))
    if inst.multi_site and snap.schema is not None and not snap.schema.has_sites:
        findings.append(error(
            "sites-tables-missing",
            "Multi-site is on (site_multi), but the database has no django_site tables: "
            "allauth looks SSO apps up per site and fails until InvenTree's migrations make "
            "them.",
            "Run `invoke migrate` (Docker: `docker compose run --rm inventree-server invoke "
            "migrate`), then apply the apps again so the wizard links them to the site; or turn "
            "site_multi off."))
    if inst.multi_site and snap.sites:
        site_id = int(inst.value("site_id") or 1)
        domain = snap.sites.get(site_id)
        if domain is None:
            findings.append(error("site-missing", f"Multi-site is on but site {site_id} does "
                                  "not exist in django_site.", "Create it in the Django admin "
                                  "(Sites), or set site_id to an existing one."))
        elif domain.split(":")[0] != host:
            findings.append(warning(
                "site-domain-mismatch",
                f"Multi-site is on and site {site_id}'s domain is {domain!r}, but site_url's "
                f"host is {host!r}.", f"Change the site's domain to {parts.netloc} in the "
                "Django admin (Sites)."))
    for slug, url in app_callbacks(inst, [a.slug for a in snap.apps]).items():
        findings.append(info("callback-url", f"{slug}: register {url} at the provider."))
    return findings


def _host_allowed(host: str, allowed: list[str]) -> bool:
    for pattern in allowed:
        pattern = pattern.strip().lower()
        if pattern == host.lower():
            return True
        if pattern.startswith(".") and (host.lower().endswith(pattern)
                                        or host.lower() == pattern[1:]):
            return True
    return False


def state(snap: Snapshot, findings: list[Finding]) -> StageState:
    return default_state(findings, done=bool(snap.instance.site_url))


def plan(builder: PlanBuilder, answers: Answers) -> None:
    if answers.site_url is not None:
        builder.set_config(NAME, ("site_url",), answers.site_url)
    site = answers.site_url or builder.instance.site_url
    protocol = answers.login_default_protocol
    if protocol is None and site.startswith("https://"):
        protocol = "https"  # an https site must get https callbacks
    if protocol is not None:
        builder.set_config(NAME, ("login_default_protocol",), protocol)
    for key in ("use_x_forwarded_host", "use_x_forwarded_proto", "use_x_forwarded_port"):
        if key in answers.proxy:
            builder.set_config(NAME, (key,), answers.proxy[key])
    for key in ("allowed_hosts", "trusted_origins"):
        if key in answers.proxy:
            current = builder.current((key,))
            current = [str(v) for v in current] if isinstance(current, list) else []
            wanted = [*current, *(v for v in answers.proxy[key] if v not in current)]
            if wanted != current:
                builder.set_config(NAME, (key,), wanted)


# -- comparing a registered callback with the computed one ----------------------------------


def compare_callback(expected: str, registered: str) -> list[str]:
    """Name every difference between what InvenTree sends and what the provider has."""
    if expected == registered:
        return []
    e, r = urlsplit(expected), urlsplit(registered.strip())
    diffs: list[str] = []
    if registered != registered.strip():
        diffs.append("the registered URL has leading or trailing spaces")
    if e.scheme != r.scheme:
        diffs.append(f"scheme: InvenTree sends {e.scheme}://, the provider has {r.scheme}://")
    eh, rh = (e.hostname or ""), (r.hostname or "")
    if eh != rh:
        if rh == f"www.{eh}" or eh == f"www.{rh}":
            diffs.append(f"host: 'www.' differs ({eh} vs {rh})")
        elif eh.lower() == rh.lower():
            diffs.append(f"host: letter case differs ({eh} vs {rh})")
        else:
            diffs.append(f"host: InvenTree sends {eh}, the provider has {rh}")
    default = {"http": 80, "https": 443}
    ep = e.port or default.get(e.scheme)
    rp = r.port or default.get(r.scheme)
    scheme_defaults = e.port is None and r.port is None
    if ep != rp and not (e.scheme != r.scheme and scheme_defaults):
        diffs.append(f"port: InvenTree sends {ep}, the provider has {rp}")
    if e.path != r.path:
        if e.path.rstrip("/") == r.path.rstrip("/"):
            diffs.append("trailing slash: InvenTree's callback ends with '/', the registered "
                         "one does not" if e.path.endswith("/") else
                         "trailing slash: the registered URL ends with '/', InvenTree's not")
        elif e.path.lower() == r.path.lower():
            diffs.append(f"path: letter case differs ({e.path} vs {r.path}); Microsoft and "
                         "others compare it case-sensitively")
        elif "/accounts/oidc/" in r.path:
            diffs.append(f"path: {r.path} is allauth's default OIDC path; InvenTree uses "
                         f"{e.path} (no /oidc/ prefix)")
        else:
            diffs.append(f"path: InvenTree sends {e.path}, the provider has {r.path}")
    if r.query or r.fragment:
        diffs.append("the registered URL carries a query string or fragment")
    if not diffs:
        diffs.append("the URLs differ in encoding or other details")
    return diffs
