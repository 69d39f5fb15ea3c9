"""``paperpack badge``: the README's launch and status badges, printed or written between markers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..binder.launch import LaunchOptions
from ..errors import EXIT_OK
from ..report.badge import BadgeFormat, BadgeOptions, markers, readme_badges, write_badges
from ..repository.repo import Repo

HELP = "print the Binder launch and reproducibility badges, or write them into the README"
DESCRIPTION = f"""\
Print the badges a paper's README shows: the Binder launch badge, pinned to the commit
checked out and opening the first notebook, and the reproducibility status badge (drawn by
shields.io from the badge.json that paperpack build writes). With --write FILE they go
between the lines {markers(BadgeFormat.MARKDOWN)[0]} and {markers(BadgeFormat.MARKDOWN)[1]}
(reST: {markers(BadgeFormat.RST)[0]} / {markers(BadgeFormat.RST)[1]}): inserted after the
first title the first time, replaced after that; nothing else in the file changes.

The repository comes from --remote, else binder.repository in paperpack.yml, else git's
origin remote; the commit from --ref, else binder.ref, else HEAD; the hub from --hub, else
binder.url, else https://mybinder.org. Details: docs/reports.md#badges.

examples:
  paperpack badge .
  paperpack badge . --write README.md
  paperpack badge . --remote carberry/lorenz-revisited --ref 0123abc… --format rst"""


def add_launch_options(p: argparse.ArgumentParser) -> None:
    """--hub, --remote, --ref: shared with ``paperpack binder``."""
    p.add_argument("path", nargs="?", default=".", type=Path, help="the paper repository (default: .)")
    p.add_argument(
        "--hub", metavar="URL", help="the BinderHub (default: binder.url in paperpack.yml, else https://mybinder.org)"
    )
    p.add_argument(
        "--remote",
        metavar="URL",
        help="the public repository: OWNER/REPO on GitHub, a git URL or a "
        "Zenodo DOI (default: binder.repository, else git's origin remote)",
    )
    p.add_argument("--ref", metavar="SHA", help="the commit to launch (default: binder.ref, else HEAD)")


def launch_options(args: argparse.Namespace) -> LaunchOptions:
    return LaunchOptions(hub=args.hub, remote=args.remote, ref=args.ref)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "badge", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_launch_options(p)
    p.add_argument(
        "--format",
        choices=[f.value for f in BadgeFormat],
        default=None,
        help="markdown (default), rst or html; with --write, the file's extension decides unless given",
    )
    p.add_argument(
        "--write",
        metavar="FILE",
        type=Path,
        help="insert or update the badges in FILE (inside the repository), between the markers",
    )
    p.add_argument(
        "--status-url",
        metavar="URL",
        help="the public URL of badge.json (default: derived for GitHub; "
        "else the status badge is left out, with a note)",
    )
    p.add_argument(
        "-o",
        "--out-dir",
        type=Path,
        metavar="DIR",
        help="the report folder holding badge.json (default: paperpack-out in the repository)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    repo = Repo.open(args.path)
    options = BadgeOptions(launch=launch_options(args), status_url=args.status_url, out_dir=args.out_dir)
    made = readme_badges(repo, options)
    for note in made.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.write is None:
        fmt = BadgeFormat(args.format or "markdown")
        sys.stdout.write(made.render(fmt) + "\n")
        return EXIT_OK
    fmt = BadgeFormat(args.format) if args.format else BadgeFormat.for_file(args.write)
    changed = write_badges(repo.root, args.write, made.block(fmt), fmt)
    sys.stdout.write(f"{args.write}: {'badges written' if changed else 'badges already up to date'}\n")
    return EXIT_OK
