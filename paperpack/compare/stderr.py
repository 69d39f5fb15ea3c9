"""Python warnings printed on stderr, taken out of the comparison and reported on their own.

A newer library version adds a DeprecationWarning or a FutureWarning; the results are still
the same, so a new warning is not a difference: the notebook is *same, with new warnings*,
and the warnings are listed. ``warnings.showwarning`` prints ``FILE:LINE: CATEGORY: MESSAGE``
and then, indented, the source line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PrintedWarning", "split_warnings"]

HEADER = re.compile(r"^\S.*?:\d+: (?P<category>[A-Z]\w*Warning): (?P<message>.*)$")


@dataclass(frozen=True)
class PrintedWarning:
    """One printed warning: its category and message (file and line left out)."""

    category: str
    message: str

    def __str__(self) -> str:
        return f"{self.category}: {self.message}"


def split_warnings(text: str) -> tuple[str, list[PrintedWarning]]:
    """``text`` without its warnings, and the warnings in order."""
    kept: list[str] = []
    found: list[PrintedWarning] = []
    in_warning = False
    for line in text.split("\n"):
        header = HEADER.match(line)
        if header:
            found.append(PrintedWarning(header["category"], header["message"].strip()))
            in_warning = True
            continue
        if in_warning and line[:1] in (" ", "\t") and line.strip():
            continue  # the source line printed under the warning
        in_warning = False
        kept.append(line)
    return "\n".join(kept), found
