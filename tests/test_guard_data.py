"""A whole-record dataset's files keep their declared checksums and stay inside its folder (paperpack/data/).

Issue 16's mutation testing found these unpinned: the listing kept in the store holds each file's
checksum and size, a record's upper-case checksum is compared in lower case, and a record's file named
``.`` (or with a ``.`` part) is refused like ``..``. No network: the listing is saved as fetch saves it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paperpack.data.declared import listing_of, safe_record_name, whole_record
from paperpack.data.records import DataRecord, RecordFile
from paperpack.data.store import DataStore
from paperpack.errors import DataError
from test_data import paper

DOI = "10.5281/zenodo.321"
MD5 = "0123456789ABCDEF0123456789ABCDEF"


def test_the_kept_listing_holds_each_files_checksum_and_size() -> None:
    record = DataRecord(
        doi=DOI,
        record_id="321",
        files={
            "b.csv": RecordFile("b.csv", "http://127.0.0.1:1/b", ("md5", MD5), 12),
            "a.txt": RecordFile("a.txt", "http://127.0.0.1:1/a", None, None),
        },
    )
    assert listing_of(record) == [{"name": "a.txt"}, {"name": "b.csv", "md5": MD5, "size": 12}]


def test_a_whole_records_files_are_declared_with_lower_case_checksums(tmp_path: Path) -> None:
    repo = paper(tmp_path, f"version: 1\ndata:\n  - doi: {DOI}\n    path: inputs\n")
    store = DataStore.in_cache(tmp_path / "cache")
    store.save_listing(DOI, [{"name": "b.csv", "md5": MD5, "size": 12}, {"name": "sub/c.csv", "sha256": "AB" * 32}])
    [b, c] = whole_record(repo, 0, DOI, store)
    assert (b.path, b.name, b.md5, b.sha256, b.size) == ("inputs/b.csv", "b.csv", MD5.lower(), None, 12)
    assert (c.path, c.sha256, c.md5, c.size) == ("inputs/sub/c.csv", "ab" * 32, None, None)
    assert (b.line, b.index, b.dataset, b.doi) == (3, -1, 0, DOI), "messages point at the DOI's line"
    [pending] = whole_record(repo, 0, DOI, DataStore.in_cache(tmp_path / "empty"))
    assert (pending.path, pending.unlisted, pending.index, pending.line) == ("inputs", True, -1, 3)


def test_a_record_file_through_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    repo = paper(tmp_path, f"version: 1\ndata:\n  - doi: {DOI}\n    path: inputs\n")
    (tmp_path / "elsewhere").mkdir()
    (repo.root / "inputs").symlink_to(tmp_path / "elsewhere")
    store = DataStore.in_cache(tmp_path / "cache")
    store.save_listing(DOI, [{"name": "b.csv", "md5": MD5, "size": 12}])
    with pytest.raises(
        DataError, match=r"data\[0\]: the file 'b.csv' of 10.5281/zenodo.321 would be placed at "
    ) as exc:
        whole_record(repo, 0, DOI, store)
    assert exc.value.hint and "symbolic link" in exc.value.hint and "`path:`" in exc.value.hint
    assert exc.value.path == repo.root / "paperpack.yml"


@pytest.mark.parametrize("name", [".", "a/./b", "./a", "a/.", "..", "a/../../b", "/etc/passwd", "a\\b", "", "a//b"])
def test_a_record_file_name_that_is_not_plain_is_refused(name: str) -> None:
    with pytest.raises(DataError, match=f"the record of {DOI} has a file named .*not a plain relative name") as exc:
        safe_record_name(name, DOI)
    assert exc.value.hint and "`files:`" in exc.value.hint


def test_a_plain_record_file_name_is_kept() -> None:
    assert safe_record_name("sub/data.csv", DOI) == "sub/data.csv"


@pytest.mark.parametrize(
    "body",
    [
        {"version": 999, "doi": DOI, "files": [{"name": "a.csv"}]},  # another paperpack's listing
        {"version": None, "doi": DOI, "files": "a.csv"},
        ["a.csv"],
    ],
)
def test_a_listing_of_another_version_or_shape_is_as_if_never_fetched(tmp_path: Path, body: object) -> None:
    import json

    store = DataStore.in_cache(tmp_path / "cache")
    store.save_listing(DOI, [{"name": "a.csv", "md5": MD5}])
    assert store.listing(DOI) == [{"name": "a.csv", "md5": MD5}]
    [path] = (tmp_path / "cache").rglob("*.json")
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["doi"] == DOI
    if isinstance(body, dict) and body["version"] is None:
        body = {**body, "version": saved["version"]}  # the right version, the wrong shape
    path.write_text(json.dumps(body), encoding="utf-8")
    assert store.listing(DOI) is None
