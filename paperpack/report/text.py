"""Human-readable output: findings grouped by file, colour only on a terminal."""

from __future__ import annotations

import os
import re
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.console import Console

from ..checks.findings import Finding, Severity
from ..util.terminal import printable
from . import Report

__all__ = ["render_text", "make_console", "make_text_console", "PlainConsole", "safe"]

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def make_console(stream: IO[str] | None = None, *, color: bool | str | None = None, soft_wrap: bool = True) -> Console:
    """A console that colours only when writing to a terminal, unless forced.

    ``color`` is the command line's ``auto``/``always``/``never`` (or ``None``/``True``/``False``).
    """
    from rich.console import Console

    forced = {"always": True, "never": False}.get(color, None) if isinstance(color, str) else color
    if forced is None:
        return Console(file=stream, highlight=False, soft_wrap=soft_wrap)
    return Console(file=stream, highlight=False, soft_wrap=soft_wrap, force_terminal=forced, no_color=not forced)


class Printer(Protocol):
    """What :func:`render_text` needs of a console: ``print`` of rich markup."""

    def print(self, *objects: Any) -> None: ...


#: a rich markup tag, or an escaped bracket (odd number of backslashes before it)
_TAG = re.compile(r"(\\*)\[([a-z#/@][^\[]*?)\]")


def escape(text: str) -> str:
    """``text`` as rich markup that shows it as it is (rich's markup rules; rich itself is not imported).

    A bracket that would open a tag gets a backslash, and the backslashes before it are doubled;
    a lone trailing backslash is doubled. tests/test_cli_flags.py checks it against rich.
    """

    def one(match: re.Match[str]) -> str:
        return match.group(1) * 2 + "\\[" + match.group(2) + "]"

    text = _TAG.sub(one, text)
    trailing = len(text) - len(text.rstrip("\\"))
    return text + "\\" if trailing == 1 else text


class PlainConsole:
    """Rich markup written as plain text: for output that is not a terminal, without importing rich.console.

    Tags are dropped and escaped brackets kept, as rich reads them; nothing else (no emoji
    codes, no wrapping) is interpreted, so text from a repository comes out as it is.
    """

    is_terminal = False

    def __init__(self, stream: IO[str]) -> None:
        self.file = stream

    @staticmethod
    def plain(markup: str) -> str:
        def one(match: re.Match[str]) -> str:
            pairs, escaped = divmod(len(match.group(1)), 2)  # each pair of backslashes is one backslash
            return "\\" * pairs + (f"[{match.group(2)}]" if escaped else "")

        return _TAG.sub(one, markup)

    def print(self, *objects: Any) -> None:
        self.file.write(" ".join(self.plain(str(o)) for o in objects) + "\n")


def make_text_console(stream: IO[str], *, color: str | None = None) -> Printer:
    """:func:`make_console` on a terminal (or with ``--color always`` or FORCE_COLOR), else a :class:`PlainConsole`."""
    isatty = getattr(stream, "isatty", None)
    if color == "always" or os.environ.get("FORCE_COLOR") or (color != "never" and isatty and isatty()):
        return make_console(stream, color=color)
    return PlainConsole(stream)


def safe(text: object, *, newlines: bool = False) -> str:
    """``text`` (from a repository: untrusted) ready for rich markup: no escape sequences, no markup.

    Control characters show as ``\\xNN``; ``newlines=True`` keeps line breaks (a traceback).
    """
    return escape(printable(str(text), newlines=newlines))


def _line(f: Finding) -> str:
    where = f"line {f.line}" if f.line else (f"cell {f.cell}" if f.cell is not None else "")
    sev = f.severity.value
    head = f"  [{_STYLE[f.severity]}]{sev:<7}[/] [dim]{f.rule}[/] "
    head += f"[bold]{safe(where)}[/]: " if where else ""
    out = head + safe(f.message)
    if f.why:
        out += f"\n           [dim]why:[/] {safe(f.why)}"
    if f.fix:
        out += f"\n           [green]fix:[/] {safe(f.fix)}"
    return out


def render_text(
    report: Report, console: Printer, *, strict: bool = False, verbose: bool = False, quiet: bool = False
) -> None:
    """Findings grouped by file, then the verdict; ``quiet``: only the errors and the verdict."""
    if quiet:
        errors = [f for f in report.findings.sorted() if f.severity is Severity.ERROR]
        for f in errors:
            console.print(f"[bold red]error[/] [dim]{f.rule}[/] {safe(f.where)}: {safe(f.message)}")
            if f.fix:
                console.print(f"  [green]fix:[/] {safe(f.fix)}")
        console.print(f"[{'bold red' if report.failed(strict) else 'bold green'}]{escape(report.verdict(strict))}[/]")
        return
    env = report.environment or {}
    if env.get("summary"):
        console.print(f"[bold]environment[/]: {safe(env['summary'])}")
    if report.checked and report.checked.get("summary"):
        console.print(f"[bold]checked[/]: {safe(report.checked['summary'])}")
    for path, items in report.findings.by_path().items():
        shown = [f for f in items if verbose or f.severity is not Severity.INFO]
        if not shown:
            continue
        console.print(f"\n[bold underline]{safe(path)}[/]")
        for f in shown:
            console.print(_line(f))
    hidden = report.findings.infos if not verbose else 0
    style = "bold red" if report.failed(strict) else "bold green"
    console.print()
    tail = f" ({hidden} info finding{'s' * (hidden != 1)} hidden; -v shows them)" if hidden else ""
    console.print(f"[{style}]{escape(report.verdict(strict))}[/]{tail}")
