"""``paperpack batch``: verify a queue of submissions (a journal's), on one machine or a Dask cluster."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape

from ..errors import EXIT_FINDINGS, EXIT_OK
from ..image.builder import MODES
from ..report.paper import PaperClass
from ..report.text import make_console, safe
from ..verify import ENGINES

HELP = "verify a queue of submissions (git URLs, folders, archives), on this machine or a Dask cluster"
DESCRIPTION = """\
Verify every submission of QUEUE — a YAML list, a CSV file (id,source,ref) or JSON Lines —
each exactly as `paperpack build` would: fetched into its own workspace (git URL: file://
or https:// only, at its ref; a local folder; a zip or tar archive, extracted safely), then
validate, build, run, compare, reports, into DIR/ID/. Then DIR/index.html (a sortable table),
DIR/index.json and DIR/batch.junit.xml (a testsuite per submission).

Run it again after a stop (Ctrl-C, a kill, a crash): submissions finished at the same
commit by the same paperpack version are not redone; interrupted ones start over. One
submission's failure (a bad archive, an unreachable URL, a build error, a timeout) is
recorded with its cause and never stops the others.

Each submission is one Dask task: --jobs N starts N local worker processes; --scheduler
ADDRESS uses a running cluster (DIR and the sources must be reachable from its workers);
--cluster slurm|pbs starts one with dask-jobqueue (pip install 'paperpack[hpc]').

exit status: 0 every submission reproduced (with or without minor differences), 1 one
failed or was not reproduced, 2 a usage error, 130 interrupted.

examples:
  paperpack batch queue.yml --jobs 2
  paperpack batch queue.csv --out-dir /shared/batch --scheduler tcp://10.0.0.5:8786
  paperpack batch queue.jsonl --cluster slurm --jobs 8 --timeout 7200 --memory 8g

See docs/batch.md."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("queue", type=Path, help="the queue: .yml/.yaml, .csv or .jsonl")
    p.add_argument(
        "-o",
        "--out-dir",
        type=Path,
        default=Path("batch-out"),
        metavar="DIR",
        help="where every submission's reports and the index go (default: batch-out)",
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="submissions at once: local worker processes (with --cluster: jobs) (default: 1)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--cluster", choices=("slurm", "pbs"), help="start a Dask cluster with dask-jobqueue")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="seconds: the build's and each notebook's limit; a submission's verification as a whole "
        "is stopped after 2 × S + 300",
    )
    p.add_argument("--memory", metavar="SIZE", help="memory per notebook run, e.g. 2g")
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="as `paperpack build --engine` (default: auto, the engine policy)",
    )
    p.add_argument("--mode", choices=MODES, default="auto", help="as `paperpack build --mode` (default: auto)")
    p.add_argument("--cache-dir", type=Path, metavar="DIR", help="paperpack's cache folder (default: the usual)")
    p.set_defaults(func=run)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops a batch as Ctrl-C does: tasks cancelled, workers stopped, index written


def run(args: argparse.Namespace) -> int:
    from ..batch import BatchOptions, read_queue, run_batch
    from ..batch.index import BatchEntry
    from ..batch.pipeline import EXIT_INTERRUPTED
    from ..batch.runner import BatchInterrupted

    out = make_console(sys.stdout, color=args.color)
    if args.memory:
        from ..util.sizes import size_bytes

        size_bytes(args.memory)  # a clear error now, not one per submission
    options = BatchOptions(
        out_dir=args.out_dir,
        jobs=args.jobs,
        scheduler=args.scheduler,
        cluster=args.cluster,
        timeout=args.timeout,
        memory=args.memory,
        engine=args.engine,
        mode=args.mode,
        cache_dir=args.cache_dir,
    )
    submissions = read_queue(args.queue)

    def show(entry: BatchEntry) -> None:
        if args.quiet:
            return
        result = entry.result
        if result is None:
            return
        if result.failure is not None:
            what = f"[red]failed ({result.failure.kind.value})[/]: {safe(result.failure.message.splitlines()[0])}"
        else:
            colour = "green" if PaperClass(result.verdict).passed else "yellow"
            what = f"[{colour}]{escape(result.label)}[/]"
        again = " (verified earlier)" if entry.reused else f" in {result.duration:.1f} s"
        out.print(f"{escape(entry.submission.id)}: {what}{again}")

    signal.signal(signal.SIGTERM, _terminate)
    try:
        result = run_batch(submissions, options, on_result=show)
    except BatchInterrupted as stopped:
        left, total = len(stopped.result.unfinished), len(stopped.result.entries)
        print(
            f"paperpack batch: interrupted: {left} of {total} submissions not finished (the running ones were "
            f"stopped on their workers and recorded as interrupted); run the same command again to verify them "
            f"(the {total - left} finished are not redone)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    bad = [
        e
        for e in result.entries
        if e.result is None or e.result.failure is not None or not PaperClass(e.result.verdict).passed
    ]
    if not args.quiet:
        out.print(
            f"{len(result.entries)} submissions, {len(result.entries) - len(bad)} reproduced; "
            f"index: {escape(str(result.index[1]))}"
        )
    return EXIT_FINDINGS if bad else EXIT_OK
