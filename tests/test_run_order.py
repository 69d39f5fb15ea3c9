"""One set of run-order rules (manifest.run_order_problems): what the run plan refuses, validate reports.

Issue 10: checks/manifest.py and run/plan.py each had their own copy; a notebook listed twice
stopped the run while validate said nothing.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from paperpack.checks import CheckContext
from paperpack.checks.manifest import check
from paperpack.errors import ConfigError
from paperpack.repository.repo import Repo
from paperpack.run.plan import make_plan

MANIFESTS = {
    "listed twice": "version: 1\nnotebooks:\n  - path: a.ipynb\n  - path: a.ipynb\n",
    "missing": "version: 1\nnotebooks:\n  - path: gone.ipynb\n",
    "unknown dependency": "version: 1\nnotebooks:\n  - path: a.ipynb\n    depends_on: [z.ipynb]\n",
    "itself": "version: 1\nnotebooks:\n  - path: a.ipynb\n    depends_on: [a.ipynb]\n",
    "circle": "version: 1\nnotebooks:\n  - path: a.ipynb\n    depends_on: [b.ipynb]\n"
    "  - path: b.ipynb\n    depends_on: [a.ipynb]\n",
}


@pytest.mark.parametrize("case", sorted(MANIFESTS))
def test_what_the_run_refuses_validate_reports_as_an_error(tmp_path: Path, case: str) -> None:
    for name in ("a.ipynb", "b.ipynb"):
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / name)
    (tmp_path / "paperpack.yml").write_text(MANIFESTS[case])
    repo = Repo.open(tmp_path)
    with pytest.raises(ConfigError):
        make_plan(repo)
    findings = list(check(repo, CheckContext(offline=True)))
    assert [f.severity.value for f in findings] == ["error"], findings
