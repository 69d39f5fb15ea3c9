"""``paperpack run``: run every notebook end to end and say whether it gives the same results.

The command parses its options into :class:`~paperpack.verify.VerifyOptions`, calls
:func:`~paperpack.verify.verify` (the run stage only) and renders the result.
``paperpack build`` shares :func:`add_run_arguments`, :func:`run_settings`,
:class:`ConsoleObserver` and :func:`show_run`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..checks.findings import Severity
from ..errors import EXIT_FINDINGS, EXIT_OK
from ..report import Report
from ..report.paper import PaperClass, Reason
from ..report.text import make_console, safe
from ..repository.manifest import run_limit
from ..repository.repo import DEFAULT_OUTPUT, Repo
from ..run import Limits, RunEvent, RunResult
from ..run.engines import FOUND, EngineChoice
from ..run.plan import DEFAULT_CELL_TIMEOUT, DEFAULT_DISK, DEFAULT_MEMORY, DEFAULT_PIDS, DEFAULT_TIMEOUT
from ..timemachine import AsOfChoice, AsOfMode
from ..util.atomic import write_json_atomic
from ..util.terminal import printable
from ..verify import ENGINES, Observer, Result, RunSettings, Stage, VerifyOptions, verify
from . import _buildview
from ._buildview import BuildView, plain_console
from .lock import as_of_option

if TYPE_CHECKING:
    from ..image.builder import BuildResult

__all__ = [
    "register",
    "add_run_arguments",
    "add_cache_argument",
    "run_settings",
    "show_run",
    "show_validation",
    "ConsoleObserver",
    "parse_parameters",
    "EXIT_INTERRUPTED",
    "paper_exit",
    "paper_line",
    "show_paper",
]

EXIT_INTERRUPTED = 130
HELP = "run every notebook end to end and compare with the committed outputs"
DESCRIPTION = """\
Run every notebook of the repository at PATH end to end — in a container of the image
`paperpack build` made, or in a local virtual environment built from requirements.txt —
and compare each with its committed outputs.

The image: --image TAG, else the one `paperpack build PATH` made for this exact state of
the repository (its content-addressed tag), when it is in the local image store.
--engine auto without that image: when the machine is the reason (no usable Docker, a
base image or the buildx plugin not installed), the notebooks run with the local engine,
with a note saying why; when the repository is (no image built for this state of it, a
tag its files do not allow to work out), the run stops (exit 2): run `paperpack build
PATH`, or pass --engine local knowingly. The local engine is less isolated: notebook code
runs as you, on your files; no network, limits, paperpack's caches read-only and the
Docker socket hidden only where the machine allows — the label says what was applied.
--engine docker without that image is an error naming the tag it looked for.

Each notebook gets a verdict: same (results match, within tolerance), same-with-warnings
(the same, and the run printed new Python warnings: listed), differs (which cells, with
a short diff), failed (where — code cell 3 (In [7]) — the root cause and the fix: no
network, a missing input, a NumPy 1 package… then the error), reproduces-error (the cell
fails with the error the committed notebook shows), no-outputs (nothing committed to
compare with) or skipped. Text from notebooks is printed with control characters escaped.

The last line is the paper's verdict ("paper: reproduced 3/3"). Exit 0 when the paper is
reproduced (or with minor differences), else 1 (--allow-differs: notebooks that ran but
differ pass), 2 on a usage error, 130 when interrupted (the partial report is marked
incomplete). The sources are never modified: executed copies, report.json and the other
reports (docs/reports.md) go to the output folder, PATH/paperpack-out by default (inside
the repository: ignore it in git, or use -o DIR; outside it with --untrusted).

examples:
  paperpack build . --no-run && paperpack run .    # runs in the image just built
  paperpack run .                                  # auto: that image (local only if no Docker)
  paperpack run . --engine docker                  # the image of this state, or exit 2
  paperpack run . --image paperpack/paper:3f2a --jobs 4
  paperpack run . --engine local -p n_samples 100  # reduced-size run for CI
  paperpack run . --timeout 600 --cell-timeout 120 --memory 4g --format json"""

FOUND_TEXT = "found as the image `paperpack build` made for this state of the repository"
VERDICT_STYLE = {
    "same": "green",
    "same-with-warnings": "green",
    "no-outputs": "cyan",
    "differs": "yellow",
    "failed": "red",
    "skipped": "dim",
    "reproduces-error": "magenta",
}


def parse_value(text: str) -> Any:
    """A -p value: JSON (numbers, true/false, null, lists, "strings"), Python's True/False/None, else text."""
    python = {"True": True, "False": False, "None": None}
    if text in python:
        return python[text]
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_parameters(pairs: list[list[str]] | None) -> dict[str, Any]:
    return {name: parse_value(value) for name, value in (pairs or [])}


