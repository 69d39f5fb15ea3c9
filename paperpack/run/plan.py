"""Which notebooks run, in which order, with which settings.

The order comes from the manifest's ``notebooks`` list (with ``depends_on``) or, without
one, every notebook found, in path order, all independent. The plan is a DAG: a notebook
is ready once everything it depends on succeeded; if a dependency failed it is skipped
with that reason.

Notebooks that read a file another notebook writes (found statically, as validate finds
file reads: :mod:`paperpack.notebook.pysource`) run after that notebook has finished (``after``),
never at the same time; unlike ``depends_on``, a failed writer does not skip the reader
(the file may be committed too), but the reader's failure then names the writer
(``writers``, read by :mod:`paperpack.run.causes`).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..repository.manifest import NotebookSpec, OrderProblemKind, find_cycle, run_order_problems
from ..repository.repo import Repo
from ..util.sizes import size_bytes

__all__ = [
    "Limits",
    "PlannedNotebook",
    "Plan",
    "make_plan",
    "DEFAULT_TIMEOUT",
    "DEFAULT_CELL_TIMEOUT",
    "DEFAULT_DISK",
    "DEFAULT_MEMORY",
    "DEFAULT_PIDS",
    "size_bytes",
]

DEFAULT_TIMEOUT = 3600.0
DEFAULT_CELL_TIMEOUT = 1200.0
#: the docker engine's cap on the working copy and on each container's /tmp (memory-backed: see container.py)
DEFAULT_DISK = "4g"
DEFAULT_MEMORY = "2g"
DEFAULT_PIDS = 512
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _first(*values: Any) -> Any:
    """The first value that is set (``0`` counts as set: validation rejects it before it gets here)."""
    return next((v for v in values if v is not None), None)


@dataclass
class Limits:
    """Resource limits for a run. ``None`` means: the manifest's ``run`` section, then the default.

    Values given here (from the command line) win over the manifest, also over a
    notebook's own ``timeout``, so a CI job can tighten every limit at once.
    """

    timeout: float | None = None
    cell_timeout: float | None = None
    memory: str | None = None
    pids: int | None = None
    cpus: float | None = None
    disk: str | None = None  # what a run may write: its working copy, and each container's /tmp

    def resolved(self, manifest_run: dict[str, Any], jobs: int) -> Limits:
        return Limits(
            timeout=_first(self.timeout, manifest_run.get("timeout"), DEFAULT_TIMEOUT),
            cell_timeout=_first(self.cell_timeout, manifest_run.get("cell_timeout"), DEFAULT_CELL_TIMEOUT),
            memory=_first(self.memory, manifest_run.get("memory"), DEFAULT_MEMORY),
            pids=_first(self.pids, manifest_run.get("pids"), DEFAULT_PIDS),
            cpus=_first(self.cpus, manifest_run.get("cpus"), float(min(jobs, os.cpu_count() or 1))),
            disk=_first(self.disk, manifest_run.get("disk"), DEFAULT_DISK),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            "cell_timeout": self.cell_timeout,
            "memory": self.memory,
            "pids": self.pids,
            "cpus": self.cpus,
            "disk": self.disk,
        }


@dataclass
class PlannedNotebook:
    path: str
    depends_on: list[str] = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT
    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    parameters: dict[str, Any] = field(default_factory=dict)
    kernel: str | None = None
    allow_errors: bool = False
    skip: str | None = None
    compare: dict[str, Any] = field(default_factory=dict)
    after: list[str] = field(default_factory=list)  # notebooks writing a file this one reads: they run first
    writers: dict[str, list[str]] = field(default_factory=dict)  # repo-relative file -> notebooks writing it


@dataclass
class Plan:
    notebooks: list[PlannedNotebook]
    limits: Limits = field(default_factory=Limits)  # resolved: command line, then manifest, then defaults

    def __post_init__(self) -> None:
        self.by_path = {nb.path: nb for nb in self.notebooks}

    @property
    def to_run(self) -> list[PlannedNotebook]:
        return [nb for nb in self.notebooks if nb.skip is None]

    def ready(self, succeeded: set[str], settled: set[str]) -> list[PlannedNotebook]:
        """Notebooks not yet settled whose dependencies all succeeded and whose writers have finished."""
        return [
            nb
            for nb in self.to_run
            if nb.path not in settled
            and all(dep in succeeded for dep in nb.depends_on)
            and all(writer in settled for writer in nb.after)
        ]

    def blocked(self, failed: set[str], settled: set[str]) -> list[tuple[PlannedNotebook, str]]:
        """Notebooks that can no longer run because a dependency failed or was skipped."""
        out = []
        for nb in self.to_run:
            if nb.path in settled:
                continue
            bad = [dep for dep in nb.depends_on if dep in failed]
            if bad:
                out.append((nb, bad[0]))
        return out


def make_plan(
    repo: Repo, *, parameters: dict[str, Any] | None = None, limits: Limits | None = None, jobs: int = 1
) -> Plan:
    """The run plan for ``repo``: manifest order and settings, command-line overrides on top."""
    manifest = repo.manifest
    run_section = manifest.section("run") if manifest else {}
    top_compare = manifest.section("compare") if manifest else {}
    given = limits or Limits()
    resolved = given.resolved(run_section, jobs)
    specs: list[NotebookSpec] = manifest.notebooks if manifest else []
    if not specs:
        specs = [NotebookSpec(path=p) for p in repo.notebooks]
    _check(repo, specs)
    extra = dict(parameters or {})
    for name in extra:
        if not _IDENTIFIER.match(name):
            raise ConfigError(
                f"parameter name {name!r} is not a Python identifier",
                hint="use -p NAME VALUE with NAME a valid variable name, e.g. -p n_samples 100",
            )
    planned = []
    for spec in specs:
        skip = spec.skip
        planned.append(
            PlannedNotebook(
                path=spec.path,
                depends_on=list(spec.depends_on),
                timeout=float(_first(given.timeout, spec.timeout, resolved.timeout)),
                cell_timeout=float(_first(given.cell_timeout, spec.cell_timeout, resolved.cell_timeout)),
                parameters={**spec.parameters, **extra},
                kernel=spec.kernel,
                allow_errors=spec.allow_errors,
                skip=(skip if isinstance(skip, str) else "skip: true in paperpack.yml") if skip else None,
                compare={**top_compare, **(spec.compare or {})},
            )
        )
    order_by_files(repo, planned)
    return Plan(planned, resolved)


def _candidates(folder: str, path: str) -> list[str]:
    """Repository-relative names ``path`` may mean when read from a notebook in ``folder``."""
    p = path.replace("\\", "/")
    if p.startswith(("/", "~")) or ":" in p[:3] or not p.strip():
        return []
    out = [posixpath.normpath(posixpath.join(folder, p))] if folder else []
    out.append(posixpath.normpath(p))
    return [c for c in dict.fromkeys(out) if not c.startswith("../") and c != ".."]


def order_by_files(repo: Repo, planned: list[PlannedNotebook]) -> None:
    """Set ``after`` and ``writers``: a notebook reading a file another writes runs after it.

    An edge that would close a circle (two notebooks reading each other's files) is left
    out, the earlier one in the list running first.
    """
    from ..notebook.parse import ParsedNotebook, read_notebook

    reads: dict[str, set[str]] = {}
    writes: dict[str, set[str]] = {}
    for nb in planned:
        parsed = read_notebook(repo.root / nb.path, nb.path, code="facts")
        if not isinstance(parsed, ParsedNotebook) or not parsed.code:
            continue
        folder = posixpath.dirname(nb.path)
        for facts in parsed.code.values():
            for use in facts.writes:
                for cand in _candidates(folder, use.path):
                    writes.setdefault(cand, set()).add(nb.path)
            for use in facts.reads:
                reads.setdefault(nb.path, set()).update(_candidates(folder, use.path))
    if not writes:
        return
    position = {nb.path: i for i, nb in enumerate(planned)}
    edges: list[tuple[PlannedNotebook, str]] = []
    for nb in planned:
        for name in sorted(reads.get(nb.path, ())):
            others = sorted(w for w in writes.get(name, ()) if w != nb.path)
            if others:
                nb.writers[name] = others
                edges += [(nb, w) for w in others]
    graph = {nb.path: list(nb.depends_on) for nb in planned}
    for nb, writer in sorted(edges, key=lambda e: (position[e[1]] > position[e[0].path], position[e[0].path])):
        if writer in nb.after or writer in nb.depends_on:
            continue
        graph[nb.path].append(writer)
        if find_cycle(graph):
            graph[nb.path].pop()
        else:
            nb.after.append(writer)


def _check(repo: Repo, specs: Iterable[NotebookSpec]) -> None:
    """Refuse the first problem of the run order (the rules validate reports as MAN003–MAN005)."""
    where = repo.manifest.path.name if repo.manifest and repo.manifest.path else "paperpack.yml"
    circular = (OrderProblemKind.SELF_DEPENDENCY, OrderProblemKind.CYCLE)
    problems = run_order_problems(list(specs), lambda path: (repo.root / path).is_file())
    for p in sorted(problems, key=lambda p: p.kind in circular):  # a circle is said last
        if p.kind is OrderProblemKind.LISTED_TWICE:
            raise ConfigError(
                f"{where}: notebook {p.path!r} is listed twice", hint="list each notebook once; merge the two entries"
            )
        if p.kind is OrderProblemKind.MISSING:
            raise ConfigError(
                f"{where}: notebook {p.path!r} does not exist in {repo.root}",
                hint="fix the path (relative to the repository root) or remove the entry",
            )
        if p.kind is OrderProblemKind.UNKNOWN_DEPENDENCY:
            raise ConfigError(
                f"{where}: {p.path!r} depends on {p.dependency!r}, which is not in the notebooks list",
                hint=f"add {p.dependency!r} to `notebooks:` or remove it from depends_on",
            )
        cycle = list(p.cycle) or [p.path]
        raise ConfigError(
            f"{where}: notebooks depend on each other in a circle: {' -> '.join(cycle + cycle[:1])}",
            hint="remove one depends_on entry so the order has a start",
        )
