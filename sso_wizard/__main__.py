from sso_wizard.cli import main

if __name__ == "__main__":
    main()