def positive_int(text: str) -> int:
    """An argparse type: a whole number above zero."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number of seconds above zero (not a run limit: those go through :func:`limit`)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def limit(name: str) -> Callable[[str], Any]:
    """An argparse type for the run limit ``name``: the manifest's rule for ``run.<name>`` (one check for both)."""

    def parse(text: str) -> Any:
        try:
            return run_limit(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def add_run_arguments(parser: argparse.ArgumentParser, *, out_action: type[argparse.Action] | None = None) -> None:
    """The options of a notebook run (shared by ``paperpack run`` and ``paperpack build``).

    Limits are checked by the manifest's rules (:func:`~paperpack.repository.manifest.run_limit`); their
    defaults are the run plan's (tests/test_defaults_documented.py keeps help, docs and schema equal).
    ``out_action``: how ``-o/--out-dir`` is stored (build also reads an old ``-o REPORT.json``).
    """
    group = parser.add_argument_group("running notebooks (a value here wins over paperpack.yml's run: section)")
    group.add_argument(
        "--jobs",
        "-j",
        type=limit("jobs"),
        metavar="N",
        help="notebooks run at once (default: run.jobs in paperpack.yml, else the number of cores)",
    )
    group.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        dest="parameters",
        help="inject NAME = VALUE after the cell tagged `parameters` (papermill-style), in every "
        "notebook; VALUE is read as JSON when it can be (repeatable)",
    )
    group.add_argument(
        "--timeout",
        type=limit("timeout"),
        metavar="S",
        help=f"per-notebook timeout in seconds (default {DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "--cell-timeout",
        type=limit("cell_timeout"),
        metavar="S",
        help=f"per-cell timeout in seconds (default {DEFAULT_CELL_TIMEOUT:g})",
    )
    group.add_argument(
        "--memory",
        type=limit("memory"),
        metavar="SIZE",
        help=f"memory limit per container, e.g. 2g (default {DEFAULT_MEMORY})",
    )
    group.add_argument(
        "--pids",
        type=limit("pids"),
        metavar="N",
        help=f"process limit per container, at least 16 (default {DEFAULT_PIDS})",
    )
    group.add_argument(
        "--disk",
        type=limit("disk"),
        metavar="SIZE",
        help="docker engine: what a run may write, in its working folder and in each container's "
        f"/tmp, e.g. 4g (default {DEFAULT_DISK}; memory-backed)",
    )
    group.add_argument(
        "--cpus",
        type=limit("cpus"),
        metavar="N",
        help="CPU limit per container (default: --jobs, at most the number of cores)",
    )
    group.add_argument(
        "--isolate",
        action="store_true",
        help="one container per notebook, so the memory and process limits apply to each alone",
    )
    group.add_argument(
        "-o",
        "--out-dir",
        dest="out",
        type=Path,
        metavar="DIR",
        action=out_action or "store",
        help=f"output folder for executed notebooks and report.json (default: PATH/{DEFAULT_OUTPUT}, "
        "in the repository: ignore it in git, or give another folder)",
    )
    group.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="also write a copy of report.json (schemas/paperpack.report.v1.json) to FILE, atomically",
    )
    group.add_argument(
        "--untrusted",
        action="store_true",
        default=None,
        help="the repository is someone else's (a submission): the default output folder goes "
        "outside it, under paperpack's state folder (also PAPERPACK_UNTRUSTED=1)",
    )
    group.add_argument(
        "--as-of",
        type=as_of_option,
        default=AsOfChoice(AsOfMode.AUTO),
        metavar="auto|DATE|off",
        help="after failures that look like dependency drift, rerun with dependencies as of the "
        "repository's date (auto, the default), as of DATE (always), or never (off); "
        "docs/time-machine.md",
    )
    group.add_argument(
        "--allow-differs",
        action="store_true",
        help="exit 0 when notebooks run but give different results (journals should not use this)",
    )


