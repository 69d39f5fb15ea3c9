#!/usr/bin/env python3
"""Mutation score of the code that decides verdicts and safety (issue 16), per package, with the survivors.

Runs mutmut (configured in pyproject.toml, ``[tool.mutmut]``: which files, which fast tests) on the targets
below, then reads ``mutmut results`` and prints, per target, the mutants killed out of those tested and
every survivor (with ``--diff``, the line it changed). A survivor is a missing test, or an equivalent mutant: write the
equivalent ones in ``benchmarks/mutation_equivalent.txt`` (one ``<mutant name>  <reason>`` a line) and they
are listed apart, with their reason, and not counted as missed.

Run from the repository root with the dev venv (a full run: about 3,000 mutants, 50 minutes measured on 2
cores shared with other jobs, load 6 to 10)::

    .venv/bin/python benchmarks/mutation_score.py                    # every target
    .venv/bin/python benchmarks/mutation_score.py --only image/tags.py --only compare/
    .venv/bin/python benchmarks/mutation_score.py --no-run --diff    # the last run again, with each changed line

mutmut works in a copy of the sources under ``mutants/`` (git-ignored); ``mutmut show NAME`` prints one
mutant's diff, ``mutmut apply NAME`` writes it into the sources (undo with ``git checkout``).
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import resource
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "benchmarks" / "mutation_equivalent.txt"
GOAL = 85.0
#: address space allowed to mutmut and each mutant's tests: a mutant that grows a list forever (a flood fill that
#: never marks a pixel seen) then fails with MemoryError (killed) instead of taking the shared machine's memory
MEMORY_LIMIT = 4 << 30


@dataclass(frozen=True)
class Target:
    """A part of the critical code: a label and the mutant names (mutmut globs) that belong to it."""

    label: str
    patterns: tuple[str, ...]


#: methods are named ``module.xǁClassǁmethod__mutmut_N``, functions ``module.x_function__mutmut_N``
TARGETS = (
    Target("compare/", ("paperpack.compare.*",)),
    Target("compare/images.py", ("paperpack.compare.images.*",)),
    Target("compare/ocr.py", ("paperpack.compare.ocr.*",)),
    Target(
        "compare/text (core, normalize, numbers, rich, stderr)",
        tuple(f"paperpack.compare.{name}.*" for name in ("core", "normalize", "numbers", "rich", "stderr")),
    ),
    Target("run/verdict.py", ("paperpack.run.verdict.*",)),
    Target("run/outcome.py", ("paperpack.run.outcome.*",)),
    Target(
        "run/container.py (the container command)",
        (
            "paperpack.run.container.xǁDockerEngineǁcommand__mutmut_*",
            "paperpack.run.container.x_bind_mount__mutmut_*",
            "paperpack.run.container.x_container_user__mutmut_*",
        ),
    ),
    Target("data/", ("paperpack.data.*",)),
    Target("data/archive.py", ("paperpack.data.archive.*",)),
    Target(
        "repository/manifest.py (path checks)",
        (
            "paperpack.repository.manifest.x_safe_relpath__mutmut_*",
            "paperpack.repository.manifest.x__iter_paths__mutmut_*",
            "paperpack.repository.manifest.x__items__mutmut_*",
            "paperpack.repository.manifest.x__path_problems__mutmut_*",  # named _check_paths before d7c3182
            "paperpack.repository.manifest.x_record_folder__mutmut_*",
        ),
    ),
    Target("image/tags.py", ("paperpack.image.tags.*",)),
)

#: mutmut's words for a mutant the tests caught, and for one that was not tried (not counted)
CAUGHT = {"killed", "timeout", "caught by type check", "segfault"}
NOT_TRIED = {"not checked", "skipped", "check was interrupted by user"}


@dataclass
class Tally:
    caught: int = 0
    missed: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)
    suspicious: list[str] = field(default_factory=list)

    @property
    def tested(self) -> int:
        return self.caught + len(self.missed) + len(self.equivalent) + len(self.suspicious)

    @property
    def score(self) -> float:
        """Killed among the mutants tested, equivalent ones left out (they cannot be killed)."""
        counted = self.tested - len(self.equivalent)
        return 100.0 * self.caught / counted if counted else 100.0


#: mutmut copies the test folders (``also_copy``) over the last run's copy with ``shutil.copytree``, which follows
#: symbolic links and stops at a dangling one; the test cases hold links on purpose (a dangling one, one to
#: /etc/passwd), so they are copied as links, into a fresh folder (a link cannot be copied over an existing one).
_MUTMUT_KEEPING_LINKS = (
    "import os, shutil, sys\n"
    "_copytree = shutil.copytree\n"
    "def copytree(src, dst, symlinks=True, *args, **kwargs):\n"
    "    if kwargs.get('dirs_exist_ok') and os.path.isdir(dst) and not os.path.islink(dst):\n"
    "        shutil.rmtree(dst)\n"
    "    return _copytree(src, dst, symlinks, *args, **kwargs)\n"
    "shutil.copytree = copytree\n"
    "from mutmut.__main__ import cli\n"
    "sys.argv[0] = 'mutmut'\n"
    "sys.exit(cli())\n"
)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def mutmut(*args: str, check: bool = True) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", _MUTMUT_KEEPING_LINKS, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=_limit_memory,
    )
    if check and proc.returncode != 0:
        sys.exit(
            f"error: `mutmut {' '.join(args)}` failed (exit {proc.returncode}); its output ends with:\n"
            + "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        )
    return proc.stdout


def results() -> dict[str, str]:
    """Every mutant of the last runs and its status, from ``mutmut results --all true``."""
    found = {}
    for line in mutmut("results", "--all", "true").splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            found[name] = status
    return found


def equivalents(path: Path = EQUIVALENT) -> dict[str, str]:
    """Mutants judged equivalent, with the reason: ``<name>  <reason>`` lines, ``#`` comments."""
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, reason = line.strip().partition(" ")
            out[name] = reason.strip()
    return out


