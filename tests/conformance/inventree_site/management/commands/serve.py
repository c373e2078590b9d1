"""Serve the site with a real WSGI server (werkzeug, threaded) until stdin closes.

`--fd N` serves on an already listening socket the parent process bound (so site_url, which names
the port, can be written before the server starts); `--port` binds 127.0.0.1 itself. Prints
`READY <url>` once the server accepts requests.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the conformance site until standard input closes."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--fd", type=int, default=None)
        parser.add_argument("--port", type=int, default=0)

    def handle(self, *args: Any, fd: int | None, port: int, **options: Any) -> None:
        import werkzeug.serving

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = werkzeug.serving.make_server("127.0.0.1", port, WSGIHandler(), threaded=True,
                                              fd=fd)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        sys.stdout.write(f"READY http://127.0.0.1:{server.port}\n")
        sys.stdout.flush()
        try:
            sys.stdin.read()  # the parent closes our stdin to stop us
        finally:
            server.shutdown()
            server.server_close()
