"""``paperpack`` entry point: parse, call the library, map errors to exit codes.

Each sub-command lives in its own module in this package, exposing
``register(subparsers)``; the module sets ``func`` on its parser, a callable
``func(args) -> int``.

Only the module of the command asked for is imported (``paperpack validate`` never
loads the build, run or Docker code): measured with ``python -X importtime``, importing
every command module cost more than validating a one-notebook repository. Help for
``paperpack`` itself, or an unknown command, imports them all.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from .._version import __version__
from ..errors import EXIT_USAGE, PaperpackError

__all__ = ["main", "entry", "build_parser", "deprecated", "EXIT_BROKEN_PIPE"]

#: Sub-command modules, in the order ``--help`` lists them (``base_image`` is ``paperpack base-image``).
COMMANDS = (
    "validate",
    "init",
    "data",
    "build",
    "run",
    "lock",
    "base_image",
    "export",
    "rules",
    "badge",
    "binder",
    "doctor",
    "clean",
    "batch",
)

#: Exit status when the reader of stdout went away (``paperpack rules | head -1``): 128 + SIGPIPE, as a shell says.
EXIT_BROKEN_PIPE = 141

EPILOG = """\
exit codes:
  0    success: clean, or warnings only
  1    findings with severity error (or warnings with --strict), a failed build or notebook
  2    usage or configuration error (bad option, invalid paperpack.yml, missing engine)
  130  interrupted (Ctrl-C or SIGTERM)
  141  the reader of the output went away (e.g. `| head`); nothing is printed

Start with `paperpack validate PATH`, then `paperpack build PATH`.
Docs: docs/index.md (tutorial, how-to guides, reference)."""

#: options every command takes, before or after its name: flag -> takes a value
_GLOBAL_OPTIONS = {"-v": False, "--verbose": False, "-q": False, "--quiet": False, "--color": True}


class Parser(argparse.ArgumentParser):
    """argparse, with a ``hint:`` line under each usage error: the command's ``--help`` and the closest valid spelling."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        close = self._closest(message)
        guess = f"did you mean {close}? " if close else ""
        sys.stderr.write(f"hint: {guess}`{self.prog} --help` lists the options with examples\n")
        raise SystemExit(EXIT_USAGE)

    def _closest(self, message: str) -> str:
        """The valid option or choice nearest to what the message says was wrong, or ''."""
        choice = re.search(r"argument (\S+?): invalid choice: '([^']*)'", message)
        if choice:
            names, given = choice.group(1).split("/"), choice.group(2)
            for action in self._actions:
                if action.choices and (
                    set(names) & set(action.option_strings) or action.metavar in names or action.dest in names
                ):
                    found = difflib.get_close_matches(given, [str(c) for c in action.choices], n=1, cutoff=0.5)
                    if found:
                        return f"'{found[0]}'"
            return ""
        unknown = re.search(r"unrecognized arguments: (\S+)", message)
        if unknown:
            given = unknown.group(1).split("=")[0]
            options = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
            found = difflib.get_close_matches(given, options, n=1, cutoff=0.5)
            return f"'{found[0]}'" if found else ""
        return ""


def deprecated(old: str, new: str) -> None:
    """The one-line note an old spelling of an option prints on stderr (it still works)."""
    sys.stderr.write(f"note: {old} is deprecated and will be removed; use {new}\n")


def _command_of(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (after any global options), or ``None``."""
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if not item.startswith("-"):
            return item
        flag = item.split("=")[0]
        if flag not in _GLOBAL_OPTIONS and not re.fullmatch(r"-[vq]+", item):
            return None  # --help, --version, or a usage error: the full parser answers
        i += 2 if _GLOBAL_OPTIONS.get(flag) and "=" not in item else 1
    return None


def _module_name(command: str) -> str:
    return command.replace("-", "_")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command`` (a known sub-command), only that sub-command's module is imported."""
    parser = Parser(
        prog="paperpack",
        description="Turn a paper's repository into a verified, launchable, reproducible package.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"paperpack {__version__}")
    _add_common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = COMMANDS if command is None or _module_name(command) not in COMMANDS else (_module_name(command),)
    for name in wanted:
        importlib.import_module(f"{__package__}.{name}").register(sub)
    _add_common_everywhere(sub)
    return parser


def _add_common_everywhere(sub: argparse._SubParsersAction) -> None:
    """Give every sub-command, and every action of one (``data fetch``…), the common options."""
    for subparser in sub.choices.values():
        _add_common(subparser, suppress=True)
        for action in subparser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_common_everywhere(action)


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """-v/-q/--color, accepted before or after the sub-command."""
    # After the sub-command the defaults are suppressed, so they do not overwrite a value given before it.
    options: list[tuple[tuple[str, ...], dict[str, object]]] = [
        (("-v", "--verbose"), {"action": "count", "help": "say more (-vv for debug logs)", "default": 0}),
        (("-q", "--quiet"), {"action": "store_true", "help": "print only errors and the verdict", "default": False}),
        (
            ("--color",),
            {
                "choices": ("auto", "always", "never"),
                "help": "colour output (default: only on a terminal)",
                "default": "auto",
            },
        ),
    ]
    if suppress:
        for _, kwargs in options:
            kwargs["default"] = argparse.SUPPRESS
    for flags, kwargs in options:
        try:
            parser.add_argument(*flags, **kwargs)  # type: ignore[arg-type]
        except argparse.ArgumentError:
            pass  # the sub-command defines this flag itself


def _setup_logging(verbose: int, quiet: bool) -> None:
    """Log records of paperpack on stderr: drawn by rich on a terminal, plain lines otherwise (rich not imported)."""
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    if quiet:
        level = logging.ERROR
    handler: logging.Handler
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(stderr=True), show_time=False, show_path=False, markup=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger("paperpack")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """parse_args, with unrecognised options reported by the sub-command's parser (its --help, its options)."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        subparser = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) and getattr(args, "command", None) in action.choices:
                subparser = action.choices[args.command]
        subparser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_of(argv))
    try:
        args = _parse(parser, argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    _setup_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args))
    except PaperpackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _stdout_gone() -> int:
    """The reader of stdout went away: no traceback, and nothing more written at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        code = _stdout_gone()
    sys.exit(code)
