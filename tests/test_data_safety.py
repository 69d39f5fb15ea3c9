"""Data downloads are safe: where data URLs may lead (SSRF), resumes that never splice, the hashes builds need.

Every request goes to real servers on 127.0.0.1. Private, link-local and metadata
addresses are only ever *named* (through a test resolver or an IP literal): an audit hook
records every socket connect and refuses any to a non-loopback address, so even a broken
check could not send traffic there.
"""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
import socket
import sys
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from conftest_doi import doi_env, doi_server  # noqa: F401 - fixtures
from doiserver import Action, DoiServer
from paperpack.cli.main import main
from paperpack.data import DataStore, data_mounts, ensure_data, fetch_data, lock_hashes
from paperpack.errors import ChecksumError, ConfigError, DataError, UnsafeArchiveError, UnsafeUrlError
from paperpack.repository.repo import Repo
from paperpack.util.httpclient import HttpClient, ServiceConfig, ServiceUnreachable
from paperpack.util.urlpolicy import AddressKind, AllowedHost, UrlPolicy, classify

CSV = b"station,temp\n" + b"".join(f"s{i},{i % 30}.5\n".encode() for i in range(2000))
BIG = CSV * 80  # ~1.7 MB: several blocks arrive before a scripted cut


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def paper(tmp_path: Path, manifest: str) -> Repo:
    root = tmp_path / "paper"
    root.mkdir(parents=True)
    (root / "paperpack.yml").write_text(manifest, encoding="utf-8")
    return Repo.open(root)


def url_manifest(url: str, path: str = "data/obs.csv", sha256: str | None = None, extract: bool = False) -> str:
    return (
        f"version: 1\ndata:\n  - url: {url}\n    files:\n      - path: {path}\n"
        + (f"        sha256: {sha256}\n" if sha256 else "")
        + ("        extract: true\n" if extract else "")
    )


def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "data"


# -- a record of socket connects, refusing any that leaves loopback ----------------------------

_CONNECTS: list[Any] = []
_RECORDING = [False]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "socket.connect" or not _RECORDING[0]:
        return
    address = args[1]
    _CONNECTS.append(address)
    if isinstance(address, tuple) and classify(str(address[0])) is not AddressKind.LOOPBACK:
        raise ConnectionRefusedError(f"test safety net: no connection to {address[0]} from the tests")


_HOOKED: list[bool] = []


@pytest.fixture
def connects() -> Iterator[list[Any]]:
    """The addresses sockets connected to during the test (loopback only: others are refused)."""
    if not _HOOKED:
        sys.addaudithook(_audit)  # hooks cannot be removed: it only acts while a test records
        _HOOKED.append(True)
    _CONNECTS.clear()
    _RECORDING[0] = True
    try:
        yield _CONNECTS
    finally:
        _RECORDING[0] = False


def to_port(connected: list[Any], port: int) -> list[Any]:
    return [a for a in connected if isinstance(a, tuple) and a[1] == port]


