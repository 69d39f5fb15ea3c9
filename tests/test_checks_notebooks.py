"""The notebook family (NB): one generated test per tests/cases/nb-* folder, plus generated repos."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, snapshot
from nbcases import folders, run_case
from paperpack.checks import CheckContext
from paperpack.checks.notebooks import NOTEBOOK_OUTPUT_LIMIT, OUTPUT_LIMIT
from paperpack.validate import validate

CASE_FOLDERS = folders("nb-")
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def test_there_are_cases() -> None:
    assert len(CASE_FOLDERS) >= 10


@pytest.mark.parametrize("name", CASE_FOLDERS)
def test_case(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_case(name, tmp_path, capsys)


def _write_nb(path: Path, cells: list[dict]) -> None:  # type: ignore[type-arg]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": KERNEL, "cells": cells}))


def _code(src: str, n: int | None, outputs: list[dict] | None = None) -> dict:  # type: ignore[type-arg]
    return {"cell_type": "code", "execution_count": n, "metadata": {}, "outputs": outputs or [], "source": src}


def _nb_findings(root: Path, **options: object) -> list[tuple[str, str | None, int | None, int | None]]:
    report = validate(root, context=CheckContext(offline=True, options=dict(options)))
    got = [(f.rule, f.path, f.line, f.cell) for f in report.findings if f.rule.startswith(("NB", "DEP"))]
    return sorted(got, key=lambda g: (g[0], g[1] or "", g[2] or 0, -1 if g[3] is None else g[3]))


def test_large_outputs_are_reported_per_output_and_per_notebook(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\n")
    png = base64.b64encode(os.urandom(OUTPUT_LIMIT * 3 // 4 + 4096)).decode()  # just over the limit once encoded
    assert len(png) > OUTPUT_LIMIT
    count = NOTEBOOK_OUTPUT_LIMIT // len(png) + 1
    cells = [_code("import numpy as np", 1)] + [
        _code("plot()", i + 2, [{"output_type": "display_data", "metadata": {}, "data": {"image/png": png}}])
        for i in range(count)
    ]
    _write_nb(tmp_path / "big.ipynb", cells)
    got = _nb_findings(tmp_path)
    assert [g for g in got if g[0] == "NB014"] == [("NB014", "big.ipynb", None, i + 1) for i in range(count)]
    assert ("NB015", "big.ipynb", None, None) in got


def test_huge_notebook_is_not_loaded_and_memory_stays_bounded(tmp_path: Path) -> None:
    """A 200 MB notebook is a finding, and validating it does not read it into memory."""
    big, small = tmp_path / "big", tmp_path / "small"
    for repo in (big, small):
        repo.mkdir()
        (repo / "requirements.txt").write_text("numpy==1.26.4\n")
        _write_nb(repo / "ok.ipynb", [_code("import numpy as np", 1)])
    chunk = json.dumps(_code("x = 1", 1, [{"output_type": "stream", "name": "stdout", "text": "y" * (1 << 20)}]))
    with open(big / "huge.ipynb", "w") as fh:
        fh.write('{"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [')
        fh.write(",".join([chunk] * 200))
        fh.write("]}")
    assert (big / "huge.ipynb").stat().st_size > 200 * 10**6
    before = snapshot(big)
    script = (
        "import io, contextlib, json, resource, sys\n"
        "from paperpack.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    main(['validate', sys.argv[1], '--format', 'json', '--offline'])\n"
        "rules = [(f['rule'], f['path']) for f in json.loads(out.getvalue())['findings']]\n"
        "print(json.dumps({'rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 'rules': rules}))\n"
    )
    runs = {}
    for name, repo in (("big", big), ("small", small)):
        proc = subprocess.run(
            [sys.executable, "-c", script, str(repo)], capture_output=True, text=True, timeout=300, cwd=ROOT, check=True
        )
        runs[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert ["NB004", "huge.ipynb"] in runs["big"]["rules"]
    assert not any(r[1] == "huge.ipynb" and r[0] != "NB004" for r in runs["big"]["rules"])
    grown_mb = (runs["big"]["rss_kb"] - runs["small"]["rss_kb"]) / 1024
    assert grown_mb < 30, f"peak memory grew by {grown_mb:.0f} MB for a 200 MB notebook"
    assert snapshot(big) == before


def test_many_notebooks_same_findings_with_and_without_processes(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\n")
    for i in range(120):
        second = 3 if i % 3 == 0 else 2  # a gap in a third of them
        cells = [_code("import numpy as np", 1), _code(f"x = np.ones({i})", second)]
        if i % 4 == 0:
            cells.append(_code("import pandas as pd\ndf = pd.read_csv('missing/%d.csv')" % i, second + 1))
        if i % 10 == 0:
            cells.append(_code("print(", 1))  # run out of order
        _write_nb(tmp_path / f"part{i // 50}" / f"nb{i:03d}.ipynb", cells)
    (tmp_path / "part0" / "broken.ipynb").write_text('{"nbformat": 4, "cells": [')
    before = snapshot(tmp_path)
    single = _nb_findings(tmp_path, jobs=1)
    multi = _nb_findings(tmp_path, jobs=2)
    assert single == multi
    assert sum(1 for f in single if f[0] == "NB009") == sum(1 for i in range(120) if i % 3 == 0 and i % 10)
    assert sum(1 for f in single if f[0] == "NB008") == 12
    assert sum(1 for f in single if f[0] == "NB012") == 30
    assert sum(1 for f in single if f[0] == "DEP001") == 30
    assert ("NB001", "part0/broken.ipynb", 1, None) in single
    full = _nb_findings(tmp_path, jobs=1, syntax_check=True)  # every cell parsed: syntax errors found too
    assert sum(1 for f in full if f[0] == "DEP004") == 12
    assert set(single) <= set(full)
    assert snapshot(tmp_path) == before


def test_notebooks_are_shared_with_later_families(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\n")
    _write_nb(tmp_path / "a.ipynb", [_code("import numpy as np", 1)])
    ctx = CheckContext(offline=True)
    validate(tmp_path, context=ctx)
    assert list(ctx.cache["notebooks"]) == ["a.ipynb"]
    assert ctx.cache["code"]["a.ipynb"][0].imports[0].module == "numpy"


def test_manifest_order_decides_what_is_written_earlier(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("pandas==2.2.2\n")
    _write_nb(tmp_path / "a.ipynb", [_code("import pandas as pd\npd.read_csv('made.csv')", 1)])
    _write_nb(tmp_path / "b.ipynb", [_code("import pandas as pd\npd.DataFrame().to_csv('made.csv')", 1)])
    assert ("NB012", "a.ipynb", None, 0) in _nb_findings(tmp_path)
    (tmp_path / "paperpack.yml").write_text("version: 1\nnotebooks:\n  - path: b.ipynb\n  - path: a.ipynb\n")
    assert not [f for f in _nb_findings(tmp_path) if f[0] == "NB012"]


def _mutate(node: object, rng, depth: int = 0) -> object:  # type: ignore[no-untyped-def]
    """Replace a random part of a JSON tree by a value of the wrong type."""
    odd = [None, True, 7, -1, 2.5, "", "x", [], {}, [1, "a"], {"a": [None]}, "/home/x", "import os"]
    if isinstance(node, dict) and node and rng.random() < 0.85:
        key = rng.choice(sorted(node))
        return {**node, key: _mutate(node[key], rng, depth + 1)}
    if isinstance(node, list) and node and rng.random() < 0.85:
        i = rng.randrange(len(node))
        return node[:i] + [_mutate(node[i], rng, depth + 1)] + node[i + 1 :]
    return rng.choice(odd)


def test_checks_survive_schema_invalid_notebooks(tmp_path: Path) -> None:
    """Wrong types anywhere in a notebook: findings, never an exception."""
    import random

    rng = random.Random(11)
    base = {
        "nbformat": 4,
        "nbformat_minor": 4,
        "metadata": {
            "kernelspec": {"name": "python3", "language": "python", "display_name": "P"},
            "language_info": {"name": "python", "version": "3.11", "codemirror_mode": {"version": 3}},
        },
        "cells": [
            _code(
                "import numpy as np\nx = np.load('data/x.npy')",
                1,
                [
                    {"output_type": "stream", "name": "stdout", "text": ["a"]},
                    {"output_type": "error", "ename": "E", "evalue": "v", "traceback": []},
                    {"output_type": "display_data", "metadata": {}, "data": {"text/plain": "x"}},
                ],
            ),
            {"cell_type": "markdown", "metadata": {"tags": ["a"]}, "source": ["# t"]},
        ],
    }
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\n")
    for i in range(150):
        doc = base
        for _ in range(rng.randint(1, 3)):
            doc = _mutate(doc, rng)  # type: ignore[assignment]
        (tmp_path / f"f{i:03d}.ipynb").write_text(json.dumps(doc))
    got = _nb_findings(tmp_path, syntax_check=True)
    assert len({f[1] for f in got if f[0] in ("NB001", "NB002")}) > 100


def test_a_notebook_link_leaving_the_repository_is_named_never_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside.ipynb"
    outside.write_text('{"nbformat": 4, "SECRET-CONTENT": 1}')
    got = run_case("nb-link-outside", tmp_path, capsys)
    (tmp_path / "nb-link-outside" / "secret.ipynb").unlink()
    os.symlink(outside, tmp_path / "nb-link-outside" / "secret.ipynb")
    report = validate(tmp_path / "nb-link-outside", offline=True)
    text = json.dumps([f.to_dict() for f in report.findings])
    assert "SECRET-CONTENT" not in text and str(tmp_path / "outside") not in text and "/etc/passwd" not in text
    secret = next(f for f in got if f["path"] == "secret.ipynb")
    assert "leads outside the repository" in secret["message"] and "git rm 'secret.ipynb'" in secret["fix"]
