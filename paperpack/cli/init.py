"""``paperpack init``: write the manifest inferred from the repository."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from ..errors import EXIT_OK, UsageError
from ..manifest import MANIFEST_NAMES, find_manifest
from ..repo import Repo

HELP = "write paperpack.yml inferred from the repository (never overwrites)"
DESCRIPTION = """\
Infer a manifest from what the repository already says and write it to
PATH/paperpack.yml: the title (CITATION.cff, .zenodo.json or the README's first
heading), the authors with their ORCID iDs, the paper DOI, the dataset DOIs, the
license, the notebooks in path order, the files under data/ with their sha256,
and, as a comment, the environment files repo2docker will use. Review it, then
commit it.

An existing manifest is never overwritten (exit 2); use --stdout to compare.

examples:
  paperpack init                      # write ./paperpack.yml
  paperpack init path/to/paper
  paperpack init . --stdout | diff paperpack.yml -"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", nargs="?", default=".", type=Path, help="the paper repository (default: .)")
    p.add_argument("--stdout", action="store_true", help="print the manifest instead of writing it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    repo = Repo.open(args.path, manifest=False)
    existing = find_manifest(repo.root)
    if existing is None:
        existing = next((repo.root / n for n in MANIFEST_NAMES if (repo.root / n).is_symlink()), None)
    if existing is not None and not args.stdout:
        raise UsageError(
            f"{existing} already exists; paperpack init never overwrites a manifest",
            hint=f"run `paperpack init {args.path} --stdout` to see what it would write, "
                 "and merge by hand (or move the old file away first)",
            path=existing,
        )
    from ..infer import infer_manifest, render_manifest  # not at start-up: it reads every metadata format

    text = render_manifest(infer_manifest(repo))
    if args.stdout:
        sys.stdout.write(text)
        return EXIT_OK
    target = repo.root / MANIFEST_NAMES[0]
    _write_new(target, text)
    print(f"wrote {target}", file=sys.stderr)
    print("review it (title, authors, paper DOI, run order), then `paperpack validate`", file=sys.stderr)
    return EXIT_OK


def _write_new(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically, failing if ``target`` appeared meanwhile.

    The file gets the usual ``0o666 & ~umask`` (a temporary file alone would be 0600). A
    folder paperpack cannot write to raises :class:`UsageError` naming it.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}",
                         hint=f"make {target.parent} writable (or run init in a copy you own), or use "
                              "`paperpack init --stdout > paperpack.yml` to write it elsewhere",
                         path=target) from None
    try:
        mask = os.umask(0)
        os.umask(mask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), 0o666 & ~mask)
            os.fsync(fh.fileno())
        try:
            os.link(tmp, target)  # unlike rename, link never replaces an existing file
        except FileExistsError:
            raise UsageError(f"{target} appeared while paperpack init was running; not overwritten",
                             hint="run `paperpack init --stdout` and merge by hand", path=target) from None
        except OSError as exc:
            raise UsageError(f"cannot write {target}: {exc.strerror or exc}",
                             hint=f"make {target.parent} writable, or use `paperpack init --stdout`",
                             path=target) from None
    finally:
        os.unlink(tmp)