@pytest.fixture
def no_allow(doi_server: DoiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DoiServer:
    """The loopback server with a fresh cache, but nothing allowed by the user (plain http aside)."""
    for key in ("PAPERPACK_DATA_ALLOW", "PAPERPACK_DATA_ALLOW_HTTP"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PAPERPACK_HTTP_TIMEOUT", "1")
    monkeypatch.setenv("PAPERPACK_DATA_ALLOW_HTTP", "1")
    return doi_server


# -- where data URLs may lead ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", AddressKind.LOOPBACK),
        ("127.1.2.3", AddressKind.LOOPBACK),
        ("::1", AddressKind.LOOPBACK),
        ("10.1.2.3", AddressKind.PRIVATE),
        ("172.16.0.1", AddressKind.PRIVATE),
        ("192.168.1.1", AddressKind.PRIVATE),
        ("169.254.169.254", AddressKind.METADATA),
        ("fd00:ec2::254", AddressKind.METADATA),
        ("100.100.100.200", AddressKind.METADATA),
        ("192.0.0.192", AddressKind.METADATA),
        ("169.254.1.1", AddressKind.LINK_LOCAL),
        ("fe80::1", AddressKind.LINK_LOCAL),
        ("fe80::1%eth0", AddressKind.LINK_LOCAL),
        ("fd12:3456::1", AddressKind.UNIQUE_LOCAL),
        ("fec0::1", AddressKind.PRIVATE),
        ("100.64.0.1", AddressKind.SHARED),
        ("224.0.0.1", AddressKind.MULTICAST),
        ("ff02::1", AddressKind.MULTICAST),
        ("0.0.0.0", AddressKind.UNSPECIFIED),
        ("::", AddressKind.UNSPECIFIED),
        ("240.0.0.1", AddressKind.RESERVED),
        ("198.18.0.1", AddressKind.RESERVED),
        ("192.0.2.1", AddressKind.RESERVED),
        ("2001:db8::1", AddressKind.RESERVED),
        ("0.1.2.3", AddressKind.RESERVED),
        ("::ffff:127.0.0.1", AddressKind.LOOPBACK),
        ("::ffff:10.0.0.1", AddressKind.PRIVATE),  # IPv4-mapped
        ("2002:a9fe:a9fe::1", AddressKind.METADATA),
        ("64:ff9b::a9fe:a9fe", AddressKind.METADATA),  # 6to4, NAT64
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", AddressKind.PRIVATE),  # Teredo client 10.0.0.1
        ("8.8.8.8", AddressKind.PUBLIC),
        ("2606:4700:4700::1111", AddressKind.PUBLIC),  # classified, never connected
    ],
)
def test_address_classifier(address: str, kind: AddressKind) -> None:
    assert classify(address) is kind


def test_loopback_data_url_is_refused_unless_the_user_allows_it(
    no_allow: DoiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connects: list[Any]
) -> None:
    """A manifest pointing at a service of this machine: refused before any connection."""
    url = no_allow.add_file("secret", b"token=hunter2\n")
    port = int(no_allow.hostport.rsplit(":", 1)[1])
    repo = paper(tmp_path, url_manifest(url, "data/secret.txt"))
    with pytest.raises(UnsafeUrlError) as info:
        fetch_data(repo)
    assert str(info.value).startswith(
        f"data/secret.txt: refused to download {url}: {no_allow.hostport} is a loopback (this machine) address"
    )
    assert f"PAPERPACK_DATA_ALLOW={no_allow.hostport}" in info.value.hint
    assert "paperpack.yml cannot allow it" in info.value.hint
    assert no_allow.count == 0 and to_port(connects, port) == []
    assert not (store_dir(tmp_path) / "sha256").exists()
    monkeypatch.setenv("PAPERPACK_DATA_ALLOW", no_allow.hostport)  # the user allows their mirror
    assert fetch_data(repo)[0].sha256 == sha(b"token=hunter2\n")


def test_a_host_name_for_loopback_is_refused_too(no_allow: DoiServer, tmp_path: Path, connects: list[Any]) -> None:
    port = int(no_allow.hostport.rsplit(":", 1)[1])
    no_allow.add_file("secret", b"s")
    repo = paper(tmp_path, url_manifest(f"http://localhost:{port}/files/secret", "s.txt"))
    with pytest.raises(UnsafeUrlError, match=rf"localhost:{port} \(it resolves to (127\.0\.0\.1|::1)\) is a loopback"):
        fetch_data(repo)
    assert no_allow.count == 0 and to_port(connects, port) == []


