"""``certificate.md``: a one-page verification certificate, in the spirit of CODECHECK's.

What was run, where (the image digest, the network, the limits, the engine and its isolation),
when, by which paperpack version, the verdict per notebook, and the sha256 of every file that
lets anyone check the verification later: the committed notebooks, the executed notebooks, the
data, the image digest and the commit. :func:`certificate` builds one :class:`Certificate` from
the :class:`~paperpack.report.provenance.Provenance`; ``certificate.md`` is its Markdown and
report.html renders the same object as a section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..util.atomic import write_atomic
from .paper import PaperVerdict
from .provenance import Provenance, provenance

if TYPE_CHECKING:
    from .publish import Publication

__all__ = [
    "CERTIFICATE_NAME",
    "Certificate",
    "HashRow",
    "NotebookRow",
    "certificate",
    "write_certificate",
    "markdown_text",
]

CERTIFICATE_NAME = "certificate.md"


@dataclass(frozen=True)
class NotebookRow:
    path: str
    verdict: str
    status: str
    seconds: float | None
    started: str | None
    ended: str | None
    message: str


@dataclass(frozen=True)
class HashRow:
    """One thing to check: its role (committed notebook, executed notebook, data, image, commit), name, hash."""

    role: str
    name: str
    value: str | None  # the sha256 (hex), the image digest or the commit; None: see note
    note: str = ""


@dataclass
class Certificate:
    title: str
    verdict: str  # the sentence of the paper-level verdict
    verdict_class: str
    facts: list[tuple[str, str]] = field(default_factory=list)  # (what, value) in reading order
    notebooks: list[NotebookRow] = field(default_factory=list)
    hashes: list[HashRow] = field(default_factory=list)

    def to_markdown(self) -> str:
        out = [
            f"# Verification certificate: {markdown_text(self.title)}",
            "",
            f"**Verdict: {markdown_text(self.verdict)}**",
            "",
        ]
        out += [f"- **{what}:** {markdown_text(value)}" for what, value in self.facts]
        out += ["", "## Notebooks", ""]
        if self.notebooks:
            out += [
                "| notebook | verdict | status | time (s) | started (UTC) | ended (UTC) |",
                "| --- | --- | --- | ---: | --- | --- |",
            ]
            out += [
                f"| {markdown_text(n.path)} | {n.verdict} | {n.status} | "
                f"{'' if n.seconds is None else f'{n.seconds:.1f}'} | {n.started or ''} | {n.ended or ''} |"
                for n in self.notebooks
            ]
        else:
            out.append("No notebook was run.")
        out += [
            "",
            "## Hashes",
            "",
            "Anyone can check this verification later against these values: `sha256sum FILE` for a file, "
            "`docker image inspect --format '{{.Id}}' IMAGE` for the image, `git rev-parse HEAD` for the "
            "commit.",
            "",
            "| what | file | sha256 / id |",
            "| --- | --- | --- |",
        ]
        for row in self.hashes:
            value = f"`{row.value}`" if row.value else f"({markdown_text(row.note) or 'unknown'})"
            out.append(f"| {row.role} | {markdown_text(row.name)} | {value} |")
        out.append("")
        return "\n".join(out)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~&])")


def markdown_text(text: str) -> str:
    """``text`` as literal Markdown on one line: no link, no HTML, no table cell break from a notebook's name."""
    one_line = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line)


def certificate(facts: Provenance, verdict: PaperVerdict) -> Certificate:
    paper = facts.paper
    cert = Certificate(title=paper.title or "(untitled)", verdict=verdict.sentence(), verdict_class=verdict.cls.value)
    add = cert.facts.append
    if paper.doi:
        add(("Paper DOI", paper.doi))
    if paper.authors:
        add(("Authors", "; ".join(a.name + (f" ({a.orcid})" if a.orcid else "") for a in paper.authors)))
    add(("Repository commit verified", facts.commit or "none (not a git repository)"))
    image = facts.image
    if image is not None:
        add(("Image", f"{image.name or '?'} (id {image.digest or 'unknown'})"))
        if facts.reused_from:
            add(
                (
                    "Image reused",
                    f"built from commit {facts.reused_from}, reused for commit {facts.commit}: its labels "
                    "describe that build",
                )
            )
        if image.repo2docker_version:
            add(
                (
                    "Built with",
                    f"jupyter-repo2docker {image.repo2docker_version}, {image.mode or '?'} mode, base "
                    f"image {image.base_image or '?'}",
                )
            )
    add(("Engine", _engine(facts)))
    add(("Network", facts.network))
    if facts.limits:
        add(("Limits", ", ".join(f"{k} {v}" for k, v in facts.limits.items() if v not in (None, ""))))
    starts = [n.run.started for n in facts.notebooks if n.run.started]
    ends = [n.run.ended for n in facts.notebooks if n.run.ended]
    if starts and ends:
        add(("Run", f"from {min(starts)} to {max(ends)} (UTC)"))
    add(("Certificate written", f"{facts.created} by paperpack {facts.paperpack_version}"))
    if not facts.complete:
        add(("Incomplete", "the run was interrupted: not every notebook ran"))

    for record in facts.notebooks:
        run = record.run
        cert.notebooks.append(
            NotebookRow(run.path, str(run.verdict), str(run.status), run.duration, run.started, run.ended, run.message)
        )
    for record in facts.notebooks:
        cert.hashes.append(
            HashRow("committed notebook", record.committed.path, record.committed.sha256, record.committed.note)
        )
        if record.executed is not None:
            cert.hashes.append(
                HashRow("executed notebook", record.executed.path, record.executed.sha256, record.executed.note)
            )
    for data in facts.data:
        cert.hashes.append(
            HashRow(
                "data" + (f" (doi:{data.doi})" if data.doi else ""), data.file.path, data.file.sha256, data.file.note
            )
        )
    if image is not None:
        cert.hashes.append(HashRow("image", image.name or "", image.digest, "" if image.digest else "unknown"))
    cert.hashes.append(HashRow("commit", "HEAD", facts.commit, "" if facts.commit else "not a git repository"))
    return cert


def _engine(facts: Provenance) -> str:
    if facts.engine is None:
        return "none: no notebook ran"
    if facts.less_isolated:
        return f"local (less isolated than a container): {facts.isolation}"
    return f"{facts.engine}: {facts.isolation}"


def write_certificate(publication: Publication) -> list[Path]:
    """Write ``certificate.md`` into the output folder."""
    path = publication.out_dir / CERTIFICATE_NAME
    text = certificate(provenance(publication), publication.verdict).to_markdown()
    write_atomic(path, text.encode("utf-8", "replace"))
    return [path]
