"""Every path a manifest names stays inside the repository, and the refusal points at its key (manifest.py).

Issue 16's mutation testing found these unpinned: Windows-style names (backslashes, a drive letter alone),
and the ``..`` check on ``depends_on`` entries and on a dataset's own ``path``, each named by its key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paperpack.errors import ManifestError
from paperpack.repository.manifest import Manifest, ManifestProblem, _path_problems, load_manifest, safe_relpath


@pytest.mark.parametrize(
    "rel, why",
    [
        ("..\\..\\outside.ipynb", "contains '..'"),
        ("sub\\..\\..\\outside.ipynb", "contains '..'"),
        ("C:", "is absolute"),
        ("C:x.ipynb", "is absolute"),
        ("/etc/passwd", "is absolute"),
    ],
)
def test_windows_style_and_absolute_paths_are_refused(tmp_path: Path, rel: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        safe_relpath(tmp_path, rel)


def test_a_plain_path_resolves_under_the_root(tmp_path: Path) -> None:
    assert safe_relpath(tmp_path, "sub\\a.ipynb") == tmp_path / "sub" / "a.ipynb"


@pytest.mark.parametrize(
    "entry, key, line",
    [
        (
            "notebooks:\n  - path: a.ipynb\n    depends_on: [b.ipynb, '../outside.ipynb']\n",
            "notebooks[0].depends_on[1]",
            4,
        ),
        ("data:\n  - doi: 10.5281/zenodo.1\n    path: '../outside'\n", "data[0].path", 4),
        (
            "data:\n  - url: https://example.org/a.csv\n    files:\n      - path: ok.csv\n      - path: '../a.csv'\n",
            "data[0].files[1].path",
            6,
        ),
    ],
)
def test_every_path_key_is_checked_and_named(tmp_path: Path, entry: str, key: str, line: int) -> None:
    (tmp_path / "paperpack.yml").write_text("version: 1\n" + entry)
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    assert f"{key}: " in str(info.value) and "contains '..'" in str(info.value), str(info.value)
    assert info.value.line == line  # type: ignore[attr-defined]


def test_a_path_problem_says_how_to_fix_it_and_always_has_a_line(tmp_path: Path) -> None:
    """Also for a document whose lines are not known (built in code, not read from YAML): the first line."""
    manifest = Manifest(data={"notebooks": [{"path": "ok.ipynb"}, {"path": "sub/../../x.ipynb"}]})
    assert _path_problems(manifest, tmp_path) == [
        ManifestProblem(
            1,
            "notebooks[1].path",
            "'sub/../../x.ipynb' contains '..'; paths must stay inside the repository",
            "use a path relative to the repository root, inside the repository, with no symbolic links",
        )
    ]
