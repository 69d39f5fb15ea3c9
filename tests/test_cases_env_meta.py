"""One generated test per case folder tests/cases/env-*/ and meta-*/.

Each folder is a small repository with ``expected.json`` beside it: the exact
(rule, path, line) findings of the ENV, META and MAN families (other families are
left to their own tests) and, for env cases, what discovery must report.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import CASES
from paperpack.cli.main import main

FOLDERS = sorted(p.name for p in CASES.iterdir() if p.is_dir() and p.name.startswith(("env-", "meta-")))


def _key(f: dict) -> tuple[str, str, int, int]:  # type: ignore[type-arg]
    return (f["rule"], f["path"] or "", f.get("line") or 0, f.get("cell") or 0)


def test_there_are_cases() -> None:
    assert len(FOLDERS) >= 20


@pytest.mark.parametrize("name", FOLDERS)
def test_case(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = CASES / name
    expected = json.loads((src / "expected.json").read_text(encoding="utf-8"))
    repo = tmp_path / name
    shutil.copytree(src, repo, symlinks=True, ignore=shutil.ignore_patterns("expected.json"))
    code = main(["validate", str(repo), "--format", "json", "--offline"])
    report = json.loads(capsys.readouterr().out)
    prefixes = tuple(expected["families"])
    got = [f for f in report["findings"] if f["rule"].startswith(prefixes)]
    want = expected["findings"]
    assert sorted(_key(f) for f in got) == sorted(_key(f) for f in want), json.dumps(got, indent=1)
    by_key = {_key(f): f for f in got}
    for f in want:
        if "severity" in f:
            assert by_key[_key(f)]["severity"] == f["severity"], f
    for f in got:
        assert f["message"] and f["fix"] and f["why"], f
    if any(f["severity"] == "error" for f in got):
        assert code == 1
    env = expected.get("environment")
    if env:
        actual = report["environment"]
        for key, value in env.items():
            if key == "requirements":
                reqs = [[r["name"], r["path"], r["line"], r["source"]] for r in actual["requirements"]]
                assert reqs == value
            elif key in ("files", "kernels"):
                assert sorted(actual[key]) == sorted(value), (key, actual[key])
            else:
                assert actual[key] == value, (key, actual[key])


def test_sample_paper_is_clean_in_every_family(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import SAMPLE

    repo = tmp_path / "sample_paper"
    shutil.copytree(SAMPLE, repo)
    assert main(["validate", str(repo), "--format", "json", "--offline", "--strict"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["errors"] == 0 and report["summary"]["warnings"] == 0, report["findings"]
    assert report["environment"]["summary"] == "PythonBuildPack: requirements.txt, runtime.txt, Python 3.11"


def test_sample_paper_notebooks_carry_a_real_execution() -> None:
    import hashlib

    import nbformat
    from ruamel.yaml import YAML

    from conftest import SAMPLE

    manifest = YAML(typ="safe").load((SAMPLE / "paperpack.yml").read_text(encoding="utf-8"))
    for spec in manifest["notebooks"]:
        nb = nbformat.read(SAMPLE / spec["path"], as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), spec["path"]
        assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), spec["path"]
        assert code[-1].outputs and sum(bool(c.outputs) for c in code) >= len(code) // 2, spec["path"]
        assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    for entry in manifest["data"]:
        for f in entry["files"]:
            assert hashlib.sha256((SAMPLE / f["path"]).read_bytes()).hexdigest() == f["sha256"]
