"""``paperpack build``: the paper repository as a container image (repo2docker as a library)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..build import build_image
from ..build.builder import MODES
from ..errors import EXIT_OK, BuildError
from ..repo import Repo
from ..report import Report, write_json_atomic
from ..report.text import make_console
from ._buildview import BuildView, show_build_failure

HELP = "build the repository into a container image (repo2docker), reusing an unchanged one"
DESCRIPTION = """\
Build the repository at PATH into a container image with repo2docker.

modes:
  binder   repo2docker's stock buildpacks: the image mybinder.org would launch
           (needs Docker Hub and conda-forge)
  offline  a local Debian base image, Debian's apt and PyPI only: for HPC centres,
           proxied or air-gapped sites and CI. Honours requirements.txt, runtime.txt,
           apt.txt, postBuild, start, setup.py/pyproject.toml; translates an
           environment.yml whose packages are on PyPI; builds a Dockerfile as is.
           Make the base image once with `paperpack base-image`.
  auto     (default) environment.mode in paperpack.yml, else binder when the stock
           base image is already present locally, else offline. No network probe.

The image tag is a hash of everything that decides the image, so an unchanged
repository is not rebuilt (use --force to rebuild). Labels record provenance.
Behind a TLS-intercepting proxy, the CA bundle (--ca-bundle, or PIP_CERT /
REQUESTS_CA_BUNDLE / SSL_CERT_FILE) is mounted only into download steps as a
BuildKit secret: it is never stored in the image.

examples:
  paperpack build .
  paperpack build path/to/paper --offline --ca-bundle /etc/ssl/certs/ca-certificates.crt
  paperpack build . --image-name ghcr.io/me/paper --push
  paperpack build . --json > build.json"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", nargs="?", default=".", type=Path, help="the paper repository (default: .)")
    p.add_argument("--mode", choices=MODES, default="auto", help="how to build (default: auto, see above)")
    p.add_argument("--offline", action="store_const", const="offline", dest="mode",
                   help="same as --mode offline")
    p.add_argument("--force", action="store_true", help="rebuild even when the image for this content exists")
    p.add_argument("--ca-bundle", type=Path, metavar="FILE",
                   help="PEM file of CAs to trust while downloading (default: from PIP_CERT, REQUESTS_CA_BUNDLE, "
                        "SSL_CERT_FILE, CURL_CA_BUNDLE)")
    p.add_argument("--allow-python-substitution", action="store_true", default=None,
                   help="offline: build with the nearest Python that has a base image (recorded in the labels)")
    p.add_argument("--image-name", metavar="NAME",
                   help="image repository, e.g. ghcr.io/me/paper (default: paperpack/<folder name>)")
    p.add_argument("--push", action="store_true",
                   help="push the image (credentials: PAPERPACK_REGISTRY_USERNAME/PASSWORD or "
                        "CONTAINER_ENGINE_REGISTRY_CREDENTIALS, else your docker login)")
    p.add_argument("--no-run", action="store_true", help="only build; do not run the notebooks in the image")
    p.add_argument("--json", action="store_true", help="print the build result as JSON on stdout")
    p.add_argument("-o", "--output", type=Path, metavar="REPORT",
                   help="also write a JSON report (schemas/paperpack.report.v1.json) to this file, atomically")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    repo = Repo.open(args.path)
    color = {"always": True, "never": False}.get(args.color)
    err = make_console(sys.stderr, color=color)
    view = BuildView(err, title=f"building {repo.root.name}", verbose=args.verbose > 0, quiet=args.quiet or args.json)
    try:
        with view:
            result = build_image(repo, mode=args.mode, force=args.force, ca_bundle=args.ca_bundle, push=args.push,
                                 progress=view, image_name=args.image_name,
                                 allow_substitution=args.allow_python_substitution)
    except BuildError as exc:
        show_build_failure(exc, sys.stderr)
        raise
    if args.output:
        write_json_atomic(args.output, Report(root=repo.root, commit=repo.commit(), build=result.to_dict()).to_dict())
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    elif not args.quiet:
        out = make_console(sys.stdout, color=color)
        what = "reused (unchanged)" if result.reused else f"built in {result.duration:.1f} s"
        out.print(f"[bold]{result.image}[/]  {what}, {result.mode} mode, Python {result.python_version or '?'}")
        if result.substitution:
            out.print(f"[yellow]substitution:[/] {result.substitution}")
        if result.pushed:
            out.print("pushed")
        if result.log_path:
            out.print(f"[dim]build log: {result.log_path}[/]")
    return EXIT_OK
