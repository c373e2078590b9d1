"""The provider catalogue against the installed django-allauth, and its small API."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from sso_wizard.core import providers as P


def _allauth_providers_dir() -> Path:
    spec = importlib.util.find_spec("allauth")
    assert spec is not None and spec.origin, "django-allauth must be installed for this test"
    return Path(spec.origin).parent / "socialaccount" / "providers"


def _shipped_ids() -> dict[str, str]:
    """provider id -> module name, read from the installed allauth source (no Django setup:
    importing provider modules needs `requests` and configured settings)."""
    out: dict[str, str] = {}
    for d in sorted(_allauth_providers_dir().iterdir()):
        f = d / "provider.py"
        if not f.is_file():
            continue
        tree = ast.parse(f.read_text("utf-8"))
        consts: dict[str, str] = {}
        cf = d / "constants.py"
        if cf.is_file():
            for n in ast.parse(cf.read_text("utf-8")).body:
                if (isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
                        and isinstance(n.targets[0], ast.Name)):
                    consts[n.targets[0].id] = str(n.value.value)
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for s in cls.body:
                if (isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name)
                        and s.targets[0].id == "id"):
                    if isinstance(s.value, ast.Constant):
                        out[str(s.value.value)] = d.name
                    elif isinstance(s.value, ast.Name):
                        out[consts[s.value.id]] = d.name
    return out


def _allauth_source(allauth_id: str) -> str:
    module = P.allauth_provider_module(allauth_id).rsplit(".", 1)[1]
    d = _allauth_providers_dir() / module
    return "\n".join(p.read_text("utf-8") for p in (d / "provider.py", d / "views.py")
                     if p.is_file())


def test_static_allauth_list_equals_installed_allauth() -> None:
    shipped = _shipped_ids()
    assert len(shipped) > 100
    assert P.allauth_provider_ids() == frozenset(shipped)
    for pid, module in shipped.items():
        assert P.allauth_provider_module(pid) == f"allauth.socialaccount.providers.{module}"


@pytest.mark.parametrize("provider", list(P.load_catalogue().values()), ids=lambda p: p.id)
def test_catalogue_entry_matches_allauth(provider: P.Provider) -> None:
    assert P.is_known_allauth_provider(provider.allauth_id)
    module = P.allauth_provider_module(provider.allauth_id)
    assert importlib.util.find_spec(module) is not None  # the package directory exists
    assert (_allauth_providers_dir() / module.rsplit(".", 1)[1] / "provider.py").is_file()
    src = _allauth_source(provider.allauth_id)
    # the scopes are the ones allauth itself requests (string literals in its provider code)
    for scope in provider.scopes:
        assert f'"{scope}"' in src, (provider.id, scope)
    # every settings key is one allauth reads from SocialApp.settings
    for f in provider.extra_settings:
        assert (f'settings.get("{f.name}"' in src or f'settings["{f.name}"]' in src), f.name
    names = [f.name for f in provider.fields]
    assert names[:2] == ["client_id", "secret"]
    assert all(n in ("client_id", "secret", "key") for n in names)
    assert [f.secret for f in provider.fields if f.name == "secret"] == [True]
    assert provider.register_steps and provider.name and provider.app_kind
    assert any("{callback_url}" in s for s in provider.register_steps)
    assert provider.is_preset == (provider.allauth_id == "openid_connect"
                                  and provider.id != "openid_connect")
    if provider.is_oidc:
        assert provider.scopes == ("openid", "profile", "email")
        assert provider.discovery == "{server_url}/.well-known/openid-configuration"
        assert provider.field("server_url") is not None and provider.field("server_url").required
        assert provider.slug == provider.id or provider.id == "openid_connect"
    else:
        assert provider.slug == provider.allauth_id
    # every template placeholder is one the register stage can fill
    known = {"app_name", "homepage_url", "callback_url", "scopes", "scopes_csv", "console_url",
             "discovery_url", "server_origin", "realm"} | {f.name for f in provider.all_fields}
    for t in (provider.console_url, provider.discovery or "", provider.authorize_url or "",
              provider.token_url or "", provider.userinfo_url or "", *provider.register_steps):
        assert set(P.unfilled_placeholders(t, {})) <= known, t


def test_expected_catalogue() -> None:
    cat = P.load_catalogue()
    assert set(cat) >= {"google", "microsoft", "github", "gitlab", "openid_connect", "keycloak",
                        "authentik", "okta", "auth0", "zitadel", "authelia"}
    assert cat["microsoft"].field("tenant") is not None
    assert cat["microsoft"].settings_defaults() == {"tenant": "common"}
    assert cat["gitlab"].settings_defaults() == {"gitlab_url": "https://gitlab.com"}
    assert cat["github"].scopes == ("user:email",)
    assert any("Secret ID" in t for t in cat["microsoft"].traps)
    assert any("ONE" in cat["github"].callback_rules or "One callback" in t
               for t in cat["github"].traps)
    assert any("Testing" in t for t in cat["google"].traps)
    assert load_is_cached()


def load_is_cached() -> bool:
    return P.get_provider("google") is P.get_provider("google")


def test_unknown_provider_suggests() -> None:
    with pytest.raises(P.UnknownProviderError) as exc:
        P.get_provider("gihtub")
    msg = str(exc.value)
    assert msg.startswith("unknown provider 'gihtub'. Did you mean: github")
    assert "Known: google, microsoft, github" in msg
    assert isinstance(exc.value, ValueError)
    assert P.suggest("keyclok") == ["keycloak"]
    assert P.suggest("azure")[0] == "microsoft"
    assert "Daum" in P.suggest("daum")
    assert P.suggest("zzzzzzzz") == []


def test_allauth_provider_without_guide_is_accepted() -> None:
    p = P.get_provider("discord")
    assert not p.guided and p.allauth_id == "discord" and p.slug == "discord"
    assert P.is_known_allauth_provider("nextcloud")
    assert not P.is_known_allauth_provider("keycloak")  # gone from allauth since 0.56
    assert P.allauth_provider_module("500px") == "allauth.socialaccount.providers.fivehundredpx"


def test_render_and_derived_values() -> None:
    kc = P.get_provider("keycloak")
    values = {"server_url": "https://sso.example.com/realms/Inv"}
    values |= P.derived_values(values)
    assert values["realm"] == "Inv"
    assert P.render(kc.console_url, values) == (
        "https://sso.example.com/admin/master/console/#/Inv/clients/add-client")
    assert P.render(kc.discovery or "", values) == (
        "https://sso.example.com/realms/Inv/.well-known/openid-configuration")
    # a blank without a value stays visible instead of vanishing
    assert P.render("{gitlab_url}/x {nope}", {"gitlab_url": "https://g"}) == "https://g/x {nope}"
    assert P.unfilled_placeholders("{a} {b} {a}", {"a": "1"}) == ["b"]
    assert P.render(P.get_provider("microsoft").token_url or "", {"tenant": "contoso"}) == (
        "https://login.microsoftonline.com/contoso/oauth2/v2.0/token")


@pytest.mark.parametrize(("server_url", "expected"), [
    ("https://h/realms/x", "https://h/realms/x/.well-known/openid-configuration"),
    ("https://h/realms/x/", "https://h/realms/x//.well-known/openid-configuration"),
    ("https://h/.well-known/openid-configuration", "https://h/.well-known/openid-configuration"),
])
def test_allauth_discovery_url(server_url: str, expected: str) -> None:
    assert P.allauth_discovery_url(server_url) == expected
