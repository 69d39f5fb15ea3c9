"""report.sarif: valid SARIF 2.1.0 (the vendored official schema), rules from the catalogue, cells at their line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from paperpack.checks import all_rules
from paperpack.report.publish import cell_lines
from paperpack.report.sarif import RULES_URL, SARIF_NAME, write_sarif
from publishhelp import RULE_E, RULE_W, make_publication, write_notebook

SCHEMA = Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json"


def _validate(doc: dict) -> None:  # type: ignore[type-arg]
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_sarif_follows_the_schema_with_the_rule_catalogue_and_cell_lines(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_notebook(root, "nb/analysis.ipynb", ["a = 1", "b = {'x': [1, 2]}\nprint(b)", "open('/home/me/data.csv')"])
    findings = [
        RULE_E.at("nb/analysis.ipynb", "absolute path /home/me/data.csv", "use a relative path", cell=2),
        RULE_W.at("requirements.txt", "numpy is not pinned", "pin it: numpy==1.26.4", line=3),
        RULE_W.at(None, "no CITATION.cff", "add one"),
    ]
    pub = make_publication(root, [], findings)
    (path,) = write_sarif(pub)
    assert path.name == SARIF_NAME
    doc = json.loads(path.read_text(encoding="utf-8"))
    _validate(doc)

    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    catalogue = {r.id: r for r in all_rules()}
    assert set(catalogue) <= {rule["id"] for rule in rules}
    by_id = {rule["id"]: rule for rule in rules}
    some = next(iter(catalogue.values()))
    assert by_id[some.id]["fullDescription"]["text"] == some.why
    assert by_id[some.id]["helpUri"] == f"{RULES_URL}#{some.id.lower()}"
    assert by_id["NB011"]["help"]["text"] == "use a relative path"  # the fix
    assert by_id["ENV007"]["help"]["text"] == f"See {RULES_URL}#env007"  # two different fixes: the docs

    results = run["results"]
    assert sorted(r["ruleId"] for r in results) == ["ENV007", "ENV007", "NB011"]
    assert all("Fix: " in r["message"]["text"] for r in results)
    cell = next(r for r in results if r["ruleId"] == "NB011")
    assert cell["level"] == "error" and rules[cell["ruleIndex"]]["id"] == "NB011"
    location = cell["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "nb/analysis.ipynb", "uriBaseId": "%SRCROOT%"}
    lines = (root / "nb/analysis.ipynb").read_text(encoding="utf-8").splitlines()
    line = location["region"]["startLine"]
    assert lines[line - 1].strip() == "{"  # the cell's opening brace…
    assert "open('/home/me/data.csv')" in "".join(lines[line : line + 12])  # …of the third cell
    pinned = next(r for r in results if r["ruleId"] == "ENV007" and r["locations"][0]["physicalLocation"].get("region"))
    assert pinned["level"] == "warning" and pinned["locations"][0]["physicalLocation"]["region"]["startLine"] == 3


def test_cell_lines_ignore_braces_and_keys_inside_strings() -> None:
    text = (
        '{"metadata": {"cells": "not these", "x": [{"y": 1}]},\n "cells": [\n  {"source": "{\\"cells\\": [{}]}"},'
        '\n  {"source": ["}\\n", "{"]}\n ], "nbformat": 4}'
    )
    assert cell_lines(text) == [3, 4]
    assert cell_lines("not json {") == []