def test_plain_http_needs_the_users_switch(
    no_allow: DoiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERPACK_DATA_ALLOW_HTTP")
    monkeypatch.setenv("PAPERPACK_DATA_ALLOW", no_allow.hostport)
    url = no_allow.add_file("obs.csv", CSV)
    repo = paper(tmp_path, url_manifest(url))
    with pytest.raises(UnsafeUrlError, match="plain http is not used for data downloads") as info:
        fetch_data(repo)
    assert "PAPERPACK_DATA_ALLOW_HTTP=1" in info.value.hint and no_allow.count == 0


def test_redirect_to_a_loopback_port_not_allowed_is_refused(
    doi_env: DoiServer, tmp_path: Path, connects: list[Any]
) -> None:
    """The allowed mirror redirects to another service of this machine: that hop is refused, unasked."""
    with DoiServer() as other:
        target = other.add_file("secret", b"token=hunter2\n")
        other_port = int(other.hostport.rsplit(":", 1)[1])
        public = doi_env.add_file("obs.csv", CSV)
        doi_env.script("/files/obs.csv", Action(status=302, location=target))
        repo = paper(tmp_path, url_manifest(public))
        with pytest.raises(UnsafeUrlError) as info:
            fetch_data(repo)
        assert str(info.value).startswith(f"data/obs.csv: refused to download {public}: {other.hostport} is a loopback")
        assert other.count == 0 and to_port(connects, other_port) == []
        assert not (store_dir(tmp_path) / "sha256").exists()
        doi_env.script("/files/obs.csv", Action(status=301, location="/files/moved.csv"))  # same host: followed
        doi_env.add_file("moved.csv", CSV)
        assert fetch_data(repo)[0].sha256 == sha(CSV)
        assert doi_env.paths()[-2:] == ["/files/obs.csv", "/files/moved.csv"]


def test_too_many_redirects_are_refused(doi_env: DoiServer, tmp_path: Path) -> None:
    url = doi_env.add_file("loop.csv", CSV)
    doi_env.script("/files/loop.csv", *[Action(status=302, location="/files/loop.csv")] * 11)
    with pytest.raises(UnsafeUrlError, match="more than 10 redirects"):
        fetch_data(paper(tmp_path, url_manifest(url)))


class Resolver:
    """A name → addresses table standing in for DNS (the names end in .test: no real DNS answers them)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[tuple[Any, ...]]:
        self.asked.append(host)
        try:  # an IP literal answers for itself, as with getaddrinfo
            return self._infos([str(ipaddress.ip_address(host))], port)
        except ValueError:
            pass
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self._infos(self.table[host], port)

    @staticmethod
    def _infos(addresses: list[str], port: int) -> list[tuple[Any, ...]]:
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://metadata.test/latest/meta-data/iam/", "cloud metadata endpoint"),
        ("https://intranet.test/secrets", "private network"),
        ("https://ula.test/x", "unique-local"),
        ("https://link.test/x", "link-local"),
        ("https://mixed.test/x", "private network"),  # one public answer does not hide a private one
        ("https://169.254.169.254/latest/meta-data/", "cloud metadata endpoint"),
        ("https://[fd00:ec2::254]/latest/", "cloud metadata endpoint"),
        ("http://[::ffff:10.0.0.1]/x", "private network"),
        ("https://224.0.0.251/x", "multicast"),
    ],
)
def test_private_link_local_and_metadata_targets_are_refused_before_connecting(
    url: str, kind: str, connects: list[Any]
) -> None:
    resolver = Resolver(
        {
            "metadata.test": ["169.254.169.254"],
            "intranet.test": ["10.20.30.40"],
            "ula.test": ["fd12::1"],
            "link.test": ["169.254.7.7"],
            "mixed.test": ["8.8.8.8", "192.168.0.10"],
        }
    )
    config = ServiceConfig(data_policy=UrlPolicy(resolve=resolver, allow_http=True), timeout=1.0)
    with HttpClient(config) as client, pytest.raises(UnsafeUrlError, match=f"is a {kind}"):
        client.get_untrusted(url)
    assert connects == [], "refused before any socket connects"


def test_the_connection_goes_to_the_address_that_was_checked(doi_env: DoiServer, connects: list[Any]) -> None:
    """Names are resolved once, by the policy, and the socket connects to that checked answer."""
    port = int(doi_env.hostport.rsplit(":", 1)[1])
    doi_env.add_file("obs.csv", CSV)
    resolver = Resolver({"mirror.test": ["127.0.0.1"]})
    policy = UrlPolicy(allowed=(AllowedHost("mirror.test", port),), allow_http=True, resolve=resolver)
    with HttpClient(ServiceConfig(data_policy=policy, timeout=2.0)) as client:
        response = client.get_untrusted(f"http://mirror.test:{port}/files/obs.csv")
        assert (response.status_code, response.content) == (200, CSV)
    assert resolver.asked == ["mirror.test"] and to_port(connects, port) == [("127.0.0.1", port)]


def test_the_users_allow_list_is_parsed_strictly() -> None:
    policy = UrlPolicy.from_env(
        {"PAPERPACK_DATA_ALLOW": "Mirror.Example.org, 127.0.0.1:8080,[::1]:9000", "PAPERPACK_DATA_ALLOW_HTTP": "yes"}
    )
    assert (
        policy.allowed == (AllowedHost("mirror.example.org"), AllowedHost("127.0.0.1", 8080), AllowedHost("::1", 9000))
        and policy.allow_http
    )
    assert policy.is_allowed("mirror.example.org", 443) and not policy.is_allowed("127.0.0.1", 8081)
    for bad in (
        {"PAPERPACK_DATA_ALLOW": "http://x.org/path"},
        {"PAPERPACK_DATA_ALLOW": "x.org:port"},
        {"PAPERPACK_DATA_ALLOW_HTTP": "maybe"},
    ):
        with pytest.raises(ConfigError, match="PAPERPACK_DATA_ALLOW"):
            UrlPolicy.from_env(bad)


def test_cli_fetch_allows_a_mirror_by_option(
    no_allow: DoiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAPERPACK_DATA_ALLOW_HTTP")
    repo = paper(tmp_path, url_manifest(no_allow.add_file("obs.csv", CSV)))
    assert main(["data", "fetch", str(repo.root)]) == 1
    assert "refused to download" in capsys.readouterr().err and no_allow.count == 0
    assert main(["data", "fetch", str(repo.root), "--allow-host", no_allow.hostport, "--allow-http"]) == 0
    assert "1 fetched" in capsys.readouterr().out


# -- resuming never splices two versions -----------------------------------------------------


def _cut_then(doi_env: DoiServer, tmp_path: Path, first: bytes, **options: Any) -> tuple[Repo, int]:
    """Fetch ``first`` (no hash declared), cut off half-way; return the repo and the partial file's size."""
    url = doi_env.add_file("big.csv", first, **options)
    doi_env.script("/files/big.csv", Action(cut=True))
    repo = paper(tmp_path, url_manifest(url, "big.csv"))
    with pytest.raises(DataError, match="cut off"):
        fetch_data(repo)
    [part] = (store_dir(tmp_path) / "partial").glob("*.part")
    return repo, part.stat().st_size


def _second_version(data: bytes) -> bytes:
    return data.replace(b".5\n", b".7\n")


def test_a_file_changed_on_the_server_is_downloaded_whole_and_lock_pins_it(doi_env: DoiServer, tmp_path: Path) -> None:
    repo, kept = _cut_then(doi_env, tmp_path, BIG)
    etag = f'"{sha(BIG)[:16]}"'
    new = _second_version(BIG)
    doi_env.add_file("big.csv", new)
    [result] = fetch_data(repo)
    assert result.source is not None and result.source.read_bytes() == new, "no splice of two versions"
    assert lock_hashes(Repo.open(repo.root)) == [("big.csv", sha(new))]
    assert doi_env.ranges()[-1] == f"bytes={kept}-" and doi_env.if_ranges()[-1] == etag


def test_a_server_ignoring_if_range_cannot_splice(doi_env: DoiServer, tmp_path: Path) -> None:
    repo, kept = _cut_then(doi_env, tmp_path, BIG, honour_if_range=False)
    new = _second_version(BIG)
    doi_env.add_file("big.csv", new)  # answers the range of the new file, with its new ETag
    [result] = fetch_data(repo)
    assert result.source is not None and result.source.read_bytes() == new, "no splice of two versions"
    assert lock_hashes(Repo.open(repo.root)) == [("big.csv", sha(new))]
    assert doi_env.ranges()[-2:] == [f"bytes={kept}-", ""], "the range answer is dropped; a whole new download"


def test_a_range_starting_elsewhere_restarts_from_zero(doi_env: DoiServer, tmp_path: Path) -> None:
    repo, kept = _cut_then(doi_env, tmp_path, BIG, range_shift=-1000)
    [result] = fetch_data(repo)
    assert result.source is not None and result.source.read_bytes() == BIG, "no overlapping bytes"
    assert lock_hashes(Repo.open(repo.root)) == [("big.csv", sha(BIG))]
    assert doi_env.ranges()[-2:] == [f"bytes={kept}-", ""]


def test_without_etag_or_last_modified_a_download_starts_again(doi_env: DoiServer, tmp_path: Path) -> None:
    repo, _ = _cut_then(doi_env, tmp_path, BIG, etag=False, last_modified=False)
    [result] = fetch_data(repo)
    assert doi_env.ranges()[-1] == "", "nothing tells the partial file's version: no resume"
    assert result.source is not None and result.source.read_bytes() == BIG


def test_last_modified_serves_as_the_validator(doi_env: DoiServer, tmp_path: Path) -> None:
    repo, kept = _cut_then(doi_env, tmp_path, BIG, etag=False)
    [result] = fetch_data(repo)
    assert doi_env.ranges()[-1] == f"bytes={kept}-" and doi_env.if_ranges()[-1].endswith(" GMT")
    assert result.source is not None and result.source.read_bytes() == BIG


# -- the hashes a build needs ---------------------------------------------------------------------


def test_build_and_run_need_a_declared_hash_for_url_data(doi_env: DoiServer, tmp_path: Path) -> None:
    url = doi_env.add_file("obs.csv", CSV)
    repo = paper(tmp_path, url_manifest(url))
    with pytest.raises(DataError) as info:
        ensure_data(repo)
    assert str(info.value) == "no sha256 declared for data downloaded by URL: data/obs.csv (data[0])"
    assert "`paperpack data lock`" in info.value.hint and doi_env.count == 0
    fetch_data(repo)  # `paperpack data fetch` may fetch without one
    with pytest.raises(DataError, match=r"no sha256 declared .*data/obs\.csv \(data\[0\]\)"):
        data_mounts(repo)
    lock_hashes(repo)
    locked = Repo.open(repo.root)
    assert ensure_data(locked) == [] and [m.source.name for m in data_mounts(locked)] == [sha(CSV)]


@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_url_download_with_the_wrong_sha256_leaves_nothing_cached(
    doi_env: DoiServer, tmp_path: Path, case: Any
) -> None:
    url = doi_env.add_file("obs.csv", CSV)
    declared = case(sha(b"another file"))
    repo = paper(tmp_path, url_manifest(url, sha256=declared))
    with pytest.raises(ChecksumError) as info:
        fetch_data(repo)
    assert f"is {sha(CSV)}, expected {declared.lower()}; the download was deleted" in str(info.value)
    store = DataStore(store_dir(tmp_path))
    assert list((store.root / "partial").iterdir()) == [] and not (store.root / "sha256").exists()
    assert not (store.root / "keys").exists()
    with pytest.raises(DataError, match="not fetched yet"):
        data_mounts(repo)


def test_an_upper_case_sha256_that_matches_is_accepted(doi_env: DoiServer, tmp_path: Path) -> None:
    url = doi_env.add_file("obs.csv", CSV)
    repo = paper(tmp_path, url_manifest(url, sha256=sha(CSV).upper()))
    assert [(r.state, r.sha256) for r in fetch_data(repo)] == [("fetched", sha(CSV))]
    sent = doi_env.count
    assert [r.state for r in fetch_data(repo)] == ["cached"] and doi_env.count == sent
    assert [m.source.read_bytes() for m in data_mounts(repo)] == [CSV]


# -- archives: readable by the run's user; a tar bomb, named by the declared path -------------


def test_an_extracted_dataset_is_readable_by_the_runs_user(doi_env: DoiServer, tmp_path: Path) -> None:
    """Fetched by root with a umask of 077, the mounted folder is still 0755 with 0644 files (uid 1000 reads it)."""
    import io
    import os
    import stat

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, mode in (("sub/obs.csv", 0o600), ("run.sh", 0o4700)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(CSV), mode
            tf.addfile(info, io.BytesIO(CSV))
    archive = buf.getvalue()
    repo = paper(tmp_path, url_manifest(doi_env.add_file("raw.tgz", archive), "data/raw", sha(archive), extract=True))
    old = os.umask(0o077)
    try:
        fetch_data(repo)
    finally:
        os.umask(old)
    [mount] = data_mounts(repo)

    def modes() -> dict[str, int]:
        return {
            str(p.relative_to(mount.source)): stat.S_IMODE(p.stat().st_mode)
            for p in [mount.source, *mount.source.rglob("*")]
        }

    assert modes() == {".": 0o755, "sub": 0o755, "sub/obs.csv": 0o644, "run.sh": 0o755}
    os.chmod(mount.source, 0o700)  # as an older paperpack left it
    assert data_mounts(repo) == [mount] and modes()["."] == 0o755, "a cached folder is opened up for the run"


# -- archives: a tar bomb, named by the declared path ------------------------------------------


def _gzip_tar_bomb(size: int) -> bytes:
    """A tar.gz of one member of ``size`` zero bytes, ~1000 times smaller: gzip members of 1 MiB of zeros."""
    info = tarfile.TarInfo("zeros.bin")
    info.size = size
    zeros = gzip.compress(bytes(1 << 20), compresslevel=9, mtime=0)
    return b"".join(
        [
            gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT), mtime=0),
            zeros * (size >> 20),
            gzip.compress(bytes(1024), mtime=0),
        ]
    )


