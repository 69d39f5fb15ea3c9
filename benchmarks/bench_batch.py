"""Batch mode: ``paperpack batch --jobs 2`` against a shell loop of ``paperpack build`` over the same folders.

12 small submissions, each 2 notebooks of 0.5 s compute (a busy loop, not a sleep), measured side
by side in one run, each figure the median of ``--repeat`` runs (interleaved: loop, batch, loop, …):

- a shell loop: ``for d in sub*; do paperpack build "$d" --engine ENGINE --out-dir …; done``
  (what an editor scripts today);
- ``paperpack batch queue.yml --jobs 2 --engine ENGINE --out-dir …`` (a fresh output folder each
  time, so nothing is resumed), which overlaps one submission's set-up with another's run and
  shares the environment (the local engine's cached virtual environment; with Docker, the image of
  identical content).

Goal: batch ≥ 1.8× faster than the loop on 2 cores. The local engine by default (the machine's
Docker is shared; ``--engine docker`` measures with images, built once beforehand). The load
average before and after is printed: on a shared machine, read the ratio with it.

    .venv/bin/python benchmarks/bench_batch.py [--repeat 3] [--engine local] [--fresh]

``--fresh`` also times the batch with each pipeline a fresh process (``PAPERPACK_BATCH_FORK=0``, no
fork server), in the same runs. ``--baseline DIR`` also times the batch of another paperpack source tree
(``PYTHONPATH=DIR``: e.g. ``git worktree add /tmp/base main``), in the same runs: two versions compared
in the same conditions. Each run prints the 1-minute load average as each side started.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

BIN = Path(sys.executable).parent
BUSY = "import time\nt0 = time.perf_counter()\nwhile time.perf_counter() - t0 < {s}:\n    pass\nprint('done {i}')"


def make_submission(folder: Path, index: int, seconds: float) -> None:
    folder.mkdir(parents=True)
    (folder / "requirements.txt").write_text("")
    for n in range(2):
        nb = nbformat.v4.new_notebook(
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
        )
        cell = nbformat.v4.new_code_cell(BUSY.format(s=seconds, i=n), execution_count=1)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"done {n}\n")]
        nb.cells = [cell]
        nbformat.write(nb, folder / f"nb{n}.ipynb")


def shell_loop(subs: list[Path], out: Path, engine: str) -> float:
    script = (
        'set -e\nfor d in "$@"; do\n  "$PAPERPACK" build "$d" --engine '
        + engine
        + ' --out-dir "$OUT/$(basename "$d")" -q > /dev/null\ndone\n'
    )
    env = {**os.environ, "PAPERPACK": str(BIN / "paperpack"), "OUT": str(out)}
    start = time.perf_counter()
    subprocess.run(["bash", "-c", script, "loop", *map(str, subs)], check=True, env=env)
    return time.perf_counter() - start


def batch(queue: Path, out: Path, engine: str, jobs: int, *, fork: bool = True, source: Path | None = None) -> float:
    env = {**os.environ, "PAPERPACK_BATCH_FORK": "1" if fork else "0"}
    if source is not None:  # another version of paperpack (its workers and pipelines inherit the path)
        env["PYTHONPATH"] = str(source)
    start = time.perf_counter()
    done = subprocess.run(
        [
            str(BIN / "paperpack"),
            "batch",
            str(queue),
            "--jobs",
            str(jobs),
            "--engine",
            engine,
            "--out-dir",
            str(out),
            "-q",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"paperpack batch exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--engine", choices=("local", "docker"), default="local")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="also time the batch with a fresh process per pipeline (PAPERPACK_BATCH_FORK=0)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="also time the batch of the paperpack source tree DIR (PYTHONPATH=DIR), e.g. a worktree of main",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="paperpack-bench-batch-"))
    try:
        subs = [work / "subs" / f"sub{i:02d}" for i in range(args.count)]
        for i, folder in enumerate(subs):
            make_submission(folder, i, args.seconds)
        queue = work / "queue.yml"
        queue.write_text("".join(f"- id: {p.name}\n  source: {p}\n" for p in subs))
        # warm-up, not timed: the local engine's environment (or the image) exists before either is timed
        subprocess.run(
            [
                str(BIN / "paperpack"),
                "build",
                str(subs[0]),
                "--engine",
                args.engine,
                "--out-dir",
                str(work / "warm"),
                "-q",
            ],
            check=True,
            capture_output=True,
        )
        load_before = os.getloadavg()
        loops, batches, freshes, bases = [], [], [], []
        for r in range(args.repeat):
            load = os.getloadavg()[0]
            loops.append(shell_loop(subs, work / f"loop{r}", args.engine))
            line = f"  run {r + 1}: loop {loops[-1]:.1f} s (load {load:.1f})"
            load = os.getloadavg()[0]
            batches.append(batch(queue, work / f"batch{r}", args.engine, args.jobs))
            line += f", batch {batches[-1]:.1f} s (load {load:.1f}), ratio {loops[-1] / batches[-1]:.2f}x"
            if args.fresh:
                load = os.getloadavg()[0]
                freshes.append(batch(queue, work / f"fresh{r}", args.engine, args.jobs, fork=False))
                line += f", batch without the fork server {freshes[-1]:.1f} s (load {load:.1f})"
            if args.baseline:
                load = os.getloadavg()[0]
                bases.append(batch(queue, work / f"base{r}", args.engine, args.jobs, source=args.baseline))
                line += f", baseline batch {bases[-1]:.1f} s (load {load:.1f})"
            print(line, flush=True)
        load_after = os.getloadavg()
        loop, fast = statistics.median(loops), statistics.median(batches)
        print(
            f"{args.count} submissions × 2 notebooks × {args.seconds} s, engine {args.engine}, "
            f"{os.cpu_count()} cores, {args.repeat} runs"
        )
        print(f"shell loop of paperpack build : median {loop:.1f} s  ({loop / args.count:.2f} s per submission)")
        print(
            f"paperpack batch --jobs {args.jobs}     : median {fast:.1f} s  ({fast / args.count:.2f} s per submission)"
        )
        print(f"ratio loop / batch            : {loop / fast:.2f}x (goal >= 1.8x)")
        if freshes:
            fresh = statistics.median(freshes)
            print(f"batch, a fresh process each   : median {fresh:.1f} s, ratio {loop / fresh:.2f}x")
        if bases:
            base = statistics.median(bases)
            print(f"baseline batch ({args.baseline}): median {base:.1f} s, ratio {loop / base:.2f}x")
        print(
            f"load average before {load_before[0]:.2f} {load_before[1]:.2f}, "
            f"after {load_after[0]:.2f} {load_after[1]:.2f} (1 and 5 min)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
