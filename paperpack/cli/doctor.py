"""``paperpack doctor``: what this machine can do, and the command that fixes each missing piece."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import EXIT_FINDINGS, EXIT_OK
from ..report.text import make_console, safe

HELP = "say what this machine can do (Docker, buildx, base images, local engine, Pythons, caches) and how to fix it"
DESCRIPTION = """\
Check this machine: the Docker client and daemon, rootless mode, the buildx plugin, the
offline base images (and whether they can be made: debootstrap, root, a Debian mirror),
what the local engine can confine (network namespaces, read-only caches, a pids cgroup),
the Pythons on PATH, tesseract (reads the numbers of re-rendered figures when comparing), and
the size of paperpack's caches. With --network, also whether the DOI services answer
(PAPERPACK_DOI_RESOLVER, PAPERPACK_DATACITE_API, … name them).

For each missing piece: what it disables, and the command that fixes it.

Exit 0 when `paperpack build` verifies in a container here (the default path), 1 when it
would run the notebooks with the less isolated local engine instead.

examples:
  paperpack doctor
  paperpack doctor --network
  paperpack doctor --format json"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--network", action="store_true", help="also check that the DOI services answer (contacts them)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text for people, json on stdout")
    p.add_argument("--cache-dir", type=Path, metavar="DIR", help="paperpack's cache folder (as PAPERPACK_CACHE_DIR)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..machine.doctor import diagnose

    diagnosis = diagnose(network=args.network, cache=args.cache_dir)
    code = EXIT_OK if diagnosis.default_path_works else EXIT_FINDINGS
    if args.format == "json":
        sys.stdout.write(json.dumps(diagnosis.to_dict(), indent=2) + "\n")
        return code
    out = make_console(sys.stdout, color=args.color)
    for check in diagnosis.checks:
        mark = "[green]ok[/]     " if check.ok else ("[red]MISSING[/]" if check.required else "[yellow]no[/]     ")
        out.print(f"{mark} {check.group.value}: [bold]{safe(check.name)}[/] — {safe(check.detail)}")
        if check.disables:
            out.print(f"          without it: {safe(check.disables)}")
        if check.fix:
            out.print(f"          fix: [bold]{safe(check.fix)}[/]")
    if diagnosis.default_path_works:
        out.print("[green]paperpack build[/] builds an image and runs the notebooks in a container here.")
    else:
        out.print(
            "[yellow]paperpack build[/] runs the notebooks with the local engine here (less isolated): fix "
            "the MISSING pieces above for container builds."
        )
    return code
