"""codequality.json: Code Climate issues for GitLab, with fingerprints that stay the same across runs."""

from __future__ import annotations

import json
from pathlib import Path

from paperpack.report.codequality import CODEQUALITY_NAME, write_codequality
from publishhelp import RULE_E, RULE_W, make_publication, write_notebook


def _findings() -> list:  # type: ignore[type-arg]
    return [
        RULE_E.at("a.ipynb", "absolute path /home/me/x.csv", "use a relative path", cell=1),
        RULE_E.at("a.ipynb", "absolute path /home/me/x.csv", "use a relative path", cell=1),
        RULE_W.at("requirements.txt", "numpy is not pinned", "pin it", line=2),
    ]


def _issues(root: Path, out: Path) -> list[dict]:  # type: ignore[type-arg]
    write_notebook(root, "a.ipynb", ["import pandas", "pandas.read_csv('/home/me/x.csv')"])
    (path,) = write_codequality(make_publication(root, [], _findings(), out_dir=out))
    assert path.name == CODEQUALITY_NAME
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_fields_and_lines(tmp_path: Path) -> None:
    issues = _issues(tmp_path / "repo", tmp_path / "out")
    assert len(issues) == 3
    for issue in issues:
        assert set(issue) >= {"description", "check_name", "fingerprint", "severity", "location"}
        assert isinstance(issue["location"]["lines"]["begin"], int) and issue["location"]["lines"]["begin"] >= 1
    by_path = {i["location"]["path"]: i for i in issues}
    assert by_path["requirements.txt"] == {**by_path["requirements.txt"], "check_name": "ENV007", "severity": "minor"}
    assert by_path["requirements.txt"]["location"]["lines"]["begin"] == 2
    cell = by_path["a.ipynb"]
    assert cell["severity"] == "major" and "absolute path /home/me/x.csv" in cell["description"]
    lines = (tmp_path / "repo" / "a.ipynb").read_text(encoding="utf-8").splitlines()
    begin = cell["location"]["lines"]["begin"]
    assert lines[begin - 1].strip() == "{" and "read_csv" in "".join(lines[begin : begin + 12])
    assert len({i["fingerprint"] for i in issues}) == 3  # the same finding twice: two fingerprints


def test_fingerprints_are_stable_across_runs_and_folders(tmp_path: Path) -> None:
    first = _issues(tmp_path / "one", tmp_path / "out1")
    again = _issues(tmp_path / "two", tmp_path / "out2")  # another checkout, another output folder, later
    assert [i["fingerprint"] for i in first] == [i["fingerprint"] for i in again]
    moved = [RULE_W.at("requirements.txt", "numpy is not pinned", "pin it", line=3)]
    (path,) = write_codequality(make_publication(tmp_path / "three", [], moved))
    other = json.loads(path.read_text(encoding="utf-8"))[0]["fingerprint"]
    assert other not in {i["fingerprint"] for i in first}  # another place: another finding