def add_cache_argument(parser: argparse.ArgumentParser) -> None:
    """``--cache-dir``: the same folder as PAPERPACK_CACHE_DIR, for ``build``, ``run`` and ``data`` alike."""
    parser.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="paperpack's cache folder, as PAPERPACK_CACHE_DIR (default: that variable, else the "
        "user cache folder); fetched data is in DIR/data either way",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", nargs="?", default=".", type=Path, help="the paper repository (default: .)")
    p.add_argument(
        "--image",
        metavar="TAG",
        help="the image to run in (default: the one `paperpack build PATH` made for this state of "
        "the repository, if it exists)",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="docker (--image, or the image of this repository state: an error if it is missing), "
        "local (a virtual environment; less isolated), auto (default: docker when --image is "
        "given — an error if Docker does not answer — or when the image of this repository "
        "state exists; local, with a note saying why, only when this machine has no usable "
        "Docker, base image or buildx; else an error: build the image first)",
    )
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default), json (the report's run section) on stdout",
    )
    add_cache_argument(p)
    add_run_arguments(p)
    p.set_defaults(func=_run)


def run_settings(args: argparse.Namespace, engine: str) -> RunSettings:
    """The run options of ``paperpack run`` or ``paperpack build`` as typed settings."""
    limits = Limits(
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        memory=args.memory,
        pids=args.pids,
        cpus=args.cpus,
        disk=args.disk,
    )
    return RunSettings(
        engine=engine,
        image=getattr(args, "image", None),
        jobs=args.jobs,
        parameters=parse_parameters(args.parameters),
        limits=limits,
        isolate=args.isolate,
        untrusted=args.untrusted,
        out_dir=args.out,
        allow_differs=args.allow_differs,
    )


def _run(args: argparse.Namespace) -> int:
    json_out = args.format == "json"
    console = make_console(sys.stderr if json_out else sys.stdout, color=args.color, soft_wrap=False)
    observer = ConsoleObserver(console, console, quiet=args.quiet, verbose=args.verbose > 0)
    options = VerifyOptions(
        stages=frozenset({Stage.RUN}),
        run=run_settings(args, args.engine),
        cache_dir=args.cache_dir,
        progress=observer,
        shown_path=str(args.path),
        as_of=getattr(args, "as_of", AsOfChoice(AsOfMode.OFF)),
    )
    result = verify(args.path, options)
    if args.report:
        write_json_atomic(args.report, result.report)
    code = show_run(result, console, json_out=json_out, quiet=args.quiet)
    show_paper(result, console, make_console(sys.stderr, color=args.color))
    return code


def show_run(result: Result, console: Console, *, json_out: bool, quiet: bool, whole_report: bool = False) -> int:
    """Show the run of ``result`` (verdicts, or JSON on stdout: its run section and the paper verdict, or
    ``whole_report``); the exit code of :func:`paper_exit`."""
    run = result.run
    assert run is not None and result.engine is not None
    if json_out:
        doc = result.report if whole_report else dict(result.report["run"], paper=result.report.get("paper"))
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    elif quiet:
        console.print(run.summary())
    else:
        render_verdicts(run, console, found=result.engine.source == FOUND)
    dated = run.dated
    if dated is not None and not json_out:
        console.print(Text(printable(dated.verdict(), newlines=False), style="bold"))
        if dated.fix:
            console.print(safe(f"fix: {dated.fix}"))
    return paper_exit(result)


def paper_exit(result: Result) -> int:
    """The run's exit code, from the paper verdict: 0 for reproduced (with or without minor differences) and for a
    partial verdict only because some notebooks have no committed outputs to compare (nothing failed or
    differed: a repository that strips outputs must not fail CI), 130 when interrupted, else 1. ``allow_differs``: 0 also when notebooks ran and only gave other results; no
    run asked for (``build --no-run``): 0. Validation is the caller's to add."""
    verdict = result.verdict
    if not result.complete:
        return EXIT_INTERRUPTED
    if verdict.cls.passed or verdict.reasons == (Reason.NOT_REQUESTED,):
        return EXIT_OK
    if (
        verdict.cls is PaperClass.PARTIALLY_REPRODUCED
        and not result.run_failed
        and not (verdict.counts.get("failed") or verdict.counts.get("differs"))
    ):
        return EXIT_OK  # nothing failed or differed; notebooks without committed outputs could not be compared
    if result.options.run.allow_differs and verdict.cls is not PaperClass.NOT_RUN and not result.run_failed:
        return EXIT_OK
    return EXIT_FINDINGS


