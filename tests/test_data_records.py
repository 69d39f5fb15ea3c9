"""Whole-record datasets: a DOI and no `files:` means every file of the DOI's record.

Against the real loopback server of tests/doiserver.py (a Zenodo-style records API).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from conftest_doi import doi_env, doi_server  # noqa: F401 - fixtures
from doiserver import DoiServer
from paperpack.cli.main import main
from paperpack.data import data_mounts, data_status, ensure_data, fetch_data, lock_hashes
from paperpack.errors import DataError
from paperpack.repository.repo import Repo
from test_data import paper, sha
from tests.conftest import require

OBS = b"t,x\n" + b"".join(f"{i},{i * 0.5}\n".encode() for i in range(500))
NOTE = b"observations of the Lorenz system\n"


def test_whole_record_is_listed_fetched_mounted_and_locked(
    doi_env: DoiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doi_env.add_record("321", {"obs.csv": OBS, "notes.txt": NOTE}, doi="10.5281/zenodo.321")
    manifest = "version: 1\ndata:\n  - doi: https://doi.org/10.5281/ZENODO.321  # the whole record\n    path: inputs\n"
    repo = paper(tmp_path, manifest)

    [pending] = data_status(repo)
    assert pending.state == "missing" and pending.declared.unlisted
    with pytest.raises(DataError, match=r"not fetched yet: inputs/ \(every file of 10.5281/zenodo.321"):
        data_mounts(repo)
    assert main(["data", "status", str(repo.root)]) == 1
    assert "not listed yet" in capsys.readouterr().out
    assert doi_env.count == 0, "status and mounts never use the network"

    results = fetch_data(repo)
    assert [(r.declared.path, r.state, r.sha256) for r in results] == [
        ("inputs/notes.txt", "fetched", sha(NOTE)),
        ("inputs/obs.csv", "fetched", sha(OBS)),
    ]
    assert doi_env.paths().count("/api/records/321") == 1, "the record is asked for once"

    sent = doi_env.count
    again = Repo.open(repo.root)  # a later run: the listing comes from the store, not the network
    assert [(m.target, m.source.read_bytes()) for m in data_mounts(again)] == [
        ("inputs/notes.txt", NOTE),
        ("inputs/obs.csv", OBS),
    ]
    assert ensure_data(again) == [] and doi_env.count == sent
    assert {r.state for r in data_status(again)} == {"cached"}
    assert not (repo.root / "inputs").exists(), "the repository is never modified by fetch"

    assert lock_hashes(again) == [("inputs/notes.txt", sha(NOTE)), ("inputs/obs.csv", sha(OBS))]
    text = (repo.root / "paperpack.yml").read_text()
    assert "path: inputs\n" not in text and "# the whole record" in text
    pinned = Repo.open(repo.root)
    assert pinned.manifest is not None
    assert [dict(f) for f in pinned.manifest.datasets[0]["files"]] == [
        {"path": "inputs/notes.txt", "sha256": sha(NOTE)},
        {"path": "inputs/obs.csv", "sha256": sha(OBS)},
    ]
    assert lock_hashes(pinned) == [], "pinned: nothing left to lock"
    assert [m.source.name for m in data_mounts(pinned)] == [sha(NOTE), sha(OBS)]
    assert doi_env.count == sent


def test_default_folder_is_data_and_committed_copies_count(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_record("5", {"obs.csv": OBS}, doi="10.5281/zenodo.5")
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.5\n", {"data/obs.csv": OBS})
    [result] = fetch_data(repo)
    assert (result.declared.path, result.state) == ("data/obs.csv", "in-repo")
    assert data_mounts(Repo.open(repo.root)) == [], "the committed copy has the record's checksum: nothing to mount"


def test_a_record_with_a_wrong_checksum_is_refused(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_record("6", {"obs.csv": OBS}, doi="10.5281/zenodo.6", wrong_md5={"obs.csv"})
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.6\n")
    with pytest.raises(DataError, match="md5") as info:
        fetch_data(repo)
    assert hashlib.md5(OBS, usedforsecurity=False).hexdigest() in str(info.value)
    with pytest.raises(DataError, match="not fetched yet: data/obs.csv"):
        data_mounts(repo)


@pytest.mark.parametrize("name", ["../escape.csv", "/etc/passwd", "a//b.csv", "a\\..\\b"])
def test_record_file_names_that_would_leave_the_folder_are_refused(
    doi_env: DoiServer, tmp_path: Path, name: str
) -> None:
    doi_env.add_raw_record(
        "7",
        {"files": [{"key": name, "size": 3, "checksum": "md5:" + "0" * 32, "links": {"self": "{base}/files/x"}}]},
        doi="10.5281/zenodo.7",
    )
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.7\n")
    with pytest.raises(DataError, match="not a plain relative name"):
        fetch_data(repo)
    [pending] = data_status(repo)
    assert pending.declared.unlisted, "a listing with a bad name is never kept"


def test_an_empty_record_says_so(doi_env: DoiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doi_env.add_raw_record("8", {"files": []}, doi="10.5281/zenodo.8")
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.8\n")
    assert main(["data", "fetch", str(repo.root)]) == 1
    err = capsys.readouterr().err
    assert "the record of 10.5281/zenodo.8 (record 8) lists no files" in err and "hint:" in err


def test_lock_before_fetch_says_fetch_first(doi_env: DoiServer, tmp_path: Path) -> None:
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.9\n")
    before = (repo.root / "paperpack.yml").read_bytes()
    with pytest.raises(DataError, match="not known yet") as info:
        lock_hashes(repo)
    assert "paperpack data fetch" in (info.value.hint or "")
    assert (repo.root / "paperpack.yml").read_bytes() == before


def test_validate_counts_the_record_folder_as_declared_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = (
        '{"cells": [{"cell_type": "code", "execution_count": null, "id": "a", "metadata": {}, "outputs": [], '
        '"source": "open(\'inputs/obs.csv\').read()"}], "metadata": {"kernelspec": {"name": "python3", '
        '"display_name": "Python 3", "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}'
    )
    files = {"analysis.ipynb": nb.encode(), "requirements.txt": b""}
    for manifest, flagged in [
        ("version: 1\ndata:\n  - doi: 10.5281/zenodo.10\n    path: inputs\n", False),
        ("version: 1\ndata:\n  - doi: 10.5281/zenodo.10\n    path: ./inputs/\n", False),
        ("version: 1\ndata:\n  - doi: 10.5281/zenodo.10\n    path: .\n", False),
        ("version: 1\ndata:\n  - doi: 10.5281/zenodo.10\n", True),
    ]:
        repo = paper(tmp_path / str(len(manifest)), manifest, files)
        main(["validate", str(repo.root), "--offline", "--format", "json"])
        out = capsys.readouterr().out
        assert ("inputs/obs.csv" in out) is flagged, out


def _bytes_read() -> int:
    with open("/proc/self/io") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("rchar:"))


def test_committed_data_is_read_once_per_process_while_unchanged(tmp_path: Path) -> None:
    """The image tag, `ensure_data` and the run's mounts all hash committed data: one read is enough."""
    from paperpack.data import hash_file

    require(Path("/proc/self/io").is_file(), "/proc/self/io (Linux I/O accounting) is not available")
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x01" * (8 << 20))
    first = hash_file(big)
    start = _bytes_read()
    assert hash_file(big) == first
    assert _bytes_read() - start < (1 << 20), "an unchanged file is not read again"
    with big.open("r+b") as fh:  # same size, same mtime afterwards: only the ctime tells
        stat = big.stat()
        fh.write(b"\x02")
    os.utime(big, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert hash_file(big)["sha256"] == hashlib.sha256(b"\x02" + b"\x01" * ((8 << 20) - 1)).hexdigest()


def test_unreachable_record_service_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """conftest points every service at a closed loopback port: the record cannot be read."""
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.11\n")
    assert main(["data", "fetch", str(repo.root)]) == 1
    err = capsys.readouterr().err
    assert "cannot read the record of 10.5281/zenodo.11" in err and "unreachable" in err
    assert "paperpack data fetch` again" in err and "--offline" not in err, "data fetch has no --offline"


@pytest.mark.parametrize("folder, target", [("./inputs/", "inputs/obs.csv"), (".", "obs.csv")])
def test_the_record_folder_is_normalised(doi_env: DoiServer, tmp_path: Path, folder: str, target: str) -> None:
    doi_env.add_record("12", {"obs.csv": OBS}, doi="10.5281/zenodo.12")
    repo = paper(tmp_path, f"version: 1\ndata:\n  - doi: 10.5281/zenodo.12\n    path: '{folder}'\n")
    assert [r.declared.path for r in fetch_data(repo)] == [target]
    assert [m.target for m in data_mounts(repo)] == [target]


def test_a_record_sub_folder_through_a_symlink_is_refused(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_record("13", {"sub/obs.csv": OBS}, doi="10.5281/zenodo.13")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "obs.csv").write_bytes(OBS)
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.13\n")
    (repo.root / "data").mkdir()
    (repo.root / "data" / "sub").symlink_to(outside)
    with pytest.raises(DataError, match="symbolic link") as info:
        fetch_data(repo)
    assert "data/sub/obs.csv" in str(info.value)
    with pytest.raises(DataError, match="symbolic link"):
        data_mounts(repo)  # the listing was saved; the check holds offline too
