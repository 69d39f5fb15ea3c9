"""The fast manifest check (jsonschema-rs) and jsonschema agree, so a manifest judged valid fast is valid."""

from __future__ import annotations

import pytest

from conftest import ROOT
from paperpack.repository.manifest import Manifest, _conforms
from paperpack.util.schemas import validator_for

MANIFESTS = sorted(p for p in (ROOT / "tests").rglob("paperpack.y*ml")) + [ROOT / "sample_paper" / "paperpack.yml"]
#: documents meant to fail, one per kind of rule the schema has
INVALID = [
    "titel: x\n",
    "run:\n  pids: 5\n",
    "run:\n  memory: lots\n",
    "run:\n  timeout: 0\n",
    "environment:\n  python: 3.10\n",
    "notebooks:\n  - path: /abs.ipynb\n",
    "notebooks:\n  - pth: a\n",
    "data:\n  - title: x\n",
    "notebooks:\n  - path: a.ipynb\n    skip: 3\n",
    "environment:\n  mode: other\n",
    "data:\n  - doi: 10.1/x\n    files:\n      - path: a.csv\n        sha256: abc\n",
]


def _data(text: str) -> Manifest:
    from ruamel.yaml import YAML

    from paperpack.repository.manifest import _to_plain

    return Manifest(data=_to_plain(YAML(typ="rt").load(text)))


@pytest.mark.parametrize(
    "text",
    [p.read_text(encoding="utf-8") for p in MANIFESTS]
    + ["version: 1\n" + t for t in INVALID]
    + ["version: 2\n", "title: no version\n"],
)
def test_fast_check_agrees_with_jsonschema(text: str) -> None:
    manifest = _data(text)
    slow = not list(validator_for("manifest").iter_errors(manifest.data))
    assert _conforms(manifest.data) == slow


def test_the_cases_have_valid_manifests() -> None:
    assert len(MANIFESTS) > 10
    assert all(_conforms(_data(p.read_text(encoding="utf-8")).data) for p in MANIFESTS if p.parent.name != "bad")