def paper_line(result: Result) -> str:
    """The last line: "paper: partially reproduced 2/3 (timeout)"."""
    verdict = result.verdict
    why = f" ({', '.join(r.value for r in verdict.reasons)})" if verdict.reasons else ""
    return f"paper: {verdict.label()}{why}"


def show_paper(result: Result, console: Console, err: Console) -> None:
    """Report files that could not be written (on ``err``: the file and the cause), then the paper's last line."""
    for name, why in result.published.failed.items() if result.published else ():
        err.print(
            f"[red]error:[/] could not write {escape(name)}: {safe(why)} — the other reports were written; "
            f"fix: make that path in the output folder writable (or pass another -o/--out-dir) and run again"
        )
    console.print(Text(paper_line(result), style="bold green" if result.verdict.cls.passed else "bold"))


class ConsoleObserver(Observer):
    """What :func:`~paperpack.verify.verify` says, drawn on consoles.

    ``status`` gets validation, the engine note, data and the build; ``run`` the run's
    progress (and the verdicts, drawn by the caller). ``quiet``: errors and notes only.
    """

    def __init__(self, status: Console, run: Console, *, quiet: bool, verbose: bool) -> None:
        self.status = status
        self.console = run
        self.quiet = quiet
        self.verbose = verbose
        self.view: BuildView | None = None
        self.display: Progress | None = None
        self.previous_sigterm: Any = None

    def validated(self, report: Report) -> None:
        show_validation(report, self.status, quiet=self.quiet, verbose=self.verbose)

    def engine_chosen(self, choice: EngineChoice) -> None:
        if choice.note:
            self.status.print(Text(f"{choice.note}.", style="yellow"))
        elif choice.source == FOUND and not self.quiet:
            self.status.print(f"image: {choice.image} — {FOUND_TEXT}")

    def message(self, text: str) -> None:
        if not self.quiet:
            self.status.print(escape(text))

    def build_started(self, repo: Repo) -> Callable[[str], None]:
        self.view = BuildView(self.status, title=f"building {repo.root.name}", verbose=self.verbose, quiet=self.quiet)
        return self.view.__enter__()

    def build_finished(self, result: BuildResult | None) -> None:
        if self.view is not None:
            self.view.__exit__(None, None, None)
            self.view = None
        if result is None or self.quiet:
            return
        what = "reused (unchanged)" if result.reused else f"built in {result.duration:.1f} s"
        self.status.print(f"[bold]{result.image}[/]  {what}, {result.mode} mode, Python {result.python_version or '?'}")
        if result.substitution:
            self.status.print(f"[yellow]substitution:[/] {escape(result.substitution)}")
        if result.pushed:
            self.status.print("pushed")
        if result.log_path:
            self.status.print(f"[dim]build log: {result.log_path}[/]")

    def run_started(self) -> None:
        self.previous_sigterm = _sigterm_as_interrupt()
        self.display = Progress(self.console, quiet=self.quiet).__enter__()

    def run_event(self, event: RunEvent) -> None:
        if self.display is not None:
            self.display.update(event)

    def run_finished(self) -> None:
        try:
            if self.display is not None:
                self.display.__exit__(None, None, None)
                self.display = None
        finally:
            if self.previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self.previous_sigterm)
                self.previous_sigterm = None


def show_validation(report: Report, console: Console, *, quiet: bool, verbose: bool) -> None:
    """Errors and warnings from validation, briefly; the full list is `paperpack validate`'s job."""
    shown = [f for f in report.findings.sorted() if f.severity is not Severity.INFO]
    if quiet and not report.findings.errors:
        return
    for f in shown if (verbose or len(shown) <= 12) else shown[:12]:
        style = "red" if f.severity is Severity.ERROR else "yellow"
        console.print(f"[{style}]{f.severity.value}[/] {f.rule} {escape(f.where)}: {escape(f.message)}")
    if len(shown) > 12 and not verbose:
        console.print(f"… and {len(shown) - 12} more; `paperpack validate` lists them with the fixes")
    console.print(f"validation: {report.verdict()}")


