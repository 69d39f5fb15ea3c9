"""The run plan: order, depends_on as a DAG, skips, parameters and limits precedence."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from paperpack.errors import ConfigError
from paperpack.repository.repo import Repo
from paperpack.run.plan import DEFAULT_TIMEOUT, Limits, make_plan


def _repo(root: Path, manifest: str | None, notebooks: list[str]) -> Repo:
    for rel in notebooks:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(), root / rel)
    if manifest is not None:
        (root / "paperpack.yml").write_text(manifest)
    return Repo.open(root)


def test_without_manifest_every_notebook_in_path_order(tmp_path: Path) -> None:
    repo = _repo(tmp_path, None, ["b.ipynb", "a/z.ipynb", "a.ipynb", ".ipynb_checkpoints/a-checkpoint.ipynb"])
    plan = make_plan(repo)
    assert [nb.path for nb in plan.notebooks] == ["a.ipynb", "a/z.ipynb", "b.ipynb"]
    assert [nb.path for nb in plan.ready(set(), set())] == ["a.ipynb", "a/z.ipynb", "b.ipynb"]
    assert all(nb.timeout == DEFAULT_TIMEOUT for nb in plan.notebooks)


MANIFEST = """\
version: 1
run: {timeout: 100, cell_timeout: 10}
compare: {rtol: 0.01}
notebooks:
  - path: prep.ipynb
    parameters: {n: 1, label: full}
  - path: fit.ipynb
    depends_on: [prep.ipynb]
    timeout: 50
    compare: {atol: 0.5}
  - path: plot.ipynb
    depends_on: [fit.ipynb]
  - path: side.ipynb
  - path: old.ipynb
    skip: needs a GPU
"""


def test_manifest_dag_ready_and_blocked(tmp_path: Path) -> None:
    repo = _repo(tmp_path, MANIFEST, ["prep.ipynb", "fit.ipynb", "plot.ipynb", "side.ipynb", "old.ipynb"])
    plan = make_plan(repo)
    assert [nb.path for nb in plan.to_run] == ["prep.ipynb", "fit.ipynb", "plot.ipynb", "side.ipynb"]
    assert plan.by_path["old.ipynb"].skip == "needs a GPU"
    assert [nb.path for nb in plan.ready(set(), set())] == ["prep.ipynb", "side.ipynb"]
    assert [nb.path for nb in plan.ready({"prep.ipynb"}, {"prep.ipynb", "side.ipynb"})] == ["fit.ipynb"]
    # prep failed: fit is blocked by it; plot only once fit is settled as failed
    blocked = plan.blocked({"prep.ipynb"}, {"prep.ipynb"})
    assert [(nb.path, dep) for nb, dep in blocked] == [("fit.ipynb", "prep.ipynb")]
    fit = plan.by_path["fit.ipynb"]
    assert (fit.timeout, fit.cell_timeout) == (50.0, 10.0)
    assert fit.compare == {"rtol": 0.01, "atol": 0.5}
    assert plan.by_path["prep.ipynb"].timeout == 100.0


def test_command_line_wins(tmp_path: Path) -> None:
    repo = _repo(tmp_path, MANIFEST, ["prep.ipynb", "fit.ipynb", "plot.ipynb", "side.ipynb", "old.ipynb"])
    plan = make_plan(repo, parameters={"n": 2}, limits=Limits(timeout=7, cell_timeout=3))
    prep = plan.by_path["prep.ipynb"]
    assert prep.parameters == {"n": 2, "label": "full"}
    assert plan.by_path["side.ipynb"].parameters == {"n": 2}
    assert (plan.by_path["fit.ipynb"].timeout, prep.cell_timeout) == (7.0, 3.0)
    assert (plan.limits.timeout, plan.limits.cell_timeout) == (7.0, 3.0)


def test_limits_resolution() -> None:
    resolved = Limits(memory="1g").resolved({"pids": 100, "memory": "8g"}, jobs=1)
    assert (resolved.memory, resolved.pids, resolved.cpus) == ("1g", 100, 1.0)
    assert Limits().resolved({}, jobs=10_000).cpus == float(os.cpu_count() or 1)  # docker refuses more


@pytest.mark.parametrize(
    "manifest, message",
    [
        (
            "version: 1\nnotebooks:\n  - path: a.ipynb\n    depends_on: [b.ipynb]\n  - path: b.ipynb\n"
            "    depends_on: [a.ipynb]\n",
            "in a circle: ",
        ),
        ("version: 1\nnotebooks:\n  - path: a.ipynb\n    depends_on: [a.ipynb]\n", "in a circle: a.ipynb -> a.ipynb"),
        ("version: 1\nnotebooks:\n  - path: a.ipynb\n    depends_on: [c.ipynb]\n", "'a.ipynb' depends on 'c.ipynb'"),
        ("version: 1\nnotebooks:\n  - path: missing.ipynb\n", "'missing.ipynb' does not exist"),
    ],
)
def test_bad_plans_say_what_and_how(tmp_path: Path, manifest: str, message: str) -> None:
    repo = _repo(tmp_path, manifest, ["a.ipynb", "b.ipynb"])
    with pytest.raises(ConfigError) as info:
        make_plan(repo)
    assert message in str(info.value)
    assert "paperpack.yml" in str(info.value)
    assert info.value.hint


def test_bad_parameter_name(tmp_path: Path) -> None:
    repo = _repo(tmp_path, None, ["a.ipynb"])
    with pytest.raises(ConfigError, match="not a Python identifier"):
        make_plan(repo, parameters={"n-samples": 3})
