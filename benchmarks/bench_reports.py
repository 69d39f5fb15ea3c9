"""Writing every report of a 100-notebook run, against writing report.json alone.

A run of 100 notebooks is made up as the run gives it (tests/publishhelp.py): 100 real
notebooks on disk (30 cells each, text outputs), 70 *same*, 15 *differs* (50-line diffs),
10 *failed* (30-line tracebacks; one failure carries a 5 MB error value), 5 *skipped*, and
200 findings (half of them in notebook cells, so SARIF and codequality look up cell lines).
Each repetition writes, into a fresh output folder:

- report.json alone (the typed result as a dict, dumped, written atomically), and
- report.json and every writer of :data:`paperpack.report.publish.WRITERS` (whatever has
  landed: JUnit, SARIF, summary.md, codequality.json, and the others' HTML, badges, crate…),
  each from a fresh :class:`Publication` (no cache kept between repetitions).

Goal: every report together costs under 5 % of the run. The run time is assumed, not run
here: 100 notebooks × 2 s (design.md: one notebook in a ``--network none`` container ≈ 2 s)
on 2 parallel jobs = 100 s; pass ``--run-seconds`` for another figure.

    .venv/bin/python benchmarks/bench_reports.py [--repeat 7] [--run-seconds 100]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # publishhelp

import nbformat  # noqa: E402

from paperpack.checks.findings import Severity  # noqa: E402
from paperpack.report.publish import WRITERS, Publication, publish  # noqa: E402
from paperpack.util.atomic import write_json_atomic  # noqa: E402
from publishhelp import RULE_E, RULE_W, differs, failed, make_publication, same, skipped  # noqa: E402

NOTEBOOKS = 100
CELLS = 30


def _notebook(root: Path, rel: str) -> None:
    cells = []
    for i in range(CELLS):
        cell = nbformat.v4.new_code_cell(f"# step {i}\nresult_{i} = compute({i})\nprint(result_{i})")
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="\n".join(f"{i}.{k} 0.{k}1234" for k in range(20)))
        ]
        cells.append(cell)
    (root / rel).write_text(nbformat.writes(nbformat.v4.new_notebook(cells=cells)), encoding="utf-8")


def _publication(root: Path, out: Path) -> Publication:
    runs = []
    for i in range(NOTEBOOKS):
        path = f"nb{i:03d}.ipynb"
        if i < 70:
            runs.append(same(path, duration=2.0))
        elif i < 85:
            runs.append(differs(path, diff="\n".join(f"-{k}.000 0.1234\n+{k}.001 0.1235" for k in range(25))))
        elif i < 95:
            big = "x" * (5 << 20) if i == 85 else "index 12 is out of bounds for axis 0 with size 10"
            runs.append(
                failed(
                    path,
                    ename="IndexError",
                    evalue=big,
                    traceback=[f'  File "<cell>", line {k}, in f{k}' for k in range(30)],
                    cell=5,
                )
            )
        else:
            runs.append(skipped(path))
    findings = []
    for i in range(200):
        rule = RULE_E if i % 10 == 0 else RULE_W
        if i % 2:
            findings.append(rule.at(f"nb{i % NOTEBOOKS:03d}.ipynb", f"finding {i} in a cell", "fix it", cell=i % CELLS))
        else:
            findings.append(
                rule.at(
                    "requirements.txt",
                    f"finding {i}",
                    "pin it",
                    line=i % 40 + 1,
                    severity=Severity.WARNING if rule is RULE_W else None,
                )
            )
    return make_publication(root, runs, findings, out_dir=out, write=False)


def _time(action, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--run-seconds",
        type=float,
        default=100.0,
        help="the run time the reports are compared with (default: 100 notebooks × 2 s / 2 jobs)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    try:
        root = work / "paper"
        root.mkdir()
        (root / "requirements.txt").write_text("\n".join(f"pkg{k}" for k in range(40)) + "\n")
        for i in range(NOTEBOOKS):
            _notebook(root, f"nb{i:03d}.ipynb")
        counter = iter(range(10**6))

        def json_only() -> None:
            pub = _publication(root, work / f"out{next(counter)}")
            write_json_atomic(pub.out_dir / "report.json", dict(pub.report, run=pub.result.run.to_dict()))  # type: ignore[union-attr]

        def everything() -> None:
            pub = _publication(root, work / f"out{next(counter)}")
            write_json_atomic(pub.out_dir / "report.json", dict(pub.report, run=pub.result.run.to_dict()))  # type: ignore[union-attr]
            done = publish(pub)
            if done.failed:
                raise SystemExit(f"a writer failed: {done.failed}")

        setup = _time(lambda: _publication(root, work / f"out{next(counter)}"), args.repeat)
        for _ in range(2):  # warm imports (junitparser, the rule catalogue) and the page cache
            everything()
        alone = _time(json_only, args.repeat)
        every = _time(everything, args.repeat)
        # the rest interleaved, so a slower moment of the shared machine hits both alike
        for _ in range(args.repeat):
            alone += _time(json_only, 1)
            every += _time(everything, 1)
        base = statistics.median(setup)
        json_s = statistics.median(alone) - base
        all_s = statistics.median(every) - base
        print(f"writers: {', '.join(name for name, _ in WRITERS)}")
        print(
            f"{NOTEBOOKS} notebooks, 200 findings, one 5 MB error value; medians of {len(alone)} runs "
            f"(making the typed result, {base * 1000:.1f} ms, subtracted)"
        )
        print(f"report.json alone:         {json_s * 1000:8.1f} ms")
        print(f"report.json + every other: {all_s * 1000:8.1f} ms   ratio {all_s / json_s:5.1f}×")
        share = all_s / args.run_seconds
        print(
            f"share of a {args.run_seconds:.0f} s run: {share * 100:.2f} %   (goal < 5 %: "
            f"{'met' if share < 0.05 else 'NOT met'})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
