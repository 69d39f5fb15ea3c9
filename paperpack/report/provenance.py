"""What a verification was, as facts every provenance report states alike.

report.html, certificate.md and ro-crate-metadata.json say the same things: the paper (title,
DOI, authors with ORCID, license), the commit verified, the image (digest, labels, and whether
it was reused from the build of another commit), the engine and its isolation, the limits, and
the sha256 of every committed notebook, executed notebook and data file. :func:`provenance`
gathers them once from a :class:`~paperpack.report.publish.Publication`; the writers render them.

Files are hashed without following a link (a link in a paper's repository is untrusted); the
hashes are memoised per file identity by :func:`paperpack.data.download.hash_file`, so three writers
hash each file once.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import stat
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import PaperpackError

if TYPE_CHECKING:
    from ..repository.repo import Repo
    from ..run.results import NotebookRun
    from .publish import Publication

__all__ = [
    "Author",
    "Paper",
    "HashedFile",
    "DataFile",
    "NotebookRecord",
    "Image",
    "Provenance",
    "provenance",
    "paper_of",
    "sha256_of",
    "doi_url",
    "ORCID_URL",
    "DOI_URL",
]

log = logging.getLogger(__name__)

ORCID_URL = "https://orcid.org/"
DOI_URL = "https://doi.org/"
#: the labels the build writes (paperpack/image/builder.py)
_LABEL = "io.paperpack"
_DOI_PREFIX = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", re.I)


@dataclass(frozen=True)
class Author:
    name: str
    orcid: str | None = None  # https://orcid.org/0000-…, or None

    @classmethod
    def of(cls, name: str, orcid: str | None) -> Author:
        from ..checks.metadata import is_valid_orcid

        bare = orcid.strip().rstrip("/").rsplit("/", 1)[-1] if orcid else ""
        return cls(name.strip() or "(unnamed)", ORCID_URL + bare if is_valid_orcid(bare) else None)


@dataclass(frozen=True)
class Paper:
    title: str | None = None
    doi: str | None = None  # bare, 10.…
    authors: tuple[Author, ...] = ()
    license: str | None = None  # an SPDX id or the license file's name
    sources: tuple[str, ...] = ()  # the files these came from

    @property
    def doi_url(self) -> str | None:
        return doi_url(self.doi) if self.doi else None


def doi_url(doi: str) -> str:
    """``https://doi.org/<doi>``, a valid URI: characters a DOI may hold and a URI may not are %-encoded."""
    return DOI_URL + urllib.parse.quote(doi, safe="/:;()-._")


@dataclass(frozen=True)
class HashedFile:
    """A file, its sha256 and size; ``note`` says why there is no hash (missing, a link, a folder)."""

    path: str  # relative to the repository (committed, data) or to the output folder (executed)
    sha256: str | None = None
    size: int | None = None
    note: str = ""


@dataclass(frozen=True)
class DataFile:
    file: HashedFile
    doi: str | None = None
    url: str | None = None
    declared_sha256: str | None = None
    where: str = ""  # in-repo, cached, missing


@dataclass(frozen=True)
class NotebookRecord:
    run: NotebookRun
    committed: HashedFile
    executed: HashedFile | None  # None: no executed copy was written


@dataclass(frozen=True)
class Image:
    name: str | None = None  # the tag, e.g. paperpack/paper:1a2b…
    digest: str | None = None  # the image id, sha256:…
    labels: dict[str, str] = field(default_factory=dict)
    mode: str | None = None  # binder or offline
    python: str | None = None
    reused: bool = False

    @property
    def built_from(self) -> str | None:
        """The commit the image was built from (its label)."""
        return self.labels.get(f"{_LABEL}.commit") or self.labels.get("org.opencontainers.image.revision") or None

    @property
    def repo2docker_version(self) -> str | None:
        return self.labels.get(f"{_LABEL}.repo2docker-version") or None

    @property
    def base_image(self) -> str | None:
        return self.labels.get("org.opencontainers.image.base.name") or None

    @property
    def base_image_id(self) -> str | None:
        return self.labels.get(f"{_LABEL}.base-image-id") or None


