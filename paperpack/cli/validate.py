"""``paperpack validate``.

Only what validating needs is imported, and rich only to draw on a terminal: this command
is run often, and whole-process time is what its users feel (benchmarks/bench_validate.py;
tests/test_cli_imports.py keeps heavy modules out).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from ..errors import EXIT_FINDINGS, EXIT_OK
from ..repository.repo import DEFAULT_OUTPUT

HELP = "check a paper repository and say what would stop others from re-running it"
DESCRIPTION = f"""\
Check the repository at PATH: the manifest (paperpack.yml), environment files
(exactly as repo2docker reads them), notebooks, declared dependencies, DOIs and
metadata. Every finding names the file and line or cell, why it matters and how
to fix it. validate writes nothing in the repository (`paperpack build` and
`paperpack run` write their output to PATH/{DEFAULT_OUTPUT}/: ignore it in git, or
move it with --out-dir).

examples:
  paperpack validate .
  paperpack validate path/to/paper --format json > report.json
  paperpack validate . --offline --strict        # CI: no DOI look-ups, warnings fail
  paperpack validate . -q                        # only the errors and the verdict"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("path", nargs="?", default=".", type=Path, help="the paper repository (default: .)")
    p.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text for people (default), json (schemas/paperpack.report.v1.json), github (workflow annotations)",
    )
    p.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="also write the JSON report to FILE (atomically), whatever --format is",
    )
    p.add_argument("-o", "--output", type=Path, dest="old_output", help=argparse.SUPPRESS)
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    p.add_argument(
        "--offline",
        action="store_true",
        help="no network look-ups: DOIs checked for syntax and against the cache only (said in the "
        "output), the dependency closure read from the cache only",
    )
    p.set_defaults(func=run)


def _workspace_prefix(root: Path) -> str:
    """Where the repository is inside the workspace, so annotations name files GitHub knows.

    Relative to ``$GITHUB_WORKSPACE`` when set, else to the current folder; empty when
    the repository is not below it.
    """
    base = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()
    try:
        rel = root.resolve().relative_to(base).as_posix()
    except ValueError:
        return ""
    return "" if rel == "." else rel + "/"


def gitignore_hint(root: Path, *, exists_only: bool = True) -> str | None:
    """A note when ``root`` is a git work tree whose git does not ignore paperpack's output folder.

    ``exists_only``: only when the folder is there (validate); ``init`` says it ahead.
    """
    if exists_only and not (root / DEFAULT_OUTPUT).is_dir():
        return None
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "-q", f"{DEFAULT_OUTPUT}/"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 1:  # 0: ignored; 128: not a work tree or git failed
        return None
    return (
        f"note: `paperpack build` and `paperpack run` write {DEFAULT_OUTPUT}/ in this repository and git does "
        f"not ignore it: add the line `{DEFAULT_OUTPUT}/` to .gitignore, or write elsewhere with --out-dir DIR"
    )


def run(args: argparse.Namespace) -> int:
    from ..util.atomic import write_json_atomic
    from ..validate import validate
    from .main import deprecated

    report_file = args.report
    if args.old_output is not None:
        deprecated("validate -o/--output FILE", "--report FILE")
        report_file = report_file or args.old_output
    report = validate(args.path, offline=args.offline)
    if report_file:
        write_json_atomic(report_file, report.to_dict(args.strict))
    if args.format == "json":
        import json

        sys.stdout.write(json.dumps(report.to_dict(args.strict), indent=2, ensure_ascii=False) + "\n")
    elif args.format == "github":
        from ..report.github import render_github

        sys.stdout.write(render_github(report, prefix=_workspace_prefix(report.root)))
    else:
        from ..report.text import make_text_console, render_text

        console = make_text_console(sys.stdout, color=args.color)
        if args.offline and not args.quiet:
            console.print("[bold]offline[/]: DOIs checked for syntax and against the cache only; none was resolved")
        render_text(report, console, strict=args.strict, verbose=args.verbose > 0, quiet=args.quiet)
        hint = None if args.quiet else gitignore_hint(report.root)
        if hint:
            sys.stderr.write(hint + "\n")
    return EXIT_FINDINGS if report.failed(args.strict) else EXIT_OK
