"""sso-wizard: guided SSO setup for self-hosted InvenTree servers.

The package root imports nothing heavy: start-up time is a feature.
"""

__version__ = "0.1.0"
