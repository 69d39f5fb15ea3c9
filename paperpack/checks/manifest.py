"""Manifest family (MAN): ``paperpack.yml`` follows its schema and names notebooks that exist.

Schema and path errors come from :func:`paperpack.repository.manifest.load_manifest` (the validation
run keeps the :class:`~paperpack.errors.ManifestError` in ``ctx.cache["manifest_error"]``);
the run-order rules (missing notebooks, unknown or circular ``depends_on``) are checked here.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ManifestError
from ..repository.manifest import Manifest, ManifestProblem, OrderProblemKind, run_order_problems
from ..repository.repo import Repo
from . import CheckContext
from .findings import Finding, Rule, Severity

MAN001 = Rule(
    "MAN001",
    "manifest-invalid",
    Severity.ERROR,
    "paperpack cannot know which notebooks to run, in which order, or with which data until the manifest is valid; "
    "until then everything is inferred.",
    family="manifest",
)
MAN002 = Rule(
    "MAN002",
    "manifest-missing",
    Severity.INFO,
    "Without paperpack.yml, notebooks run in path order with default limits and data is not fetched; a manifest "
    "records the paper DOI, the authors, the data and the run order.",
    family="manifest",
)
MAN003 = Rule(
    "MAN003",
    "notebook-missing",
    Severity.ERROR,
    "A notebook listed in the manifest that is not in the repository cannot be run, so the paper's results "
    "cannot be reproduced as declared.",
    family="manifest",
)
MAN004 = Rule(
    "MAN004",
    "depends-on-unknown",
    Severity.ERROR,
    "depends_on must name a notebook of the manifest's list; otherwise the run order it asks for cannot be honoured.",
    family="manifest",
)
MAN005 = Rule(
    "MAN005",
    "depends-on-cycle",
    Severity.ERROR,
    "Notebooks that depend on each other in a circle can never run: none of them can go first.",
    family="manifest",
)


def check(repo: Repo, ctx: CheckContext) -> Iterable[Finding]:
    error: ManifestError | None = ctx.cache.get("manifest_error")
    if error is not None:
        path = error.path.name if error.path else "paperpack.yml"
        problems: list[ManifestProblem] = error.problems
        for p in problems:  # one finding per problem, each at its own line
            yield MAN001.at(path, f"{p.where}: {p.message}" if p.where else p.message, p.hint, line=p.line)
        if not problems:  # not readable at all (size, encoding)
            yield MAN001.at(path, error.message, error.hint)
    elif repo.manifest is None:
        yield MAN002.at(
            None,
            "no paperpack.yml: everything is inferred from the repository",
            "run `paperpack init` to write the inferred manifest, then review it",
        )
    else:
        yield from check_run_order(repo, repo.manifest)


def check_run_order(repo: Repo, manifest: Manifest) -> Iterable[Finding]:
    """MAN003–MAN005 for a valid manifest."""
    name = manifest.path.name if manifest.path else "paperpack.yml"
    listed = [nb.path for nb in manifest.notebooks]
    files = set(repo.files)
    for p in run_order_problems(manifest.notebooks, files.__contains__):
        i, j, dep = p.index, p.dependency_index or 0, p.dependency
        if p.kind is OrderProblemKind.LISTED_TWICE:
            yield MAN001.at(
                name,
                f"notebooks[{i}].path: {p.path!r} is listed twice (the run stops on it)",
                "list each notebook once; merge the two entries",
                line=manifest.line_of("notebooks", i, "path"),
            )
        elif p.kind is OrderProblemKind.MISSING:
            close = [f for f in repo.notebooks if f.rsplit("/", 1)[-1] == p.path.rsplit("/", 1)[-1]]
            hint = f"did you mean {close[0]!r}? " if close else ""
            yield MAN003.at(
                name,
                f"notebooks[{i}].path: {p.path!r} is not in the repository",
                f"{hint}fix the path (relative to the repository root), commit the notebook, or remove the entry",
                line=manifest.line_of("notebooks", i, "path"),
            )
        elif p.kind is OrderProblemKind.UNKNOWN_DEPENDENCY:
            yield MAN004.at(
                name,
                f"notebooks[{i}].depends_on: {dep!r} is not one of the notebooks listed",
                f"list {dep!r} under notebooks:, or write one of: {', '.join(listed)}",
                line=manifest.line_of("notebooks", i, "depends_on", j),
            )
        elif p.kind is OrderProblemKind.SELF_DEPENDENCY:
            yield MAN005.at(
                name,
                f"notebooks[{i}]: {dep!r} depends on itself",
                "remove it from its own depends_on",
                line=manifest.line_of("notebooks", i, "depends_on", j),
            )
        else:
            cycle = list(p.cycle)
            yield MAN005.at(
                name,
                "depends_on goes round in a circle: " + " → ".join(cycle + [cycle[0]]),
                "remove one of these depends_on entries so that one notebook can run first",
                line=manifest.line_of("notebooks", i, "depends_on"),
            )
