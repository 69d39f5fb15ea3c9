"""Text from notebooks made safe for a terminal or a CI log.

A notebook's error text is untrusted: an ANSI escape sequence in it can move the cursor,
clear the screen or set the window title, and so hide a failure from the person reading
the output. IPython colours every traceback with ANSI codes, so they are common too.
:func:`strip_ansi` removes escape sequences; :func:`printable` also shows every other
control character as a visible escape (``\\x07``), keeping newlines (and tabs) only where
asked, so a traceback stays readable.
"""

from __future__ import annotations

import re

__all__ = ["strip_ansi", "printable"]

#: CSI (colours, cursor moves), OSC (titles, hyperlinks; ended by BEL or ESC \), and the
#: two-character escapes (ESC c resets the terminal).
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b[@-Z\\-_]|\x1b.?"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_NO_NEWLINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences (colours, cursor moves, titles)."""
    return _ANSI.sub("", text) if ("\x1b" in text or "\x9b" in text) else text


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` with escape sequences removed and other control characters shown as ``\\xNN``.

    ``newlines=True`` keeps ``\\n`` and ``\\t`` (a traceback); ``False`` escapes them too (one line).
    A carriage return is always escaped: it would let later text overwrite a line.
    """
    text = strip_ansi(text)
    pattern = _CONTROL if newlines else _CONTROL_NO_NEWLINE
    return pattern.sub(_visible, text)
