"""Running notebooks: ``paperpack run`` against a sequential ``jupyter execute`` loop and bare nbclient.

Measured side by side in one run, each figure the median of ``--repeat`` runs:

1. 8 notebooks of 0.5 s compute (a busy loop, not a sleep):
   - a sequential ``jupyter execute`` loop (what people do today),
   - ``paperpack run --engine local`` (the local engine; its environment built beforehand),
   - ``paperpack run --image IMAGE`` (the docker engine), when Docker and an image are there.
2. One long notebook (``--long`` seconds of compute): ``paperpack run --engine local`` against
   bare nbclient (``NotebookClient(nb).execute()`` in a fresh Python), i.e. paperpack's overhead.

Goals: local ≥ 3× and container ≥ 2.5× faster than the loop; long-notebook overhead < 10 %.

    .venv/bin/python benchmarks/bench_run.py [--image TAG] [--repeat 3] [--long 20]

Without ``--image`` the container figure is measured with the test image of
tests/integration/run_image (built here from paperpack/base:bookworm and removed afterwards)
when the base image exists, and skipped otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
IMAGE_DIR = ROOT / "tests" / "integration" / "run_image"
BUSY = "import time\nt0 = time.perf_counter()\nwhile time.perf_counter() - t0 < {s}:\n    pass\nprint('done')"


def make_repo(folder: Path, count: int, seconds: float) -> list[Path]:
    folder.mkdir(parents=True)
    (folder / "requirements.txt").write_text("")
    paths = []
    for i in range(count):
        nb = nbformat.v4.new_notebook(
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
        )
        nb.cells = [nbformat.v4.new_code_cell(f"n = {i}"), nbformat.v4.new_code_cell(BUSY.format(s=seconds))]
        path = folder / f"nb{i}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def timed(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(cmd: list[str]) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode not in (0, 1):  # 1: verdicts (no stored outputs is fine, nothing differs here)
        raise SystemExit(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def paperpack(*args: str) -> list[str]:
    return [sys.executable, "-m", "paperpack", "-q", "run", *args]


def docker_image(given: str | None) -> tuple[str | None, bool]:
    """(image, made_here)."""
    if given:
        return given, False
    if (
        not shutil.which("docker")
        or subprocess.run(
            ["docker", "image", "inspect", "paperpack/base:bookworm"], capture_output=True, check=False
        ).returncode
        != 0
    ):
        return None, False
    tag = "paperpack-test-run:bench-" + hashlib.sha256((IMAGE_DIR / "Dockerfile").read_bytes()).hexdigest()[:12]
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    secret = ["--secret", f"id=ca,src={ca}"] if ca.is_file() else []
    built = subprocess.run(
        ["docker", "build", "-q", "-t", tag, *secret, str(IMAGE_DIR)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    if built.returncode != 0:
        print(f"(no container figure: the test image did not build: {built.stderr[-500:]})")
        return None, False
    return tag, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", help="image for the container figure (default: build the test image)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--long", type=float, default=20.0, help="compute seconds of the long notebook")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="paperpack-bench-run-"))
    image, made = docker_image(args.image)
    try:
        repo = scratch / "eight"
        notebooks = make_repo(repo, 8, 0.5)
        out = scratch / "out"
        run(paperpack(str(repo), "--engine", "local", "-o", str(out)))  # build the local environment once

        def loop() -> None:
            for nb in notebooks:
                run([str(BIN / "jupyter"), "execute", "--output", str(scratch / "loop" / nb.name), str(nb)])

        (scratch / "loop").mkdir()
        print(f"8 notebooks × 0.5 s compute, {os.cpu_count()} cores, median of {args.repeat}")
        base = timed(loop, args.repeat)
        print(f"  sequential `jupyter execute` loop  {base:6.2f} s")
        local = timed(lambda: run(paperpack(str(repo), "--engine", "local", "-o", str(out))), args.repeat)
        print(f"  paperpack run --engine local       {local:6.2f} s   {base / local:4.1f}× faster (goal ≥ 3×)")
        if image:
            run(paperpack(str(repo), "--image", image, "-o", str(out)))  # warm the page cache
            container = timed(lambda: run(paperpack(str(repo), "--image", image, "-o", str(out))), args.repeat)
            print(
                f"  paperpack run --image (docker)     {container:6.2f} s   {base / container:4.1f}× faster "
                f"(goal ≥ 2.5×)"
            )
        else:
            print("  paperpack run --image (docker)     skipped: no Docker or no base image")

        long_repo = scratch / "long"
        (long_nb,) = make_repo(long_repo, 1, args.long)
        bare_code = (
            "import nbformat, sys\nfrom nbclient import NotebookClient\n"
            "nb = nbformat.read(sys.argv[1], as_version=4)\n"
            "NotebookClient(nb, resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
            "nbformat.write(nb, sys.argv[3])"
        )
        bare = timed(
            lambda: run([sys.executable, "-c", bare_code, str(long_nb), str(long_repo), str(scratch / "bare.ipynb")]),
            args.repeat,
        )
        ours = timed(lambda: run(paperpack(str(long_repo), "--engine", "local", "-o", str(out))), args.repeat)
        overhead = (ours - bare) / bare * 100
        print(f"one notebook × {args.long:g} s compute")
        print(f"  bare nbclient                      {bare:6.2f} s")
        print(f"  paperpack run --engine local       {ours:6.2f} s   overhead {overhead:+.1f} % (goal < 10 %)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if made and image:
            subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=False)


if __name__ == "__main__":
    main()
