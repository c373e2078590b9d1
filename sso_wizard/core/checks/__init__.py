"""Network checks (async, read-only): SMTP, OAuth/OpenID Connect, the running server."""
