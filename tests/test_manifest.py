"""Manifest errors people can act on: file:line, the path inside the document, a fix, under 10 lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.errors import ManifestError
from paperpack.repository.manifest import find_cycle, load_manifest, parse_manifest


def _error(text: str) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        parse_manifest(text)
    exc = info.value
    assert len(str(exc).splitlines()) < 10, str(exc)
    assert exc.hint, "every manifest error carries a fix"
    return exc


@pytest.mark.parametrize(
    ("text", "line", "where", "words"),
    [
        ("version: 1\ntitel: Lorenz\n", 2, "titel", "did you mean 'title'?"),
        ("version: 1\nnotebooks:\n  - pth: a.ipynb\n", 3, "notebooks[0].pth", "did you mean 'path'?"),
        (
            "version: 1\nnotebooks:\n  - path: a.ipynb\n    depends: [b.ipynb]\n",
            4,
            "notebooks[0].depends",
            "did you mean 'depends_on'?",
        ),
        ("title: x\n", 1, "(top level)", "'version' is missing"),
        ("version: 2\n", 1, "version", "version 2 is not supported"),
        (
            "version: 1\nnotebooks:\n  - path: a.ipynb\n    skip: 3\n",
            4,
            "notebooks[0].skip",
            "expected true or false or a string, found an integer (3)",
        ),
        ("version: 1\ndata:\n  - title: x\n", 3, "data[0]", "needs at least one of doi, url or files"),
        ("version: 1\nrun:\n  memory: lots\n", 3, "run.memory", "not a memory size such as 2g"),
        ("version: 1\nrun:\n  timeout: 0\n", 3, "run.timeout", "must be greater than 0"),
        (
            "version: 1\ndata:\n  - doi: 10.5281/zenodo.1\n    files:\n      - path: a.csv\n        sha256: abc\n",
            6,
            "data[0].files[0].sha256",
            "64 hexadecimal characters",
        ),
        ("version: 1\nnotebooks:\n  - path: /home/me/a.ipynb\n", 3, "notebooks[0].path", "absolute path"),
    ],
)
def test_schema_errors_name_line_path_and_fix(text: str, line: int, where: str, words: str) -> None:
    exc = _error(text)
    assert str(exc).startswith(f"paperpack.yml:{line}: {where}: "), str(exc)
    assert words in str(exc)
    assert exc.line == line  # type: ignore[attr-defined]
    assert exc.where == where  # type: ignore[attr-defined]


def test_several_problems_are_listed_but_kept_short() -> None:
    text = "version: 1\nauthors:\n  - name: A\n    orcid: 1\n  - nme: B\ntitel: x\nrun: {jobs: 0, pids: 1, cpus: 0}\n"
    exc = _error(text)
    lines = str(exc).splitlines()
    assert lines[0] == "paperpack.yml:6: titel: unknown key 'titel'; did you mean 'title'?"
    assert lines[1] == "  also line 4: authors[0].orcid: expected a string, found the number 1"
    assert lines[-1].startswith("  and ") and lines[-1].endswith(" more")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("version: 1\ntitle: [unclosed\n", 3, "on line 2"),
        ('version: 1\ntitle: "open\n', 3, "quoted scalar on line 2"),
        ("version: 1\n  title: x\n", 2, "mapping values are not allowed here"),
    ],
)
def test_yaml_syntax_errors_point_at_lines(text: str, line: int, words: str) -> None:
    exc = _error(text)
    assert str(exc).startswith(f"paperpack.yml:{line}: YAML syntax error: "), str(exc)
    assert words in str(exc)


def test_not_a_mapping() -> None:
    assert "found a list" in str(_error("- a\n- b\n"))


@pytest.mark.parametrize(
    ("rel", "words"),
    [
        ("../outside.ipynb", "contains '..'"),
        ("C:/x.ipynb", "is an absolute path"),
        ("link/a.ipynb", "symbolic link link"),
    ],
)
def test_paths_must_stay_inside_the_repository(tmp_path: Path, rel: str, words: str) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    (tmp_path / "paperpack.yml").write_text(f"version: 1\nnotebooks:\n  - path: a.ipynb\n  - path: '{rel}'\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    assert str(info.value).startswith("paperpack.yml:4: notebooks[1].path: "), str(info.value)
    assert words in str(info.value)


def test_valid_manifest_keeps_lines() -> None:
    m = parse_manifest("version: 1\ntitle: T\nnotebooks:\n  - path: a.ipynb\n    depends_on: [b.ipynb]\n")
    assert m.line_of("notebooks", 0, "depends_on") == 5
    assert m.notebooks[0].depends_on == ["b.ipynb"]


def test_find_cycle() -> None:
    assert find_cycle({"a": ["b"], "b": []}) is None
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c"]


def _man_findings(
    tmp_path: Path, manifest: str, capsys: pytest.CaptureFixture[str]
) -> list[tuple[str, int | None, str]]:
    (tmp_path / "paperpack.yml").write_text(manifest)
    main(["validate", str(tmp_path), "--format", "json", "--offline"])
    report = json.loads(capsys.readouterr().out)
    return [(f["rule"], f["line"], f["message"]) for f in report["findings"] if f["rule"].startswith("MAN")]


def test_missing_notebooks_unknown_and_circular_dependencies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a.ipynb", "b.ipynb"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.ipynb").write_text("{}")
    found = _man_findings(
        tmp_path,
        (
            "version: 1\n"
            "notebooks:\n"
            "  - path: a.ipynb\n"
            "    depends_on: [b.ipynb]\n"
            "  - path: b.ipynb\n"
            "    depends_on:\n"
            "      - a.ipynb\n"
            "      - z.ipynb\n"
            "  - path: c.ipynb\n"
        ),
        capsys,
    )
    rules = {(r, line) for r, line, _ in found}
    assert rules == {("MAN003", 9), ("MAN004", 8), ("MAN005", 4)}, found
    messages = {r: m for r, _, m in found}
    assert "a.ipynb → b.ipynb → a.ipynb" in messages["MAN005"]
    assert "'c.ipynb' is not in the repository" in messages["MAN003"]


def test_manifest_error_becomes_one_finding_with_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = _man_findings(tmp_path, "version: 1\nnotebooks:\n  - path: a.ipynb\n    timeout: fast\n", capsys)
    assert [(r, line) for r, line, _ in found] == [("MAN001", 4)]
    assert found[0][2].startswith("notebooks[0].timeout: expected a number, found a string")


def test_docs_full_example_validates() -> None:
    import re

    from conftest import ROOT

    text = (ROOT / "docs" / "manifest.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert example is not None
    m = parse_manifest(example.group(1))
    schema = json.loads((ROOT / "schemas" / "paperpack.manifest.v1.json").read_text(encoding="utf-8"))
    assert set(m.data) == set(schema["properties"]), "the full example uses every top-level key"
    assert m.notebooks[2].depends_on == ["02-integrate.ipynb"]


def test_each_schema_problem_is_its_own_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = _man_findings(tmp_path, "version: 1\ntitel: x\nrun:\n  jobs: 0\n", capsys)
    assert sorted((r, line) for r, line, _ in found) == [("MAN001", 2), ("MAN001", 4)]
    assert {m for _, _, m in found} == {
        "titel: unknown key 'titel'; did you mean 'title'?",
        "run.jobs: 0 is too small: it must be at least 1",
    }


@pytest.mark.parametrize("rel", ["sub/../../outside.ipynb", "sub/./../x/../../outside.ipynb"])
@pytest.mark.parametrize("section", ["notebooks", "data"])
def test_dotdot_anywhere_in_a_path_is_refused(tmp_path: Path, rel: str, section: str) -> None:
    (tmp_path / "sub").mkdir()
    entry = (
        f"notebooks:\n  - path: '{rel}'\n"
        if section == "notebooks"
        else f"data:\n  - url: https://example.org/a.csv\n    files:\n      - path: '{rel}'\n"
    )
    (tmp_path / "paperpack.yml").write_text("version: 1\n" + entry)
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    assert "contains '..'" in str(info.value)
    assert info.value.line == (3 if section == "notebooks" else 5)  # type: ignore[attr-defined]


def test_a_schema_error_and_a_path_error_are_reported_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = _man_findings(tmp_path, "version: 1\ntitel: x\nnotebooks:\n  - path: sub/../../a.ipynb\n", capsys)
    assert sorted((r, line) for r, line, _ in found) == [("MAN001", 2), ("MAN001", 4)], found
    messages = sorted(m for _, _, m in found)
    assert messages[0].startswith("notebooks[0].path: 'sub/../../a.ipynb' contains '..'")
    assert messages[1] == "titel: unknown key 'titel'; did you mean 'title'?"


def test_a_wrongly_typed_manifest_does_not_crash_the_path_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = _man_findings(
        tmp_path, "version: 1\nnotebooks: [3, {path: 4}, {path: a.ipynb, depends_on: x}]\ndata: {files: 1}\n", capsys
    )
    assert found and {r for r, _, _ in found} == {"MAN001"}


def test_a_missing_notebook_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "paperpack.yml").write_text("version: 1\nnotebooks:\n  - path: gone.ipynb\n")
    assert main(["validate", str(tmp_path), "--format", "json", "--offline"]) == 1
    report = json.loads(capsys.readouterr().out)
    man003 = [f for f in report["findings"] if f["rule"] == "MAN003"]
    assert [(f["severity"], f["line"]) for f in man003] == [("error", 3)]


def test_a_declared_data_file_that_is_a_link_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    os.symlink("/etc/passwd", tmp_path / "data" / "table.csv")
    (tmp_path / "paperpack.yml").write_text(
        "version: 1\ndata:\n  - url: https://example.org/t.csv\n    files:\n      - path: data/table.csv\n"
    )
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    assert "symbolic link data/table.csv" in str(info.value) and "root:" not in str(info.value)
