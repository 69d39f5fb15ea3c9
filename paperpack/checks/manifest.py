"""Manifest family: ``paperpack.yml`` follows its schema, or its absence is noted."""

from __future__ import annotations

from typing import Iterable

from ..errors import ManifestError
from ..findings import Finding, Rule, Severity
from ..repo import Repo
from . import CheckContext

MAN001 = Rule(
    "MAN001", "manifest-invalid", Severity.ERROR,
    "paperpack cannot know which notebooks to run, in which order, or with which data until the manifest is valid; "
    "until then everything is inferred.",
    family="manifest",
)
MAN002 = Rule(
    "MAN002", "manifest-missing", Severity.INFO,
    "Without paperpack.yml, notebooks run in path order with default limits and data is not fetched; a manifest "
    "records the paper DOI, the authors, the data and the run order.",
    family="manifest",
)


def check(repo: Repo, ctx: CheckContext) -> Iterable[Finding]:
    error: ManifestError | None = ctx.cache.get("manifest_error")
    if error is not None:
        path = error.path.name if error.path else "paperpack.yml"
        line = None
        head = error.message.split(":", 2)
        if len(head) > 2 and head[1].isdigit():
            line = int(head[1])
        message = error.message.split(": ", 1)[1] if line else error.message
        yield MAN001.at(path, message, error.hint, line=line)
    elif repo.manifest is None:
        yield MAN002.at(None, "no paperpack.yml: everything is inferred from the repository",
                        "run `paperpack init` to write the inferred manifest, then review it")
