"""A whole-record dataset's files keep their declared checksums and stay inside its folder (paperpack/data/).

Issue 16's mutation testing found these unpinned: the listing kept in the store holds each file's
checksum and size, a record's upper-case checksum is compared in lower case, and a record's file named
``.`` (or with a ``.`` part) is refused like ``..``. No network: the listing is saved as fetch saves it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from paperpack.data import DataMount, data_mounts, data_status, lock_hashes
from paperpack.data.declared import DeclaredFile, declared_files, listing_of, safe_record_name, whole_record
from paperpack.data.fetch import require_hashes
from paperpack.data.records import DataRecord, RecordFile
from paperpack.data.store import DataStore
from paperpack.errors import DataError
from paperpack.repository.repo import Repo
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


# -- issue 16's third pass: what the store keeps where, the cache folder each command is given, lock, messages --


def test_the_store_keeps_each_thing_where_its_layout_says(tmp_path: Path) -> None:
    store = DataStore(tmp_path / "data")
    hexes = "AB" * 32
    assert store.blob(hexes) == tmp_path / "data" / "sha256" / hexes.lower()
    assert store.extracted(hexes) == tmp_path / "data" / "extracted" / hexes.lower()
    store.save_listing("10.5281/ZENODO.321", [{"name": "a.csv"}])
    name = hashlib.sha256(b"doi:10.5281/zenodo.321").hexdigest()
    assert (tmp_path / "data" / "records" / f"{name}.json").is_file()
    assert store.listing("10.5281/zenodo.321") == [{"name": "a.csv"}]


def test_a_listing_holding_an_entry_that_is_not_an_object_is_as_if_never_fetched(tmp_path: Path) -> None:
    store = DataStore(tmp_path / "data")
    store.save_listing(DOI, [{"name": "a.csv"}, 1])  # type: ignore[list-item]
    assert store.listing(DOI) is None


def test_an_alias_that_is_not_a_sha256_is_not_followed(tmp_path: Path) -> None:
    """An alias (md5 → sha256) holding a path instead of a hash would name another file of the cache."""
    store = DataStore(tmp_path / "data")
    md5 = "0123456789abcdef" * 2
    declared = DeclaredFile(path="a.csv", dataset=0, index=0, url="http://127.0.0.1:1/a", md5=md5)
    alias = tmp_path / "data" / "md5" / md5
    alias.parent.mkdir(parents=True)
    (tmp_path / "data" / "sha256").mkdir()
    for target in (f"../md5/{md5}", "../md5//" + "./" * 12 + md5):  # 39 and 64 characters
        alias.write_text(target, encoding="ascii")
        assert store.blob(target).is_file(), "the path leads to a file"
        assert store.find(declared) is None


def test_a_record_files_line_is_its_datasets_doi_line(tmp_path: Path) -> None:
    repo = paper(tmp_path, f"version: 1\ndata:\n  - path: inputs\n    doi: {DOI}\n")
    store = DataStore.in_cache(tmp_path / "cache")
    store.save_listing(DOI, [{"name": "b.csv", "sha256": 5, "md5": ""}])
    [b] = whole_record(repo, 0, DOI, store)
    assert (b.line, b.sha256, b.md5) == (4, None, None)


def test_a_record_file_with_a_bad_name_is_refused_naming_the_doi(tmp_path: Path) -> None:
    repo = paper(tmp_path, f"version: 1\ndata:\n  - doi: {DOI}\n")
    store = DataStore.in_cache(tmp_path / "cache")
    store.save_listing(DOI, [{"name": "../b.csv"}])
    with pytest.raises(DataError) as info:
        whole_record(repo, 0, DOI, store)
    assert info.value.message == f"the record of {DOI} has a file named '../b.csv', which is not a plain relative name"
    assert info.value.hint == "declare the files you need under `files:` with a `path:` and `name:` each"


def test_the_hint_for_a_record_file_through_a_symbolic_link(tmp_path: Path) -> None:
    repo = paper(tmp_path, f"version: 1\ndata:\n  - doi: {DOI}\n    path: inputs\n")
    (tmp_path / "elsewhere").mkdir()
    (repo.root / "inputs").symlink_to(tmp_path / "elsewhere")
    store = DataStore.in_cache(tmp_path / "cache")
    store.save_listing(DOI, [{"name": "b.csv"}])
    with pytest.raises(DataError) as info:
        whole_record(repo, 0, DOI, store)
    assert info.value.hint == "remove the symbolic link, or declare the files under `files:` with their own `path:`"


def _record_in(tmp_path: Path, cache: Path) -> Repo:
    """A paper with a whole record whose listing and files are in ``cache`` only."""
    repo = paper(tmp_path, f"version: 1\ndata:\n  - doi: {DOI}\n    path: inputs\n", {"kept.csv": b"kept"})
    store = DataStore.in_cache(cache)
    store.save_listing(DOI, [{"name": "a.csv", "sha256": hashlib.sha256(b"a").hexdigest()}])
    blob = store.blob(hashlib.sha256(b"a").hexdigest())
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"a")
    return repo


def test_mounts_status_and_lock_read_the_cache_folder_they_are_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(tmp_path / "default"))
    mine = tmp_path / "mine"
    repo = _record_in(tmp_path, mine)
    sha_a = hashlib.sha256(b"a").hexdigest()
    assert data_mounts(repo, cache_dir=mine) == [DataMount(DataStore.in_cache(mine).blob(sha_a), "inputs/a.csv")]
    assert [(r.state, r.declared.path) for r in data_status(repo, cache_dir=mine)] == [("cached", "inputs/a.csv")]
    assert lock_hashes(repo, cache_dir=mine) == [("inputs/a.csv", sha_a)]


def test_what_is_not_fetched_or_not_pinned_is_named_five_at_most(tmp_path: Path) -> None:
    files = "".join(f"      - path: f{i}.csv\n        url: http://127.0.0.1:1/f{i}\n" for i in range(6))
    repo = paper(tmp_path, f"version: 1\ndata:\n  - url: http://127.0.0.1:1/x\n    files:\n{files}")
    shown = ", ".join(f"f{i}.csv" for i in range(5))
    with pytest.raises(DataError) as missing:
        data_mounts(repo, cache_dir=tmp_path / "cache")
    assert missing.value.message == (
        f"declared data not fetched yet: {shown} and 1 more (cache: {DataStore.in_cache(tmp_path / 'cache').root})"
    )
    assert missing.value.path == repo.root / "paperpack.yml"
    declared = declared_files(repo, DataStore.in_cache(tmp_path / "cache"))
    with pytest.raises(DataError) as unpinned:
        require_hashes(repo, declared)
    assert (
        unpinned.value.message
        == "no sha256 declared for data downloaded by URL: "
        + ", ".join(f"f{i}.csv (data[0])" for i in range(5))
        + " and 1 more"
    )
    assert unpinned.value.path == repo.root / "paperpack.yml"
    with pytest.raises(DataError) as five:
        require_hashes(repo, declared[:5])
    assert five.value.message.endswith("f4.csv (data[0])")
    five_repo = paper(
        tmp_path / "5",
        "version: 1\ndata:\n  - url: http://127.0.0.1:1/x\n    files:\n" + files[: files.index("      - path: f5")],
    )
    with pytest.raises(DataError) as five_missing:
        data_mounts(five_repo, cache_dir=tmp_path / "cache")
    assert five_missing.value.message.startswith(f"declared data not fetched yet: {shown} (cache: ")


def test_lock_without_a_manifest_says_how_to_start_one(tmp_path: Path) -> None:
    (tmp_path / "bare").mkdir()
    with pytest.raises(DataError) as info:
        lock_hashes(Repo.open(tmp_path / "bare"))
    assert info.value.message == "no paperpack.yml: nothing is declared, so there is nothing to lock"
    assert info.value.hint == "declare the data under `data:` in paperpack.yml (`paperpack init` starts one)"


def test_lock_of_what_was_never_fetched_says_to_fetch_it_first(tmp_path: Path) -> None:
    hint = (
        "run `paperpack data fetch` to download the declared data into the cache, then run `paperpack data lock` again"
    )
    record = paper(tmp_path / "r", f"version: 1\ndata:\n  - doi: {DOI}\n")
    with pytest.raises(DataError) as unlisted:
        lock_hashes(record, cache_dir=tmp_path / "cache")
    assert (unlisted.value.hint, unlisted.value.path) == (hint, record.root / "paperpack.yml")
    url = paper(tmp_path / "u", "version: 1\ndata:\n  - url: http://127.0.0.1:1/x\n    files:\n      - path: x.csv\n")
    with pytest.raises(DataError) as unfetched:
        lock_hashes(url, cache_dir=tmp_path / "cache")
    assert unfetched.value.message == "x.csv: no hash declared and not fetched yet, so there is nothing to lock"
    assert (unfetched.value.hint, unfetched.value.path) == (hint, url.root / "paperpack.yml")


def test_lock_hashes_committed_files_after_pinned_ones_and_keeps_the_layout(tmp_path: Path) -> None:
    manifest = (
        'version: 1\ntitle: "A paper whose title runs past the eighty columns a YAML writer folds at by default"\n'
        "run:\n  timeout: 60\ncompare:\n  ignore_patterns:\n  - today\n"
        "data:\n- url: http://127.0.0.1:1/x\n  files:\n"
        f"  - path: pinned.csv\n    sha256: {hashlib.sha256(b'p').hexdigest()}\n"
        "  - path: committed.csv\n"
    )
    repo = paper(tmp_path, manifest, {"pinned.csv": b"p", "committed.csv": b"c"})
    sha_c = hashlib.sha256(b"c").hexdigest()
    assert lock_hashes(repo, cache_dir=tmp_path / "cache") == [("committed.csv", sha_c)]
    assert (repo.root / "paperpack.yml").read_text(encoding="utf-8") == manifest + f"    sha256: {sha_c}\n"


def test_lock_keeps_a_flow_style_list_readable(tmp_path: Path) -> None:
    manifest = "version: 1\ndata: [{url: 'http://127.0.0.1:1/x', files: [{path: c.csv}]}]\n"
    repo = paper(tmp_path, manifest, {"c.csv": b"c"})
    lock_hashes(repo, cache_dir=tmp_path / "cache")
    text = (repo.root / "paperpack.yml").read_text(encoding="utf-8")
    assert text == (
        "version: 1\ndata: [{url: 'http://127.0.0.1:1/x', files: [{path: c.csv, sha256: "
        + hashlib.sha256(b"c").hexdigest()
        + "}]}]\n"
    )


@pytest.mark.parametrize(
    "manifest",
    [
        # lists after a blank line: the author's indent under the key (0 here) is kept
        "version: 1\ndata:\n\n- url: http://127.0.0.1:1/x\n  files:\n\n  - path: c.csv\n",
        # no key spelled plainly before a list (quoted keys): the usual indent, 2
        '"version": 1\n"data":\n  - "url": http://127.0.0.1:1/x\n    "files":\n      - "path": c.csv\n',
    ],
    ids=["blank-lines", "quoted-keys"],
)
def test_lock_keeps_the_indent_of_lists_after_blank_lines_and_under_quoted_keys(tmp_path: Path, manifest: str) -> None:
    repo = paper(tmp_path, manifest, {"c.csv": b"c"})
    lock_hashes(repo, cache_dir=tmp_path / "cache")
    indent = manifest.splitlines()[-1].index("-") + 2
    expected = manifest + " " * indent + f"sha256: {hashlib.sha256(b'c').hexdigest()}\n"
    assert (repo.root / "paperpack.yml").read_text(encoding="utf-8") == expected


_IN_C_LOCALE = """
import json, sys
from pathlib import Path
from paperpack.data import DataStore, lock_hashes
from paperpack.data.download import _Validator
from paperpack.repository.repo import Repo
root = Path(sys.argv[1])
written = lock_hashes(Repo.open(root / sys.argv[2] / "paper"), cache_dir=root / "cache")
store = DataStore.in_cache(root / "cache")
partial = root / "f.part"
print(json.dumps({
    "written": written,
    "listing": store.listing("10.5281/zenodo.321"),
    "validator": _Validator.load(partial, "http://127.0.0.1:1/donn\\u00e9es.csv") is not None,
}))
"""


def test_a_c_locale_process_reads_manifests_listings_and_validators_as_this_one(tmp_path: Path) -> None:
    """A manifest, a record's listing and a partial download's validator are UTF-8 files: a process in the C
    locale (ASCII; no UTF-8 mode) reads their non-ASCII names as this one does, and locks the same manifest.

    This process reads them too, so that mutmut, which sees only the functions a test reaches in its own
    process, runs this test for each mutant of them (the child process inherits the mutant under test)."""
    import json
    import os
    import subprocess
    import sys

    from paperpack.data.download import _Validator

    manifest = (
        "version: 1\n# les données\ndata:\n  - url: http://127.0.0.1:1/x\n    files:\n      - path: donnees.csv\n"
    )
    for copy in ("c", "here"):
        paper(tmp_path / copy, manifest, {"donnees.csv": b"d"})
    store = DataStore.in_cache(tmp_path / "cache")
    store.save_listing(DOI, [{"name": "données.csv"}])
    url = "http://127.0.0.1:1/données.csv"
    _Validator(url, '"v1"', 1).save(tmp_path / "f.part")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_") and k not in ("LANG", "PYTHONUTF8")}
    env.update(LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0", PYTHONIOENCODING="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _IN_C_LOCALE, str(tmp_path), "c"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    here = {
        "written": [
            list(pair) for pair in lock_hashes(Repo.open(tmp_path / "here" / "paper"), cache_dir=tmp_path / "cache")
        ],
        "listing": store.listing(DOI),
        "validator": _Validator.load(tmp_path / "f.part", url) is not None,
    }
    assert (
        json.loads(done.stdout)
        == here
        == {
            "written": [["donnees.csv", hashlib.sha256(b"d").hexdigest()]],
            "listing": [{"name": "données.csv"}],
            "validator": True,
        }
    )
    locked = [(tmp_path / copy / "paper" / "paperpack.yml").read_text(encoding="utf-8") for copy in ("c", "here")]
    assert locked[0] == locked[1] == manifest + f"        sha256: {hashlib.sha256(b'd').hexdigest()}\n"


def test_the_store_finds_a_file_by_its_declared_hash_not_by_its_url(tmp_path: Path) -> None:
    """A blob fetched before from the same URL is not the file when the declared hash changed; a blob with the
    declared hash is, whichever URL brought it."""
    store = DataStore(tmp_path / "data")
    old, new = hashlib.sha256(b"old").hexdigest(), hashlib.sha256(b"new").hexdigest()
    for data, hexes in ((b"old", old), (b"new", new)):
        store.blob(hexes).parent.mkdir(parents=True, exist_ok=True)
        store.blob(hexes).write_bytes(data)
    url = "http://127.0.0.1:1/obs.csv"
    store.remember(old, key=f"url:{url}")  # the URL brought the old bytes
    assert store.find(DeclaredFile(path="o.csv", dataset=0, index=0, url=url)) == old, "no hash: by the URL"
    changed = DeclaredFile(path="o.csv", dataset=0, index=0, url=url, sha256=hashlib.sha256(b"newer").hexdigest())
    assert store.find(changed) is None
    elsewhere = DeclaredFile(path="o.csv", dataset=0, index=0, url="http://127.0.0.1:1/mirror", sha256=new)
    assert store.find(elsewhere) == new


def test_a_committed_file_is_the_data_unless_its_hash_differs(tmp_path: Path) -> None:
    from paperpack.data import fetch_data
    from paperpack.errors import ChecksumError

    unpinned = paper(
        tmp_path / "u",
        "version: 1\ndata:\n  - url: http://127.0.0.1:1/x\n    files:\n      - path: d.csv\n",
        {"d.csv": b"d"},
    )
    assert [r.state for r in fetch_data(unpinned, cache_dir=tmp_path / "cache")] == ["in-repo"], "no network asked"
    wrong = "ab" * 32
    pinned = paper(
        tmp_path / "p",
        f"version: 1\ndata:\n  - url: http://127.0.0.1:1/x\n    files:\n      - path: d.csv\n        sha256: {wrong}\n",
        {"d.csv": b"d"},
    )
    with pytest.raises(ChecksumError) as info:
        data_mounts(pinned, cache_dir=tmp_path / "cache")
    assert (
        info.value.message == f"d.csv: sha256 is {hashlib.sha256(b'd').hexdigest()}, but paperpack.yml declares {wrong}"
    )
    assert info.value.hint == (
        "replace d.csv with the published file, or correct the hash in paperpack.yml "
        "(`paperpack data lock` fills in missing hashes only)"
    )
    assert info.value.path == pinned.root / "d.csv"


def test_each_declared_file_keeps_its_source_hash_size_and_line(tmp_path: Path) -> None:
    manifest = (
        "version: 1\ndata:\n"
        f"  - doi: {DOI}\n"  # a whole record first: the datasets after it are read too
        "  - url: http://127.0.0.1:1/dataset\n    files:\n"
        f"      - url: http://127.0.0.1:1/own\n        path: own.csv\n        md5: {MD5}\n        size: 12\n"
        f"  - doi: {DOI}\n    url: http://127.0.0.1:1/landing\n    files:\n      - path: rec.csv\n"
    )
    repo = paper(tmp_path, manifest)
    store = DataStore.in_cache(tmp_path / "cache")
    record, own, rec = declared_files(repo, store)
    assert record.unlisted
    assert (own.url, own.md5, own.size, own.line) == ("http://127.0.0.1:1/own", MD5, 12, 7)
    assert (rec.url, rec.doi, rec.line) == (None, DOI, 13), "a DOI's file is found through the record"


def test_the_store_is_made_or_its_folder_named(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    store = DataStore(tmp_path / "a-file" / "data")
    with pytest.raises(DataError) as info:
        store.prepare()
    assert info.value.path == tmp_path / "a-file" / "data"
    ready = DataStore(tmp_path / "data")
    ready.prepare()
    assert sorted(p.name for p in ready.root.iterdir()) == ["locks", "partial"]


def test_lock_names_a_record_file_in_a_sub_folder_of_the_records_folder() -> None:
    from paperpack.data.lock import _pin_record_file

    dataset = {"doi": DOI, "path": "inputs"}
    declared = DeclaredFile(path="inputs/sub/c.csv", dataset=0, index=-1, doi=DOI, name="sub/c.csv")
    _pin_record_file(dataset, declared, "ab" * 32)
    assert dataset == {"doi": DOI, "files": [{"path": "inputs/sub/c.csv", "name": "sub/c.csv", "sha256": "ab" * 32}]}


def test_an_invenio_entry_that_is_not_an_object_is_a_record_of_the_wrong_shape() -> None:
    from paperpack.data.records import _entries

    with pytest.raises(DataError, match=r"`files.entries\['x'\]` is a list, not an object"):
        _entries({"files": {"entries": {"x": [1]}}}, "http://127.0.0.1:1/api/records/1", DOI)


def test_the_declared_files_of_a_record_are_read_from_the_users_cache_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a store given, the listing is the one `paperpack data fetch` kept in the cache the user set."""
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(tmp_path / "users-cache"))
    repo = paper(tmp_path, f"version: 1\ndata:\n  - doi: {DOI}\n    path: inputs\n")
    DataStore.in_cache(tmp_path / "users-cache").save_listing(DOI, [{"name": "a.csv"}])
    assert DataStore().root == tmp_path / "users-cache" / "data"
    assert [d.path for d in declared_files(repo)] == ["inputs/a.csv"]
