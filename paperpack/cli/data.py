"""``paperpack data fetch|lock|status``: get the declared data into the cache, checked."""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn

from ..errors import EXIT_FINDINGS, EXIT_OK
from ..report.text import make_console
from ..repository.repo import Repo
from .run import add_cache_argument, positive_int

if TYPE_CHECKING:
    from ..util.httpclient import ServiceConfig

HELP = "fetch the data paperpack.yml declares into the cache, checked against its hashes"
DESCRIPTION = """\
Data cited by DOI (or URL) is downloaded once into a content-addressed cache,
checked against the hash in paperpack.yml or in the DOI record, and unpacked
safely when `extract: true`. Runs mount it read-only at the declared paths,
so notebooks need no network. Files already committed with the right hash are
used as they are.

  fetch   download what is missing (interrupted downloads resume)
  lock    write sha256 into paperpack.yml for files that have no hash yet
  status  say, for each declared file, whether it is in the repo, cached or missing

Data URLs (from paperpack.yml or a DOI record) are fetched over https from public
addresses only; a mirror on a private or loopback address, or plain http, must be
allowed by you: PAPERPACK_DATA_ALLOW=host[:port],... and PAPERPACK_DATA_ALLOW_HTTP=1
(or `data fetch --allow-host/--allow-http`), never by paperpack.yml. `paperpack build`
and `run` need a sha256 for each URL file: `data fetch` then `data lock` write it.

Services and the cache are configured by environment variables:
PAPERPACK_CACHE_DIR, PAPERPACK_ZENODO_API, PAPERPACK_DOI_RESOLVER, PAPERPACK_CONTACT,
PAPERPACK_DATA_ALLOW, PAPERPACK_DATA_ALLOW_HTTP, PAPERPACK_ARCHIVE_MAX_RATIO,
PAPERPACK_ARCHIVE_MAX_BYTES (see docs/dois-and-data.md).

examples:
  paperpack data fetch .
  paperpack data lock . && git diff paperpack.yml
  paperpack data status path/to/paper"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="data_command", metavar="ACTION")
    for name, func, text, more in (
        (
            "fetch",
            _fetch,
            "download the declared data that is missing",
            "Files already committed with the right hash, or already cached, are not downloaded again; an\n"
            "interrupted download resumes. A wrong hash deletes the download and names both hashes.\n\n"
            "examples:\n  paperpack data fetch .\n  paperpack data fetch path/to/paper --jobs 8",
        ),
        (
            "lock",
            _lock,
            "record sha256 of files that have no hash yet in paperpack.yml",
            "Hashes come from the committed file or the fetched copy; comments and layout of paperpack.yml\n"
            "are kept. Files that already have sha256 or md5 are left alone.\n\n"
            "examples:\n  paperpack data fetch . && paperpack data lock . && git diff paperpack.yml",
        ),
        (
            "status",
            _status,
            "show which declared files are in the repo, cached or missing",
            "Exit status 1 when a file is missing or a committed file has another hash than declared.\n\n"
            "examples:\n  paperpack data status .",
        ),
    ):
        a = actions.add_parser(
            name,
            help=text,
            description=f"{text[0].upper()}{text[1:]}.\n\n{more}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        a.add_argument("path", nargs="?", default=".", type=Path, help="the paper repository (default: .)")
        add_cache_argument(a)
        if name == "fetch":
            a.add_argument("-j", "--jobs", type=positive_int, default=4, help="downloads at once (default: 4)")
            a.add_argument(
                "--allow-host",
                action="append",
                default=[],
                metavar="HOST[:PORT]",
                help="a mirror you trust on a private or loopback address (repeatable; adds to "
                "PAPERPACK_DATA_ALLOW). Data URLs otherwise reach only public addresses",
            )
            a.add_argument(
                "--allow-http",
                action="store_true",
                help="allow plain http data URLs (like PAPERPACK_DATA_ALLOW_HTTP=1); https otherwise",
            )
        a.set_defaults(func=func)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def _config(args: argparse.Namespace) -> ServiceConfig:
    """The services from the environment, with the data hosts and http the user allowed on the command line."""
    from ..util.httpclient import ServiceConfig  # here, not at start-up: it imports requests
    from ..util.urlpolicy import parse_allowed

    config = ServiceConfig.from_env()
    policy = config.data_policy
    extra = parse_allowed(",".join(args.allow_host), source="--allow-host")
    return replace(
        config,
        data_policy=replace(policy, allowed=policy.allowed + extra, allow_http=policy.allow_http or args.allow_http),
    )


def _fetch(args: argparse.Namespace) -> int:
    from .. import data  # here, not at start-up: every command builds this parser

    repo = Repo.open(args.path)
    config = _config(args)
    console = make_console(sys.stderr, color=args.color)
    tasks: dict[str, TaskID] = {}
    lock = threading.Lock()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
        disable=args.quiet,
    ) as progress:

        def report(path: str, done: int, total: int | None) -> None:
            with lock:
                if path not in tasks:
                    tasks[path] = progress.add_task(escape(path), total=total)
                progress.update(tasks[path], completed=done, total=total)

        results = data.fetch_data(repo, config=config, cache_dir=args.cache_dir, progress=report, workers=args.jobs)
    out = make_console(sys.stdout, color=args.color)
    for r in results:
        out.print(f"{r.state:<8} {escape(r.declared.path)}" + (f"  [dim]{r.sha256}[/]" if r.sha256 else ""))
    fetched = sum(r.state == "fetched" for r in results)
    out.print(
        f"{len(results)} declared file{'s' if len(results) != 1 else ''}: {fetched} fetched, "
        f"{sum(r.state == 'cached' for r in results)} cached, {sum(r.state == 'in-repo' for r in results)} "
        "in the repository"
    )
    return EXIT_OK


def _lock(args: argparse.Namespace) -> int:
    from .. import data  # here, not at start-up: every command builds this parser

    repo = Repo.open(args.path)
    written = data.lock_hashes(repo, cache_dir=args.cache_dir)
    out = make_console(sys.stdout, color=args.color)
    for path, sha in written:
        out.print(f"locked {escape(path)}  sha256 {sha}")
    if not written:
        out.print("every declared file already has a hash; paperpack.yml unchanged")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from .. import data  # here, not at start-up: every command builds this parser

    repo = Repo.open(args.path)
    results = data.data_status(repo, cache_dir=args.cache_dir)
    out = make_console(sys.stdout, color=args.color)
    style = {"in-repo": "green", "cached": "green", "missing": "yellow", "mismatch": "bold red"}
    for r in results:
        hashed = "" if r.declared.expected or r.declared.unlisted else "  [dim](no hash: run `paperpack data lock`)[/]"
        out.print(f"[{style[r.state]}]{r.state:<8}[/] {escape(r.declared.label)}{hashed}")
    if not results:
        out.print("paperpack.yml declares no data files")
    bad = [r for r in results if r.state in ("missing", "mismatch")]
    if bad:
        out.print(
            f"{len(bad)} file{'s' if len(bad) != 1 else ''} not ready: run `paperpack data fetch`"
            if all(r.state == "missing" for r in bad)
            else "a committed file differs from its declared hash: replace it or correct the hash"
        )
    return EXIT_FINDINGS if bad else EXIT_OK
