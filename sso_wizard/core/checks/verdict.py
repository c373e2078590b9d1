"""Who gets in, and what is proven: the verdicts of the live check.

``assess_signin`` follows allauth 65's and InvenTree's real rules (reference §4b) for the
identity a round trip brought back:

1. a ``socialaccount_socialaccount`` row (provider slug, uid) → that user signs in;
2. else email authentication (app ``settings.email_authentication``, or
   ``social_providers.<id>.EMAIL_AUTHENTICATION``) with a *verified* email of a local user;
3. else a sign-up: open only with ``LOGIN_ENABLE_SSO_REG`` and email configured; the address
   must pass ``LOGIN_SIGNUP_MAIL_RESTRICTION`` (InvenTree's ``clean_email``, byte for byte: the
   address is lower-cased, entries are not stripped); an address that already belongs to a local
   user is the dead end (no auto sign-up), with its two fixes; ``LOGIN_SIGNUP_SSO_AUTO`` off means
   a sign-up form.

Group sync reads ``extra_data['userinfo'][SSO_GROUP_KEY]`` (InvenTree/sso.py), so only OpenID
Connect apps that fetch userinfo can ever sync groups.

``make_verdict`` says "verified" only when the probe passed, the round trip passed, the person
would get in, and — when the server answered — the server cross-check is green; otherwise it
lists exactly what is still unverified and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sso_wizard.core.findings import Finding, error, info, warning

if TYPE_CHECKING:
    from sso_wizard.core.checks.oauth import Identity, ProbeResult, ProviderSetup, RoundTripResult
    from sso_wizard.core.checks.server import ServerResult
    from sso_wizard.core.stages import Snapshot

SignInOutcome = Literal["existing-user", "email-login", "registers", "signup-form", "refused",
                        "unknown"]


@dataclass
class SignInVerdict:
    outcome: SignInOutcome
    reason: str
    user: str | None = None
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason, "user": self.user,
                "findings": [f.to_json() for f in self.findings]}


# ---------------------------------------------------------------------------------------------
# LOGIN_SIGNUP_MAIL_RESTRICTION, exactly as InvenTree's RegistrationMixin.clean_email


def restriction_allows(restriction: str, email: str) -> tuple[bool, str | None]:
    """(allowed, problem): problem names a broken entry InvenTree trips over first."""
    if not restriction:
        return True, None
    address = email.lower()  # allauth lower-cases before the adapter's clean_email
    parts = address.split("@")
    if len(parts) != 2:
        return False, f"{email!r} is not a valid address"
    for option in restriction.split(","):
        if not option.startswith("@"):
            return False, (f"the entry {option!r} does not start with '@', so InvenTree refuses "
                           "every address it reaches")
        if parts[1] == option[1:]:
            return True, None
    return False, None


def restriction_problems(restriction: str) -> list[Finding]:
    """Entries that can never match (spaces, capitals) or break the check."""
    out: list[Finding] = []
    if not restriction:
        return out
    for option in restriction.split(","):
        if not option.startswith("@"):
            out.append(error(
                "mail-restriction-invalid",
                f"LOGIN_SIGNUP_MAIL_RESTRICTION entry {option!r} does not start with '@' (a "
                "space after a comma counts): InvenTree refuses every sign-up that reaches it.",
                "Write it as @example.com,@example.org — no spaces."))
        elif option != option.lower():
            out.append(warning(
                "mail-restriction-case",
                f"LOGIN_SIGNUP_MAIL_RESTRICTION entry {option!r} has capital letters; addresses "
                "are compared in lower case, so it never matches.",
                f"Write it as {option.lower()}"))
    return out


# ---------------------------------------------------------------------------------------------
# reading the people InvenTree knows


def _tables() -> tuple[Any, Any, Any]:
    import sqlalchemy as sa
    social = sa.table("socialaccount_socialaccount", sa.column("user_id"), sa.column("provider"),
                      sa.column("uid"))
    users = sa.table("auth_user", sa.column("id"), sa.column("username"), sa.column("email"),
                     sa.column("is_active"))
    emails = sa.table("account_emailaddress", sa.column("user_id"), sa.column("email"),
                      sa.column("verified"))
    return social, users, emails


@dataclass
class People:
    linked_user: tuple[str, bool] | None = None  # (username, is_active)
    email_users: list[tuple[str, bool]] = field(default_factory=list)  # (username, verified)


def lookup_people(db: Any, slug: str, uid: str | None, email: str | None) -> People:
    import sqlalchemy as sa
    social, users, emails = _tables()
    people = People()
    tables = db.schema().tables
    with db.connect() as conn:
        if uid is not None and {"socialaccount_socialaccount", "auth_user"} <= tables:
            row = conn.execute(
                sa.select(users.c.username, users.c.is_active)
                .select_from(social.join(users, social.c.user_id == users.c.id))
                .where(social.c.provider == slug, social.c.uid == uid)).first()
            if row is not None:
                people.linked_user = (str(row[0]), bool(row[1]))
        if email:
            found: dict[str, bool] = {}
            if {"account_emailaddress", "auth_user"} <= tables:
                for username, verified in conn.execute(
                        sa.select(users.c.username, emails.c.verified)
                        .select_from(emails.join(users, emails.c.user_id == users.c.id))
                        .where(sa.func.lower(emails.c.email) == email.lower())):
                    found[str(username)] = found.get(str(username), False) or bool(verified)
            if "auth_user" in tables:
                for (username,) in conn.execute(
                        sa.select(users.c.username)
                        .where(sa.func.lower(users.c.email) == email.lower())):
                    found.setdefault(str(username), False)
            people.email_users = sorted(found.items())
    return people


# ---------------------------------------------------------------------------------------------
# the sign-in verdict


def _email_authentication(setup: ProviderSetup) -> bool:
    value = setup.app.settings.get("email_authentication")
    if value is None:
        value = setup.provider_settings.get("EMAIL_AUTHENTICATION", False)
    return bool(value)


def assess_signin(snapshot: Snapshot, setup: ProviderSetup, identity: Identity,
                  db: Any = None) -> SignInVerdict:
    """Would this person sign in as an existing user, be registered, or be refused — and why."""
    from sso_wizard.core.db import DatabaseError
    from sso_wizard.core.stages.email import email_configured

    findings: list[Finding] = []
    inst = snapshot.instance
    slug = setup.slug
    restriction = str(snapshot.setting("LOGIN_SIGNUP_MAIL_RESTRICTION", "") or "")
    sso_reg = snapshot.setting_bool("LOGIN_ENABLE_SSO_REG", False)
    auto = snapshot.setting_bool("LOGIN_SIGNUP_SSO_AUTO", True)
    mail_ok = email_configured(inst)
    email = identity.email

    # -- the address as InvenTree will see it
    findings.extend(restriction_problems(restriction))
    allowed, problem = (True, None) if not email else restriction_allows(restriction, email)
    if email and restriction:
        if allowed:
            findings.append(info("domain-allowed", f"{email}'s domain is in "
                                 f"LOGIN_SIGNUP_MAIL_RESTRICTION ({restriction})."))
        else:
            why = f" ({problem})" if problem else ""
            findings.append(warning(
                "domain-not-allowed",
                f"{email}'s domain is not allowed by LOGIN_SIGNUP_MAIL_RESTRICTION "
                f"({restriction}){why}: InvenTree drops the address and refuses to register "
                "this person.", "Add the domain (e.g. @" + email.rsplit("@", 1)[-1].lower()
                + ") to LOGIN_SIGNUP_MAIL_RESTRICTION, or sign in with an allowed account."))
    if not email:
        findings.append(warning(
            "identity-no-email",
            f"{setup.display} returned no email address: InvenTree cannot match the person "
            "to a user by email, and a new user gets none.",
            "Allow the 'email' scope/claim for this client at the provider (GitHub: a public "
            "or verified primary email; Microsoft: the user's mail attribute)."))
    elif not identity.email_verified:
        findings.append(info(
            "identity-email-unverified",
            f"{email} is not marked verified by the provider (or allauth never trusts it for "
            f"{setup.app.provider}): it cannot be used to sign in to an existing account by "
            "email.", "For a provider that verifies addresses, set VERIFIED_EMAIL: true in "
            f"social_providers.{setup.app.provider}."))
    findings.extend(_group_findings(snapshot, setup, identity))
    if not snapshot.setting_bool("LOGIN_ENABLE_SSO", False):
        findings.append(info(
            "sso-login-setting-off", "LOGIN_ENABLE_SSO is off: InvenTree 0.16/0.17 hide SSO "
            "login until it is on (1.x ignores it).", "Turn on LOGIN_ENABLE_SSO (stage "
            "settings) if the server runs 0.16 or 0.17."))

    # -- who is this?
    if db is None:
        try:
            db = inst.open_database()
        except DatabaseError as exc:
            findings.append(warning("signin-unknown", f"The database could not be read ({exc}), "
                                    "so who this person signs in as is unknown.", ""))
            return SignInVerdict("unknown", "database unreadable", findings=findings)
    try:
        cleaned = email if (email and allowed) else None
        people = lookup_people(db, slug, identity.uid, cleaned)
    except DatabaseError as exc:
        findings.append(warning("signin-unknown", f"The database could not be read ({exc}).", ""))
        return SignInVerdict("unknown", "database unreadable", findings=findings)
    except Exception as exc:  # noqa: BLE001 - an odd schema must not crash the check
        findings.append(warning("signin-unknown", "The user tables could not be read "
                                f"({type(exc).__name__}).", ""))
        return SignInVerdict("unknown", "user tables unreadable", findings=findings)

    who = identity.email or identity.username or identity.uid or "this person"
    if people.linked_user is not None:
        username, active = people.linked_user
        if not active:
            findings.append(error(
                "signin-refused-inactive",
                f"{who} is linked to InvenTree user {username!r}, which is inactive: the "
                "sign-in is refused.", f"Activate {username!r} in InvenTree's admin (Users)."))
            return SignInVerdict("refused", "linked user inactive", username, findings)
        findings.append(info(
            "signin-existing-account",
            f"{who} (uid {identity.uid}) is already linked to InvenTree user {username!r}: "
            f"they sign in as {username!r}."))
        return SignInVerdict("existing-user", "linked social account", username, findings)

    matches = people.email_users
    if matches and identity.email_verified and _email_authentication(setup):
        username = matches[0][0]
        findings.append(info(
            "signin-by-email",
            f"{who} has no linked account, but email authentication is on for {slug} and the "
            f"provider verified the address: they sign in as the local user {username!r}."))
        return SignInVerdict("email-login", "email authentication", username, findings)

    # -- a sign-up
    if not sso_reg:
        findings.append(error(
            "signin-refused-registration-off",
            f"{who} has no InvenTree account linked to {slug}, and SSO registration "
            "(LOGIN_ENABLE_SSO_REG) is off: InvenTree refuses the sign-in (error "
            "signup_closed)." + (" An existing user can link the provider once from their "
                                 "account settings." if matches else ""),
            "Turn on LOGIN_ENABLE_SSO_REG (stage settings) to let new people in, or link the "
            "account from InvenTree's account settings → Single Sign On."))
        return SignInVerdict("refused", "SSO registration off", findings=findings)
    if not mail_ok:
        findings.append(error(
            "signin-refused-email-not-configured",
            f"{who} would be registered, but InvenTree keeps registration closed until email "
            "is configured (host and sender): the sign-in is refused (signup_closed).",
            "Configure email (stage email), then sso-wizard check email."))
        return SignInVerdict("refused", "email not configured", findings=findings)
    if email and not allowed:
        findings.append(error(
            "signin-refused-domain",
            f"{who} would be registered, but {email}'s domain is not in "
            f"LOGIN_SIGNUP_MAIL_RESTRICTION ({restriction}): InvenTree refuses the address.",
            "Add the domain to LOGIN_SIGNUP_MAIL_RESTRICTION (stage settings), or use an "
            "allowed account."))
        return SignInVerdict("refused", "email domain not allowed", findings=findings)
    if matches:
        users = ", ".join(repr(u) for u, _ in matches)
        findings.append(error(
            "signin-refused-email-taken",
            f"{email} already belongs to the local InvenTree user {users}, who has not linked "
            f"{slug}: allauth will not register a second account with that address and does "
            "not sign the person in either — they get a sign-up page that rejects the "
            "address (or only an 'account already exists' email). This is the most confusing "
            "outcome for staff who already have local accounts.",
            f"Either the user signs in with their password once and links {slug} under "
            "account settings → Single Sign On (safe, per user), or you set "
            f"email_authentication: true in the {slug} app settings — only for a provider that "
            "verifies email addresses, because it lets that provider sign in as any local "
            "user with a matching address."
            + ("" if identity.email_verified else " (This provider's address is not "
               "verified, so email authentication would not apply here.)")))
        return SignInVerdict("refused", "email belongs to a local user", findings=findings)
    if not email:
        findings.append(warning(
            "signin-signup-form",
            f"{who} would be registered, but without an email address allauth shows a "
            "sign-up form asking for one.", "Let the provider release the email address."))
        return SignInVerdict("signup-form", "no email address", findings=findings)
    if not auto:
        findings.append(info(
            "signin-signup-form",
            f"{who} would be registered through a sign-up form (LOGIN_SIGNUP_SSO_AUTO is "
            "off): they confirm their details once.", "Turn on LOGIN_SIGNUP_SSO_AUTO for a "
            "one-click first sign-in."))
        return SignInVerdict("signup-form", "auto sign-up off", findings=findings)
    findings.append(info(
        "signin-registers",
        f"{who} has no InvenTree account yet: they will be registered automatically as a new "
        f"user with {email} on their first sign-in."))
    return SignInVerdict("registers", "automatic sign-up", findings=findings)


def _group_findings(snapshot: Snapshot, setup: ProviderSetup, identity: Identity
                    ) -> list[Finding]:
    if not snapshot.setting_bool("LOGIN_ENABLE_SSO_GROUP_SYNC", False):
        return []
    key = str(snapshot.setting("SSO_GROUP_KEY", "groups") or "groups")
    raw_map = snapshot.setting("SSO_GROUP_MAP", "{}") or "{}"
    out: list[Finding] = []
    try:
        group_map = json.loads(raw_map) if isinstance(raw_map, str) else raw_map
        if not isinstance(group_map, dict):
            raise ValueError
    except ValueError:
        return [error("group-map-invalid",
                      f"SSO_GROUP_MAP is not a JSON object ({str(raw_map)[:80]!r}): with group "
                      "sync on, every SSO login fails while reading it.",
                      'Set SSO_GROUP_MAP to a JSON object, e.g. {"idp-admins": "admin"}.')]
    if not setup.is_oidc:
        return [warning(
            "group-sync-unsupported",
            f"Group sync is on, but InvenTree reads groups from the OpenID Connect userinfo "
            f"answer only; {setup.app.provider} logins never carry it.",
            "Use an OpenID Connect app for group sync, or manage these users' groups in "
            "InvenTree.")]
    if not setup.fetch_userinfo:
        return [warning(
            "group-claim-missing", "Group sync is on, but the app has fetch_userinfo: false "
            "and InvenTree reads groups from the userinfo answer only.",
            "Remove fetch_userinfo: false from the app settings.")]
    if identity.groups is None:
        where = (f" It is in the ID token ({identity.groups_elsewhere!r}) but InvenTree reads "
                 "the userinfo answer only." if identity.groups_elsewhere is not None else "")
        out.append(warning(
            "group-claim-missing",
            f"Group sync is on (SSO_GROUP_KEY {key!r}), but the provider's userinfo answer has "
            f"no {key!r} claim: this person gets no groups" + (
                ", and SSO_REMOVE_GROUPS strips the ones they have." if snapshot.setting_bool(
                    "SSO_REMOVE_GROUPS", True) else ".") + where,
            f"Add a '{key}' claim to the userinfo response at the provider (Keycloak: a "
            "'Group Membership' mapper with 'Add to userinfo' on; authentik/Zitadel: a scope "
            "mapping), or change SSO_GROUP_KEY to the claim it uses."))
        return out
    mapped = sorted({group_map[g] for g in identity.groups if g in group_map})
    unmapped = [g for g in identity.groups if g not in group_map]
    if mapped:
        out.append(info("groups-mapped", f"Groups {identity.groups!r} map to InvenTree groups "
                        f"{mapped!r}."))
    if unmapped:
        out.append((warning if not mapped else info)(
            "groups-unmapped",
            f"Provider groups {unmapped!r} are not in SSO_GROUP_MAP, so InvenTree ignores them"
            + ("; this person gets no InvenTree group." if not mapped else "."),
            'Map them in SSO_GROUP_MAP, e.g. {"' + (unmapped[0] if unmapped else "group")
            + '": "InvenTree group"}.'))
    return out


# ---------------------------------------------------------------------------------------------
# the overall verdict


@dataclass
class Verdict:
    verified: bool
    proven: list[str] = field(default_factory=list)
    unverified: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"verified": self.verified, "status": "verified" if self.verified
                else "unverified", "proven": self.proven, "unverified": self.unverified}

    def finding(self, slug: str) -> Finding:
        if self.verified:
            tail = ""
            if self.unverified:
                tail = " Not covered: " + "; ".join(
                    f"{u['what']} ({u['why']})" for u in self.unverified) + "."
            return info("verified", f"{slug}: verified — {', '.join(self.proven)}.{tail}")
        return warning("unverified", f"{slug}: NOT verified. Still unverified: " + "; ".join(
            f"{u['what']} — {u['why']}" for u in self.unverified) + ".",
            self.unverified[0].get("fix", "") if self.unverified else "")


def make_verdict(slug: str, *, probe: ProbeResult | None, roundtrip: RoundTripResult | None,
                 server: ServerResult | None, proof: dict[str, Any] | None = None) -> Verdict:
    """Verified only when everything that can be proven was proven.

    ``proof``: a round trip that passed earlier for the same client id and callback (from
    ``load_proof``), used when none ran now (``check all``).
    """
    v = Verdict(verified=False)
    if probe is None:
        v.unverified.append({"what": "credentials", "why": "the probe did not run",
                             "fix": f"sso-wizard check provider {slug} --probe"})
    elif probe.ok:
        v.proven.append("credentials accepted (probe"
                        + (", unverified for this provider)" if probe.certainty == "unverified"
                           else ")"))
    else:
        v.unverified.append({"what": "credentials", "why": f"the probe says {probe.outcome}",
                             "fix": "Fix the findings of the probe."})
    if (roundtrip is None or roundtrip.status == "pending") and proof is not None:
        v.proven.append(f"round trip passed earlier ({proof.get('at')}, same client id and "
                        "callback)")
        if proof.get("signin") in ("refused", "unknown", None):
            v.unverified.append({"what": "sign-in", "why": "that round trip's person would not "
                                 "have got in", "fix": f"sso-wizard check provider {slug}"})
    elif roundtrip is None or roundtrip.status == "pending":
        v.unverified.append({
            "what": "round trip", "why": "nobody has signed in through the provider yet",
            "fix": f"sso-wizard check provider {slug} (sign in once, paste the address back)"})
    elif not roundtrip.passed:
        v.unverified.append({"what": "round trip", "why": "the round trip failed (see its "
                             "findings)", "fix": "Fix the round trip's findings and try again."})
    else:
        v.proven.append("round trip through the registered callback (code redeemed"
                        + (", ID token valid" if roundtrip.id_token is not None else "") + ")")
        signin = roundtrip.signin
        if signin is None or signin.outcome == "unknown":
            v.unverified.append({"what": "sign-in", "why": "who this person signs in as could "
                                 "not be determined", "fix": "Make the database readable."})
        elif signin.outcome == "refused":
            v.unverified.append({"what": "sign-in", "why": f"InvenTree would refuse this "
                                 f"person ({signin.reason})", "fix": "See the sign-in finding."})
        else:
            v.proven.append(f"InvenTree lets this person in ({signin.outcome.replace('-', ' ')}"
                            + (f": {signin.user}" if signin.user else "") + ")")
    if server is None:
        v.unverified.append({"what": "running server", "why": "the server cross-check was "
                             "skipped", "fix": "sso-wizard check server"})
    elif not server.reachable:
        v.unverified.append({"what": "running server", "why": f"InvenTree did not answer at "
                             f"{server.url} (cross-check skipped)",
                             "fix": "Start InvenTree, then sso-wizard check server"})
    else:
        app = server.apps.get(slug)
        if app is not None and app.ok:
            v.proven.append("the running server starts the login with the same client id and "
                            "callback")
        else:
            v.unverified.append({"what": "running server", "why": "the server cross-check is "
                                 "not green" + (" (restart needed)" if server.restart_needed
                                                else ""),
                                 "fix": "Fix the server findings (restart InvenTree after "
                                 "config changes)."})
    # Only a server that answered and disagrees blocks the verdict; a server that was not
    # checked (down, or skipped) stays listed as unverified.
    blocking = [u for u in v.unverified if u["what"] != "running server"
                or (server is not None and server.reachable)]
    v.verified = not blocking
    return v


# ---------------------------------------------------------------------------------------------
# proofs: a passed round trip is remembered (never a secret, never who signed in)


def _proofs_path(instance: Any) -> Any:
    from sso_wizard.core.state import instance_key, state_dir
    return state_dir() / "proofs" / f"{instance_key(instance.config_path)}.json"


def record_proof(instance: Any, setup: ProviderSetup, roundtrip: RoundTripResult) -> None:
    """Remember that a round trip passed for this client id and callback."""
    import contextlib
    from datetime import UTC, datetime

    from sso_wizard.core.state import write_private_json
    if not roundtrip.passed:
        return
    path = _proofs_path(instance)
    data: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        data = loaded if isinstance(loaded, dict) else {}
    data[setup.slug] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "client_id": setup.app.client_id, "redirect_uri": setup.redirect_uri,
        "signin": roundtrip.signin.outcome if roundtrip.signin else None,
    }
    with contextlib.suppress(OSError):
        write_private_json(path, data)


def load_proof(instance: Any, setup: ProviderSetup) -> dict[str, Any] | None:
    """The last passed round trip for this app, if its client id and callback are unchanged."""
    import contextlib
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(_proofs_path(instance).read_text(encoding="utf-8"))
        proof = data.get(setup.slug) if isinstance(data, dict) else None
        if (isinstance(proof, dict) and proof.get("client_id") == setup.app.client_id
                and proof.get("redirect_uri") == setup.redirect_uri):
            return proof
    return None


# ---------------------------------------------------------------------------------------------
# putting the checks together (the CLI and the TUI drive these)


@dataclass
class ProviderReport:
    setup: ProviderSetup
    probe: ProbeResult | None = None
    roundtrip: RoundTripResult | None = None
    server: ServerResult | None = None
    verdict: Verdict | None = None

    def sections(self) -> list[tuple[str, list[Finding]]]:
        out: list[tuple[str, list[Finding]]] = [("Provider setup", list(self.setup.findings))]
        if self.probe is not None:
            out.append(("Credential probe", self.probe.findings))
        if self.roundtrip is not None:
            out.append(("Round trip", self.roundtrip.findings))
            if self.roundtrip.signin is not None:
                out.append(("Who signs in", self.roundtrip.signin.findings))
        if self.server is not None:
            out.append(("Running server", server_summary(self.server, self.setup.slug)))
        if self.verdict is not None:
            out.append(("Verdict", [self.verdict.finding(self.setup.slug)]))
        return out

    @property
    def findings(self) -> list[Finding]:
        return [f for _, fs in self.sections() for f in fs]

    @property
    def ok(self) -> bool:
        if any(f.severity == "error" for f in self.findings):
            return False
        if self.roundtrip is not None:  # a round trip was attempted: only a proof will do
            return bool(self.verdict and self.verdict.verified)
        return self.probe is not None and self.probe.ok

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "provider": self.setup.to_json(),
            "discovery": self.setup.discovery.to_json() if self.setup.discovery else None,
            "probe": self.probe.to_json() if self.probe else None,
            "roundtrip": self.roundtrip.to_json() if self.roundtrip else None,
            "server": self.server.to_json() if self.server else None,
            "verdict": self.verdict.to_json() if self.verdict else None,
            "findings": [f.to_json() for f in self.findings],
        }


def server_summary(server: ServerResult, slug: str | None = None) -> list[Finding]:
    """The server's findings for one app; an unreachable server is a note, not a failure."""
    if not server.reachable:
        why = "; ".join(f.message for f in server.findings if f.severity == "error")
        return [info("server-not-checked", f"The running server was not cross-checked: {why}",
                     "Start InvenTree, then: sso-wizard check server")]
    out = [f for f in server.findings if f.code not in ("server-providers",)]
    apps = [server.apps[slug]] if slug and slug in server.apps else list(server.apps.values())
    for app in apps:
        out.extend(app.findings)
    return out


