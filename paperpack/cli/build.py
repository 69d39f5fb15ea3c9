"""``paperpack build``: the paper repository as a container image (repo2docker as a library)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ..build import build_image
from ..build.builder import MODES
from ..errors import EXIT_FINDINGS, EXIT_OK, BuildError, EngineError, UsageError
from ..findings import Severity
from ..repo import Repo
from ..report import Report, write_json_atomic
from ..report.text import make_console
from ._buildview import BuildView, show_build_failure
from .run import add_run_arguments, run_from_args

HELP = "build the image, run every notebook in it and compare the results (the whole verification)"
DESCRIPTION = """\
Verify the repository at PATH end to end:

  validate     the checks of `paperpack validate` (DOIs: syntax and cache only)
  fetch data   declared data not yet in the repository or the cache
  build        a container image with repo2docker (reused when nothing changed)
  run          every notebook in the image: no network, non-root, memory,
               process and CPU limits, sources mounted read-only
  compare      new outputs against the committed ones: same / differs / failed
  report       PATH/paperpack-out/report.json (schemas/paperpack.report.v1.json)

Without a Docker daemon (--engine auto), the notebooks run with the local engine:
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
Behind a TLS-intercepting proxy, the CA bundle (--ca-bundle, or PIP_CERT /
REQUESTS_CA_BUNDLE / SSL_CERT_FILE) is mounted only into download steps as a
BuildKit secret: it is never stored in the image.

examples:
  paperpack build .
  paperpack build . --no-run                       # only the image
  paperpack build . -p t_end 10 --timeout 600      # a reduced-size run for CI
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
    p.add_argument("--engine", choices=("auto", "docker", "local"), default="auto",
                   help="docker: build the image and run in it; local: no image, run in a virtual environment "
                        "(less isolated); auto (default): docker when a Docker daemon answers, else local")
    p.add_argument("--no-run", action="store_true", help="only build; do not run the notebooks in the image")
    p.add_argument("--strict", action="store_true", help="validation warnings fail the build too")
    p.add_argument("--json", action="store_true", help="print the report (validation, build and run) as JSON on stdout")
    p.add_argument("-o", "--output", type=Path, metavar="REPORT",
                   help="also write a JSON report (schemas/paperpack.report.v1.json) to this file, atomically")
    add_run_arguments(p, short=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """validate → fetch data → build → run → compare → report."""
    from ..data import ensure_data
    from ..validate import validate

    repo = Repo.open(args.path)
    err = make_console(sys.stderr, color=args.color)
    quiet = args.quiet or args.json

    report = validate(repo.root, offline=True)  # DOIs: syntax and cache only; `paperpack validate` resolves
    _show_validation(report, err, quiet=quiet, verbose=args.verbose > 0)

    engine = args.engine
    if engine == "local" and args.no_run:
        raise UsageError("--engine local --no-run: nothing to do (the local engine builds no image)",
                         hint="drop --no-run to run the notebooks, or use --engine docker to build the image")
    if engine == "auto":
        engine, why = _pick_engine(args.no_run)
        if engine == "local":
            err.print(f"[yellow]no usable container engine ({escape(why)}): running the notebooks with the local "
                      "engine — less isolated: notebook code runs as you, on your files (the run's report "
                      "says which limits and network isolation this machine allowed).[/]")
    if not args.no_run:  # before the build: a data problem should not wait for a long build
        fetched = ensure_data(repo, progress=None if quiet else (lambda message: err.print(escape(message))))
        if fetched and not quiet:
            err.print(f"data: {len(fetched)} file(s) fetched into the cache")
    image = None
    if engine == "docker":
        view = BuildView(err, title=f"building {repo.root.name}", verbose=args.verbose > 0, quiet=quiet)
        try:
            with view:
                result = build_image(repo, mode=args.mode, force=args.force, ca_bundle=args.ca_bundle,
                                     push=args.push, progress=view, image_name=args.image_name,
                                     allow_substitution=args.allow_python_substitution)
        except (BuildError, EngineError) as exc:
            if isinstance(exc, BuildError):
                show_build_failure(exc, err)
            if args.engine == "auto":  # the notebooks did not run, and auto does not run them without a container
                exc.hint = f"{exc.hint}. {NOT_LOCAL}" if exc.hint else NOT_LOCAL
            raise
        image = result.image
        report.build = result.to_dict()
        if not quiet:
            what = "reused (unchanged)" if result.reused else f"built in {result.duration:.1f} s"
            err.print(f"[bold]{result.image}[/]  {what}, {result.mode} mode, Python {result.python_version or '?'}")
            if result.substitution:
                err.print(f"[yellow]substitution:[/] {escape(result.substitution)}")
            if result.pushed:
                err.print("pushed")
            if result.log_path:
                err.print(f"[dim]build log: {result.log_path}[/]")

    validation_code = EXIT_FINDINGS if report.failed(args.strict) else EXIT_OK
    if args.no_run:
        if args.output:
            write_json_atomic(args.output, report.to_dict(args.strict))
        if args.json:
            sys.stdout.write(json.dumps(report.to_dict(args.strict), indent=2, ensure_ascii=False) + "\n")
        return validation_code

    args.engine = engine
    run_code = run_from_args(args, repo, image, report)
    if args.output:
        write_json_atomic(args.output, report.to_dict(args.strict))
    return run_code if run_code != EXIT_OK else validation_code


NOT_LOCAL = ("The notebooks were not run: with a Docker daemon, --engine auto never runs them without a container; "
             "pass --engine local to run them as you, knowingly")


def _pick_engine(no_run: bool) -> tuple[str, str]:
    """``docker`` when a Docker daemon answers, else ``local`` with the reason."""
    from ..run.engines import docker_available

    ok, why = docker_available()
    if ok:
        return "docker", ""
    if no_run:
        raise EngineError(f"cannot build an image: {why}",
                          hint="install and start Docker (see docs/build.md), or drop --no-run to run the "
                               "notebooks with the local engine")
    return "local", why


def _show_validation(report: Report, console: Console, *, quiet: bool, verbose: bool) -> None:
    """Errors and warnings from validation, briefly; the full list is `paperpack validate`'s job."""
    shown = [f for f in report.findings.sorted() if f.severity is not Severity.INFO]
    if quiet and not report.findings.errors:
        return
    for f in shown if (verbose or len(shown) <= 12) else shown[:12]:
        style = "red" if f.severity is Severity.ERROR else "yellow"
        console.print(f"[{style}]{f.severity.value}[/] {f.rule} {escape(f.where)}: {escape(f.message)}")
    if len(shown) > 12 and not verbose:
        console.print(f"… and {len(shown) - 12} more; `paperpack validate` lists them with the fixes")
    console.print(f"validation: {report.verdict()}")
