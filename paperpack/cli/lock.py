"""``paperpack lock``: pin requirements.txt (or environment.yml's pip section) to the versions of the repository's date."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ..repository.repo import Repo
from ..timemachine import AsOfChoice, AsOfMode, parse_as_of
from ..timemachine.lock import date_for, plan_lock, write_lock

HELP = "pin requirements.txt (or environment.yml's pip section) to the versions of the repository's date"
DESCRIPTION = """\
Resolve the repository's requirements.txt (or, for a conda environment.yml, the
entries of its pip: section) as of a date (the last commit that changed a
notebook or an environment file, environment.as_of in paperpack.yml, or --as-of DATE):
pins the author wrote (==) are kept, every other requirement is pinned to the version
of that date, and the distributions they pull in are appended (in environment.yml:
after the last pip entry, at its indentation), with the dependencies of a setup.py or
pyproject.toml package; without a requirements.txt, those are printed as one to commit
(setup.py and pyproject.toml are never rewritten). A Pipfile (without Pipfile.lock)
is pinned in its own lines. The diff is shown;
the file is written only with --write (atomically; nothing else in it changes).
Exit code 1 when the file would change and --write was not given.

examples:
  paperpack lock .                          # show the pins of the repository's date
  paperpack lock . --as-of 2023-06-15 --write"""


def as_of_option(text: str) -> AsOfChoice:
    """``--as-of auto|off|DATE`` for argparse (``paperpack lock``, ``run`` and ``build``)."""
    try:
        return parse_as_of(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(f"{exc} ({exc.hint})") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lock", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", nargs="?", default=".", type=Path, help="the paper repository (default: .)")
    p.add_argument(
        "--as-of",
        type=as_of_option,
        default=AsOfChoice(AsOfMode.AUTO),
        metavar="auto|DATE",
        help="the date to resolve as of (default auto: see above)",
    )
    p.add_argument("--python", metavar="X.Y", help="the Python to resolve for (default: runtime.txt's, else this one)")
    p.add_argument("--write", action="store_true", help="write the pins into the file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    choice: AsOfChoice = args.as_of
    if choice.mode is AsOfMode.OFF:
        print(
            "--as-of off: nothing to lock; give --as-of YYYY-MM-DD, or leave --as-of out to pin the versions of "
            "the repository's date",
            file=sys.stderr,
        )
        return EXIT_OK
    repo = Repo.open(args.path)
    as_of = date_for(repo.root, repo.notebooks, repo.manifest.data if repo.manifest else None, choice.date)
    plan = plan_lock(repo.root, as_of, python=args.python)
    res = plan.resolution
    out = sys.stdout
    out.write(f"as of {as_of.date} ({as_of.source.value}: {as_of.detail}), Python {res.python}\n")
    if res.python_note:
        out.write(f"note: {res.python_note}\n")
    for change in res.changes:
        out.write(f"  {change}\n")
    if plan.package_file is not None:  # setup.py / pyproject.toml: printed, never written
        out.write(
            f"{plan.package_file} is not rewritten: commit these pins as {plan.rel} (repo2docker installs it "
            f"before the package):\n{plan.new}"
        )
        return EXIT_FINDINGS
    if not plan.changed:
        out.write(f"{plan.rel} already pins the versions of {as_of.date}\n")
        return EXIT_OK
    out.write(plan.diff())
    if not args.write:
        out.write(f"not written: run again with --write to pin {plan.rel}\n")
        return EXIT_FINDINGS
    write_lock(plan)
    out.write(f"wrote {plan.rel}\n")
    return EXIT_OK
