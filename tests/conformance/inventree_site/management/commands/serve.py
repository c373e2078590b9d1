"""Serve the site with a real WSGI server (werkzeug, threaded) until stdin closes.

`--fd N` serves on an already listening socket the parent process bound (so site_url, which names
the port, can be written before the server starts); `--port` binds 127.0.0.1 itself; with
`--certfile/--keyfile` it speaks TLS, like an InvenTree whose site_url is https. Prints
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
        parser.add_argument("--certfile", default=None)
        parser.add_argument("--keyfile", default=None)

    def handle(self, *args: Any, fd: int | None, port: int, certfile: str | None,
               keyfile: str | None, **options: Any) -> None:
        import ssl

        import werkzeug.serving

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        tls = None
        if certfile:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(certfile, keyfile)
        server = werkzeug.serving.make_server("127.0.0.1", port, WSGIHandler(), threaded=True,
                                              fd=fd, ssl_context=tls)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        scheme = "https" if tls else "http"
        sys.stdout.write(f"READY {scheme}://127.0.0.1:{server.port}\n")
        sys.stdout.flush()
        try:
            sys.stdin.read()  # the parent closes our stdin to stop us
        finally:
            server.shutdown()
            server.server_close()
