"""schemas/paperpack.report.v1.json keeps the closed vocabularies of report/paper.py."""

from __future__ import annotations

import json

from conftest import ROOT
from paperpack.report.paper import PaperClass, Reason


def test_report_schema_lists_every_reason_and_class() -> None:
    schema = json.loads((ROOT / "schemas" / "paperpack.report.v1.json").read_text(encoding="utf-8"))
    paper = schema["properties"]["paper"]["properties"]
    assert paper["reasons"]["items"]["enum"] == [r.value for r in Reason]
    assert paper["class"]["enum"] == [c.value for c in PaperClass]
