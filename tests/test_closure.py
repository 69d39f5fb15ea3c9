"""Dependency closure from pip's real resolver, against a real package index on 127.0.0.1.

Tiny wheels are built in the test (:mod:`pkgindex`); ``PAPERPACK_PIP_INDEX_URL`` points pip at
them and nothing else (no pip configuration, no PyPI).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import CLOSED_LOOPBACK
from paperpack.environment.closure import ClosureStatus, resolvable, resolve_closure
from paperpack.validate import validate
from pkgindex import PackageIndex

IMPORTS = "import ubertool\nimport subpkg\nfrom leafpkg import VALUE\nimport nothere"


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> Iterator[PackageIndex]:
    with PackageIndex() as idx:
        idx.add("ubertool", "1.0", ["subpkg>=1"])
        idx.add("subpkg", "1.2", ["leafpkg; python_version >= '3'"])
        idx.add("leafpkg", "0.1")
        idx.add("newpy", "2.0", requires_python=">=3.12")
        idx.add("newpy", "1.0")
        monkeypatch.setenv("PAPERPACK_PIP_INDEX_URL", idx.url)
        yield idx


def write_notebook(path: Path, sources: list[str]) -> None:
    cells = [
        {"cell_type": "code", "execution_count": i + 1, "metadata": {}, "outputs": [], "source": src}
        for i, src in enumerate(sources)
    ]
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": meta, "cells": cells}))


def _repo(root: Path, files: dict[str, str], source: str = IMPORTS) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    write_notebook(root / "analysis.ipynb", [source])
    return root


def _deps(root: Path, *, offline: bool = False) -> dict[str, tuple[str, str, str]]:
    """module (or the requirements file) → (rule, severity, message) of the DEP findings."""
    out = {}
    for f in validate(root, offline=offline).findings:
        if f.rule.startswith("DEP") and f.rule != "DEP003":
            key = str(f.detail.get("module") or f.path)
            out[key] = (f.rule, f.severity.value, f.message)
    return out


CONDA_ENV = {"binder/environment.yml": "dependencies:\n  - python=3.11\n  - ubertool=1.0\n"}


def test_what_a_declared_package_brings_is_not_missing(index: PackageIndex, tmp_path: Path) -> None:
    got = _deps(_repo(tmp_path, CONDA_ENV))
    assert {m: r[:2] for m, r in got.items()} == {
        "subpkg": ("DEP002", "warning"),
        "leafpkg": ("DEP002", "warning"),
        "nothere": ("DEP001", "error"),
    }, got
    assert "dependency of ubertool (pip's resolver)" in got["leafpkg"][2]
    assert got["nothere"][2].endswith("which is not declared nor brought by a declared package (pip's resolver)")


def test_the_closure_is_cached_and_used_offline(index: PackageIndex, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"requirements.txt": "ubertool==1.0\n"})
    first = _deps(repo)
    asked = len(index.requests)
    assert asked and _deps(repo) == first
    assert _deps(repo, offline=True) == first
    assert len(index.requests) == asked  # answered from the cache, online and offline


def test_offline_without_cache_warns_instead_of_false_errors(index: PackageIndex, tmp_path: Path) -> None:
    got = _deps(_repo(tmp_path, CONDA_ENV), offline=True)
    assert {m: r[:2] for m, r in got.items()} == dict.fromkeys(("subpkg", "leafpkg", "nothere"), ("DEP005", "warning"))
    assert "ubertool may bring it, but dependencies were not resolved (offline" in got["subpkg"][2]
    assert index.requests == []


def test_an_unreachable_index_warns_instead_of_false_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERPACK_PIP_INDEX_URL", CLOSED_LOOPBACK)
    got = _deps(_repo(tmp_path, {"requirements.txt": "ubertool==1.0\n"}))
    assert got["subpkg"][:2] == ("DEP005", "warning") and "the package index was not reached" in got["subpkg"][2]
    assert not any(rule == "DEP006" for rule, _, _ in got.values())


def test_a_pin_without_a_wheel_for_the_target_python_is_named(index: PackageIndex, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"requirements.txt": "newpy==2.0\nubertool==1.0\n", "runtime.txt": "python-3.11\n"})
    got = _deps(repo)
    rule, severity, message = got["requirements.txt"]
    assert (rule, severity) == ("DEP006", "warning")
    assert message.startswith("pip cannot install the declared requirements for Python 3.11: ")
    assert "newpy==2.0" in message
    assert got["subpkg"][0] == "DEP005"  # no false error while the set cannot be resolved
    (repo / "runtime.txt").write_text("python-3.12\n")
    assert {r for r, _, _ in _deps(repo).values()} == {"DEP002", "DEP001"}  # resolves for 3.12


def test_no_source_distribution_is_ever_built(index: PackageIndex, tmp_path: Path) -> None:
    marker = tmp_path / "setup-py-ran"
    index.add_sdist(
        "buildme",
        "1.0",
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from setuptools import setup\nsetup(name='buildme', version='1.0')\n",
    )
    repo = _repo(tmp_path / "repo", {"requirements.txt": "buildme==1.0\nubertool==1.0\n"})
    got = _deps(repo)
    assert got["requirements.txt"][0] == "DEP006" and "buildme==1.0" in got["requirements.txt"][2]
    assert not marker.exists(), "pip ran a package's setup.py on the host"


def test_only_named_requirements_reach_pip(index: PackageIndex, tmp_path: Path) -> None:
    assert resolvable("ubertool==1.0") == "ubertool==1.0"
    assert resolvable("pkg @ file:///etc") is None and resolvable("./local") is None
    assert resolvable("pkg @ git+https://example.org/x.git") is None
    closure = resolve_closure(["ubertool==1.0", "x @ file:///nowhere"], python="3.11", cache_folder=tmp_path)
    assert closure.status is ClosureStatus.RESOLVED
    assert closure.distributions == {"ubertool": "1.0", "subpkg": "1.2", "leafpkg": "0.1"}
    assert closure.via == {"subpkg": "ubertool", "leafpkg": "ubertool"}
    assert json.loads(json.dumps(closure.to_dict()))["status"] == "resolved"


def test_a_bad_pin_is_found_even_when_every_import_is_declared(index: PackageIndex, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"requirements.txt": "newpy==2.0\n", "runtime.txt": "python-3.11\n"}, "import newpy")
    got = _deps(repo)
    assert list(got) == ["requirements.txt"] and got["requirements.txt"][0] == "DEP006"


def test_an_unreachable_index_is_asked_once_per_minute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with PackageIndex() as idx:
        url = idx.url
    monkeypatch.setenv("PAPERPACK_PIP_INDEX_URL", url)  # a port that was just closed
    first = resolve_closure(["ubertool==1.0"], python="3.11", cache_folder=tmp_path)
    again = resolve_closure(["subpkg==1.2"], python="3.11", cache_folder=tmp_path)
    assert first.status is again.status is ClosureStatus.UNAVAILABLE
    assert again.seconds == 0 and first.seconds > 0  # the second never started pip


def test_resolution_can_be_turned_off(index: PackageIndex, tmp_path: Path) -> None:
    from paperpack.checks import CheckContext

    repo = _repo(tmp_path, {"requirements.txt": "ubertool==1.0\n"})
    report = validate(repo, context=CheckContext(options={"resolve_dependencies": False}))
    sub = next(f for f in report.findings if f.detail.get("module") == "subpkg")
    assert sub.rule == "DEP005" and "resolve_dependencies is off" in sub.message
    assert index.requests == []


def test_a_conda_version_missing_from_pypi_is_named_before_any_build(index: PackageIndex, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"environment.yml": "dependencies:\n  - python=3.11\n  - newpy=2.0\n"}, "import newpy")
    rule, _, message = _deps(repo)["environment.yml"]
    assert rule == "DEP006" and "(conda packages looked up on PyPI, as the offline build does)" in message


# --- import names from the distributions' own metadata -------------------------------------------

ALIASES = "import fancymod\nimport innermod\nimport wrapper"


def _aliased(index: PackageIndex) -> None:
    """Wheels whose import names are not their distribution names (only the wheels' files say so)."""
    index.add("fancy-dist", "1.0", module="fancymod", top_level=False)  # no top_level.txt: the file list says
    index.add("wrapper", "1.0", ["inner-dist>=1"])
    index.add("inner-dist", "1.0", module="innermod")


def test_the_modules_of_each_resolved_wheel_are_read_from_the_wheel(index: PackageIndex, tmp_path: Path) -> None:
    _aliased(index)
    closure = resolve_closure(["fancy-dist==1.0", "wrapper==1.0"], python="3.11", cache_folder=tmp_path)
    assert closure.status is ClosureStatus.RESOLVED, closure.reason
    assert closure.modules == {"fancy-dist": ["fancymod"], "inner-dist": ["innermod"], "wrapper": ["wrapper"]}
    assert closure.providers()["innermod"] == ("inner-dist",)
    assert index.ranges_seen and all(r.startswith("bytes=") for r in index.ranges_seen)  # never the whole wheel
    cached = resolve_closure(["fancy-dist==1.0", "wrapper==1.0"], python="3.11", cache_folder=tmp_path, offline=True)
    assert cached.cached and cached.modules == closure.modules
    index.ranges = False  # a server without ranges: the (small) wheel is read whole
    whole = resolve_closure(["fancy-dist==1.0"], python="3.11", cache_folder=tmp_path)
    assert whole.modules == {"fancy-dist": ["fancymod"]}


def test_an_import_named_otherwise_than_its_distribution_is_not_missing(index: PackageIndex, tmp_path: Path) -> None:
    """`import fancymod` with fancy-dist declared is fine; `import innermod` comes with wrapper (DEP002)."""
    _aliased(index)
    repo = _repo(tmp_path, {"requirements.txt": "fancy-dist==1.0\nwrapper==1.0\n"}, ALIASES)
    findings = [f for f in validate(repo).findings if f.rule.startswith("DEP")]
    got = {(f.rule, str(f.detail.get("module") or f.path)): f for f in findings}
    assert sorted(got) == [("DEP002", "innermod")], [(f.rule, f.message) for f in findings]
    assert "dependency of wrapper (pip's resolver)" in got["DEP002", "innermod"].message
    assert got["DEP002", "innermod"].fix == "add `inner-dist==<version>` to requirements.txt"


def test_installed_distributions_say_what_they_provide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline, a declared distribution installed here provides its import name (its top_level.txt, RECORD)."""
    from paperpack.notebook.importmap import installed_modules
    from pkgindex import _wheel

    site = tmp_path / "site"
    for name, module in (("alias-dist", "aliasmod"), ("plain-record", "recordmod")):
        _, data = _wheel(name, "1.0", [], None, module=module, top_level=name == "alias-dist")
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            zf.extractall(site)  # what installing a pure-Python wheel does
    monkeypatch.syspath_prepend(str(site))
    installed_modules.cache_clear()
    try:
        repo = _repo(
            tmp_path / "paper",
            {"requirements.txt": "alias-dist==1.0\nplain-record==1.0\n"},
            "import aliasmod\nimport recordmod",
        )
        findings = [(f.rule, f.message) for f in validate(repo, offline=True).findings if f.rule.startswith("DEP")]
        assert findings == [], findings
    finally:
        installed_modules.cache_clear()


def test_a_wheel_larger_than_the_tail_is_read_by_ranges(tmp_path: Path) -> None:
    """The central directory and top_level.txt beyond the first 64 KB are fetched by further ranges, not whole."""
    import os

    from paperpack.environment.wheelfiles import wheel_modules
    from paperpack.util.httpclient import HttpClient

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("big_dist-1.0.dist-info/top_level.txt", "bigmod\nshim\n")
        zf.writestr("bigmod/blob.bin", os.urandom(400_000))  # stored: the tail does not reach the start
        for i in range(1500):  # a central directory of ~100 KB, more than the first range
            zf.writestr(f"bigmod/sub/module_{i:05d}_with_a_long_enough_name.py", "")
        zf.writestr("extension.cpython-311-x86_64-linux-gnu.so", b"\0")
        zf.writestr("big_dist-1.0.data/purelib/viadata/__init__.py", "")
        zf.writestr("big_dist-1.0.dist-info/RECORD", "")
    with PackageIndex() as idx:
        idx.projects["big-dist"] = {"big_dist-1.0-py3-none-any.whl": buf.getvalue()}
        url = idx.url.replace("/simple", "/files/big_dist-1.0-py3-none-any.whl")
        with HttpClient() as client:
            assert wheel_modules(url, client) == ["bigmod", "extension", "shim", "viadata"]
        assert len(idx.ranges_seen) >= 3, idx.ranges_seen
        spans = [r.removeprefix("bytes=").split("-") for r in idx.ranges_seen[1:]]
        served = sum(int(end) - int(start) + 1 for start, end in spans)
        assert served + 65536 < len(buf.getvalue()), "the wheel was read whole"


def test_a_central_directory_too_large_to_read_is_left_to_the_table() -> None:
    """A zip whose central directory claims more than MAX_DIRECTORY bytes is not fetched: no modules, few bytes."""
    import struct

    from paperpack.environment.wheelfiles import MAX_DIRECTORY, wheel_modules
    from paperpack.util.httpclient import HttpClient

    size = MAX_DIRECTORY + (1 << 20)
    # an end-of-central-directory record: one disk, 1 entry, a directory of size-22 bytes at offset 0
    body = b"\0" * (size - 22) + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, size - 22, 0, 0)
    with PackageIndex() as idx:
        idx.projects["huge"] = {"huge-1.0-py3-none-any.whl": body}
        with HttpClient() as client:
            assert wheel_modules(idx.url.replace("/simple", "/files/huge-1.0-py3-none-any.whl"), client) is None
        spans = [r.removeprefix("bytes=").split("-") for r in idx.ranges_seen]
        fetched = sum(int(e) if not s else int(e) - int(s) + 1 for s, e in spans)
        assert fetched < 1 << 20, idx.ranges_seen


def test_a_wheel_of_a_find_links_folder_is_read_in_place(tmp_path: Path) -> None:
    from paperpack.environment.wheelfiles import wheel_modules
    from paperpack.util.httpclient import HttpClient

    index = PackageIndex()  # not served: its wheels go to a folder, as pip's find-links
    index.add("fancy-dist", "1.0", module="fancymod", top_level=False)
    folder = index.write_wheels(tmp_path / "wheels")
    with HttpClient() as client:
        assert wheel_modules((folder / "fancy_dist-1.0-py3-none-any.whl").as_uri(), client) == ["fancymod"]
    index.server.server_close()
