"""Benchmark: ``paperpack validate`` against the tools people use today to check notebooks.

Generates (once; reused under ``benchmarks/.work/``) a repository of 1,000 notebooks of 40 cells
each, with code, markdown, stream and PNG outputs (~130 MB in all), then times, interleaved in
the same run and repeated:

* ``paperpack validate --offline --format json``: the CLI entry point called in-process
  (``paperpack.cli.main.main``, stdout discarded), default settings (one process);
* the same through the library with ``jobs=2`` (notebooks read by two worker processes);
* ``nbformat.read`` + ``nbformat.validate`` over every file (what people write today);
* a bare ``json.loads(path.read_bytes())`` loop (the floor: just parsing the JSON).

Prints the median of each and the ratios. Then the same as whole processes, interpreter start-up
included (what a user feels), interleaved and repeated:

* ``paperpack validate --offline`` on the corpus against one process looping ``nbformat.read`` +
  ``nbformat.validate`` over it (goal: at least 5x faster);
* ``paperpack validate --offline`` of a one-notebook repository against ``python -c 'import nbformat'``
  (goal: within 1.5x).

Run:  .venv/bin/python benchmarks/bench_validate.py [--repeat 5] [--processes-only]

``--closure`` measures the dependency closure instead (:mod:`paperpack.environment.closure`): a small repository
whose notebook imports a package only a declared one brings, resolved by pip against a package index
on 127.0.0.1 (tiny wheels, ``tests/pkgindex.py``). It prints the cold resolution (once per set of
requirements) and what a warm cache adds to ``validate`` compared with the same repository validated
with ``resolve_dependencies`` off; goal: under 50 ms.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import random
import statistics
import sys
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
SPEC = {"notebooks": 1000, "cells": 40, "version": 2}


def _png(rng: random.Random, size: int = 52) -> str:
    """A real PNG (noise, so it does not compress), base64 as Jupyter stores it."""
    raw = b"".join(b"\x00" + bytes(rng.getrandbits(8) for _ in range(size * 3)) for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", size.to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00")
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )
    return base64.b64encode(png).decode() + "\n"


def _notebook(i: int, pngs: list[str], rng: random.Random) -> dict:
    cells = [
        {
            "cell_type": "markdown",
            "id": f"m{i}-0",
            "metadata": {},
            "source": [f"# Analysis {i}\n", "Re-runs the figures of section 3.\n"],
        },
        {
            "cell_type": "code",
            "id": f"c{i}-1",
            "execution_count": 1,
            "metadata": {},
            "outputs": [],
            "source": ["import numpy as np\n", "import matplotlib.pyplot as plt\n", "import pandas as pd"],
        },
    ]
    count = 1
    for j in range(2, SPEC["cells"]):
        if j % 5 == 0:
            cells.append(
                {
                    "cell_type": "markdown",
                    "id": f"m{i}-{j}",
                    "metadata": {},
                    "source": [f"## Step {j}\n", "We fit the model and plot the residuals. " * 4],
                }
            )
            continue
        count += 1
        outputs: list[dict] = [
            {
                "output_type": "stream",
                "name": "stdout",
                "text": [f"mean {rng.random():.6f} std {rng.random():.6f}\n"] * 4,
            }
        ]
        if j % 3 == 0:
            outputs.append(
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {
                        "image/png": pngs[rng.randrange(len(pngs))],
                        "text/plain": ["<Figure size 640x480 with 1 Axes>"],
                    },
                }
            )
        cells.append(
            {
                "cell_type": "code",
                "id": f"c{i}-{j}",
                "execution_count": count,
                "metadata": {},
                "outputs": outputs,
                "source": [
                    f"x{j} = np.linspace(0, {j}, {100 + i})\n",
                    f"y{j} = np.sin(x{j}) * {rng.random():.4f}\n",
                    f"plt.plot(x{j}, y{j})\n",
                    f"print('mean', y{j}.mean(), 'std', y{j}.std())",
                ],
            }
        )
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python", "version": "3.11.7"},
        },
    }


def generate(root: Path) -> Path:
    repo = root / "nb1000"
    stamp = repo / ".bench-spec.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == SPEC:
        return repo
    repo.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    pngs = [_png(rng) for _ in range(64)]
    for i in range(SPEC["notebooks"]):
        folder = repo / f"part{i // 100:02d}"
        folder.mkdir(exist_ok=True)
        (folder / f"analysis_{i:04d}.ipynb").write_text(json.dumps(_notebook(i, pngs, rng), indent=1))
    (repo / "requirements.txt").write_text("numpy==1.26.4\nmatplotlib==3.8.4\npandas==2.2.2\n")
    stamp.write_text(json.dumps(SPEC))
    return repo


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the worker processes)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _files(repo: Path) -> list[Path]:
    return sorted(repo.rglob("*.ipynb"))


def run_paperpack_cli(repo: Path) -> None:
    from paperpack.cli.main import main

    with contextlib.redirect_stdout(io.StringIO()):
        main(["validate", str(repo), "--offline", "--format", "json"])


def run_paperpack_jobs2(repo: Path) -> None:
    from paperpack.checks import CheckContext
    from paperpack.validate import validate

    report = validate(repo, context=CheckContext(offline=True, options={"jobs": 2}))
    json.dumps(report.to_dict(False))


def run_nbformat(repo: Path) -> None:
    import nbformat

    for path in _files(repo):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)


def run_json(repo: Path) -> None:
    for path in _files(repo):
        json.loads(path.read_bytes())


NBFORMAT_LOOP = """
import sys
from pathlib import Path
import nbformat
for path in sorted(Path(sys.argv[1]).rglob("*.ipynb")):
    nbformat.validate(nbformat.read(path, as_version=4))
