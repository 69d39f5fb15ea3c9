"""Human-readable output: findings grouped by file, colour only on a terminal."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.markup import escape

from ..findings import Finding, Severity
from ..terminal import printable
from . import Report

__all__ = ["render_text", "make_console", "safe"]

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def make_console(stream: IO[str] | None = None, *, color: bool | str | None = None,
                 soft_wrap: bool = True) -> Console:
    """A console that colours only when writing to a terminal, unless forced.

    ``color`` is the command line's ``auto``/``always``/``never`` (or ``None``/``True``/``False``).
    """
    forced = {"always": True, "never": False}.get(color, None) if isinstance(color, str) else color
    if forced is None:
        return Console(file=stream, highlight=False, soft_wrap=soft_wrap)
    return Console(file=stream, highlight=False, soft_wrap=soft_wrap, force_terminal=forced, no_color=not forced)


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


def render_text(report: Report, console: Console, *, strict: bool = False, verbose: bool = False) -> None:
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
    hidden = sum(1 for f in report.findings if f.severity is Severity.INFO) if not verbose else 0
    style = "bold red" if report.failed(strict) else "bold green"
    console.print()
    tail = f" ({hidden} info finding{'s' * (hidden != 1)} hidden; -v shows them)" if hidden else ""
    console.print(f"[{style}]{escape(report.verdict(strict))}[/]{tail}")
