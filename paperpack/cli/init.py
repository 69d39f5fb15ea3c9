"""``paperpack init``: write the manifest inferred from the repository."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import EXIT_OK, UsageError
from ..repository.manifest import MANIFEST_NAMES, find_manifest
from ..repository.repo import Repo
from ..util.atomic import write_atomic

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
    p = sub.add_parser("init", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    from ..checks.infer import infer_manifest, render_manifest  # not at start-up: it reads every metadata format

    text = render_manifest(infer_manifest(repo))
    if args.stdout:
        sys.stdout.write(text)
        return EXIT_OK
    target = repo.root / MANIFEST_NAMES[0]
    _write_new(target, text)
    print(f"wrote {target}", file=sys.stderr)
    print("review it (title, authors, paper DOI, run order), then `paperpack validate`", file=sys.stderr)
    from .validate import gitignore_hint

    hint = gitignore_hint(repo.root, exists_only=False)
    if hint:
        print(hint, file=sys.stderr)
    return EXIT_OK


def _write_new(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically, never replacing a manifest that appeared meanwhile."""
    write_atomic(
        target,
        text,
        overwrite=False,
        hint=f"print it with `paperpack init --stdout` and save it elsewhere or merge it by hand into a "
        f"manifest that appeared meanwhile; or make {target.parent} writable (or run init in a copy "
        "you own)",
    )