"""


def one_notebook_repo(root: Path) -> Path:
    """A repository of one small notebook, its requirements and runtime.txt (made once)."""
    repo = root / "one-notebook"
    if not (repo / "analysis.ipynb").is_file():
        repo.mkdir(parents=True, exist_ok=True)
        cell = {
            "cell_type": "code",
            "id": "c1",
            "execution_count": 1,
            "metadata": {},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["3.141592653589793\n"]}],
            "source": ["import numpy as np\n", "print(np.pi)"],
        }
        meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
        (repo / "analysis.ipynb").write_text(
            json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": meta, "cells": [cell]})
        )
        (repo / "requirements.txt").write_text("numpy==1.26.4\n")
        (repo / "runtime.txt").write_text("python-3.11\n")
    return repo


def _process(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU time of one whole process, start-up included; its output discarded.

    Bytecode caches are written and used (PYTHONDONTWRITEBYTECODE dropped), as for an installed
    wheel: otherwise an editable install recompiles paperpack in every process and nbformat not.
    """
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start, start_cpu = time.perf_counter(), _cpu()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
    return time.perf_counter() - start, _cpu() - start_cpu


def bench_processes(repo: Path, small: Path, repeat: int) -> None:
    paperpack = str(Path(sys.executable).with_name("paperpack"))
    contenders = {
        "paperpack validate --offline (corpus)": [paperpack, "validate", str(repo), "--offline"],
        "nbformat read+validate loop (corpus)": [sys.executable, "-c", NBFORMAT_LOOP, str(repo)],
        "paperpack validate --offline (1 notebook)": [paperpack, "validate", str(small), "--offline"],
        "python -c 'import nbformat'": [sys.executable, "-c", "import nbformat"],
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    for argv in contenders.values():
        _process(argv)  # warm the page cache and write the bytecode caches
    load = os.getloadavg()[0]
    for rep in range(repeat):
        names = list(contenders)
        names = names[rep % len(names) :] + names[: rep % len(names)]
        for name in names:
            wall, used = _process(contenders[name])
            times[name].append(wall)
            cpu[name].append(used)
    med = {name: statistics.median(t) for name, t in times.items()}
    med_cpu = {name: statistics.median(t) for name, t in cpu.items()}
    print(
        f"\nwhole processes (interpreter start-up included), load average {load:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after (2 cores: above 2, wall times are shared; CPU times less so):"
    )
    for name, t in times.items():
        print(
            f"{name:45s} median {med[name]:6.2f} s wall, {med_cpu[name]:6.2f} s CPU   "
            f"runs {' '.join(f'{x:.2f}' for x in t)}"
        )
    pp, nbf = "paperpack validate --offline (corpus)", "nbformat read+validate loop (corpus)"
    one, imp = "paperpack validate --offline (1 notebook)", "python -c 'import nbformat'"
    print(
        f"corpus: paperpack validate is {med[nbf] / med[pp]:.1f}x faster than the nbformat loop by wall time, "
        f"{med_cpu[nbf] / med_cpu[pp]:.1f}x by CPU (goal >= 5x)"
    )
    print(
        f"one notebook: paperpack validate takes {med[one] / med[imp]:.2f}x `import nbformat` by wall time, "
        f"{med_cpu[one] / med_cpu[imp]:.2f}x by CPU (goal <= 1.5x)"
    )


def _small_repo(root: Path, requirements: str) -> Path:
    root.mkdir(parents=True)
    (root / "requirements.txt").write_text(requirements)
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {},
        "outputs": [],
        "source": "import ubertool\nimport subpkg",
    }
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    (root / "analysis.ipynb").write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": meta, "cells": [cell]})
    )
    return root