def test_a_tar_bomb_is_refused_naming_the_declared_path(doi_env: DoiServer, tmp_path: Path) -> None:
    bomb = _gzip_tar_bomb(1 << 30)
    assert len(bomb) < 1_200_000
    url = doi_env.add_file("bomb.tgz", bomb)
    repo = paper(tmp_path, url_manifest(url, "data/raw", sha256=sha(bomb), extract=True))
    with pytest.raises(
        UnsafeArchiveError,
        match=r"^data/raw: member 'zeros\.bin' brings the archive to \d+ bytes "
        r"unpacked from \d+ packed \(ratio above 200\): a compression bomb",
    ):
        fetch_data(repo)
    store = DataStore(store_dir(tmp_path))
    assert not store.extracted(sha(bomb)).exists()
    assert [p.name for p in (store.root / "extracted").iterdir()] == [], "nothing half-extracted is left"


@pytest.fixture(scope="module")
def mirror_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for the name ``mirror.test`` (made with the openssl command)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=mirror.test",
            "-addext",
            "subjectAltName=DNS:mirror.test",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return cert, key


def test_https_to_a_checked_address_still_verifies_the_host_name(
    mirror_cert: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connects: list[Any]
) -> None:
    """The socket goes to the checked address; TLS still checks the certificate against the URL's host name."""
    cert, _ = mirror_cert
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    with DoiServer(tls=mirror_cert) as mirror:
        port = int(mirror.hostport.rsplit(":", 1)[1])
        mirror.add_file("obs.csv", CSV)
        resolver = Resolver({"mirror.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        policy = UrlPolicy(
            allowed=(AllowedHost("mirror.test", port), AllowedHost("other.test", port)), resolve=resolver
        )
        with HttpClient(ServiceConfig(data_policy=policy, timeout=5.0)) as client:
            response = client.get_untrusted(f"https://mirror.test:{port}/files/obs.csv")
            assert (response.status_code, response.content) == (200, CSV)
            with pytest.raises(ServiceUnreachable, match="SSLCertVerificationError"):
                client.get_untrusted(f"https://other.test:{port}/files/obs.csv")  # same address, wrong name
        assert to_port(connects, port) == [("127.0.0.1", port), ("127.0.0.1", port)]


def test_a_redirect_from_https_to_plain_http_is_refused(
    mirror_cert: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, _ = mirror_cert
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    with DoiServer(tls=mirror_cert) as mirror, DoiServer() as plain:
        port = int(mirror.hostport.rsplit(":", 1)[1])
        plain_port = int(plain.hostport.rsplit(":", 1)[1])
        target = plain.add_file("obs.csv", CSV)
        mirror.script("/files/obs.csv", Action(status=302, location=target))
        policy = UrlPolicy(
            allowed=(AllowedHost("mirror.test", port), AllowedHost("127.0.0.1", plain_port)),
            resolve=Resolver({"mirror.test": ["127.0.0.1"]}),
        )
        with (
            HttpClient(ServiceConfig(data_policy=policy, timeout=5.0)) as client,
            pytest.raises(UnsafeUrlError, match=f"^{target}: plain http is not used for data downloads"),
        ):
            client.get_untrusted(f"https://mirror.test:{port}/files/obs.csv")
        assert mirror.paths() == ["/files/obs.csv"] and plain.count == 0
