"""An extracted dataset is readable by the run's user, whatever modes its archive gave (paperpack/data/archive.py).

Issue 16's mutation testing found these unpinned: every file gets 0644 (0755 when its owner could
execute it, never because others could), every folder 0755, and links are left alone.
"""

from __future__ import annotations

import gzip
import logging
import os
import stat
import zipfile
from pathlib import Path

import pytest

from paperpack.data.archive import ArchiveLimits, extract_archive, open_up
from paperpack.errors import ConfigError, DataError, UnsafeArchiveError
from tests.test_archive import make_tar, make_zip


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_every_file_and_folder_is_opened_up_links_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "extracted"
    (root / "sub" / "deeper").mkdir(parents=True)
    files = {
        root / "a.csv": 0o600,
        root / "sub" / "run.sh": 0o700,
        root / "sub" / "deeper" / "b.csv": 0o000,
        root / "sub" / "odd": 0o001,
    }
    for path, mode in files.items():
        path.write_text("x\n")
        path.chmod(mode)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours\n")
    outside.chmod(0o600)
    (root / "link").symlink_to(outside)
    for folder in (root / "sub" / "deeper", root / "sub", root):
        folder.chmod(0o700)
    open_up(root)
    assert {path.relative_to(root).as_posix(): _mode(path) for path in files} == {
        "a.csv": 0o644,
        "sub/run.sh": 0o755,
        "sub/deeper/b.csv": 0o644,
        "sub/odd": 0o644,
    }
    assert [_mode(p) for p in (root, root / "sub", root / "sub" / "deeper")] == [0o755] * 3
    assert _mode(outside) == 0o600, "a link's target outside is never changed"


