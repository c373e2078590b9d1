"""The Textual front end: screens that collect answers, show plans, apply them and show findings.

Nothing here reads SQL, YAML or HTTP directly: every read, plan, write and check goes through
`sso_wizard.core`, inside workers so the interface never freezes.
"""
