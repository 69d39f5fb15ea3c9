"""Each root cause, on a small repository under tests/cases/run-cause-*, run with the local engine.

``expected.json`` beside each case gives, per notebook, the verdict, the cause id (in
report.json's ``error.cause``) and words the one-line message must contain, in order:
the cell as a person finds it, the cause, then the fix. The local engine's environment
is built once (no requirements.txt: the runner's packages only) and shared by every case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.repository.repo import Repo
from paperpack.run import RunEvent, run_notebooks
from paperpack.run.sandbox import probe
from tests.conftest import CASES
from tests.runhelp import read_report, tree_hashes

pytestmark = pytest.mark.slow

#: run-cause-unreadable has no expected.json: it needs a container (tests/integration/test_run_causes_docker.py)
RUN_CASES = sorted(
    p.name for p in CASES.iterdir() if p.name.startswith("run-cause-") and (p / "expected.json").is_file()
)


@pytest.mark.parametrize("name", RUN_CASES)
def test_cause_is_named(name: str, copy_case, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    if name == "run-cause-network" and probe().net is None:
        pytest.skip("the local engine cannot cut the network here: the download would leave the machine")
    repo = copy_case(name)
    expected = json.loads((repo / "expected.json").read_text(encoding="utf-8"))["notebooks"]
    before = tree_hashes(repo)
    out = tmp_path / "out"
    code = main(["run", str(repo), "--engine", "local", "-o", str(out), "--jobs", "2", "--format", "json"])
    runs = {nb["path"]: nb for nb in read_report(out)["run"]["notebooks"]}  # validated against the schema
    assert set(runs) == set(expected)
    assert code == (1 if any(w["verdict"] == "failed" for w in expected.values()) else 0)
    for path, want in expected.items():
        run = runs[path]
        message = run["message"]
        assert run["verdict"] == want["verdict"], message
        assert ((run.get("error") or {}).get("cause") or {}).get("id") == want["cause"], message
        position = 0
        for words in want["message"]:
            found = message.find(words, position)
            assert found >= 0, f"{words!r} not in order in {message!r}"
            position = found + len(words)
        assert "\n" not in message and "\x1b" not in message
        for line in (run.get("error") or {}).get("traceback", []):
            assert "\x1b" not in line and "kernelfork" not in line and "runner.py" not in line, line
    assert tree_hashes(repo) == before


def test_writer_runs_before_reader(copy_case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """consume.ipynb reads what produce.ipynb writes: never at the same time, produce first."""
    repo = copy_case("run-cause-upstream")
    events: list[RunEvent] = []
    run_notebooks(Repo.open(repo), engine="local", out_dir=tmp_path / "out", jobs=2, progress=events.append)
    order = [(e.kind, e.path) for e in events if e.kind in ("start", "done")]
    assert order.index(("done", "produce.ipynb")) < order.index(("start", "consume.ipynb")), order