async def probe_report(instance: Any, app: Any, *, client: Any,
                       timeout: float = 10.0) -> ProviderReport:  # noqa: ASYNC109
    """Setup (discovery, JWKS) and the credential probe for one app."""
    from sso_wizard.core.checks.oauth import probe_credentials, resolve_setup
    setup = await resolve_setup(instance, app, client=client, timeout=timeout)
    report = ProviderReport(setup=setup)
    if setup.token_url:
        report.probe = await probe_credentials(setup, client=client, timeout=timeout)
    return report


@dataclass
class AllReport:
    providers: dict[str, ProviderReport] = field(default_factory=dict)
    server: ServerResult | None = None
    email: dict[str, Any] = field(default_factory=dict)
    errors: Any = None  # ErrorsResult
    findings: list[tuple[str, Finding]] = field(default_factory=list)  # (check, finding)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for _, f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "providers": {s: r.to_json() for s, r in self.providers.items()},
            "server": self.server.to_json() if self.server else None,
            "email": self.email,
            "errors": self.errors.to_json() if self.errors is not None else None,
            "findings": [{**f.to_json(), "check": check} for check, f in self.findings],
        }


async def run_all(instance: Any, snapshot: Snapshot, *, timeout: float = 10.0,  # noqa: ASYNC109
                  verify: Any = True, since: Any = None) -> AllReport:
    """Every non-interactive check: discovery and probe per app, the server cross-check when
    the server answers, email without sending, recent SSO failures."""
    import asyncio

    from sso_wizard.core.checks.errors import check_errors, parse_since
    from sso_wizard.core.checks.server import check_server
    from sso_wizard.core.http import create_client
    from sso_wizard.core.stages import status as stage_status

    report = AllReport()
    # What every stage's inspect finds (no network): the config and DB problems behind most
    # failed logins. Email is covered by the email check below, and `check` is this command.
    for name, stage in stage_status(instance, snapshot).items():
        if name in ("email", "check"):
            continue
        report.findings.extend((f"stage:{name}", f) for f in stage.findings
                               if f.severity != "info" and f.code != "database-unreadable")
    async with create_client(timeout=timeout, verify=verify) as client:
        probes = await asyncio.gather(*(probe_report(instance, app, client=client,
                                                     timeout=timeout)
                                        for app in snapshot.apps))
        server_task = asyncio.create_task(
            check_server(instance, snapshot, timeout=timeout, verify=verify))
        email_task = asyncio.create_task(_email_check(instance, snapshot, timeout, verify))
        server = await server_task
        email_findings, email_json = await email_task
    report.server = server if instance.site_url else None
    for pr in probes:
        pr.server = report.server
        pr.verdict = make_verdict(pr.setup.slug, probe=pr.probe, roundtrip=None,
                                  server=report.server, proof=load_proof(instance, pr.setup))
        report.providers[pr.setup.slug] = pr
        for f in [f for title, fs in pr.sections() if title != "Running server" for f in fs]:
            if f.code in ("verified", "unverified"):
                f = info(f.code, f.message, f.fix)  # a verdict is news, not a failure
            report.findings.append((f"provider:{pr.setup.slug}", f))
    if not snapshot.apps:
        report.findings.append(("providers", warning(
            "no-apps", "No SSO app is stored yet: there is nothing to sign in with.",
            "Apply the credentials stage.")))
    if report.server is not None and report.server.reachable:
        for f in report.server.all_findings:
            report.findings.append(("server", f))
    elif report.server is not None:
        report.findings.extend(("server", f) for f in server_summary(report.server))
    report.email = email_json
    report.findings.extend(("email", f) for f in email_findings)
    db = None
    try:
        db = instance.open_database()
        report.errors = check_errors(db, snapshot.apps, parse_since(since))
        report.findings.extend(("errors", f) for f in report.errors.findings)
    except Exception as exc:  # noqa: BLE001 - the error log is optional; say why it was skipped
        report.findings.append(("errors", info("errors-skipped",
                                               f"The error log was not read ({exc}).", "")))
    if snapshot.db_error:
        report.findings.insert(0, ("database", error("database-unreadable", snapshot.db_error)))
    return report


async def _email_check(instance: Any, snapshot: Snapshot, timeout: float,  # noqa: ASYNC109
                       verify: Any) -> tuple[list[Finding], dict[str, Any]]:
    from dataclasses import replace

    from sso_wizard.core.stages import email as email_stage
    values = email_stage.effective(instance)
    if not values.get("host"):
        findings = email_stage.inspect(snapshot)
        return findings, {"ok": not any(f.severity == "error" for f in findings),
                          "configured": False, "findings": [f.to_json() for f in findings]}
    from sso_wizard.core.checks.smtp import check_smtp
    ca = verify if isinstance(verify, str) else None
    settings = replace(email_stage.smtp_settings(instance, ca), timeout=timeout)
    result = await check_smtp(settings, send_to=None)
    findings = list(result.findings) + [f for f in email_stage.problems(values)
                                        if f.code not in {x.code for x in result.findings}]
    data = result.to_json()
    data["configured"] = email_stage.is_configured(values)
    return findings, data
