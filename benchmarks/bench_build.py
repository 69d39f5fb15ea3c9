"""paperpack build vs plain repo2docker: same tiny repo, same offline buildpack, same run.

Each round makes two throw-away base images (the local Debian base plus a unique
LABEL: same layers, new image id), so both tools start with a cold BuildKit layer
cache, identically. pip's download cache (a BuildKit cache mount, never in an image)
is shared, and warm for both after the first build. Alternates which tool goes first.
Then times an unchanged rebuild: paperpack (content-addressed tag, no docker build)
and plain repo2docker (reuse by image name).

    .venv/bin/python benchmarks/bench_build.py [--rounds 2] [--rebuilds 5]
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
import uuid
from pathlib import Path

from paperpack.image import build_image
from paperpack.image.baseimage import base_image_tag
from paperpack.image.builder import ca_bundle_from_env
from paperpack.repository.repo import Repo

R2D_CONFIG = """\
from repo2docker import contentproviders
from paperpack.image.buildpack import offline_buildpack
c.Repo2Docker.buildpacks = [offline_buildpack()]
c.Repo2Docker.content_providers = [contentproviders.Local, contentproviders.Git]
c.Repo2Docker.base_image = {base!r}
c.DockerEngine.extra_buildx_build_args = {extra!r}
"""


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def fresh_base(source: str, tag: str) -> str:
    subprocess.run(
        ["docker", "build", "-q", "-t", tag, "-"],
        check=True,
        capture_output=True,
        text=True,
        input=f"FROM {source}\nLABEL io.paperpack.bench={uuid.uuid4().hex}\n",
    )
    return tag


def make_repo(folder: Path, base: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "requirements.txt").write_text("numpy==1.26.4\n")
    (folder / "runtime.txt").write_text("python-3.11\n")
    (folder / "analysis.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n')
    (folder / "paperpack.yml").write_text(f"version: 1\nenvironment:\n  base_image: {base}\n")
    return folder


def time_paperpack(repo: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = build_image(Repo.open(repo), mode="offline", force=True)
    return time.perf_counter() - start, result.image


def time_repo2docker(repo: Path, base: str, image: str, tmp: Path) -> float:
    ca = ca_bundle_from_env()
    extra = ["--secret", f"id=cacert,src={ca}"] if ca else []
    config = tmp / f"r2d_config_{uuid.uuid4().hex}.py"
    config.write_text(R2D_CONFIG.format(base=base, extra=extra))
    cmd = [
        sys.executable,
        "-m",
        "repo2docker",
        "--config",
        str(config),
        "--no-run",
        "--user-id",
        "1000",
        "--user-name",
        "jovyan",
        "--image-name",
        image,
        str(repo),
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--rebuilds", type=int, default=5)
    args = ap.parse_args()
    source = base_image_tag("bookworm")
    docker("image", "inspect", source)  # fails loudly when missing: run `paperpack base-image`
    made: list[str] = []
    ours, theirs = [], []
    tmp = Path(tempfile.mkdtemp(prefix="paperpack-bench-"))
    try:
        for n in range(args.rounds):
            tag = uuid.uuid4().hex[:8]
            base_p = fresh_base(source, f"paperpack/bench-base:p{tag}")
            base_r = fresh_base(source, f"paperpack/bench-base:r{tag}")
            made += [base_p, base_r]
            repo_p = make_repo(tmp / f"p{n}" / "tiny-paper", base_p)
            repo_r = make_repo(tmp / f"r{n}" / "tiny-paper", base_r)
            image_r = f"paperpack-bench/plain-r2d:{tag}"
            order = ("paperpack", "repo2docker") if n % 2 == 0 else ("repo2docker", "paperpack")
            for who in order:
                if who == "paperpack":
                    seconds, image_p = time_paperpack(repo_p)
                    ours.append(seconds)
                    made.append(image_p)
                else:
                    theirs.append(time_repo2docker(repo_r, base_r, image_r, tmp))
                    made.append(image_r)
            print(f"round {n + 1}: paperpack {ours[-1]:.1f} s, repo2docker {theirs[-1]:.1f} s")
        # unchanged rebuilds (the last round's repositories and images)
        calls = tmp / "docker-calls"
        shim = tmp / "docker"
        shim.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {shutil.which("docker")} "$@"\n')
        shim.chmod(0o755)
        os.environ["PAPERPACK_DOCKER"] = str(shim)
        rebuild = []
        for _ in range(args.rebuilds):
            start = time.perf_counter()
            result = build_image(Repo.open(repo_p), mode="offline")
            rebuild.append(time.perf_counter() - start)
            if not result.reused:
                made.append(result.image)
                raise SystemExit("the unchanged rebuild was not reused: did paperpack's sources change mid-run?")
        del os.environ["PAPERPACK_DOCKER"]
        builds = [ln for ln in calls.read_text().splitlines() if ln.startswith(("build", "buildx"))]
        r2d_rebuild = [time_repo2docker(repo_r, base_r, image_r, tmp) for _ in range(args.rebuilds)]
    finally:
        for ref in reversed(made):
            subprocess.run(["docker", "image", "rm", ref], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    mo, mt = statistics.median(ours), statistics.median(theirs)
    mr, mr2 = statistics.median(rebuild), statistics.median(r2d_rebuild)
    print(
        f"\ncold build, median of {args.rounds}: paperpack {mo:.1f} s, plain repo2docker {mt:.1f} s, "
        f"ratio {mo / mt:.2f} (goal <= 1.10)"
    )
    print(
        f"unchanged rebuild, median of {args.rebuilds}: paperpack {mr:.3f} s (goal < 0.5 s), "
        f"docker build invoked {len(builds)} times (goal 0); plain repo2docker {mr2:.2f} s; "
        f"ratio {mr / mr2:.2f}"
    )
    return 0 if mo / mt <= 1.10 and mr < 0.5 and not builds else 1


if __name__ == "__main__":
    sys.exit(main())