def bench_closure(repeat: int) -> int:
    import tempfile

    sys.path.insert(0, str(HERE.parent / "tests"))
    from paperpack.checks import CheckContext
    from paperpack.validate import validate
    from pkgindex import PackageIndex  # the test suite's loopback index

    with tempfile.TemporaryDirectory() as tmp, PackageIndex() as index:
        index.add("ubertool", "1.0", ["subpkg>=1"])
        index.add("subpkg", "1.2", ["leafpkg"])
        index.add("leafpkg", "0.1")
        os.environ["PAPERPACK_PIP_INDEX_URL"] = index.url
        os.environ["PAPERPACK_CACHE_DIR"] = str(Path(tmp) / "cache")
        needs = _small_repo(Path(tmp) / "needs", "ubertool==1.0\n")
        direct = _small_repo(Path(tmp) / "direct", "ubertool==1.0\nsubpkg==1.2\n")
        start = time.perf_counter()
        validate(needs, resolve_dois=False)
        cold = time.perf_counter() - start
        print(f"cold resolution (pip against 127.0.0.1, 3 wheels): validate took {cold:.2f} s")
        validate(direct, resolve_dois=False)  # its own set, resolved once too
        after_cold = len(index.requests)
        warm: list[float] = []
        plain: list[float] = []
        for _ in range(repeat):
            for out, resolve in ((warm, True), (plain, False)):
                context = CheckContext(resolve_dois=False, options={"resolve_dependencies": resolve})
                start = time.perf_counter()
                validate(needs, context=context)
                out.append(time.perf_counter() - start)
        added = statistics.median(warm) - statistics.median(plain)
        print(
            f"warm cache: validate {statistics.median(warm) * 1000:.1f} ms, without resolution "
            f"{statistics.median(plain) * 1000:.1f} ms: the closure adds {added * 1000:.1f} ms (goal < 50 ms)"
        )
        print(f"index requests: {after_cold} in the two cold runs, {len(index.requests) - after_cold} in the warm runs")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--closure", action="store_true", help="measure the dependency closure instead")
    parser.add_argument("--processes-only", action="store_true", help="only the whole-process comparison")
    args = parser.parse_args(argv)
    if args.closure:
        return bench_closure(max(args.repeat, 20))
    repo = generate(args.work)
    small = one_notebook_repo(args.work)
    if args.processes_only:
        bench_processes(repo, small, args.repeat)
        return 0
    total = sum(p.stat().st_size for p in _files(repo))
    print(
        f"{len(_files(repo))} notebooks, {total / 1e6:.0f} MB, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    contenders = {
        "paperpack validate (CLI in-process)": run_paperpack_cli,
        "paperpack validate (library, jobs=2)": run_paperpack_jobs2,
        "nbformat.read + nbformat.validate loop": run_nbformat,
        "bare json.loads loop": run_json,
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    run_json(repo)  # warm the page cache and imports once
    run_paperpack_cli(repo)
    for rep in range(args.repeat):
        names = list(contenders)
        names = names[rep % len(names) :] + names[: rep % len(names)]  # rotate who goes first
        for name in names:
            start, start_cpu = time.perf_counter(), _cpu()
            contenders[name](repo)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(_cpu() - start_cpu)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores: above 2 means the timings are shared)")
    for name, t in times.items():
        print(
            f"{name:50s} median {med[name]:6.2f} s wall, {statistics.median(cpu[name]):6.2f} s CPU   "
            f"runs {' '.join(f'{x:.2f}' for x in t)}"
        )
    pp, two = med["paperpack validate (CLI in-process)"], med["paperpack validate (library, jobs=2)"]
    nbf, js = med["nbformat.read + nbformat.validate loop"], med["bare json.loads loop"]
    cpu_med = {name: statistics.median(t) for name, t in cpu.items()}
    pp_cpu, nbf_cpu = cpu_med["paperpack validate (CLI in-process)"], cpu_med["nbformat.read + nbformat.validate loop"]
    js_cpu = cpu_med["bare json.loads loop"]
    print(
        f"nbformat loop / paperpack: {nbf / pp:.1f}x faster by wall time, {nbf_cpu / pp_cpu:.1f}x by CPU "
        f"(goal >= 5x); jobs=2: {nbf / two:.1f}x wall"
    )
    print(
        f"paperpack / json.loads: {pp / js:.2f}x by wall time, {pp_cpu / js_cpu:.2f}x by CPU (goal <= 3x); "
        f"jobs=2: {two / js:.2f}x wall"
    )
    bench_processes(repo, small, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
