"""``paperpack init``: the inferred manifest validates, and an existing one is never overwritten."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from conftest import ROOT, SAMPLE
from paperpack.cli.main import main

SCHEMA = json.loads((ROOT / "schemas" / "paperpack.manifest.v1.json").read_text(encoding="utf-8"))


def _load(path: Path) -> dict:  # type: ignore[type-arg]
    doc = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    jsonschema.validate(doc, SCHEMA)  # the schema file itself, not paperpack's loader
    return doc  # type: ignore[no-any-return]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    dest = tmp_path / "paper"
    shutil.copytree(SAMPLE, dest)
    (dest / "paperpack.yml").unlink()
    return dest


def test_init_infers_the_sample_papers_manifest(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(sample)]) == 0
    assert "wrote" in capsys.readouterr().err
    doc = _load(sample / "paperpack.yml")
    assert doc["version"] == 1
    assert doc["title"].startswith("Deterministic nonperiodic flow, revisited")
    assert doc["authors"] == [
        {"name": "Josiah Carberry", "orcid": "0000-0002-1825-0097", "affiliation": "Brown University"}
    ]
    assert doc["paper"] == {"doi": "10.1175/1520-0469(1963)020<0130:DNF>2.0.CO;2"}
    assert doc["license"] == "MIT"
    assert [nb["path"] for nb in doc["notebooks"]] == ["01-data.ipynb", "02-integrate.ipynb", "03-figures.ipynb"]
    csv = sample / "data" / "lorenz_observations.csv"
    assert doc["data"] == [
        {
            "doi": "10.5281/zenodo.8417963",
            "files": [
                {
                    "path": "data/lorenz_observations.csv",
                    "sha256": hashlib.sha256(csv.read_bytes()).hexdigest(),
                    "size": csv.stat().st_size,
                }
            ],
        }
    ]
    text = (sample / "paperpack.yml").read_text(encoding="utf-8")
    assert "# environment (read as repo2docker reads it): PythonBuildPack: requirements.txt, runtime.txt" in text
    assert [p.name for p in sample.iterdir() if p.name.endswith(".tmp")] == []


def test_the_written_manifest_validates_clean(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(sample)]) == 0
    capsys.readouterr()
    assert main(["validate", str(sample), "--format", "json", "--offline"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [f for f in report["findings"] if f["rule"].startswith(("MAN", "META"))] == []


def test_init_never_overwrites(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (sample / "paperpack.yml").write_text("version: 1\ntitle: mine\n")
    assert main(["init", str(sample)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "never overwrites" in err and "--stdout" in err
    assert (sample / "paperpack.yml").read_text() == "version: 1\ntitle: mine\n"


def test_init_never_overwrites_the_yaml_spelling(sample: Path) -> None:
    (sample / "paperpack.yaml").write_text("version: 1\n")
    assert main(["init", str(sample)]) == 2
    assert not (sample / "paperpack.yml").exists()


def test_stdout_prints_and_writes_nothing(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (sample / "paperpack.yml").write_text("version: 1\n")
    assert main(["init", str(sample), "--stdout"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# paperpack manifest, written by `paperpack init`")
    assert "notebooks:\n  - path: 01-data.ipynb" in out
    assert (sample / "paperpack.yml").read_text() == "version: 1\n"


def test_empty_repository_gives_a_minimal_valid_manifest(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path)]) == 0
    doc = _load(tmp_path / "paperpack.yml")
    assert doc == {"version": 1}
    text = (tmp_path / "paperpack.yml").read_text()
    assert "no paper DOI found" in text


def test_readme_and_zenodo_json(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(
        "Intro line\n\n# *Sea ice* and waves\n\nPaper: https://doi.org/10.1029/2020JC016000.\n"
        "Data: doi:10.5281/zenodo.4321987 and https://doi.org/10.5281/zenodo.4321987 again.\n"
    )
    (tmp_path / ".zenodo.json").write_text(
        json.dumps(
            {
                "creators": [{"name": "Doe, Jane", "orcid": "0000-0002-1694-233X", "affiliation": "NPI"}],
                "license": {"id": "CC-BY-4.0"},
            }
        )
    )
    (tmp_path / "analysis").mkdir()
    for nb in ("b.ipynb", "a.ipynb", "analysis/c.ipynb"):
        (tmp_path / nb).write_text("{}")
    assert main(["init", str(tmp_path)]) == 0
    doc = _load(tmp_path / "paperpack.yml")
    assert doc["title"] == "Sea ice and waves"
    assert doc["authors"] == [{"name": "Doe, Jane", "orcid": "0000-0002-1694-233X", "affiliation": "NPI"}]
    assert doc["license"] == "CC-BY-4.0"
    assert doc["paper"] == {"doi": "10.1029/2020JC016000"}
    assert doc["data"] == [{"doi": "10.5281/zenodo.4321987"}]
    assert [nb["path"] for nb in doc["notebooks"]] == ["a.ipynb", "analysis/c.ipynb", "b.ipynb"]


def test_license_recognised_from_its_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(SAMPLE / "LICENSE", tmp_path / "LICENSE")
    assert main(["init", str(tmp_path), "--stdout"]) == 0
    assert "license: MIT  # from LICENSE\n" in capsys.readouterr().out
    assert not (tmp_path / "paperpack.yml").exists()


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "nope")]) == 2


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_written_manifest_gets_the_umask_mode(tmp_path: Path, umask: int) -> None:
    import os
    import stat

    old = os.umask(umask)
    try:
        assert main(["init", str(tmp_path)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "paperpack.yml").stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["paperpack.yml"], "no temporary file is left"


def test_unwritable_target_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    from paperpack.cli.init import _write_new
    from paperpack.errors import UsageError

    blocker = tmp_path / "a-file"  # a file where the folder should be fails for root too
    blocker.write_text("x")
    with pytest.raises(UsageError, match=rf"^cannot write {blocker}/paperpack.yml: Not a directory$") as info:
        _write_new(blocker / "paperpack.yml", "version: 1\n")
    assert "--stdout" in info.value.hint