def changed_line(name: str) -> str:
    """The line the mutant changed, as ``- old`` → ``+ new`` (from ``mutmut show``)."""
    diff = mutmut("show", name, check=False).splitlines()
    removed = [ln[1:].strip() for ln in diff if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:].strip() for ln in diff if ln.startswith("+") and not ln.startswith("+++")]
    return f"{' / '.join(removed)}  →  {' / '.join(added) or '(removed)'}"


def _belongs(name: str, target: Target) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in target.patterns)


def tally(target: Target, statuses: dict[str, str], equivalent: dict[str, str]) -> Tally:
    t = Tally()
    for name, status in sorted(statuses.items(), key=lambda item: _natural(item[0])):
        if not _belongs(name, target) or status in NOT_TRIED:
            continue
        if status in CAUGHT:
            t.caught += 1
        elif name in equivalent:
            t.equivalent.append(name)
        elif status == "suspicious":
            t.suspicious.append(name)
        else:  # survived, no tests
            t.missed.append(name)
    return t


def _natural(name: str) -> tuple[str, int]:
    match = re.match(r"(.*?)(\d+)$", name)
    return (match.group(1), int(match.group(2))) if match else (name, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        metavar="LABEL",
        help="a target to run (repeatable): " + ", ".join(t.label.split()[0] for t in TARGETS),
    )
    parser.add_argument("--no-run", action="store_true", help="report the last run without running mutmut")
    parser.add_argument(
        "--max-children", type=int, default=1, help="mutants tested at once (default 1: the machine is shared)"
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="test again only the mutants the last run left alive (after adding tests: minutes, "
        "not hours; a changed function needs a full run)",
    )
    parser.add_argument(
        "--diff",
        action="store_true",
        help="show the line each survivor changed (one `mutmut show` each: about 1 s a survivor)",
    )
    args = parser.parse_args(argv)
    chosen = [t for t in TARGETS if not args.only or t.label.split()[0] in args.only]
    unknown = set(args.only or ()) - {t.label.split()[0] for t in TARGETS}
    if unknown:
        parser.error(
            f"no target {', '.join(sorted(unknown))}; the targets are " + ", ".join(t.label.split()[0] for t in TARGETS)
        )
    before: dict[str, str] = {}
    if args.survivors and not args.no_run:
        before = results()
        names = [
            name
            for name, status in before.items()
            if status not in CAUGHT | NOT_TRIED and any(_belongs(name, t) for t in chosen)
        ]
        if names:
            mutmut("run", "--max-children", str(args.max_children), *names)
    elif not args.no_run:
        patterns = [p for t in chosen for p in t.patterns]
        mutmut("run", "--max-children", str(args.max_children), *patterns)
    statuses, equivalent = results(), equivalents()
    # mutmut forgets the results of functions that new tests reach; a mutant killed before stays killed when
    # tests are only added, so a survivors-only run keeps the earlier kills it did not test again
    for name, status in before.items():
        if status in CAUGHT and statuses.get(name, "not checked") in NOT_TRIED:
            statuses[name] = status
    print(f"{'target':45} {'killed':>7} {'tested':>7} {'score':>7}  equivalent")
    tallies = [(t, tally(t, statuses, equivalent)) for t in chosen]
    for target, t in tallies:
        if not t.tested:
            print(f"{target.label:45} {'-':>7} {'-':>7} {'-':>7}  (not run yet)")
            continue
        print(f"{target.label:45} {t.caught:7d} {t.tested - len(t.equivalent):7d} {t.score:6.1f}%  {len(t.equivalent)}")
    # targets overlap (data/archive.py is in data/): "all" counts each mutant once
    union = tally(Target("all", tuple(p for t in chosen for p in t.patterns)), statuses, equivalent)
    caught, tested = union.caught, union.tested - len(union.equivalent)
    if tested:
        print(f"{'all':45} {caught:7d} {tested:7d} {100.0 * caught / tested:6.1f}%  (goal {GOAL:.0f} %)")
    for target, t in tallies:
        for title, names in (
            ("survived (a missing test, or an equivalent mutant to write down)", t.missed),
            ("suspicious (the tests did not finish normally)", t.suspicious),
            ("equivalent (written down)", t.equivalent),
        ):
            if not names:
                continue
            print(f"\n{target.label}: {title}")
            for name in names:
                detail = equivalent.get(name) or (changed_line(name) if args.diff else "")
                print(f"  {name}  {detail}")
    return 0 if not tested or 100.0 * caught / tested >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