@dataclass(frozen=True)
class Provenance:
    """Every fact the provenance reports state, gathered once."""

    paper: Paper
    commit: str | None
    created: str  # when the reports were written, ISO UTC
    paperpack_version: str
    engine: str | None  # docker, local, or None (not run)
    isolation: str
    network: str  # in words
    limits: dict[str, Any]
    image: Image | None
    notebooks: tuple[NotebookRecord, ...]
    data: tuple[DataFile, ...]
    environment: dict[str, Any]  # Environment.to_dict(): buildpack, python_version, files, requirements
    complete: bool

    @property
    def reused_from(self) -> str | None:
        """The commit a reused image was built from, when it is not the one verified."""
        built = self.image.built_from if self.image else None
        if built and self.commit and built != self.commit:
            return built
        return None

    @property
    def less_isolated(self) -> bool:
        return self.engine == "local"


def sha256_of(base: Path, rel: str) -> HashedFile:
    """``base/rel`` hashed, never through a link."""
    path = base / rel
    try:
        found = os.lstat(path)
    except OSError:
        return HashedFile(rel, note="missing")
    if stat.S_ISLNK(found.st_mode):
        return HashedFile(rel, note="a symbolic link: not followed, not hashed")
    if stat.S_ISDIR(found.st_mode):
        return HashedFile(rel, note="a folder (an unpacked archive): its files are not hashed one by one")
    if not stat.S_ISREG(found.st_mode):
        return HashedFile(rel, note="not a regular file")
    from ..data.download import hash_file  # here: the download module imports the HTTP client

    try:
        return HashedFile(rel, hash_file(path)["sha256"], found.st_size)
    except OSError as exc:
        return HashedFile(rel, note=f"unreadable: {exc.strerror or exc}")


def paper_of(repo: Repo) -> Paper:
    """Title, DOI, authors and license: paperpack.yml first, then CITATION.cff, then .zenodo.json."""
    from ..checks.metadata import _cff_people, _manifest_people, _zenodo_people, read_citation, read_zenodo
    from ..doi.syntax import normalize_doi

    cff, _ = read_citation(repo)
    cff = cff if isinstance(cff, dict) else {}
    zen, _ = read_zenodo(repo)
    zen = zen or {}
    manifest = repo.manifest
    m_paper = manifest.section("paper") if manifest is not None else {}
    pref = cff.get("preferred-citation")
    pref = pref if isinstance(pref, dict) else {}
    sources = [
        name
        for name, there in (
            (manifest.path.name if manifest and manifest.path else "", manifest),
            ("CITATION.cff", cff),
            (".zenodo.json", zen),
        )
        if there and name
    ]

    title = _first(
        manifest.get("title") if manifest else None,
        m_paper.get("title"),
        cff.get("title"),
        pref.get("title"),
        zen.get("title"),
    )
    doi = _first(m_paper.get("doi"), pref.get("doi"), cff.get("doi"), zen.get("doi"))
    if doi and normalize_doi(doi):
        doi = _DOI_PREFIX.sub("", doi.strip())  # as written (normalize_doi lower-cases it), without doi: or URL
    people = list(_manifest_people(repo))
    if not people and cff:
        people = list(_cff_people(cff))
    if not people and zen:
        text = repo.read_text(".zenodo.json") or ""
        people = list(_zenodo_people(zen, text))
    authors: list[Author] = []
    for person in people:
        author = Author.of(person.name, person.orcid)
        if author not in authors:
            authors.append(author)
    license_ = _first(
        manifest.get("license") if manifest else None,
        cff.get("license"),
        (zen.get("license") or {}).get("id") if isinstance(zen.get("license"), dict) else zen.get("license"),
    )
    if license_ is None:
        license_ = next(
            (f for f in repo.files if "/" not in f and f.upper().startswith(("LICENSE", "LICENCE", "COPYING"))), None
        )
    return Paper(title, doi, tuple(authors), license_, tuple(sources))


