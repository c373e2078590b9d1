"""The wizard driven like an admin drives it: keys and clicks on a demo install, then the config
file and the database read back through core."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.widgets import Checkbox, Input, OptionList, Select, SelectionList

from sso_wizard.core.demo import Sandbox
from sso_wizard.core.instance import Instance
from sso_wizard.tui.app import SsoWizardApp
from sso_wizard.tui.screens import (
    BackendsScreen,
    CallbackScreen,
    CheckScreen,
    ConfirmScreen,
    CredentialsScreen,
    EmailScreen,
    RegisterScreen,
    SettingsScreen,
    SummaryScreen,
)
from tests.tui.helpers import paste_into, problem_of, screen_svg, settle, text_of, type_into

MakeApp = Callable[..., SsoWizardApp]
ReadInstall = Callable[[], Instance]
SECRET = "s3cr3t-Value-42"


async def test_summary_shows_install_values_and_stages(make_app: MakeApp,
                                                       sandbox: Sandbox) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
        install = text_of(pilot, "#install")
        assert str(sandbox.config) in install
        assert "sqlite:///" in install and "inventree.sqlite3" in install
        assert "login_default_protocol = http (from config file)" in install
        assert "site_url = not set (from default)" in install
        options = app.screen.query_one("#stage-list", OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(7)]
        assert "backends" in labels[0] and "todo" in labels[0]
        assert "callback" in labels[3] and "attention" in labels[3]
        # the highlighted stage's findings are shown beside the list
        await pilot.press("down", "down", "down")
        await settle(pilot)
        assert "site_url is not set" in text_of(pilot, "#summary-findings")


async def test_backends_by_keyboard_writes_social_backends(make_app: MakeApp,
                                                           read_install: ReadInstall) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")  # start the wizard
        await settle(pilot)
        assert isinstance(app.screen, BackendsScreen)
        await pilot.press("down", "down", "space")  # Google, Microsoft, [GitHub]
        await settle(pilot)
        assert "+ allauth.socialaccount.providers.github" in text_of(pilot, "#backends-preview")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "+  - allauth.socialaccount.providers.github" in text_of(pilot, "#plan-diff")
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, RegisterScreen)  # Next moved on after applying
        assert app.choices.providers == ["github"]
    assert read_install().social_backends() == ["allauth.socialaccount.providers.github"]
    assert app.reports is not None and app.reports["backends"].state == "done"


async def test_backends_next_needs_a_provider(make_app: MakeApp, read_install: ReadInstall
                                              ) -> None:
    app = make_app(start_stage="backends")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, BackendsScreen)
        await pilot.click("#next")
        await settle(pilot)
        assert isinstance(app.screen, BackendsScreen)
        assert problem_of(pilot, "field-providers") == "Choose at least one provider."
        assert "fix the marked fields first" in text_of(pilot, "#outcome")
    assert read_install().social_backends() == []


async def test_cancel_in_confirmation_writes_nothing(make_app: MakeApp, sandbox: Sandbox
                                                     ) -> None:
    before = sandbox.config.read_text()
    app = make_app(start_stage="backends")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#provider-list", SelectionList).select("gitlab")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BackendsScreen)
        assert "Not applied" in text_of(pilot, "#outcome")
    assert sandbox.config.read_text() == before


async def test_back_pops_and_summary_reruns_one_stage(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        options = app.screen.query_one("#stage-list", OptionList)
        options.highlighted = 4  # settings
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SettingsScreen)
        assert "Stage 5 of 7" in text_of(pilot, "#progress")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
        # forward pushes, back pops one screen at a time
        await pilot.press("o")
        await settle(pilot)
        await pilot.press("ctrl+n")  # nothing changed: "No changes." and on to email
        await settle(pilot)
        assert isinstance(app.screen, EmailScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, SettingsScreen)
        assert "No changes." in text_of(pilot, "#outcome")
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)


async def test_register_shows_callback_and_copies_it_with_osc52(make_app: MakeApp) -> None:
    app = make_app(start_stage="register")
    app.choices.providers = ["github"]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RegisterScreen)
        await paste_into(pilot, "#site-url", "https://inventree.example.com")
        callback = "https://inventree.example.com/accounts/github/login/callback/"
        assert text_of(pilot, "#callback-url") == callback
        guide = text_of(pilot, "#guide")
        assert "Register InvenTree at GitHub" in guide and callback in guide
        assert " 1. " in guide or "1. " in guide
        await pilot.press("ctrl+y")
        await settle(pilot)
        assert app.clipboard == callback
        # the site URL typed here is offered again on the callback screen
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
        assert app.choices.site_url == "https://inventree.example.com"


async def test_register_oidc_slug_shapes_the_callback(make_app: MakeApp) -> None:
    app = make_app(start_stage="register")
    app.choices.providers = ["keycloak"]
    app.choices.site_url = "https://inventree.example.com"
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert text_of(pilot, "#callback-url").endswith("/accounts/keycloak/login/callback/")
        await paste_into(pilot, "#slug", "corp-sso")
        assert text_of(pilot, "#callback-url") == (
            "https://inventree.example.com/accounts/corp-sso/login/callback/")
        await type_into(pilot, "#slug", "bad slug")
        assert "letters, digits, - and _ only" in problem_of(pilot, "field-slug")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, RegisterScreen)


async def test_credentials_apply_stores_app_and_never_shows_secret(
        make_app: MakeApp, read_install: ReadInstall) -> None:
    app = make_app(start_stage="credentials")
    app.choices.providers = ["google", "github"]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
        app.screen.query_one("#provider", Select).value = "github"
        await settle(pilot)
        assert "No app is stored for github" in text_of(pilot, "#app-state")
        await paste_into(pilot, "#app-client-id", "Iv1.0123456789")
        await paste_into(pilot, "#app-secret", SECRET)
        assert app.screen.query_one("#app-secret", Input).password
        assert SECRET not in screen_svg(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        diff = text_of(pilot, "#plan-diff")
        assert "+ SocialApp github" in diff and "client_id='Iv1.0123456789'" in diff
        assert SECRET not in diff and SECRET not in screen_svg(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
        assert "Applied" in text_of(pilot, "#outcome")
        assert "An app is stored for github" in text_of(pilot, "#app-state")
        assert SECRET not in screen_svg(pilot)
        assert app.screen.query_one("#app-secret", Input).value == ""  # cleared once written
        # the same answers again change nothing
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
        assert "No changes." in text_of(pilot, "#outcome")
    instance = read_install()
    apps = instance.open_database().read_apps()
    assert [(a.provider, a.client_id, a.secret) for a in apps] == [
        ("github", "Iv1.0123456789", SECRET)]
    # an app needs its backend: the credentials stage adds it
    assert "allauth.socialaccount.providers.github" in instance.social_backends()


async def test_credentials_refuses_what_the_answers_file_refuses(make_app: MakeApp,
                                                                 read_install: ReadInstall
                                                                 ) -> None:
    app = make_app(start_stage="credentials")
    app.choices.providers = ["github"]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await paste_into(pilot, "#app-client-id", "Iv1.abc")
        await paste_into(pilot, "#app-secret", "pasted-with-space ")
        assert problem_of(pilot, "field-app-secret") == (
            "has leading or trailing whitespace (a copy-paste slip?)")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
        assert "copy-paste slip" in text_of(pilot, "#outcome")
        # a new app needs both: client id without secret is refused before planning
        await paste_into(pilot, "#app-secret", "")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
        assert "a new app needs it" in problem_of(pilot, "field-app-secret")
    assert read_install().open_database().read_apps() == []


async def test_credentials_empty_form_skips_the_stage(make_app: MakeApp) -> None:
    app = make_app(start_stage="credentials")
    app.choices.providers = ["github"]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, CallbackScreen)


async def test_oidc_issuer_check_runs_in_a_worker(make_app: MakeApp) -> None:
    from tests.integration.oidc_servers import make_discovery_doc, run_doc_server

    app = make_app(start_stage="credentials")
    app.choices.providers = ["keycloak"]
    with run_doc_server() as server:
        server.doc("/realms/main/.well-known/openid-configuration",
                   lambda base: make_discovery_doc(base + "/realms/main"))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await paste_into(pilot, "#app-server-url", server.base_url + "/realms/main")
            await pilot.press("enter")  # entered: the check starts
            await settle(pilot)
            shown = text_of(pilot, "#issuer-findings")
            assert "Checking" not in shown
            assert server.requests == ["/realms/main/.well-known/openid-configuration"]
            assert "looks right" in shown or "issuer" in shown.lower()
            # a wrong issuer path is a finding on screen, not a crash
            await paste_into(pilot, "#app-server-url", server.base_url + "/realms/other")
            await pilot.press("ctrl+t")
            await settle(pilot)
            assert "404" in text_of(pilot, "#issuer-findings")


async def test_callback_invalid_site_url_blocks_next(make_app: MakeApp,
                                                     read_install: ReadInstall) -> None:
    app = make_app(start_stage="callback")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await paste_into(pilot, "#site-url", "inventree.example.com")
        assert problem_of(pilot, "field-site-url") == (
            "not a URL: scheme must be http or https, e.g. https://host")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, CallbackScreen)
    assert read_install().site_url == ""


async def test_callback_apply_writes_site_url_protocol_and_proxy(
        make_app: MakeApp, read_install: ReadInstall) -> None:
    app = make_app(start_stage="callback")
    app.choices.providers = ["github"]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await paste_into(pilot, "#site-url", "https://inventree.example.com/")
        assert str(app.screen.query_one("#protocol", Select).value) == "https"
        assert ("github: https://inventree.example.com/accounts/github/login/callback/"
                in text_of(pilot, "#callback-preview"))
        await paste_into(pilot, "#registered-url",
                        "http://inventree.example.com/accounts/github/login/callback")
        compare = text_of(pilot, "#compare-result")
        assert "scheme" in compare and "trailing slash" in compare
        app.screen.query_one("#forwarded-proto", Checkbox).value = True
        app.screen.query_one("#forwarded-host", Checkbox).value = True
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#confirm")
        await settle(pilot)
        assert isinstance(app.screen, CallbackScreen)
    inst = read_install()
    assert inst.site_url == "https://inventree.example.com"
    assert inst.value("login_default_protocol") == "https"
    assert inst.value("use_x_forwarded_proto") is True
    assert inst.value("use_x_forwarded_host") is True
    assert inst.value("use_x_forwarded_port") is False


async def test_settings_apply_writes_rows_and_validates_domains(
        make_app: MakeApp, read_install: ReadInstall) -> None:
    app = make_app(start_stage="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SettingsScreen)
        await paste_into(pilot, "#mail-restriction", "example.com")
        assert "each entry must look like @example.com" in problem_of(
            pilot, "field-mail-restriction")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, SettingsScreen)
        await paste_into(pilot, "#mail-restriction", "@example.com")
        assert problem_of(pilot, "field-mail-restriction") == ""
        app.screen.query_one("#login-enable-sso-reg", Checkbox).value = True
        app.screen.query_one("#group-sync", Checkbox).value = True
        await settle(pilot)
        assert app.screen.query_one("#group-fields").display
        await paste_into(pilot, "#group-map", '{"staff": "engineering"}')
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
    rows = read_install().open_database().read_settings()
    assert rows == {"LOGIN_ENABLE_SSO_REG": "True", "LOGIN_SIGNUP_MAIL_RESTRICTION": "@example.com",
                    "LOGIN_ENABLE_SSO_GROUP_SYNC": "True",
                    "SSO_GROUP_MAP": '{"staff": "engineering"}'}


async def test_email_apply_masks_password(make_app: MakeApp, read_install: ReadInstall) -> None:
    password = "mail-Pa55word"
    app = make_app(start_stage="email")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, EmailScreen)
        await paste_into(pilot, "#email-host", "smtp.example.com")
        await paste_into(pilot, "#email-port", "587")
        app.screen.query_one("#email-tls", Checkbox).value = True
        await paste_into(pilot, "#email-username", "inventree")
        await paste_into(pilot, "#email-password", password)
        await paste_into(pilot, "#email-sender", "inventree@example.com")
        assert password not in screen_svg(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert password not in text_of(pilot, "#plan-diff")
        assert "password" in text_of(pilot, "#plan-diff")
        await pilot.press("y")
        await settle(pilot)
        assert password not in screen_svg(pilot)
    inst = read_install()
    assert inst.value("email.host") == "smtp.example.com"
    assert inst.value("email.port") == 587
    assert inst.value("email.tls") is True
    assert inst.value("email.password") == password
    assert inst.value("email.sender") == "inventree@example.com"


async def test_email_rejects_bad_values(make_app: MakeApp) -> None:
    app = make_app(start_stage="email")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#email-port", "70000")
        assert problem_of(pilot, "field-email-port") == (
            "must be a port number between 1 and 65535")
        await paste_into(pilot, "#email-port", "465")
        await paste_into(pilot, "#email-sender", "not-an-address")
        assert problem_of(pilot, "field-email-sender") == (
            "not an email address (e.g. inventree@example.com)")
        await paste_into(pilot, "#email-sender", "inventree@example.com")
        app.screen.query_one("#email-tls", Checkbox).value = True
        app.screen.query_one("#email-ssl", Checkbox).value = True
        await settle(pilot)
        assert "tls and ssl are both true" in problem_of(pilot, "field-encryption")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, EmailScreen)


async def test_email_test_shows_steps_and_findings(make_app: MakeApp) -> None:
    from tests.integration.oidc_servers import refusing_port

    app = make_app(start_stage="email")
    with refusing_port() as port:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await paste_into(pilot, "#email-host", "127.0.0.1")
            await paste_into(pilot, "#email-port", str(port))
            await paste_into(pilot, "#email-password", "hunter2-secret")
            await pilot.press("ctrl+t")
            await settle(pilot)
            steps = text_of(pilot, "#smtp-steps")
            assert "connect" in steps and "✗" in steps
            assert "refused" in text_of(pilot, "#smtp-findings").lower()
            assert "hunter2-secret" not in screen_svg(pilot)


async def test_check_screen_runs_checks(make_app: MakeApp) -> None:
    app = make_app(start_stage="check")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CheckScreen)
        assert "Not working yet: 1 error(s)" in text_of(pilot, "#check-summary")
        assert "site_url is not set" in text_of(pilot, "#check-stage-callback")
        assert "No SSO app is stored yet" in text_of(pilot, "#check-providers")
        assert "Email is not configured" in text_of(pilot, "#check-email")
        assert "No SSO failure logged" in text_of(pilot, "#check-errors")
        await pilot.press("ctrl+n")  # Finish: back to the summary
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)


async def test_undo_from_summary_restores_the_config(make_app: MakeApp, sandbox: Sandbox,
                                                     read_install: ReadInstall) -> None:
    before = sandbox.config.read_text()
    app = make_app(start_stage="callback")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await paste_into(pilot, "#site-url", "https://inventree.example.com")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert read_install().site_url == "https://inventree.example.com"
        await pilot.press("ctrl+o")
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert "site_url = not set" in text_of(pilot, "#install")
    assert sandbox.config.read_text() == before


async def test_unreadable_install_is_shown_not_a_crash(tmp_path: Path) -> None:
    app = SsoWizardApp(str(tmp_path / "missing.yaml"), environ={}, cursor_blink=False,
                       start_stage="backends")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
        assert "config file does not exist" in text_of(pilot, "#install")
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
    assert app.return_code in (None, 0)


async def test_register_settings_fill_the_guide_and_the_credentials(make_app: MakeApp) -> None:
    app = make_app(start_stage="register")
    app.choices.providers = ["keycloak"]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "<SERVER_ORIGIN>" in text_of(pilot, "#guide")
        await paste_into(pilot, "#setting-server-url", "https://sso.example.com/realms/main")
        guide = text_of(pilot, "#guide")
        assert "<SERVER_ORIGIN>" not in guide and "https://sso.example.com" in guide
        await paste_into(pilot, "#site-url", "https://inventree.example.com")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
        assert app.screen.query_one("#app-server-url", Input).value == (
            "https://sso.example.com/realms/main")
        assert app.screen.query_one("#app-slug", Input).value == "keycloak"


async def test_missing_database_is_a_finding_on_screen(make_app: MakeApp,
                                                       sandbox: Sandbox) -> None:
    sandbox.database.unlink()
    app = make_app(start_stage="credentials")
    app.choices.providers = ["github"]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
        assert "database file does not exist" in text_of(pilot, "#stage-findings")
        await paste_into(pilot, "#app-client-id", "Iv1.abc")
        await paste_into(pilot, "#app-secret", SECRET)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CredentialsScreen)
        outcome = text_of(pilot, "#outcome")
        assert "nothing was written" in outcome and "does not exist" in outcome
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert "Database unavailable" in text_of(pilot, "#install")


async def test_docker_env_file_values_are_changed_where_the_server_reads_them(
        sandbox: Sandbox, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("INVENTREE_SITE_URL=http://old.example.com\n", encoding="utf-8")
    app = SsoWizardApp(str(sandbox.config), env_file=str(env_file), environ={},
                       cursor_blink=False, start_stage="callback")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "from env file (INVENTREE_SITE_URL)" in text_of(
            pilot, "#field-site-url > .field-hint")
        await paste_into(pilot, "#site-url", "https://inventree.example.com")
        await pilot.press("ctrl+s")
        await settle(pilot)
        diff = text_of(pilot, "#plan-diff")
        assert f"Env file {env_file}:" in diff
        assert "INVENTREE_SITE_URL: http://old.example.com -> https://inventree.example.com" in diff
        await pilot.press("y")
        await settle(pilot)
        assert "docker compose up -d" in text_of(pilot, "#outcome")
    assert "INVENTREE_SITE_URL=https://inventree.example.com" in env_file.read_text()
    inst = Instance.load(sandbox.config, env_file=env_file, environ={})
    assert inst.site_url == "https://inventree.example.com"


async def test_oidc_credentials_store_slug_and_issuer(make_app: MakeApp,
                                                      read_install: ReadInstall) -> None:
    app = make_app(start_stage="credentials")
    app.choices.providers = ["keycloak"]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#app-slug", Input).value == "keycloak"
        await paste_into(pilot, "#app-slug", "corp-sso")
        await paste_into(pilot, "#app-client-id", "inventree")
        await paste_into(pilot, "#app-secret", SECRET)
        app.screen.query_one("#app-server-url", Input).value = (
            "https://sso.example.com/realms/main")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert SECRET not in text_of(pilot, "#plan-diff")
        await pilot.press("y")
        await settle(pilot)
    (row,) = read_install().open_database().read_apps()
    assert (row.provider, row.provider_id, row.client_id) == ("openid_connect", "corp-sso",
                                                              "inventree")
    assert row.settings == {"server_url": "https://sso.example.com/realms/main"}
    assert row.secret == SECRET


async def test_screens_show_the_install_as_it_is_after_apply(make_app: MakeApp) -> None:
    app = make_app(start_stage="callback")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert text_of(pilot, "#field-site-url > .field-hint") == "Now: not set."
        await paste_into(pilot, "#site-url", "https://inventree.example.com")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert text_of(pilot, "#field-site-url > .field-hint") == (
            "Now: 'https://inventree.example.com', from config file.")
        assert "site_url is not set" not in text_of(pilot, "#stage-findings")


async def test_command_palette_opens_a_stage(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"email")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EmailScreen)