@pytest.mark.parametrize("maker", [make_tar, make_zip])
@pytest.mark.parametrize("name", ["C:", "C:\\evil.txt", "..\\..\\evil.txt", "a\\..\\..\\evil.txt"])
def test_windows_style_member_names_are_refused(maker, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    arch = maker(tmp_path / ("a.tar.gz" if maker is make_tar else "a.zip"), [(name, "file", "x")])
    with pytest.raises(UnsafeArchiveError) as exc:
        extract_archive(arch, tmp_path / "deep" / "out")
    assert exc.value.hint, "the refusal says what to do"
    assert not (tmp_path / "deep" / "out").exists() and not (tmp_path / "evil.txt").exists()


def test_the_limits_are_inclusive(tmp_path: Path) -> None:
    """An archive exactly at a limit unpacks; one member or one byte more is refused, with a hint."""
    three = make_zip(tmp_path / "three.zip", [(f"{i}.txt", "file", "abcd") for i in range(3)])
    assert len(list(extract_archive(three, tmp_path / "ok", limits=ArchiveLimits(max_members=3)).iterdir())) == 3
    with pytest.raises(UnsafeArchiveError) as members:
        extract_archive(three, tmp_path / "no", limits=ArchiveLimits(max_members=2))
    assert members.value.hint
    assert extract_archive(three, tmp_path / "ok2", limits=ArchiveLimits(max_total_bytes=12)).is_dir()
    with pytest.raises(UnsafeArchiveError) as size:
        extract_archive(three, tmp_path / "no2", limits=ArchiveLimits(max_total_bytes=11))
    assert size.value.hint and "PAPERPACK" in size.value.hint


def _stored(path: Path, members: dict[str, bytes], modes: dict[str, int] | None = None) -> Path:
    """A zip whose members are stored, not compressed: packed bytes = unpacked bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | (modes or {}).get(name, 0o644)) << 16
            zf.writestr(info, data)
    return path


def test_a_file_that_is_no_archive_is_refused_naming_it(tmp_path: Path) -> None:
    plain = tmp_path / "data.csv"
    plain.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        extract_archive(plain, tmp_path / "out", label="inputs/data.csv")
    assert str(info.value) == "inputs/data.csv: declared with `extract: true` but is neither a zip nor a tar archive"
    assert (info.value.hint, info.value.path) == ("remove `extract: true`, or point the entry at the archive", plain)


def test_the_target_folders_parents_are_made(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", [("a.txt", "file", "x")])
    assert (extract_archive(archive, tmp_path / "cache" / "extracted" / "deep" / "out") / "a.txt").read_text() == "x"


def test_member_names_are_cleaned_of_empty_and_dot_parts(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tar.gz", [("./sub//./a.txt", "file", "x")])
    out = extract_archive(archive, tmp_path / "out")
    assert [p.relative_to(out).as_posix() for p in sorted(out.rglob("*"))] == ["sub", "sub/a.txt"]


def test_write_bits_never_make_a_member_executable(tmp_path: Path) -> None:
    archive = _stored(tmp_path / "a.zip", {"w.sh": b"x", "x.sh": b"x"}, {"w.sh": 0o622, "x.sh": 0o711})
    out = extract_archive(archive, tmp_path / "out")
    assert (_mode(out / "w.sh"), _mode(out / "x.sh")) == (0o644, 0o755)


def test_members_are_read_a_mebibyte_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A member is never held whole in memory: a compression bomb is stopped before it fills it."""
    asked: list[int | None] = []
    read = zipfile.ZipExtFile.read

    def recording(self: zipfile.ZipExtFile, n: int | None = -1) -> bytes:
        asked.append(n)
        return read(self, n)

    monkeypatch.setattr(zipfile.ZipExtFile, "read", recording)
    extract_archive(_stored(tmp_path / "a.zip", {"big.bin": b"\1" * (3 << 20)}), tmp_path / "out")
    assert asked and set(asked) == {1 << 20}


def test_the_ratio_limit_starts_past_a_mebibyte_and_is_inclusive(tmp_path: Path) -> None:
    one = make_zip(tmp_path / "one.zip", [("zeros.bin", "file", b"\0" * (1 << 20))])  # ratio about 1000
    assert extract_archive(one, tmp_path / "one", limits=ArchiveLimits(max_ratio=2)).is_dir()
    stored = _stored(tmp_path / "stored.zip", {"a.bin": b"\1" * (2 << 20)})  # unpacked = packed member bytes
    assert extract_archive(stored, tmp_path / "same", limits=ArchiveLimits(max_ratio=1)).is_dir()
    bomb = make_zip(tmp_path / "bomb.zip", [("zeros.bin", "file", b"\0" * (2 << 20))])
    with pytest.raises(UnsafeArchiveError) as info:
        extract_archive(bomb, tmp_path / "bomb", limits=ArchiveLimits(max_ratio=2))
    assert "a compression bomb" in str(info.value)
    assert info.value.hint.endswith(" (or raise the limit: PAPERPACK_ARCHIVE_MAX_RATIO)"), info.value.hint


def test_members_are_unpacked_beside_the_target_in_a_hidden_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Then renamed at once: the target is whole or absent, and a killed fetch leaves only a ``.NAME.*.tmp``."""
    import paperpack.data.archive

    seen: list[Path] = []
    monkeypatch.setattr(paperpack.data.archive, "open_up", lambda root: seen.append(root) or open_up(root))
    dest = tmp_path / "extracted" / "out"
    extract_archive(make_zip(tmp_path / "a.zip", [("a.txt", "file", "x")]), dest)
    [tmp] = seen
    assert tmp.parent == dest.parent and tmp.name.startswith(".out.") and tmp.name.endswith(".tmp"), tmp
    assert sorted(p.name for p in dest.parent.iterdir()) == ["out"]


@pytest.mark.parametrize("name", ["./sub/a.txt", "sub//a.txt", "sub/./a.txt"])
def test_a_hard_link_to_itself_spelled_otherwise_keeps_the_file(tmp_path: Path, name: str) -> None:
    """Empty and ``.`` parts are dropped from member names: the link is seen to be the file itself, not copied
    onto it (which would empty it)."""
    archive = make_tar(tmp_path / "a.tar.gz", [("sub/a.txt", "file", "data\n"), (name, "hard", "sub/a.txt")])
    assert (extract_archive(archive, tmp_path / "out") / "sub" / "a.txt").read_text() == "data\n"


def test_a_damaged_archive_is_refused_with_what_to_do(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", [("a.txt", "file", "some text that deflate packs " * 40)])
    raw = bytearray(archive.read_bytes())
    raw[60:80] = b"\xff" * 20  # the end of the packed member (bytes 35-77) and the start of the directory
    archive.write_bytes(bytes(raw))
    with pytest.raises(zipfile.BadZipFile) as reading, zipfile.ZipFile(archive) as zf:
        zf.read("a.txt")
    with pytest.raises(DataError) as info:
        extract_archive(archive, tmp_path / "out", label="inputs/a.zip")
    assert str(info.value) == f"inputs/a.zip: the archive is damaged: {reading.value}", "with the reader's own cause"
    assert (info.value.hint, info.value.path) == (
        "delete it from the cache and fetch again (`paperpack data fetch`)",
        archive,
    )
    assert not (tmp_path / "out").exists()


def test_a_file_and_a_folder_at_one_path_are_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tar.gz", [("a", "file", "x"), ("a/b", "file", "y")])
    with pytest.raises(UnsafeArchiveError) as info:
        extract_archive(archive, tmp_path / "out")
    assert str(info.value).endswith("(the archive holds both a file and a folder, or two entries, at the same path)")


def test_a_member_the_file_system_refuses_names_itself_and_the_folder(tmp_path: Path) -> None:
    name = "x" * 300  # longer than a file name can be
    archive = make_tar(tmp_path / "a.tar.gz", [(name, "file", "x")])
    with pytest.raises(DataError) as info:
        extract_archive(archive, tmp_path / "out")
    assert str(info.value) == f"a.tar.gz: cannot extract member {name!r} into {tmp_path}: File name too long"
    assert (info.value.hint, info.value.path) == (
        "check that the cache folder is writable and has room, then run `paperpack data fetch` again",
        archive,
    )


def test_an_extraction_is_logged_with_its_size(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    archive = make_zip(tmp_path / "a.zip", [("a.txt", "file", "xyz")])
    with caplog.at_level(logging.DEBUG, logger="paperpack.data.archive"):
        extract_archive(archive, tmp_path / "out")
    assert [r.getMessage() for r in caplog.records] == [f"extracted {archive}: 1 members, 3 bytes"]


def test_a_target_another_fetch_finished_first_is_kept(tmp_path: Path) -> None:
    dest = tmp_path / "extracted" / "out"
    dest.mkdir(parents=True)
    (dest / "theirs.txt").write_text("as good as ours\n")
    assert extract_archive(make_zip(tmp_path / "a.zip", [("a.txt", "file", "x")]), dest) == dest
    assert sorted(p.name for p in dest.parent.iterdir()) == ["out"], "no temporary folder is left"
    assert sorted(p.name for p in dest.iterdir()) == ["theirs.txt"]


def test_the_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAPERPACK_ARCHIVE_MAX_BYTES", raising=False)
    monkeypatch.setenv("PAPERPACK_ARCHIVE_MAX_RATIO", "7")
    assert ArchiveLimits.from_env() == ArchiveLimits(max_ratio=7.0)
    both = {"PAPERPACK_ARCHIVE_MAX_BYTES": "1000", "PAPERPACK_ARCHIVE_MAX_RATIO": "50"}
    assert ArchiveLimits.from_env(both) == ArchiveLimits(max_total_bytes=1000, max_ratio=50.0)
    assert ArchiveLimits.from_env({"PAPERPACK_ARCHIVE_MAX_RATIO": "50"}) == ArchiveLimits(max_ratio=50.0)
    assert ArchiveLimits.from_env({"PAPERPACK_ARCHIVE_MAX_RATIO": "0.5"}).max_ratio == 0.5
    for wrong in ("abc", "0", "-1"):
        with pytest.raises(ConfigError, match="is not a positive number") as info:
            ArchiveLimits.from_env({"PAPERPACK_ARCHIVE_MAX_BYTES": wrong})
        assert info.value.hint == ("set PAPERPACK_ARCHIVE_MAX_BYTES to a positive number, or unset it for the default")


@pytest.mark.parametrize(
    ("members", "error"),
    [
        ([("a.txt", "file", "x"), ("../evil.txt", "file", "x")], UnsafeArchiveError),  # refused after a member
        ([("a", "file", "x"), ("a/b", "file", "y")], UnsafeArchiveError),  # a file and a folder at one path
        ([("a.txt", "file", "x"), ("x" * 300, "file", "x")], DataError),  # a name the file system refuses
    ],
)
def test_an_extraction_that_fails_leaves_nothing_beside_the_target(
    tmp_path: Path, members: list[tuple[str, str, str]], error: type[Exception]
) -> None:
    """No half-unpacked temporary folder stays in the cache's extracted/ folder after an error."""
    archive = make_tar(tmp_path / "a.tar.gz", members)
    dest = tmp_path / "extracted" / "out"
    with pytest.raises(error):
        extract_archive(archive, dest)
    assert list(dest.parent.iterdir()) == []


def test_the_ratio_of_a_zip_is_over_exactly_the_packed_bytes_of_its_members(tmp_path: Path) -> None:
    """Unpacked bytes over the packed bytes of the members opened so far: a limit half a packed byte either side
    of the archive's own ratio decides (a count off by one byte would let this bomb through)."""
    text = b"".join(f"{i:07d},{i % 97}\n".encode() for i in range(200_000))  # 2.4 MB, packs about 5 times
    archive = make_zip(tmp_path / "a.zip", [("a.csv", "file", text)])
    with zipfile.ZipFile(archive) as zf:
        packed = zf.getinfo("a.csv").compress_size
    assert len(text) > 1 << 20 and 0 < packed < archive.stat().st_size
    with pytest.raises(UnsafeArchiveError, match="a compression bomb"):
        extract_archive(archive, tmp_path / "no", limits=ArchiveLimits(max_ratio=len(text) / (packed + 0.5)))
    loose = ArchiveLimits(max_ratio=len(text) / (packed - 0.5))
    assert (extract_archive(archive, tmp_path / "ok", limits=loose) / "a.csv").read_bytes() == text


def _bzip2(path: Path) -> Path:
    """A tar.bz2 (or .zip) of three random members in 100 kB bzip2 blocks, one late block damaged."""
    import io
    import random
    import tarfile

    members = {f"m{i}.bin": random.Random(i).randbytes(300_000) for i in range(3)}
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2, compresslevel=1) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
    else:
        with tarfile.open(path, "w:bz2", compresslevel=1) as tf:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    raw = bytearray(path.read_bytes())
    raw[len(raw) * 9 // 10 : len(raw) * 9 // 10 + 64] = bytes(64)  # inside the last member's packed bytes
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("name", ["a.tar.bz2", "a.zip"])
def test_damaged_bzip2_data_is_a_damaged_archive_not_a_cache_folder_problem(tmp_path: Path, name: str) -> None:
    """bz2 reports damaged data as a bare OSError: it must not read as a cache folder that is full or read-only."""
    archive = _bzip2(tmp_path / name)
    dest = tmp_path / "extracted" / "out"
    with pytest.raises(DataError) as info:
        extract_archive(archive, dest, label="inputs/" + name)
    assert str(info.value) == f"inputs/{name}: the archive is damaged: Invalid data stream"
    assert (info.value.hint, info.value.path) == (
        "delete it from the cache and fetch again (`paperpack data fetch`)",
        archive,
    )
    assert list(dest.parent.iterdir()) == []


@pytest.mark.parametrize("name", ["a.tar", "a.tar.gz"])
def test_a_damaged_member_header_after_the_first_is_a_damaged_archive_not_a_shorter_one(
    tmp_path: Path, name: str
) -> None:
    """tarfile stops at a damaged header after the first member as if the archive ended: nothing may pass as whole."""
    packed = make_tar(tmp_path / "packed.tar.gz", [("a.txt", "file", "first"), ("b.txt", "file", "second")])
    raw = bytearray(gzip.decompress(packed.read_bytes()))
    second = 1024  # a.txt's header block and its one data block come first
    assert raw[second : second + 5] == b"b.txt"
    raw[second + 148 : second + 156] = b"0000000\0"  # b.txt's header checksum, now wrong
    archive = tmp_path / name
    archive.write_bytes(gzip.compress(bytes(raw)) if name.endswith(".gz") else bytes(raw))
    dest = tmp_path / "extracted" / "out"
    with pytest.raises(DataError) as info:
        extract_archive(archive, dest, label="inputs/" + name)
    assert str(info.value) == (
        f"inputs/{name}: the archive is damaged: unreadable member header at byte 1024: bad checksum; "
        "the members after it are lost"
    )
    assert info.value.hint == "delete it from the cache and fetch again (`paperpack data fetch`)"
    assert list(dest.parent.iterdir()) == [], "nothing half-unpacked is left"


def test_an_archive_that_ends_without_its_end_marker_still_unpacks(tmp_path: Path) -> None:
    """The end of the data where a header would be is an end, as tar itself reads it: only a damaged header is damage."""
    packed = make_tar(tmp_path / "packed.tar.gz", [("a.txt", "file", "first"), ("b.txt", "file", "second")])
    archive = tmp_path / "short.tar"
    archive.write_bytes(
        gzip.decompress(packed.read_bytes())[: 4 * 512]
    )  # both members, without the zero blocks that end a tar
    out = extract_archive(archive, tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt"]
