"""Benchmark: resolving 200 DOIs against a loopback server that answers every request after 50 ms.

Compares paperpack's concurrent resolution with resolving the same DOIs one after
another (the loop people write with requests today), in the same run, then runs again
with the cache warm and counts the requests the server received (goal: zero).
Half the DOIs are DataCite's (2 requests each: handle API, DataCite), half Crossref's
(3: handle API, DataCite 404, Crossref). Goal: concurrent resolution under 2 s.

    python benchmarks/bench_doi.py [--dois 200] [--delay 0.05] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from doiserver import DoiServer  # noqa: E402
from paperpack.doi.resolve import FOUND, DoiResolver  # noqa: E402
from paperpack.util.httpclient import ServiceConfig  # noqa: E402


def serve(dois: list[str], delay: float, conn: Any) -> None:
    """The loopback server, in its own process so its work does not share the benchmark's GIL."""
    with DoiServer() as server:
        for i, doi in enumerate(dois):
            server.add_doi(
                doi,
                agency="datacite" if i % 2 == 0 else "crossref",
                title=f"Item {i}",
                type="Dataset" if i % 2 == 0 else "journal-article",
            )
        server.state.delay = delay
        conn.send(server.url)
        conn.recv()  # until told to stop


def control(url: str, action: str) -> int:
    with urllib.request.urlopen(f"{url}/_{action}", timeout=10) as response:
        return int(json.load(response)["requests"])


def run(config: ServiceConfig, cache: Path, dois: list[str]) -> float:
    resolver = DoiResolver(config, cache_folder=cache)
    start = time.perf_counter()
    records = resolver.resolve_many(dois)
    elapsed = time.perf_counter() - start
    bad = [d for d, r in records.items() if r.status != FOUND]
    if bad:
        raise SystemExit(f"{len(bad)} DOIs not resolved, e.g. {bad[0]}: {records[bad[0]]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dois", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the server waits before each answer")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the concurrent and warm cases (median)")
    args = parser.parse_args()
    dois = [f"10.5281/zenodo.{1000 + i}" if i % 2 == 0 else f"10.1234/bench.{i}" for i in range(args.dois)]
    parent, child = multiprocessing.get_context("spawn").Pipe()
    proc = multiprocessing.get_context("spawn").Process(target=serve, args=(dois, args.delay, child), daemon=True)
    proc.start()
    url = parent.recv()
    try:
        with tempfile.TemporaryDirectory(prefix="paperpack-bench-") as tmp:
            base = ServiceConfig(doi_resolver=url, datacite_api=url, crossref_api=url, zenodo_api=url + "/api")
            sequential_config = ServiceConfig(**{**base.__dict__, "workers": 1})
            control(url, "reset")
            seq = run(sequential_config, Path(tmp) / "seq", dois)
            requests_cold = control(url, "reset")
            concurrent: list[float] = []
            warm: list[float] = []
            warm_requests: list[int] = []
            for i in range(args.repeat):
                cache = Path(tmp) / f"conc{i}"
                concurrent.append(run(base, cache, dois))
                control(url, "reset")
                warm.append(run(base, cache, dois))
                warm_requests.append(control(url, "stats"))
    finally:
        parent.send("stop")
        proc.join(10)

    conc = statistics.median(concurrent)
    print(f"{args.dois} DOIs, server delay {args.delay * 1000:.0f} ms per request, {requests_cold} requests cold")
    print(f"  one after another (workers=1):       {seq:7.2f} s")
    print(
        f"  paperpack concurrent (workers={base.workers}):  {conc:7.2f} s  median of {args.repeat} "
        f"({', '.join(f'{t:.2f}' for t in concurrent)})"
    )
    print(f"  ratio one-after-another / concurrent: {seq / conc:6.1f}x")
    print(
        f"  warm cache:                           {statistics.median(warm):7.3f} s  median; "
        f"requests sent: {max(warm_requests)}"
    )
    ok = conc < 2.0 and max(warm_requests) == 0
    print(f"goal (< 2 s cold, 0 requests warm): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
