"""``paperpack clean``: list and remove what paperpack left on this machine, with sizes.

Three kinds of things, each recognised as paperpack's own and nothing else:

- **images**: built images carry paperpack's provenance labels (``io.paperpack.version``,
  :data:`~paperpack.image.builder.LABEL_PREFIX`), base images the release label
  (:data:`~paperpack.image.baseimage.RELEASE_LABEL`). Images are listed by those labels
  and each one's labels are checked again before it is removed: an image paperpack did
  not make is never touched. An image a container still uses is not removed (Docker
  refuses; the reason is reported).
- **environments**: the local engine's virtual environments, ``<cache>/venvs/<key>``.
- **caches**: fetched data, DOI answers, dependency resolutions (``<cache>/data``, ``doi``,
  ``closure``) and build logs, one entry per top-level item.

Selections: everything, or older than a date (an item's age is its image's creation time,
or the last change of its folder or file), or not used by given repositories (the image
of their current state and its base image, their local environment). :func:`plan`
decides; :func:`remove` removes, and returns what it could not.
"""

from __future__ import annotations

import enum
import json
import logging
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..util.sizes import folder_size

__all__ = ["KINDS", "Item", "Kind", "Outcome", "Selection", "age_limit", "find", "plan", "remove", "total", "used_by"]

log = logging.getLogger(__name__)

BUILT_LABEL = "io.paperpack.version"


class Kind(enum.Enum):
    IMAGE = "image"
    ENVIRONMENT = "environment"
    CACHE = "cache"


KINDS = tuple(Kind)


@dataclass(frozen=True)
class Item:
    """One thing paperpack made: an image (``ref`` a tag or an id), an environment or a cache entry (a path)."""

    kind: Kind
    ref: str  # image tag (or id when untagged), or the path
    size: int  # bytes
    created: datetime  # UTC
    what: str = ""  # "base image", "built image", "local environment", "DOI answers" …

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "ref": self.ref,
            "size": self.size,
            "created": self.created.isoformat(),
            "what": self.what,
        }


@dataclass(frozen=True)
class Selection:
    """What to clean: the kinds, and optionally older than ``before``, not used by ``keep``, images named ``prefix``."""

    kinds: frozenset[Kind] = frozenset(KINDS)
    before: datetime | None = None
    keep: frozenset[str] = frozenset()  # image refs and paths the given repositories use
    image_prefix: str | None = None  # only images whose name starts with this


@dataclass
class Outcome:
    removed: list[Item] = field(default_factory=list)
    failed: list[tuple[Item, str]] = field(default_factory=list)

    @property
    def freed(self) -> int:
        return sum(item.size for item in self.removed)


def _docker(*args: str) -> str | None:
    """A docker command's stdout, or ``None`` when there is no usable Docker (clean then lists no images)."""
    from ..util.docker import docker_cli, run

    proc = run([docker_cli(), *args], what=f"docker {args[0]}", check=False, timeout=120)
    if proc.returncode != 0:
        log.info("docker %s: %s", " ".join(args[:2]), proc.stderr.strip()[-300:])
        return None
    return proc.stdout


def _paperpack_image(labels: dict[str, str]) -> str:
    """ "built image", "base image", or "" for an image paperpack did not make."""
    from ..image.baseimage import RELEASE_LABEL

    if labels.get(BUILT_LABEL):
        return "built image"
    if labels.get(RELEASE_LABEL):
        return "base image"
    return ""


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text[:26].rstrip("Z") if "." in text else text.rstrip("Z")).replace(
            tzinfo=timezone.utc
        )
    except ValueError:
        return datetime.now(timezone.utc)


def _images() -> list[Item]:
    from ..image.baseimage import RELEASE_LABEL

    ids: list[str] = []
    for label in (BUILT_LABEL, RELEASE_LABEL):
        out = _docker("image", "ls", "--quiet", "--no-trunc", "--filter", f"label={label}")
        ids += [i for i in (out or "").split() if i not in ids]
    if not ids:
        return []
    out = _docker("image", "inspect", *ids)
    items = []
    for info in json.loads(out or "[]"):
        labels = dict((info.get("Config") or {}).get("Labels") or {})
        what = _paperpack_image(labels)
        if not what:  # listed by a label, yet without it: never touched
            continue
        created = _parse_time(str(info.get("Created", "")))
        tags = list(info.get("RepoTags") or []) or [str(info["Id"])]
        for tag in tags:  # one item per tag; the size counts once (the last tag frees it)
            items.append(Item(Kind.IMAGE, tag, int(info.get("Size", 0)) if tag == tags[-1] else 0, created, what))
    return items


