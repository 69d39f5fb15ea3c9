"""``paperpack validate``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..errors import EXIT_FINDINGS, EXIT_OK
from ..report import write_json_atomic
from ..report.github import render_github
from ..report.text import make_console, render_text
from ..validate import validate

HELP = "check a paper repository and say what would stop others from re-running it"
DESCRIPTION = """\
Check the repository at PATH: the manifest (paperpack.yml), environment files
(exactly as repo2docker reads them), notebooks, declared dependencies, DOIs and
metadata. Every finding names the file and line or cell, why it matters and how
to fix it. Nothing in the repository is modified.

examples:
  paperpack validate .
  paperpack validate path/to/paper --format json > report.json
  paperpack validate . --offline --strict        # CI: no DOI lookups, warnings fail"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", nargs="?", default=".", type=Path, help="the paper repository (default: .)")
    p.add_argument("--format", choices=("text", "json", "github"), default="text",
                   help="text for people, json (schemas/paperpack.report.v1.json), github (workflow annotations)")
    p.add_argument("-o", "--output", type=Path, help="also write the JSON report to this file (atomically)")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    p.add_argument("--offline", action="store_true",
                   help="no network: check DOI syntax and the cache only (said in the output)")
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


def run(args: argparse.Namespace) -> int:
    report = validate(args.path, offline=args.offline)
    if args.output:
        write_json_atomic(args.output, report.to_dict(args.strict))
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_dict(args.strict), indent=2, ensure_ascii=False) + "\n")
    elif args.format == "github":
        sys.stdout.write(render_github(report, prefix=_workspace_prefix(report.root)))
    else:
        console = make_console(sys.stdout, color=args.color)
        if args.offline:
            console.print("[bold]offline[/]: DOIs checked for syntax and against the cache only; none was resolved")
        render_text(report, console, strict=args.strict, verbose=args.verbose > 0)
    return EXIT_FINDINGS if report.failed(args.strict) else EXIT_OK