def _first(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, (list, tuple)) and value:
            value = value[0]
        if isinstance(value, (str, int, float)) and str(value).strip():
            return str(value).strip()
    return None


def _image(publication: Publication) -> Image | None:
    result = publication.result
    if result.build is not None:
        b = result.build
        return Image(b.image, b.image_id, dict(b.labels), b.mode, b.python_version, b.reused)
    build = publication.report.get("build") if isinstance(publication.report, dict) else None
    run_image = result.run.image if result.run is not None else None
    if isinstance(build, dict) and build.get("image") and (run_image is None or build.get("image") == run_image):
        labels = build.get("labels")
        labels = labels if isinstance(labels, dict) else {}
        return Image(
            str(build["image"]),
            build.get("image_id"),
            {str(k): str(v) for k, v in labels.items()},
            build.get("mode"),
            build.get("python_version"),
            bool(build.get("reused")),
        )
    if run_image:
        return Image(run_image)
    return None


def _data(publication: Publication) -> tuple[DataFile, ...]:
    from ..data.declared import declared_files
    from ..data.fetch import local_result
    from ..data.store import DataStore

    repo = publication.repo
    try:
        store = DataStore.in_cache(publication.result.options.cache_dir)
        declared = declared_files(repo, store)
    except (PaperpackError, OSError) as exc:
        log.warning("the declared data could not be listed: %s", exc)
        return ()
    out = []
    for item in declared:
        try:
            local = local_result(repo, store, item)
        except (PaperpackError, OSError) as exc:
            hashed = sha256_of(repo.root, item.path)
            out.append(
                DataFile(
                    HashedFile(item.path, hashed.sha256, hashed.size, note=str(exc)),
                    item.doi,
                    item.url,
                    item.sha256,
                    "in-repo",
                )
            )
            continue
        if local is None:
            out.append(DataFile(HashedFile(item.path, note="not fetched"), item.doi, item.url, item.sha256, "missing"))
        elif local.state == "in-repo":
            out.append(DataFile(sha256_of(repo.root, item.path), item.doi, item.url, item.sha256, "in-repo"))
        else:
            source = local.source
            hashed = sha256_of(source.parent, source.name) if source is not None else HashedFile(item.path)
            out.append(
                DataFile(
                    HashedFile(item.path, hashed.sha256 or local.sha256, hashed.size, hashed.note),
                    item.doi,
                    item.url,
                    item.sha256,
                    "cached",
                )
            )
    return tuple(out)


def _environment(repo: Repo) -> dict[str, Any]:
    """The environment repo2docker builds: buildpack, Python, files, and the declared packages."""
    try:
        return dict(repo.environment.to_dict())
    except (PaperpackError, OSError) as exc:
        return {"error": str(exc)}


def provenance(publication: Publication) -> Provenance:
    """The facts of ``publication``, hashed and gathered."""
    result, repo = publication.result, publication.repo
    run = result.run
    notebooks = []
    for nb in run.notebooks if run is not None else []:
        executed = sha256_of(publication.out_dir, nb.executed) if nb.executed else None
        notebooks.append(NotebookRecord(nb, sha256_of(repo.root, nb.path), executed))
    engine = run.engine if run is not None else (result.engine.name if result.engine is not None else None)
    if engine == "docker":
        network = "none: each notebook ran in a container without a network (docker --network none)"
    elif engine == "local":
        network = "as the local engine allowed (see the isolation): the local engine is less isolated"
    else:
        network = "no notebook ran"
    return Provenance(
        paper=paper_of(repo),
        commit=publication.commit,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        paperpack_version=__version__,
        engine=engine,
        isolation=run.isolation if run is not None else "",
        network=network,
        limits=dict(run.limits) if run is not None else {},
        image=_image(publication),
        notebooks=tuple(notebooks),
        data=_data(publication),
        environment=_environment(repo),
        complete=result.complete,
    )
