"""certificate.md: what was run, where, when, by what, the verdicts, and hashes that are the real files'."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import pytest

from paperpack.image.builder import BuildResult
from paperpack.report.certificate import CERTIFICATE_NAME, markdown_text, write_certificate
from paperpack.report.publish import WRITERS, publish
from publishing import make_publication


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hash_rows(text: str) -> dict[tuple[str, str], str]:
    """(what, file) -> the value in backquotes, from the Hashes table."""
    rows = {}
    for what, name, value in re.findall(r"^\| ([^|]+?) \| ([^|]*?) \| `([^`]+)` \|$", text, re.M):
        rows[(what, name.replace("\\", ""))] = value
    return rows


def test_hashes_are_the_files_hashes(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    path = write_certificate(publication)[0]
    assert path == publication.out_dir / CERTIFICATE_NAME
    rows = _hash_rows(path.read_text(encoding="utf-8"))
    root, out = publication.repo.root, publication.out_dir
    expected = {
        ("committed notebook", "same.ipynb"): _sha(root / "same.ipynb"),
        ("committed notebook", "differs.ipynb"): _sha(root / "differs.ipynb"),
        ("committed notebook", "failed.ipynb"): _sha(root / "failed.ipynb"),
        ("executed notebook", "executed/same.ipynb"): _sha(out / "executed/same.ipynb"),
        ("executed notebook", "executed/differs.ipynb"): _sha(out / "executed/differs.ipynb"),
        ("data (doi:10.5281/zenodo.1234567)", "data/obs.csv"): _sha(root / "data/obs.csv"),
    }
    assert rows == expected
    assert _sha(root / "differs.ipynb") != _sha(out / "executed/differs.ipynb")  # the rows are not swapped


def test_a_changed_file_changes_its_hash(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    before = _hash_rows(write_certificate(publication)[0].read_text(encoding="utf-8"))
    (publication.repo.root / "data/obs.csv").write_text("t,x\n0,1\n1,3\n", encoding="utf-8")
    after = _hash_rows(write_certificate(publication)[0].read_text(encoding="utf-8"))
    key = ("data (doi:10.5281/zenodo.1234567)", "data/obs.csv")
    assert after[key] != before[key] and after[key] == _sha(publication.repo.root / "data/obs.csv")


def test_what_where_when_and_verdicts(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    text = write_certificate(publication)[0].read_text(encoding="utf-8")
    assert text.startswith("# Verification certificate: A \\<b\\>planted\\</b\\> \\& title\n")
    assert f"**Verdict: {publication.verdict.sentence()}**" in text
    assert "- **Network:** none: each notebook ran in a container without a network" in text
    assert "- **Limits:** memory 4g, cpus 2, pids 512, timeout 300" in text
    assert "- **Run:** from 2026-11-30T20:00:00.000+00:00 to 2026-11-30T20:00:03.500+00:00 (UTC)" in text
    assert re.search(r"- \*\*Certificate written:\*\* \S+ by paperpack \d", text)
    assert "| differs.ipynb | differs | ok | 2.5 | 2026-11-30T20:00:00.000+00:00 |" in text
    assert "| failed.ipynb | failed | error | 0.5 |" in text
    assert "| commit | HEAD | (not a git repository) |" in text


def test_local_engine_is_labelled_less_isolated(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    run = publication.result.run
    assert run is not None
    run.engine, run.isolation = "local", "local engine: notebook code runs as you"
    text = write_certificate(publication)[0].read_text(encoding="utf-8")
    assert "- **Engine:** local (less isolated than a container): local engine" in text
    assert "no network" not in text.split("**Network:**")[1].splitlines()[0]


def test_reused_image_names_the_build_commit_and_the_verified_one(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    build = BuildResult(
        image="paperpack/paper:1a2b",
        image_id="sha256:" + "ab" * 32,
        reused=True,
        mode="offline",
        python_version="3.11",
        labels={
            "io.paperpack.commit": "665935f" + "0" * 33,
            "io.paperpack.repo2docker-version": "2026.4.0",
            "org.opencontainers.image.base.name": "paperpack/base:bookworm",
        },
    )
    publication.result.build = build
    publication = dataclasses.replace(publication, commit="2ba3865" + "1" * 33)
    text = write_certificate(publication)[0].read_text(encoding="utf-8")
    assert "- **Image reused:** built from commit 665935f" in text and "reused for commit 2ba3865" in text
    assert f"| image | paperpack/paper:1a2b | `sha256:{'ab' * 32}` |" in text
    assert f"| commit | HEAD | `2ba3865{'1' * 33}` |" in text
    assert "jupyter-repo2docker 2026.4.0, offline mode, base image paperpack/base:bookworm" in text


def test_markdown_from_the_repository_stays_text() -> None:
    assert (
        markdown_text("a | b [x](javascript:y) <img src=x>\nnext")
        == "a \\| b \\[x\\](javascript:y) \\<img src=x\\> next"
    )


def test_publish_writes_every_provenance_file(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    names = [name for name, _ in WRITERS]
    assert {"report.html", "certificate.md", "ro-crate-metadata.json"} <= set(names)
    done = publish(publication)
    for name in ("report.html", "certificate.md", "ro-crate-metadata.json"):
        assert name not in done.failed and publication.out_dir / name in done.written
    leftovers = [p.name for p in publication.out_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_output_folder_that_is_a_file_is_a_clear_error_and_nothing_half_written(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file", encoding="utf-8")
    done = publish(dataclasses.replace(publication, out_dir=blocked / "out"))
    assert set(done.failed) >= {"report.html", "certificate.md", "ro-crate-metadata.json"}
    assert all("Not a directory" in message or "not a folder" in message for message in done.failed.values())
    assert blocked.read_text(encoding="utf-8") == "a file"


@pytest.mark.slow
def test_a_real_local_run_publishes_its_provenance(copy_case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """verify() runs the notebooks (local engine, real kernels) and publish() writes the three files from it."""
    import json

    from paperpack.verify import RunSettings, Stage, VerifyOptions, verify

    repo = copy_case("run-basic")
    out = tmp_path / "out"
    result = verify(repo, VerifyOptions(stages=frozenset({Stage.RUN}), run=RunSettings(engine="local", out_dir=out)))
    assert result.published is not None
    assert not {"report.html", "certificate.md", "ro-crate-metadata.json"} & set(result.published.failed)
    assert result.run is not None
    text = (out / "certificate.md").read_text(encoding="utf-8")
    rows = _hash_rows(text)
    for nb in result.run.notebooks:
        assert rows[("committed notebook", nb.path)] == _sha(repo / nb.path)
        assert nb.executed and rows[("executed notebook", nb.executed)] == _sha(out / nb.executed)
        assert nb.started and nb.ended and nb.started <= nb.ended  # the runner's wall-clock times
    assert "- **Engine:** local (less isolated than a container)" in text
    crate = json.loads((out / "ro-crate-metadata.json").read_text(encoding="utf-8"))
    actions = [e for e in crate["@graph"] if e.get("@type") == "CreateAction"]
    assert len(actions) == len(result.run.notebooks)
    assert all(a["startTime"] <= a["endTime"] for a in actions)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert result.verdict.label() in page and "differs.ipynb" in page


def test_only_valid_orcid_ids_become_links() -> None:
    from paperpack.report.provenance import Author

    assert Author.of("A", "https://orcid.org/0000-0002-1825-0097").orcid == "https://orcid.org/0000-0002-1825-0097"
    assert Author.of("A", "0000-0002-1825-0097").orcid == "https://orcid.org/0000-0002-1825-0097"
    assert Author.of("A", "0000-0002-1825-0098").orcid is None  # fails its checksum
    assert Author.of("A", 'javascript:alert(1)//0000-0002-1825-0097"').orcid is None


def test_a_verification_without_a_run_says_so_in_every_file(tmp_path: Path) -> None:
    from paperpack.report.paper import paper_verdict

    publication = make_publication(tmp_path)
    publication.result.run = None
    publication = dataclasses.replace(publication, verdict=paper_verdict(None))
    done = publish(publication)
    assert not {"report.html", "certificate.md", "ro-crate-metadata.json"} & set(done.failed)
    text = (publication.out_dir / "certificate.md").read_text(encoding="utf-8")
    assert "**Verdict: not run (not-requested)**" in text and "No notebook was run." in text
    assert "- **Engine:** none: no notebook ran" in text
    assert "No notebook was run." in (publication.out_dir / "report.html").read_text(encoding="utf-8")
    crate = (publication.out_dir / "ro-crate-metadata.json").read_text(encoding="utf-8")
    assert "CreateAction" not in crate
