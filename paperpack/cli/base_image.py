"""``paperpack base-image``: local Debian base images for offline builds."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import EXIT_OK
from ..image import ensure_base_image
from ..image.baseimage import DEFAULT_RELEASE, RELEASES
from ..report.text import make_console
from ._buildview import BuildView

HELP = "make the local Debian base image offline builds start from (debootstrap + docker import)"
DESCRIPTION = f"""\
Make paperpack/base:RELEASE with debootstrap from the Debian mirror this machine
already uses (read from /etc/apt/sources.list*; or --mirror), then `docker import`.
No registry is contacted. An existing image is reused unless --force. Needs root
(debootstrap) and takes about a minute.

Releases and their Python: {", ".join(f"{r} ({v})" for r, v in RELEASES.items())}.
runtime.txt picks the release (python-3.11 → bookworm).

examples:
  sudo paperpack base-image
  sudo paperpack base-image --release trixie
  sudo paperpack base-image --mirror http://ftp.de.debian.org/debian --force"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "base-image", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--release",
        choices=tuple(RELEASES),
        default=DEFAULT_RELEASE,
        help=f"Debian release (default: {DEFAULT_RELEASE})",
    )
    p.add_argument("--mirror", metavar="URL", help="Debian mirror (default: the one in this machine's apt sources)")
    p.add_argument("--force", action="store_true", help="make it again even if it exists")
    p.add_argument("--json", action="store_true", help="print what was made as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    view = BuildView(
        make_console(sys.stderr, color=args.color),
        title=f"debootstrap {args.release}",
        verbose=args.verbose > 0,
        quiet=args.quiet or args.json,
    )
    with view:
        image = ensure_base_image(args.release, mirror=args.mirror, force=args.force, progress=view)
    if args.json:
        sys.stdout.write(json.dumps(image.to_dict(), indent=2) + "\n")
    elif not args.quiet:
        out = make_console(sys.stdout, color=args.color)
        size = f"{image.size / 1e6:.0f} MB"
        if image.reused:
            out.print(f"[bold]{image.tag}[/] already present ({size}, {image.image_id[:19]}); --force to remake it")
        else:
            out.print(
                f"made [bold]{image.tag}[/] (Debian {image.release}, Python {image.python}, {size}) "
                f"from {image.mirror} in {image.duration:.0f} s"
            )
    return EXIT_OK
