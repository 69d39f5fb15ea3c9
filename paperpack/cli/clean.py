"""``paperpack clean``: list and remove paperpack's images, local environments and caches, with sizes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.table import Table

from ..errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ..report.text import make_console, safe

HELP = "list and remove paperpack's images, local environments and caches (--dry-run to only list)"
DESCRIPTION = """\
Remove what paperpack made on this machine, with sizes: images (built images and base
images: recognised by paperpack's labels; an image paperpack did not make is never
touched, one a container uses is kept), the local engine's environments, and caches
(fetched data, DOI answers, dependency resolutions, build logs).

Choose the kinds with --images, --envs, --caches (default: --all), and narrow with
--older-than (a date, or a number of days) and --unused-by PATH (keep what the current
state of the repository at PATH uses: its image, its base image, its environment, the
data cache when it declares data; repeatable). --dry-run lists without removing.

examples:
  paperpack clean --dry-run
  paperpack clean --images --older-than 30
  paperpack clean --all --unused-by path/to/paper
  paperpack clean --envs --older-than 2026-11-01 --format json"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "clean", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    p.add_argument("--older-than", metavar="DATE|DAYS", help="only what is older than DATE (2026-11-01) or DAYS days")
    p.add_argument(
        "--unused-by",
        action="append",
        type=Path,
        metavar="PATH",
        default=[],
        help="keep what the repository at PATH uses now (repeatable)",
    )
    p.add_argument("--images", action="store_true", help="paperpack's images")
    p.add_argument("--envs", action="store_true", help="the local engine's environments")
    p.add_argument("--caches", action="store_true", help="data, DOI, dependency caches and build logs")
    p.add_argument("--all", action="store_true", help="all of these (the default)")
    p.add_argument("--image-name", metavar="PREFIX", help="only images whose name starts with PREFIX")
    p.add_argument("--cache-dir", type=Path, metavar="DIR", help="paperpack's cache folder (as PAPERPACK_CACHE_DIR)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text for people, json on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..machine.clean import Kind, Selection, age_limit, find, plan, remove, total, used_by
    from ..util.sizes import human_size as human

    kinds = {
        kind
        for kind, asked in ((Kind.IMAGE, args.images), (Kind.ENVIRONMENT, args.envs), (Kind.CACHE, args.caches))
        if asked
    }
    if args.all or not kinds:
        kinds = set(Kind)
    try:
        before = age_limit(args.older_than) if args.older_than else None
    except ValueError as exc:
        raise UsageError(f"--older-than: {exc}", hint="pass a date (2026-11-01) or a number of days (30)") from None
    selection = Selection(frozenset(kinds), before, used_by(args.unused_by, cache=args.cache_dir), args.image_name)
    chosen = plan(find(kinds, cache=args.cache_dir), selection)
    outcome = None if args.dry_run else remove(chosen)
    failed = {item.ref: why for item, why in outcome.failed} if outcome else {}
    if args.format == "json":
        doc = {
            "dry_run": args.dry_run,
            "size": total(chosen),
            "items": [
                {
                    **item.to_dict(),
                    "removed": outcome is not None and item.ref not in failed,
                    "error": failed.get(item.ref),
                }
                for item in chosen
            ],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        out = make_console(sys.stdout, color=args.color)
        table = Table(show_header=True, header_style="bold")
        for column in ("kind", "what", "size", "created", "" if args.dry_run else "result"):
            table.add_column(column, overflow="fold")
        for item in chosen:
            result = "" if outcome is None else (f"kept: {failed[item.ref]}" if item.ref in failed else "removed")
            table.add_row(
                item.kind.value, safe(item.ref), human(item.size), item.created.strftime("%Y-%m-%d"), safe(result)
            )
        out.print(table)
        verb = "would free" if args.dry_run else "freed"
        freed = total(chosen) if outcome is None else outcome.freed
        out.print(
            f"{len(chosen)} item(s); {verb} {human(freed)}" + (" (--dry-run: nothing removed)" if args.dry_run else "")
        )
    return EXIT_FINDINGS if failed else EXIT_OK
