"""Docs match the code: every rule has a stable, unique id and is documented."""

from __future__ import annotations

import re

from conftest import ROOT
from paperpack.checks import all_rules
from paperpack.cli.main import main


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


def test_rules_command_lists_them(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["rules", "--family", "man"]) == 0
    out = capsys.readouterr().out
    assert "MAN001" in out
    ids = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
    assert ids and all(i.startswith("MAN") for i in ids), ids
