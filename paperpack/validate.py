"""``paperpack validate``: run every check family over a repository and collect findings."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .checks import CheckContext, CheckRegistry, default_registry
from .checks.findings import Findings
from .errors import ManifestError
from .report import Report
from .repository.manifest import find_manifest, load_manifest
from .repository.repo import Repo

__all__ = ["validate"]

log = logging.getLogger(__name__)


def validate(
    root: Path | str | Repo,
    *,
    offline: bool = False,
    resolve_dois: bool = True,
    registry: CheckRegistry | None = None,
    context: CheckContext | None = None,
) -> Report:
    """Check the repository at ``root`` and return a :class:`Report`.

    Never modifies anything under ``root``. A manifest that does not follow its
    schema becomes a finding (and the rest is inferred), so one run shows everything.
    ``root`` may be a :class:`Repo` already opened (by :func:`paperpack.verify`): its
    files are then not walked again, and its manifest is used as it was loaded.
    """
    ctx = context or CheckContext(offline=offline, resolve_dois=resolve_dois)
    if isinstance(root, Repo):
        repo = root
    else:
        repo = Repo.open(root, manifest=False)
        try:
            repo.manifest = load_manifest(repo.root)
        except ManifestError as exc:
            ctx.cache["manifest_error"] = exc
    findings = Findings()
    for family, check in registry or default_registry():
        log.debug("running %s checks", family)
        findings.extend(check(repo, ctx))
    env = ctx.cache.get("environment")
    manifest_path = find_manifest(repo.root)
    return Report(
        root=repo.root,
        findings=findings,
        manifest=manifest_path.relative_to(repo.root).as_posix() if manifest_path else None,
        commit=repo.commit(),
        environment=env.to_dict() if env is not None else None,
        checked=checked(ctx),
    )


#: notebooks named in the summary line; the report's ``checked.notebooks`` lists them all
_NAMED = 5


def checked(ctx: CheckContext) -> dict[str, Any]:
    """What the run looked at, so that a clean result says what it covers (and a missed notebook shows)."""
    notebooks = list(ctx.cache.get("notebooks") or {})
    env = ctx.cache.get("environment")
    files = list(env.files) if env is not None else []
    post = ctx.cache.get("postbuild")
    files += [f for f in (post.files if post is not None else []) if f not in files]  # what postBuild installs from
    dois = sorted({m.doi for m in ctx.cache.get("doi_mentions") or [] if m.doi})
    closure = ctx.cache.get("closure")
    status = closure[1].status.value if closure is not None else None
    named = ", ".join(notebooks[:_NAMED]) + (f" and {len(notebooks) - _NAMED} more" if len(notebooks) > _NAMED else "")
    parts = [
        f"{len(notebooks)} notebook{'s' * (len(notebooks) != 1)}" + (f" ({named})" if notebooks else ""),
        f"environment files: {', '.join(files) or 'none'}",
        f"{len(dois)} DOI{'s' * (len(dois) != 1)}",
    ]
    if status is not None:
        parts.append(f"dependency closure: {status}")
    return {
        "summary": "; ".join(parts),
        "notebooks": notebooks,
        "environment_files": files,
        "dois": dois,
        "dependency_closure": status,
    }
