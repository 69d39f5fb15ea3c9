"""``ro-crate-metadata.json``: the verification as an RO-Crate (Process Run Crate profile 0.5).

The root dataset is the repository: its commit, the paper's DOI, the authors with their ORCID,
the license. paperpack, jupyter-repo2docker and the Jupyter kernel's image are software
(``SoftwareApplication``; the image also a ``ContainerImage`` with its digest and base image).
Each notebook run is one ``CreateAction``: instrument paperpack, object the committed notebook
and the declared data files (sha256, DOI), result the executed notebook, start and end times,
``actionStatus`` and, when it failed, ``error``.

File ids are relative to the repository (the root dataset ``./``); the file is written into the
output folder, so the executed notebooks are named by their path from the repository when the
output folder is inside it, else by a ``file:`` URI. Built with the ``rocrate`` library; only
the metadata file is written (the library is never asked to copy files).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..util.atomic import write_atomic
from .provenance import Provenance, doi_url, provenance

if TYPE_CHECKING:
    from .publish import Publication

__all__ = ["CRATE_NAME", "PROFILE", "build_crate", "crate_metadata", "write_crate"]

CRATE_NAME = "ro-crate-metadata.json"
#: the Process Run Crate profile the crate conforms to
PROFILE = "https://w3id.org/ro/wfrun/process/0.5"
_WFRUN = "https://w3id.org/ro/terms/workflow-run#"
#: terms of the workflow-run vocabulary the crate uses, beside RO-Crate 1.1's context
_TERMS = {
    "ContainerImage": f"{_WFRUN}ContainerImage",
    "containerImage": f"{_WFRUN}containerImage",
    "DockerImage": f"{_WFRUN}DockerImage",
    "sha256": f"{_WFRUN}sha256",
    "tag": f"{_WFRUN}tag",
    "registry": f"{_WFRUN}registry",
}
_PAPERPACK_ID = "https://pypi.org/project/paperpack/"
_REPO2DOCKER_ID = "https://pypi.org/project/jupyter-repo2docker/"
_COMPLETED = "http://schema.org/CompletedActionStatus"
_FAILED = "http://schema.org/FailedActionStatus"
_SPDX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")


def _file_id(out_dir: Path, repo_root: Path, rel: str) -> str:
    """An executed notebook's id: its path from the repository, or a file: URI outside it."""
    path = (out_dir / rel).absolute()
    try:
        return path.relative_to(repo_root.absolute()).as_posix()
    except ValueError:
        return path.as_uri()


