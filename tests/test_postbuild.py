"""postBuild read without running it: what it installs, downloads and what paperpack cannot follow."""

from __future__ import annotations

import os
from pathlib import Path

from paperpack.environment.postbuild import conda_lock_names, read_postbuild

LOCK = """# platform: linux-64
@EXPLICIT
https://conda.anaconda.org/conda-forge/linux-64/numpy-1.26.4-py311h64a7726_0.conda#a502d7aad449a1206efb366d6a12c52d
https://conda.anaconda.org/conda-forge/noarch/spectral-cube-0.6.5-pyhd8ed1ab_0.tar.bz2#0a1b2c3d
"""


def _read(root: Path, script: str) -> dict[str, object]:
    (root / "postBuild").write_text(script)
    post = read_postbuild(root, "postBuild")
    return {
        "installed": sorted((i.name, i.line, i.source) for i in post.installed),
        "downloads": [(d.tool, d.url, d.line) for d in post.downloads],
        "unclear": [(u.line, u.reason) for u in post.unclear],
        "kernels": post.kernels,
        "files": post.files,
    }


def test_conda_lock_names_keep_dashes_in_names() -> None:
    assert conda_lock_names(LOCK) == ["numpy", "spectral-cube"]
    assert conda_lock_names("numpy=1.26\n") is None  # a plain spec list, not an explicit file


def test_installs_from_files_and_command_lines(tmp_path: Path) -> None:
    (tmp_path / "binder").mkdir()
    (tmp_path / "binder" / "conda-linux-64.lock").write_text(LOCK)
    (tmp_path / "extra.txt").write_text("seaborn==0.13.2\n")
    (tmp_path / "env.yml").write_text("dependencies:\n  - xarray=2024.3.0\n  - pip:\n    - lmfit==1.3.1\n")
    got = _read(
        tmp_path,
        "#!/bin/bash\nset -e\n"
        "mamba create --yes -n paper -c conda-forge --file binder/conda-linux-64.lock\n"
        "sudo -E python3 -m pip install --no-cache-dir -r extra.txt && pip install 'astropy>=6' \\\n"
        "    --index-url https://example.org/simple\n"
        "${CONDA_DIR}/bin/micromamba install -y -c conda-forge healpy=1.16 --name paper\n"
        "conda env update -f env.yml  # more\n"
        "python -m ipykernel install --user --name paper\n",
    )
    assert got["installed"] == [
        ("astropy", 4, "pip"),
        ("healpy", 6, "conda"),
        ("lmfit", 7, "env.yml"),
        ("numpy", 3, "binder/conda-linux-64.lock"),
        ("seaborn", 4, "extra.txt"),
        ("spectral-cube", 3, "binder/conda-linux-64.lock"),
        ("xarray", 7, "env.yml"),
    ]
    assert got["files"] == ["binder/conda-linux-64.lock", "extra.txt", "env.yml"]
    assert got["kernels"] == ["paper"] and got["unclear"] == [] and got["downloads"] == []


def test_downloads_are_found_with_their_line(tmp_path: Path) -> None:
    got = _read(
        tmp_path,
        "wget -q https://example.org/a.tar.gz\n"
        "cd data && curl -sSL \\\n   -o b.nc https://example.org/b.nc\n"
        "python -c \"import urllib.request as u; u.urlretrieve('https://example.org/c.csv', 'c.csv')\"\n"
        "echo https://example.org/not-a-download\n",
    )
    assert got["downloads"] == [
        ("wget", "https://example.org/a.tar.gz", 1),
        ("curl", "https://example.org/b.nc", 2),
        ("python", "https://example.org/c.csv", 4),
    ]


def test_what_cannot_be_followed_is_said_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secretpkg==1.0\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(outside, repo / "linked.txt")
    got = _read(
        repo,
        "pip install -r ../outside.txt\npip install -r linked.txt\npip install $(cat list.txt)\n"
        "conda install --file /etc/passwd\n",
    )
    assert got["installed"] == []
    assert [line for line, _ in got["unclear"]] == [1, 2, 3, 4]  # type: ignore[union-attr]
    assert "$(cat list.txt) is computed by the shell" in got["unclear"][2][1]  # type: ignore[index]
