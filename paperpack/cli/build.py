"""``paperpack build``: the paper repository as a container image (repo2docker as a library)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import EXIT_FINDINGS, EXIT_OK, BuildError
from ..image.builder import DEFAULT_BUILD_TIMEOUT, MODES
from ..report.text import make_console
from ..util.atomic import write_json_atomic
from ..verify import ALL_STAGES, BuildSettings, Stage, ValidateSettings, VerifyOptions, verify
from ._buildview import show_build_failure
from .main import deprecated
from .run import ConsoleObserver, add_cache_argument, add_run_arguments, paper_exit, run_settings, show_paper, show_run

HELP = "build the image, run every notebook in it and compare the results (the whole verification)"
DESCRIPTION = f"""\
Verify the repository at PATH end to end:

  validate     the checks of `paperpack validate` (DOIs: syntax and cache only)
  fetch data   declared data not yet in the repository or the cache
  build        a container image with repo2docker (reused when nothing changed)
  run          every notebook in the image: no network, non-root, memory,
               process and CPU limits, sources mounted read-only
  compare      new outputs against the committed ones: same / differs / failed
  report       PATH/paperpack-out/report.json (schemas/paperpack.report.v1.json)

Without a Docker daemon, or with one that cannot build yet (no buildx plugin; no
base image and no debootstrap or root to make one: one it can make, it makes first,
once), --engine auto runs the notebooks with the local engine, and the note names
what is missing and the command that enables container builds. The local engine is
a virtual environment built from requirements.txt. It is less isolated (notebook
code runs as you, on your files; no network, limits, read-only caches and a hidden
Docker socket only where the machine allows) and says so. With a daemon, a build that
fails stops there: the notebooks never run without a container unless --engine local
asks for it. --no-run stops after the build.

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
A build is stopped after PAPERPACK_BUILD_TIMEOUT seconds (default {DEFAULT_BUILD_TIMEOUT:g}).
Behind a TLS-intercepting proxy, the CA bundle (--ca-bundle, or PIP_CERT /
REQUESTS_CA_BUNDLE / SSL_CERT_FILE) is mounted only into download steps as a
BuildKit secret: it is never stored in the image.

examples:
  paperpack build .
  paperpack build . --no-run                       # only the image
  paperpack build . -p t_end 10 --timeout 600      # a reduced-size run for CI
  paperpack build path/to/paper --mode offline --ca-bundle /etc/ssl/certs/ca-certificates.crt
  paperpack build . --image-name ghcr.io/me/paper --push
  paperpack build . --format json > build.json
  paperpack build . -o /tmp/paper-out               # the output folder outside the repository

Old spellings still work, with a note on stderr: --json (--format json), --offline
(--mode offline), -o REPORT.json and --output REPORT (--report REPORT)."""


class OutDirOrOldReport(argparse.Action):
    """``-o/--out-dir DIR``; an old ``-o REPORT.json`` (a file ending in .json, no such folder) is ``--report``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        path = Path(str(values))
        if option_string == "-o" and path.suffix.lower() == ".json" and not path.is_dir():
            namespace.old_report = path
        else:
            namespace.out = path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("path", nargs="?", default=".", type=Path, help="the paper repository (default: .)")
    p.add_argument("--mode", choices=MODES, default="auto", help="how to build (default: auto, see above)")
    p.add_argument("--offline", action="store_true", dest="old_offline", help=argparse.SUPPRESS)
    p.add_argument("--force", action="store_true", help="rebuild even when the image for this content exists")
    p.add_argument(
        "--ca-bundle",
        type=Path,
        metavar="FILE",
        help="PEM file of CAs to trust while downloading (default: from PIP_CERT, REQUESTS_CA_BUNDLE, "
        "SSL_CERT_FILE, CURL_CA_BUNDLE)",
    )
    p.add_argument(
        "--allow-python-substitution",
        action="store_true",
        default=None,
        help="offline: build with the nearest Python that has a base image (recorded in the labels)",
    )
    p.add_argument(
        "--image-name",
        metavar="NAME",
        help="image repository, e.g. ghcr.io/me/paper (default: paperpack/<folder name>)",
    )
    p.add_argument(
        "--push",
        action="store_true",
        help="push the image (credentials: PAPERPACK_REGISTRY_USERNAME/PASSWORD or "
        "CONTAINER_ENGINE_REGISTRY_CREDENTIALS, else your docker login)",
    )
    p.add_argument(
        "--engine",
        choices=("auto", "docker", "local"),
        default="auto",
        help="docker: build the image and run in it; local: no image, run in a virtual environment "
        "(less isolated); auto (default): docker when a Docker daemon answers, else local",
    )
    p.add_argument("--no-run", action="store_true", help="only build; do not run the notebooks in the image")
    p.add_argument("--strict", action="store_true", help="validation warnings fail the build too")
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default), json: the whole report (validation, build and run) on stdout",
    )
    p.add_argument("--json", action="store_true", dest="old_json", help=argparse.SUPPRESS)
    p.add_argument("--output", type=Path, dest="old_report", help=argparse.SUPPRESS)
    add_cache_argument(p)
    add_run_arguments(p, out_action=OutDirOrOldReport)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """validate → fetch data → build → run → compare → report, through :func:`~paperpack.verify.verify`."""
    _old_spellings(args)
    json_out = args.format == "json"
    err = make_console(sys.stderr, color=args.color)
    quiet = args.quiet  # --format json: progress still goes to stderr; stdout keeps only the JSON
    run_console = make_console(sys.stderr if json_out else sys.stdout, color=args.color, soft_wrap=False)
    observer = ConsoleObserver(err, run_console, quiet=quiet, verbose=args.verbose > 0)
    build = BuildSettings(
        mode=args.mode,
        force=args.force,
        push=args.push,
        image_name=args.image_name,
        allow_python_substitution=args.allow_python_substitution,
        ca_bundle=args.ca_bundle,
    )
    stages = ALL_STAGES - {Stage.RUN, Stage.DATA} if args.no_run else ALL_STAGES
    options = VerifyOptions(
        stages=stages,
        validate=ValidateSettings(offline=True, strict=args.strict),
        build=build,
        run=run_settings(args, args.engine),
        cache_dir=args.cache_dir,
        progress=observer,
        shown_path=str(args.path),
        as_of=getattr(args, "as_of", None),
    )
    try:
        result = verify(args.path, options)
    except BuildError as exc:
        show_build_failure(exc, err)
        raise
    validation_code = EXIT_FINDINGS if result.validation_failed else EXIT_OK
    if args.no_run:
        run_code = paper_exit(result)
        if json_out:
            sys.stdout.write(json.dumps(result.report, indent=2, ensure_ascii=False) + "\n")
    else:
        run_code = show_run(result, run_console, json_out=json_out, quiet=args.quiet, whole_report=True)
    if args.report:
        write_json_atomic(args.report, result.report)
    show_paper(result, run_console, err)
    return run_code if run_code != EXIT_OK else validation_code


def _old_spellings(args: argparse.Namespace) -> None:
    """The options build had before the shared vocabulary: still honoured, each with a one-line note."""
    if args.old_json:
        deprecated("build --json", "--format json")
        args.format = "json"
    if args.old_offline:
        deprecated("build --offline", "--mode offline (validate's --offline means: no network look-ups)")
        args.mode = "offline"
    old_report = getattr(args, "old_report", None)
    if old_report is not None:
        deprecated("build -o/--output REPORT.json", "--report REPORT.json (-o is now the output folder, as for run)")
        args.report = args.report or old_report