def build_crate(facts: Provenance, publication: Publication) -> Any:
    """The :class:`rocrate.rocrate.ROCrate` of a verification."""
    from rocrate.model.contextentity import ContextEntity
    from rocrate.model.person import Person
    from rocrate.rocrate import ROCrate

    crate = ROCrate(gen_preview=False, version="1.1")  # Process Run Crate 0.5 is a profile of RO-Crate 1.1
    crate.metadata.extra_terms.update(_TERMS)
    root = crate.root_dataset
    paper = facts.paper
    root["name"] = paper.title or publication.repo.root.name
    root["description"] = (
        f"The repository of the paper{f' doi:{paper.doi}' if paper.doi else ''}, verified by "
        f"paperpack {facts.paperpack_version}: {publication.verdict.sentence()}"
    )
    root["datePublished"] = facts.created
    if facts.commit:
        root["version"] = facts.commit
    if paper.doi:
        paper_entity = crate.add(
            ContextEntity(
                crate,
                doi_url(paper.doi),
                properties={
                    "@type": "ScholarlyArticle",
                    "name": paper.title or paper.doi,
                    "identifier": doi_url(paper.doi),
                },
            )
        )
        root["citation"] = paper_entity
        root["identifier"] = doi_url(paper.doi)
    authors = []
    for n, author in enumerate(paper.authors):
        identifier = author.orcid or f"#author-{n + 1}"
        authors.append(crate.add(Person(crate, identifier, properties={"name": author.name})))
    if authors:
        root["author"] = authors[0] if len(authors) == 1 else authors  # RO-Crate: no singleton arrays
    if paper.license and _SPDX_ID.match(paper.license):
        root["license"] = crate.add(
            ContextEntity(
                crate,
                f"https://spdx.org/licenses/{paper.license}",
                properties={"@type": "CreativeWork", "name": paper.license, "identifier": paper.license},
            )
        )
    elif paper.license:
        root["license"] = paper.license
    profile = crate.add(
        ContextEntity(
            crate, PROFILE, properties={"@type": "CreativeWork", "name": "Process Run Crate", "version": "0.5"}
        )
    )
    root["conformsTo"] = profile

    paperpack = crate.add(
        ContextEntity(
            crate,
            _PAPERPACK_ID,
            properties={
                "@type": "SoftwareApplication",
                "name": "paperpack",
                "url": _PAPERPACK_ID,
                "softwareVersion": facts.paperpack_version,
            },
        )
    )
    image_entity = None
    if facts.image is not None:
        image = facts.image
        if image.repo2docker_version:
            r2d = crate.add(
                ContextEntity(
                    crate,
                    _REPO2DOCKER_ID,
                    properties={
                        "@type": "SoftwareApplication",
                        "name": "jupyter-repo2docker",
                        "url": _REPO2DOCKER_ID,
                        "softwareVersion": image.repo2docker_version,
                    },
                )
            )
            paperpack["softwareRequirements"] = r2d
        name, _, tag = (image.name or "").rpartition(":") if ":" in (image.name or "") else (image.name or "", "", "")
        properties: dict[str, Any] = {
            "@type": "ContainerImage",
            "additionalType": {"@id": f"{_WFRUN}DockerImage"},
            "name": name or "image",
        }
        if tag:
            properties["tag"] = tag
        host = name.split("/", 1)[0] if "/" in name else ""
        if "." in host or ":" in host or host == "localhost":  # ghcr.io/me/paper: pushed there (else a local image)
            properties["registry"], properties["name"] = host, name.split("/", 1)[1]
        if image.digest:
            properties["sha256"] = image.digest.removeprefix("sha256:")
            properties["identifier"] = image.digest
        base = [x for x in (image.base_image, image.base_image_id) if x]
        if base:
            properties["description"] = (
                "built on "
                + " ".join(base)
                + (f" by jupyter-repo2docker {image.repo2docker_version}" if image.repo2docker_version else "")
            )
        if image.built_from:
            properties["version"] = image.built_from  # the commit the image was built from (it may be reused)
        image_entity = crate.add(
            ContextEntity(crate, f"#image-{(image.digest or image.name or 'image')}", properties=properties)
        )

    data_entities = []
    for data in facts.data:
        props: dict[str, Any] = {"name": data.file.path, "encodingFormat": "application/octet-stream"}
        if data.file.sha256:
            props["sha256"] = data.file.sha256
        if data.file.size is not None:
            props["contentSize"] = str(data.file.size)
        if data.doi:
            props["identifier"] = doi_url(data.doi)
        if data.url:
            props["url"] = data.url
        data_entities.append(crate.add_file(dest_path=data.file.path, properties=props))

    actions = []
    for n, record in enumerate(facts.notebooks, 1):
        run = record.run
        if str(run.status) == "skipped":  # not run: no action (the certificate and report.html list it)
            continue
        committed_props: dict[str, Any] = {"name": run.path, "encodingFormat": "application/x-ipynb+json"}
        if record.committed.sha256:
            committed_props["sha256"] = record.committed.sha256
        committed = crate.add_file(dest_path=run.path, properties=committed_props)
        completed = str(run.status) == "ok"
        properties = {
            "name": f"Run of {run.path}",
            "description": f"verdict {run.verdict}, status {run.status}: {run.message}".rstrip(": "),
            "actionStatus": _COMPLETED if completed else _FAILED,
        }
        if run.started:
            properties["startTime"] = run.started
        if run.ended:
            properties["endTime"] = run.ended
        if not completed:
            properties["error"] = run.message or str(run.status)
        result = None
        if record.executed is not None and run.executed:
            executed_props: dict[str, Any] = {
                "name": f"{run.path}, executed",
                "encodingFormat": "application/x-ipynb+json",
            }
            if record.executed.sha256:
                executed_props["sha256"] = record.executed.sha256
            result = crate.add_file(
                dest_path=_file_id(publication.out_dir, publication.repo.root, run.executed), properties=executed_props
            )
        objects = [committed, *data_entities]
        action = crate.add_action(
            paperpack,
            identifier=f"#run-{n}",
            object=objects[0] if len(objects) == 1 else objects,
            result=result,
            properties=properties,
        )
        if image_entity is not None:
            action["containerImage"] = image_entity
        actions.append(action)
    if actions:
        root["mentions"] = actions[0] if len(actions) == 1 else actions
    return crate


def crate_metadata(publication: Publication, facts: Provenance | None = None) -> dict[str, Any]:
    """The crate's JSON-LD, as a dict."""
    metadata: dict[str, Any] = build_crate(facts or provenance(publication), publication).metadata.generate()
    return metadata


def write_crate(publication: Publication) -> list[Path]:
    """Write ``ro-crate-metadata.json`` into the output folder."""
    path = publication.out_dir / CRATE_NAME
    text = json.dumps(crate_metadata(publication), indent=2, ensure_ascii=False)
    write_atomic(path, (text + "\n").encode("utf-8", "replace"))
    return [path]
