"""Docs match the code: every rule has a stable, unique id and is documented."""

from __future__ import annotations

import json
import re

from conftest import CASES, ROOT
from paperpack.checks import all_rules
from paperpack.cli.main import main
from paperpack.validate import validate


def test_rule_ids_are_well_formed_and_unique() -> None:
    rules = all_rules()
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids))
    for r in rules:
        assert re.fullmatch(r"[A-Z]+[0-9]{3}", r.id), r.id
        assert r.why and r.why[-1] in ".)", f"{r.id}: 'why' should be a sentence"


def test_every_rule_is_in_docs_rules_md() -> None:
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    missing = [r.id for r in all_rules() if r.id not in text]
    assert missing == [], f"docs/rules.md lacks {missing}"
    # report.sarif's helpUri points at docs/rules.md#<id>: each rule's row carries that anchor
    unanchored = [r.id for r in all_rules() if f'<a name="{r.id.lower()}"></a>{r.id} |' not in text]
    assert unanchored == [], f"docs/rules.md rows without their anchor: {unanchored}"


def test_rules_command_lists_them(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["rules", "--family", "man"]) == 0
    out = capsys.readouterr().out
    assert "MAN001" in out
    ids = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
    assert ids and all(i.startswith("MAN") for i in ids), ids


def _documented_severities() -> dict[str, list[str]]:
    """rule id -> the severities its row in docs/rules.md names, the default first (`warning (info if …)`)."""
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    out: dict[str, list[str]] = {}
    for row in re.finditer(r"^\| (?:<a name=\"[a-z0-9]+\"></a>)?([A-Z]+[0-9]{3}) \| [^|]+ \| ([^|]+) \|", text, re.M):
        out[row.group(1)] = re.findall(r"\b(error|warning|info)\b", row.group(2))
    return out


def test_docs_rules_md_gives_each_rule_the_catalogue_severity() -> None:
    """One source of truth: the severity docs/rules.md gives first is the catalogue's (what `paperpack rules` lists)."""
    documented = _documented_severities()
    wrong = {
        r.id: (documented.get(r.id, ["(no row)"])[:1], r.severity.value)
        for r in all_rules()
        if documented.get(r.id, [None])[0] != r.severity.value
    }
    assert wrong == {}, f"docs/rules.md severity (first named) vs the catalogue: {wrong}"


def test_rules_command_shows_the_catalogue_severity(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["rules", "--format", "json"]) == 0
    listed = {r["id"]: r["severity"] for r in json.loads(capsys.readouterr().out)}
    assert listed == {r.id: r.severity.value for r in all_rules()}
    assert listed["ENV003"] == "warning"  # a file repo2docker ignores is a warning, as the docs and findings say


def test_findings_of_every_case_have_a_documented_severity() -> None:
    """What the checks emit on every case repository is a severity docs/rules.md names for that rule."""
    documented = _documented_severities()
    seen: set[str] = set()
    for case in sorted(p for p in CASES.iterdir() if p.is_dir()):
        for finding in validate(case, offline=True).findings:
            seen.add(finding.rule)
            assert finding.severity.value in documented.get(finding.rule, []), (
                f"{case.name}: {finding.rule} emitted as {finding.severity.value}; docs/rules.md says "
                f"{documented.get(finding.rule)}"
            )
    assert "ENV003" in seen and len(seen) > 30, sorted(seen)  # the cases exercise the catalogue widely
