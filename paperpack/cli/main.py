"""``paperpack`` entry point: parse, call the library, map errors to exit codes.

Each sub-command lives in its own module in this package, exposing
``register(subparsers)``; the module sets ``func`` on its parser, a callable
``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from .._version import __version__
from ..errors import EXIT_USAGE, PaperpackError

__all__ = ["main", "entry", "build_parser"]

#: Sub-command modules, in the order ``--help`` lists them.
COMMANDS = ("validate", "init", "data", "build", "run", "lock", "base_image", "export", "rules", "badge", "binder")

EPILOG = """\
exit codes:
  0  success: clean, or warnings only
  1  findings with severity error (or warnings with --strict), a failed build or notebook
  2  usage or configuration error (bad option, invalid paperpack.yml, missing engine)

Start with `paperpack validate PATH`, then `paperpack build PATH`.
Docs: docs/cli.md, docs/manifest.md, docs/rules.md."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperpack",
        description="Turn a paper's repository into a verified, launchable, reproducible package.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"paperpack {__version__}")
    _add_common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
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
        (("--color",), {"choices": ("auto", "always", "never"), "help": "colour output (default: only on a terminal)",
                        "default": "auto"}),
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
    from rich.console import Console
    from rich.logging import RichHandler

    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    if quiet:
        level = logging.ERROR
    handler = RichHandler(console=Console(stderr=True), show_time=False, show_path=False, markup=False)
    root = logging.getLogger("paperpack")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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


def entry() -> None:
    sys.exit(main())
