"""Data fetch, lock, status and mounts against a real loopback server (URLs and a Zenodo-style record)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from conftest_doi import doi_env, doi_server  # noqa: F401 - fixtures
from doiserver import Action, DoiServer
from paperpack.cli.main import main
from paperpack.data import DataMount, DataStore, data_mounts, data_status, ensure_data, fetch_data, lock_hashes
from paperpack.errors import ChecksumError, DataError, UnsafeArchiveError
from paperpack.repository.repo import Repo

CSV = b"station,temp\n" + b"".join(f"s{i},{i % 30}.5\n".encode() for i in range(2000))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def paper(tmp_path: Path, manifest: str, files: dict[str, bytes] | None = None) -> Repo:
    root = tmp_path / "paper"
    root.mkdir(parents=True)
    (root / "paperpack.yml").write_text(manifest, encoding="utf-8")
    for rel, data in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return Repo.open(root)


def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "data"


def test_fetch_by_url_then_cached_then_mounted(doi_env: DoiServer, tmp_path: Path) -> None:
    url = doi_env.add_file("obs.csv", CSV)
    repo = paper(
        tmp_path,
        f"version: 1\ndata:\n  - url: {url}\n    files:\n      - path: data/obs.csv\n        sha256: {sha(CSV)}\n",
    )
    with pytest.raises(DataError, match="not fetched yet: data/obs.csv") as info:
        data_mounts(repo)
    assert info.value.hint == "run `paperpack data fetch` to download the declared data into the cache"
    [first] = fetch_data(repo)
    assert first.state == "fetched" and first.sha256 == sha(CSV)
    sent = doi_env.count
    [again] = fetch_data(repo)
    assert again.state == "cached" and doi_env.count == sent
    [mount] = data_mounts(repo)
    assert mount == DataMount(source=store_dir(tmp_path) / "sha256" / sha(CSV), target="data/obs.csv")
    assert mount.source.read_bytes() == CSV
    assert not (repo.root / "data").exists(), "the repository is never modified"


def test_committed_file_with_right_hash_is_not_mounted_wrong_hash_is_an_error(
    doi_env: DoiServer, tmp_path: Path
) -> None:
    repo = paper(
        tmp_path,
        f"version: 1\ndata:\n  - url: {doi_env.url}/files/x\n    files:\n"
        f"      - path: data/obs.csv\n        sha256: {sha(CSV)}\n",
        {"data/obs.csv": CSV},
    )
    assert data_mounts(repo) == []
    assert fetch_data(repo)[0].state == "in-repo" and doi_env.count == 0
    (repo.root / "data" / "obs.csv").write_bytes(CSV + b"tampered\n")
    with pytest.raises(ChecksumError) as info:
        data_mounts(repo)
    assert sha(CSV) in str(info.value) and sha(CSV + b"tampered\n") in str(info.value)
    assert [r.state for r in data_status(repo)] == ["mismatch"]


def test_ensure_data_fetches_only_what_is_missing(doi_env: DoiServer, tmp_path: Path) -> None:
    url = doi_env.add_file("obs.csv", CSV)
    repo = paper(
        tmp_path,
        f"version: 1\ndata:\n  - url: {url}\n    files:\n      - path: data/obs.csv\n"
        f"        url: {url}\n        sha256: {sha(CSV)}\n      - path: data/kept.csv\n"
        f"        sha256: {sha(b'kept')}\n",
        {"data/kept.csv": b"kept"},
    )
    said: list[str] = []
    [fetched] = ensure_data(repo, progress=said.append)
    assert fetched.declared.path == "data/obs.csv" and fetched.state == "fetched"
    assert said == [f"fetching data/obs.csv ({len(CSV)} bytes)"]
    sent = doi_env.count
    assert ensure_data(repo) == [] and doi_env.count == sent, "everything there: no network"
    (repo.root / "data" / "kept.csv").write_bytes(b"changed")
    with pytest.raises(ChecksumError, match="data/kept.csv"):
        ensure_data(repo)
    assert doi_env.count == sent


def test_zenodo_record_from_doi_then_lock(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_record("123", {"obs.csv": CSV, "readme.txt": b"about\n"}, doi="10.5281/zenodo.123")
    manifest = (
        "version: 1\n# the observations\ndata:\n  - doi: 10.5281/zenodo.123  # Zenodo\n    files:\n"
        "      - path: data/obs.csv\n      - path: docs/about.txt\n        name: readme.txt\n"
    )
    repo = paper(tmp_path, manifest)
    results = fetch_data(repo)
    assert [(r.state, r.sha256) for r in results] == [("fetched", sha(CSV)), ("fetched", sha(b"about\n"))]
    assert "/api/records/123" in doi_env.paths()
    assert not any(p.startswith("/api/handles") for p in doi_env.paths()), "a zenodo DOI names its record"
    assert [m.target for m in data_mounts(repo)] == ["data/obs.csv", "docs/about.txt"]
    written = lock_hashes(Repo.open(repo.root))
    assert written == [("data/obs.csv", sha(CSV)), ("docs/about.txt", sha(b"about\n"))]
    text = (repo.root / "paperpack.yml").read_text()
    assert (
        text
        == manifest.replace("      - path: docs/", f"        sha256: {sha(CSV)}\n      - path: docs/")
        + f"        sha256: {sha(b'about' + bytes([10]))}\n"
    ), "only the hashes are added; comments and layout stay"
    relocked = Repo.open(repo.root)
    assert lock_hashes(relocked) == []
    assert [m.source.name for m in data_mounts(relocked)] == [sha(CSV), sha(b"about\n")]


def test_record_found_through_the_landing_url(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_record("77", {"t.csv": CSV})
    doi_env.add_doi("10.5061/dryad.xyz", url="{base}/records/77")
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5061/dryad.xyz\n    files:\n      - path: t.csv\n")
    assert fetch_data(repo)[0].sha256 == sha(CSV)
    bad = paper(tmp_path / "b", "version: 1\ndata:\n  - doi: 10.5061/dryad.xyz\n    files:\n      - path: T.csv\n")
    with pytest.raises(DataError, match="has no file named 'T.csv'; did you mean 't.csv'"):
        fetch_data(bad)
    other = paper(tmp_path / "o", "version: 1\ndata:\n  - doi: 10.5061/dryad.xyz\n    files:\n      - path: zzz.bin\n")
    with pytest.raises(DataError, match=r"has no file named 'zzz.bin'\. It has: t.csv$"):
        fetch_data(other)


def test_wrong_checksum_deletes_the_download_and_names_both_hashes(doi_env: DoiServer, tmp_path: Path) -> None:
    doi_env.add_record("9", {"obs.csv": CSV}, doi="10.5281/zenodo.9", wrong_md5={"obs.csv"})
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.9\n    files:\n      - path: obs.csv\n")
    with pytest.raises(ChecksumError) as info:
        fetch_data(repo)
    message = str(info.value)
    assert hashlib.md5(CSV).hexdigest() in message and hashlib.md5(b"not this").hexdigest() in message
    assert "the download was deleted" in message
    store = DataStore(store_dir(tmp_path))
    assert not list((store.root / "partial").glob("*")) and not (store.root / "sha256").exists()


def test_cut_off_download_resumes(doi_env: DoiServer, tmp_path: Path) -> None:
    big = CSV * 80  # ~1.7 MB: several blocks arrive before the cut
    url = doi_env.add_file("big.csv", big)
    doi_env.script("/files/big.csv", Action(cut=True))
    repo = paper(
        tmp_path, f"version: 1\ndata:\n  - url: {url}\n    files:\n      - path: big.csv\n        sha256: {sha(big)}\n"
    )
    with pytest.raises(DataError, match=r"cut off after \d+ of \d+ bytes; the partial file is kept"):
        fetch_data(repo)
    [part] = list((store_dir(tmp_path) / "partial").glob("*.part"))
    kept = part.stat().st_size
    assert 0 < kept < len(big)
    [result] = fetch_data(repo)
    assert result.state == "fetched" and result.source is not None and result.source.read_bytes() == big
    assert doi_env.ranges()[-1] == f"bytes={kept}-", "the second fetch asks only for the rest"
    assert doi_env.if_ranges()[-1] == f'"{sha(big)[:16]}"', "of the same version (its ETag)"
    assert not part.exists()


def test_download_retries_429_and_500(doi_env: DoiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERPACK_HTTP_RETRIES", "3")
    url = doi_env.add_file("r.csv", CSV)
    doi_env.script("/files/r.csv", Action(status=429, retry_after="0"), Action(status=500))
    repo = paper(tmp_path, f"version: 1\ndata:\n  - url: {url}\n    files:\n      - path: r.csv\n")
    assert fetch_data(repo)[0].sha256 == sha(CSV)
    assert doi_env.paths().count("/files/r.csv") == 3


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_archives_are_extracted_and_hostile_ones_refused(doi_env: DoiServer, tmp_path: Path) -> None:
    good = _tar({"obs.csv": CSV, "sub/meta.txt": b"m"})
    evil = _tar({"../escape.txt": b"x"})
    repo = paper(
        tmp_path,
        f"version: 1\ndata:\n  - url: {doi_env.add_file('g.tgz', good)}\n    files:\n"
        f"      - path: data/raw\n        extract: true\n        sha256: {sha(good)}\n",
    )
    (repo.root / "data" / "raw").mkdir(parents=True)
    (repo.root / "data" / "raw" / ".gitkeep").write_text("")  # an empty placeholder folder is not the data
    [result] = fetch_data(repo)
    assert result.state == "fetched"
    [mount] = data_mounts(repo)
    assert mount.target == "data/raw" and (mount.source / "obs.csv").read_bytes() == CSV
    assert mount.source == DataStore(store_dir(tmp_path)).extracted(sha(good))
    bad = paper(
        tmp_path / "b",
        f"version: 1\ndata:\n  - url: {doi_env.add_file('e.tgz', evil)}\n    files:\n"
        "      - path: data/raw\n        extract: true\n",
    )
    with pytest.raises(UnsafeArchiveError, match=r"^data/raw: member '\.\./escape.txt' points outside") as info:
        fetch_data(bad)
    assert sha(evil) not in str(info.value), "named by the declared path, not the cache's hash"
    assert not (store_dir(tmp_path) / "escape.txt").exists()
    assert not DataStore(store_dir(tmp_path)).extracted(sha(evil)).exists()


def test_cli_fetch_status_lock(doi_env: DoiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = doi_env.add_file("c.csv", CSV)
    repo = paper(tmp_path, f"version: 1\ndata:\n  - url: {url}\n    files:\n      - path: c.csv\n")
    assert main(["data", "status", str(repo.root)]) == 1
    assert "missing  c.csv" in capsys.readouterr().out
    assert main(["data", "lock", str(repo.root)]) == 1
    assert "not fetched yet" in capsys.readouterr().err
    assert main(["data", "fetch", str(repo.root), "--jobs", "0"]) == 2, "zero downloads at once is a usage error"
    assert "expected a whole number above 0, got '0'" in capsys.readouterr().err
    assert main(["data", "fetch", str(repo.root)]) == 0
    assert "1 fetched" in capsys.readouterr().out
    assert main(["data", "lock", str(repo.root)]) == 0
    assert f"locked c.csv  sha256 {sha(CSV)}" in capsys.readouterr().out
    assert main(["data", "status", str(repo.root)]) == 0
    assert "cached   c.csv" in capsys.readouterr().out


def test_committed_files_need_no_network(doi_env: DoiServer, tmp_path: Path) -> None:
    repo = paper(
        tmp_path,
        f"version: 1\ndata:\n  - doi: 10.5281/zenodo.31\n    files:\n      - path: obs.csv\n"
        f"        sha256: {sha(CSV)}\n",
        {"obs.csv": CSV},
    )
    assert [r.state for r in fetch_data(repo)] == ["in-repo"]
    assert doi_env.count == 0, "no record lookup for data already in the repository"


# -- one download per source, however many files and processes ask for it ---------------------

BIG = bytes(range(256)) * (8 * 4096)  # 8 MiB


def _same_url_twice(doi_env: DoiServer, tmp_path: Path) -> Repo:
    url = doi_env.add_file("big.bin", BIG)
    return paper(
        tmp_path,
        f"version: 1\ndata:\n  - title: twice\n    files:\n      - path: a/big.bin\n"
        f"        url: {url}\n      - path: b/big.bin\n        url: {url}\n",
    )


def test_two_files_with_one_source_are_downloaded_once(doi_env: DoiServer, tmp_path: Path) -> None:
    repo = _same_url_twice(doi_env, tmp_path)
    doi_env.script("/files/big.bin", Action(delay=0.5))  # the first download is slow: the threads overlap
    results = fetch_data(repo, workers=4)
    assert sorted(r.state for r in results) == ["cached", "fetched"]
    assert {r.sha256 for r in results} == {sha(BIG)}
    assert doi_env.paths().count("/files/big.bin") == 1
    assert [r.source is not None and r.source.read_bytes() == BIG for r in results] == [True, True]
    assert not list((store_dir(tmp_path) / "partial").glob("*.part"))


_CHILD = """
import sys
from pathlib import Path
from paperpack.data import fetch_data
from paperpack.repository.repo import Repo
print(",".join(r.state for r in fetch_data(Repo.open(Path(sys.argv[1])))))
"""


def test_two_processes_sharing_the_cache_download_once(doi_env: DoiServer, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    repo = _same_url_twice(doi_env, tmp_path)
    doi_env.script("/files/big.bin", Action(delay=2.0))  # whichever process asks first holds the lock a while
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PAPERPACK_HTTP_TIMEOUT": "10"}  # no retries
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(repo.root)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    states = sorted(",".join(sorted(out.strip().split(","))) for out, _ in outs)
    assert states == ["cached,cached", "cached,fetched"]
    assert doi_env.paths().count("/files/big.bin") == 1
    assert DataStore(store_dir(tmp_path)).blob(sha(BIG)).read_bytes() == BIG


def test_unusable_cache_dir_is_an_error_naming_it(
    doi_env: DoiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = paper(
        tmp_path, f"version: 1\ndata:\n  - url: {doi_env.add_file('c.csv', CSV)}\n    files:\n      - path: c.csv\n"
    )
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["data", "fetch", str(repo.root), "--cache-dir", str(blocker / "cache")]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot use {blocker / 'cache' / 'data'} as the data cache: Not a directory" in err
    assert "hint: pass a writable folder with --cache-dir" in err and "Traceback" not in err
    assert doi_env.count == 0


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_lock_keeps_the_manifest_mode(doi_env: DoiServer, tmp_path: Path, mode: int) -> None:
    import stat

    repo = paper(
        tmp_path, f"version: 1\ndata:\n  - url: {doi_env.add_file('c.csv', CSV)}\n    files:\n      - path: c.csv\n"
    )
    manifest = repo.root / "paperpack.yml"
    manifest.chmod(mode)
    fetch_data(repo)
    assert lock_hashes(Repo.open(repo.root)) == [("c.csv", sha(CSV))]
    assert stat.S_IMODE(manifest.stat().st_mode) == mode


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"files": 5}, "`files` is a number (5), not a list"),
        ({"files": [5]}, "`files[0]` is a number (5), not an object"),
        ({"files": {"entries": [1]}}, "`files.entries` is a list, not an object"),
        ({"files": [{"key": "obs.csv", "links": "x"}]}, "`files[0].links` is a string ('x'), not an object"),
        ([1, 2], "the record is a list, not an object"),
    ],
)
def test_record_of_the_wrong_shape_is_a_data_error(
    doi_env: DoiServer, tmp_path: Path, body: object, problem: str
) -> None:
    doi_env.add_raw_record("55", body)
    repo = paper(tmp_path, "version: 1\ndata:\n  - doi: 10.5281/zenodo.55\n    files:\n      - path: obs.csv\n")
    with pytest.raises(DataError) as info:
        fetch_data(repo)
    assert info.value.message == (
        f"{doi_env.url}/api/records/55 answered a record of the wrong shape for 10.5281/zenodo.55: {problem}"
    )
    assert "PAPERPACK_ZENODO_API" in info.value.hint
