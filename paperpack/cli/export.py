"""``paperpack export``: an image as a file for HPC sites (Apptainer/Singularity, Shifter)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import EXIT_OK
from ..image import build_image, export_image
from ..image.export import FORMATS
from ..report.text import make_console
from ..repository.repo import Repo

HELP = "write an image to a docker-archive or OCI archive file for Apptainer/Singularity or Shifter"
DESCRIPTION = """\
Write IMAGE (a tag such as paperpack/my-paper:1a2b…) to a file. Given a repository
folder instead, export the image `paperpack build` made for it (building it first
if needed). Prints the commands to use the file at an HPC site.

formats:
  docker-archive  what `docker save` writes: apptainer build x.sif docker-archive://FILE,
                  docker/podman load, Shifter via a registry
  oci             an OCI image layout in a tar: apptainer build x.sif oci-archive://FILE, skopeo

examples:
  paperpack export paperpack/my-paper:1a2b3c4d5e6f7a8b9c0d -o paper.tar
  paperpack export . -o paper-oci.tar --format oci"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("image", metavar="IMAGE_OR_PATH", help="image tag, or the paper repository folder")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="the .tar file to write")
    p.add_argument("--format", choices=FORMATS, default="docker-archive", help="default: docker-archive")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    image = args.image
    if Path(image).is_dir():
        image = build_image(Repo.open(image)).image
    result = export_image(image, args.output, fmt=args.format)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        return EXIT_OK
    out = make_console(sys.stdout, color=args.color)
    out.print(f"wrote [bold]{result.path}[/] ({result.format}, {result.size / 1e6:.0f} MB) in {result.duration:.1f} s")
    out.print("use it with:")
    for cmd in result.commands:
        out.print(f"  {cmd}", highlight=False, markup=False)
    return EXIT_OK
