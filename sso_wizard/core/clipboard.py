"""Copy text to the admin's *local* clipboard over SSH with the OSC 52 escape sequence.

The terminal emulator on the admin's machine (not the server) interprets OSC 52 and puts the
text on its clipboard, so a callback URL can be pasted into a provider's web console even when
the wizard runs on a remote InvenTree server. Support varies: kitty, WezTerm, iTerm2 (with
"Applications in terminal may access clipboard"), Windows Terminal, foot, Alacritty and xterm
(``allowWindowOps``) accept it; GNOME Terminal / VTE-based terminals do not. Inside tmux the
sequence must be wrapped for passthrough (tmux 3.3+ also needs ``set -g allow-passthrough on``,
or ``set -g set-clipboard on`` for the plain form); GNU screen needs DCS wrapping in chunks.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Literal, TextIO

__all__ = ["MAX_OSC52_BYTES", "Multiplexer", "copy", "detect_multiplexer", "osc52"]

Multiplexer = Literal["tmux", "screen"]

ESC = "\x1b"
BEL = "\x07"
ST = ESC + "\\"  # string terminator

# Many terminals drop OSC 52 payloads larger than about 100 kB (hterm, tmux's buffer limit is
# similar); a URL is far below that.
MAX_OSC52_BYTES = 100_000
_SCREEN_CHUNK = 76  # GNU screen limits the length of one DCS string


def osc52(text: str, multiplexer: Multiplexer | None = None, *, selection: str = "c") -> str:
    """The escape sequence that sets the clipboard (``selection`` "c") to ``text``.

    ``multiplexer``: None for a bare terminal, "tmux" or "screen" to wrap the sequence so it
    passes through to the outer terminal. Raises ValueError when the payload is too large for
    terminals to accept.
    """
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    if len(payload) > MAX_OSC52_BYTES:
        raise ValueError(f"text too long for OSC 52 ({len(payload)} base64 bytes, "
                         f"limit {MAX_OSC52_BYTES})")
    if multiplexer is None:
        return f"{ESC}]52;{selection};{payload}{BEL}"
    if multiplexer == "tmux":
        # DCS passthrough: every ESC inside is doubled.
        return f"{ESC}Ptmux;{ESC}{ESC}]52;{selection};{payload}{BEL}{ST}"
    if multiplexer == "screen":
        # One DCS per chunk: screen forwards each chunk's content to the outer terminal.
        chunks = [payload[i:i + _SCREEN_CHUNK] for i in range(0, len(payload), _SCREEN_CHUNK)]
        body = f"{ST}{ESC}P".join(chunks)
        return f"{ESC}P{ESC}]52;{selection};{body}{BEL}{ST}"
    raise ValueError(f"unknown multiplexer {multiplexer!r}; use None, 'tmux' or 'screen'")


def detect_multiplexer(environ: Mapping[str, str]) -> Multiplexer | None:
    """tmux if $TMUX is set; screen if $STY is set or $TERM starts with "screen"; else None.

    $TMUX is checked first because tmux also sets TERM=screen* by default.
    """
    if environ.get("TMUX"):
        return "tmux"
    if environ.get("STY") or environ.get("TERM", "").startswith("screen"):
        return "screen"
    return None


def copy(text: str, stream: TextIO, environ: Mapping[str, str]) -> None:
    """Write the OSC 52 sequence for ``text`` to ``stream`` (a terminal), wrapped as needed."""
    stream.write(osc52(text, detect_multiplexer(environ)))
    stream.flush()