def _mtime(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(path.lstat().st_mtime, timezone.utc)
    except OSError:
        return datetime.now(timezone.utc)


def _folder_items(root: Path, kind: Kind, what: str) -> list[Item]:
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    items = []
    for entry in entries:
        if entry.is_symlink():
            continue
        size = folder_size(entry) if entry.is_dir() else entry.lstat().st_size
        items.append(Item(kind, str(entry), size, _mtime(entry), what))
    return items


def find(kinds: Iterable[Kind] = KINDS, *, cache: Path | None = None) -> list[Item]:
    """Everything of ``kinds`` paperpack made here."""
    from ..util.cache import cache_dir

    root = cache_dir(cache)
    wanted = set(kinds)
    items: list[Item] = []
    if Kind.IMAGE in wanted:
        items += _images()
    if Kind.ENVIRONMENT in wanted:
        items += _folder_items(root / "venvs", Kind.ENVIRONMENT, "local environment")
    if Kind.CACHE in wanted:
        data = root / "data"  # one item: its blobs, aliases and listings only make sense together
        if data.is_dir() and not data.is_symlink():
            items.append(Item(Kind.CACHE, str(data), folder_size(data), _mtime(data), "fetched data"))
        for sub, what in (("doi", "DOI answers"), ("closure", "dependency resolutions")):
            items += _folder_items(root / sub, Kind.CACHE, what)
        items += _folder_items(root / "build-logs", Kind.CACHE, "build log")
    return items


def used_by(roots: Sequence[Path], *, cache: Path | None = None) -> frozenset[str]:
    """The image tags, environment paths and (when it declares data) the data cache each repository uses now."""
    from ..errors import PaperpackError
    from ..image.baseimage import base_image_tag
    from ..image.environment import plan_offline
    from ..repository.repo import Repo
    from ..run.engines import repo_image
    from ..run.venv import choose_python, venv_dir
    from ..util.cache import cache_dir

    kept: set[str] = set()
    for root in roots:
        repo = Repo.open(root)
        try:
            found = repo_image(repo)  # the image `paperpack build` made for this state
            if found.tag:
                kept.add(found.tag)
            kept.add(base_image_tag(plan_offline(repo.root, environment=repo.environment).release))
        except PaperpackError as exc:
            log.info("%s: no image to keep (%s)", root, exc)
        kept.add(str(venv_dir(repo.root, choose_python(repo.root, repo.environment), repo.environment)))
        if repo.manifest is not None and repo.manifest.get("data"):
            kept.add(str(cache_dir(cache) / "data"))
    return frozenset(kept)


def plan(items: Iterable[Item], selection: Selection) -> list[Item]:
    """The items ``selection`` picks."""
    chosen = []
    for item in items:
        if item.kind not in selection.kinds or item.ref in selection.keep:
            continue
        if selection.before is not None and item.created >= selection.before:
            continue
        if (
            item.kind is Kind.IMAGE
            and selection.image_prefix is not None
            and not item.ref.startswith(selection.image_prefix)
        ):
            continue
        chosen.append(item)
    return chosen


def remove(items: Sequence[Item]) -> Outcome:
    """Remove ``items``; an image is checked to be paperpack's again just before."""
    from ..util.docker import docker_cli, image_inspect, run

    outcome = Outcome()
    for item in items:
        if item.kind is Kind.IMAGE:
            info = image_inspect(item.ref)
            if info is None:
                outcome.removed.append(item)  # gone meanwhile (another tag of it went first)
                continue
            if not _paperpack_image(dict((info.get("Config") or {}).get("Labels") or {})):
                outcome.failed.append((item, "not made by paperpack: left alone"))
                continue
            proc = run([docker_cli(), "image", "rm", item.ref], what=f"remove {item.ref}", check=False, timeout=300)
            if proc.returncode != 0:  # e.g. a container uses it: Docker's own words
                said = (proc.stderr or proc.stdout).strip().splitlines()
                outcome.failed.append((item, said[-1] if said else f"docker image rm exited {proc.returncode}"))
                continue
        else:
            path = Path(item.ref)
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            except OSError as exc:
                outcome.failed.append((item, str(exc)))
                continue
        outcome.removed.append(item)
    return outcome


def age_limit(text: str, now: datetime | None = None) -> datetime:
    """``--older-than``: a date (``2026-11-01``) or a number of days (``30``), as the UTC instant items must predate."""
    from datetime import timedelta

    now = now or datetime.now(timezone.utc)
    if text.isdigit():
        return now - timedelta(days=int(text))
    try:
        day = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a date such as 2026-11-01 or a number of days, got {text!r}") from None
    return day if day.tzinfo else day.replace(tzinfo=timezone.utc)


def total(items: Iterable[Item]) -> int:
    return sum(item.size for item in items)