def _sigterm_as_interrupt() -> Any:
    """SIGTERM (a CI runner cancelling) stops a run like Ctrl-C: containers removed, partial report."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


class Progress:
    """One live line per notebook on a terminal; one line per finished notebook otherwise."""

    def __init__(self, console: Console, quiet: bool):
        self.console = console
        self.quiet = quiet
        self.rows: dict[str, str] = {}
        self.times: dict[str, tuple[float, float]] = {}  # path -> (first cell, last line printed), monotonic
        self.lock = threading.Lock()
        self.live: Live | None = None

    def __enter__(self) -> Progress:
        if not self.quiet and not plain_console(self.console):
            self.live = Live(self._table(), console=self.console, refresh_per_second=8, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def _alive(self, path: str) -> None:
        """In a log: a line per notebook every ALIVE_EVERY seconds while it runs, with the cell it is at."""
        if self.live is not None:
            return
        now = time.monotonic()
        started, last = self.times.setdefault(path, (now, now))
        if now - last >= _buildview.ALIVE_EVERY:
            self.times[path] = (started, now)
            self.console.print(safe(f"{path}: {self.rows[path]}, {now - started:.0f} s"))

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        for path, state in self.rows.items():
            table.add_row(Text(printable(path, newlines=False)), state)
        return table

    def update(self, event: RunEvent) -> None:
        if self.quiet or not event.path:
            return
        with self.lock:
            if event.kind == "queued":
                self.rows[event.path] = "queued"
            elif event.kind == "start":
                self.rows[event.path] = "starting the kernel"
            elif event.kind == "cell":
                # counted from 1 over every cell, as "cell N" is named where the cell type is unknown
                self.rows[event.path] = f"cell {(event.cell or 0) + 1} of {event.cells}"
                self._alive(event.path)
            elif event.kind == "done":
                self.rows[event.path] = str(event.verdict)
                if self.live is None:
                    self.console.print(
                        safe(f"{event.path}: {event.verdict}" + (f" — {event.message}" if event.message else ""))
                    )
            if self.live is not None:
                self.live.update(self._table())


def first_line(message: str | None) -> str:
    """A verdict's message as one table line: its first line, and "…" when more follows (report.json has it all)."""
    first, _, rest = (message or "").strip().partition("\n")
    return first.rstrip() + (" …" if rest.strip() else "")


def render_verdicts(result: RunResult, console: Console, *, found: bool = False) -> None:
    """The verdict table; ``found``: the image was found as the one `paperpack build` made for this state."""
    title = f"notebooks ({result.engine} engine" + (f", image {result.image})" if result.image else ")")
    table = Table(title=title, caption=FOUND_TEXT if found and result.image else None, show_lines=False)
    for column in ("notebook", "verdict", "time", "details"):
        table.add_column(column, overflow="fold")
    for nb in result.notebooks:
        duration = f"{nb.duration:.1f} s" if nb.duration is not None else "-"
        table.add_row(
            Text(printable(nb.path, newlines=False)),
            Text(nb.verdict, style=VERDICT_STYLE.get(nb.verdict, "")),
            duration,
            Text(printable(first_line(nb.message), newlines=False)),
        )
    console.print(table)
    for nb in result.notebooks:
        for difference in (nb.comparison or {}).get("differences", [])[:3]:
            where = difference.get("where") or f"cell {difference['cell'] + 1}"
            console.print(f"[bold]{safe(nb.path)}[/bold], {safe(where)}: {safe(difference['reason'])}")
            if difference.get("diff"):
                console.print(Text(printable(difference["diff"])), style="dim")
        if nb.parameters:
            console.print(
                safe(f"{nb.path} ran with parameters: " + ", ".join(f"{k}={v!r}" for k, v in nb.parameters.items()))
            )
    if result.engine == "local":
        console.print(Text(result.isolation, style="yellow"))
    console.print(f"[bold]{result.summary()}[/bold]  (report: {result.out_dir / 'report.json'})")
