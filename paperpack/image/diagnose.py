"""Turn a failed ``docker buildx build`` log into the failing step, the last lines and a hint."""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet

__all__ = ["Diagnosis", "diagnose", "step_of", "GATE_TIMEOUT", "GATE_NETWORK_UP"]

#: what a build step's gate (:mod:`paperpack.image.buildpack`) says when it fails the step before it runs
GATE_TIMEOUT = "paperpack: the build guard did not limit this step within 60 s"
GATE_NETWORK_UP = "paperpack: the network of this build step is still up"

_STEP = re.compile(r"^#(\d+) \[(?:[^\]]*?\s)?(\d+/\d+)\] (.+)$")
_INTERNAL = re.compile(r"^#(\d+) \[(internal|auth)\] (.+)$")
_ERROR = re.compile(r"^#(\d+) ERROR: (.+)$")


@dataclass
class Diagnosis:
    step: str  # e.g. "[12/20] RUN ./postBuild"
    tail: str  # the last lines of that step's output
    hint: str
    cause: str  # one line: what went wrong


def step_of(line: str) -> str | None:
    """``"[ 3/20] RUN …"`` when a BuildKit plain-progress line starts a step."""
    m = _STEP.match(line)
    return f"[{m.group(2)}] {m.group(3)}" if m else None


def _short(step: str, width: int = 160) -> str:
    """A step as people read it: without paperpack's mount flags and CA preamble."""
    step = re.sub(r"--mount=\S+\s*", "", step)
    step = re.sub(
        r"if \[ -f /run/secrets/paperpack-\S+ \]; then .*?; fi && (unset [^&]*&& )?", "", step
    )  # the guard's gate
    step = re.sub(r"(if \[ -f /run/secrets/\S+ \]; then .*? && )?export PIP_NO_CACHE_DIR=1 && ", "", step)
    step = re.sub(r"\s+", " ", step)
    return step if len(step) <= width else step[: width - 1] + "…"


def _step_output(lines: list[str], number: str) -> list[str]:
    prefix = f"#{number} "
    return [ln[len(prefix) :] for ln in lines if ln.startswith(prefix)]


def _other_python(text: str, req: str, python: str | None, source: str | None, available: tuple[str, ...]) -> str:
    """The end of a no-matching-distribution hint: another Python only where one would work.

    pip lists the releases it skipped for their ``Requires-Python``; when the pinned
    release is among them, the hint names the Pythons of ``available`` it admits, and
    the file that sets the Python (``source``). Without that evidence it offers nothing.
    """
    m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^,;\s]+)", req)
    skipped = re.search(r"Ignored the following versions that require a different python version: (.*)", text)
    if not m or not skipped:
        return ""
    for entry in skipped.group(1).split("; "):
        version, _, spec = entry.partition(" Requires-Python ")
        if version.strip() != m.group(2):
            continue
        try:
            fits = [v for v in available if v != python and SpecifierSet(spec.strip()).contains(v + ".0")]
        except InvalidSpecifier:
            return ""
        if not fits:
            return (
                f" No Python this build can use ({', '.join(available)}) satisfies its "
                f"Requires-Python {spec.strip()}, so only another version of it can work."
            )
        if source and source != "default":
            return f" Or set Python {' or '.join(fits)} in {source} (its Requires-Python is {spec.strip()})."
        return f" Or declare Python {' or '.join(fits)} in runtime.txt (its Requires-Python is {spec.strip()})."
    return ""


def _said(text: str) -> set[str]:
    """The gate's messages the step printed (not its command line, which holds them too)."""
    return {
        gate
        for m in re.finditer(r"^(#\d+ )?[\d.]+ (.*)$", text, re.M)
        for gate in (GATE_TIMEOUT, GATE_NETWORK_UP)
        if m.group(2).startswith(gate)
    }


def _hint(
    text: str,
    step: str,
    python: str | None,
    release: str | None,
    source: str | None = None,
    available: tuple[str, ...] = (),
) -> tuple[str, str]:
    said = _said(text)
    if GATE_TIMEOUT in said:  # before the step's own patterns: nothing of the step ran
        return (
            "the build guard did not limit this step within 60 s, so the step did not run",
            "paperpack (as root, on cgroup v1) looks for each step it generates under "
            "/sys/fs/cgroup/pids/buildkit/ and /sys/fs/cgroup/pids/*/buildkit/, where Docker's cgroupfs driver "
            "puts it, and limits it before it runs: check that `docker info` shows 'Cgroup Driver: cgroupfs' and "
            "read paperpack's warnings above; rerun, and if it fails again report it with the output of "
            "`docker info` (docs/build.md, 'Build limits').",
        )
    if GATE_NETWORK_UP in said:
        return (
            "the network of a step that runs the paper's package builds was still up, so the step did not run",
            "the build guard took the step's network down, but an interface (named above) was not down when "
            "the step started: rerun, and if it fails again report it with that line and the output of "
            "`docker info` (docs/build.md, 'Build limits').",
        )
    py = f"Python {python}" if python else "this Python"
    deb = f"Debian {release}" if release else "the base image's Debian release"
    m = re.search(r"No matching distribution found for ([^\s]+)", text)
    if m:
        req = m.group(1)
        versions = re.search(r"\(from versions: ([^)]*)\)", text)
        seen = f" (versions pip could use here: {versions.group(1)[-120:]})" if versions and versions.group(1) else ""
        return (
            f"pip found no release of {req} installable on {py}",
            f"{req}: no release matches, or none has a wheel for {py}{seen}. Pin a version that exists and "
            f"supports {py}.{_other_python(text, req, python, source, available)}",
        )
    m = re.search(r"Unable to locate package (\S+)", text) or re.search(
        r"Package '?([^' ]+)'? has no installation candidate", text
    )
    if m:
        return (
            f"apt package {m.group(1)} does not exist in {deb}",
            f"apt.txt names {m.group(1)!r}, which {deb} does not have: check the name on packages.debian.org "
            f"(search the {release or 'matching'} release) and fix apt.txt.",
        )
    m = re.search(r"load metadata for (\S+)", step)
    if m:
        return (
            f"cannot fetch the base image {m.group(1)}",
            f"{m.group(1)} is neither in the local image store nor reachable (no Docker Hub here?): build with "
            "--mode offline from a local base image (`paperpack base-image`), or `docker load` the image first.",
        )
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSLError" in text:
        return (
            "TLS verification failed while downloading",
            "a proxy intercepts TLS: pass its CA bundle with --ca-bundle FILE (or set REQUESTS_CA_BUNDLE); "
            "it is mounted only into download steps and never stored in the image.",
        )
    if (
        "Failed building wheel" in text
        or "subprocess-exited-with-error" in text
        or "metadata-generation-failed" in text
    ):
        collected = re.findall(r"Collecting (\S+)", text)
        sdists = re.findall(r"Downloading (\S+\.(?:tar\.gz|zip))", text)
        what = collected[-1] if collected else "a package"
        name = re.split(r"[=<>!~\[;@ ]", what)[0] if collected else "the package"  # the project's name
        source = f" (pip fetched the source, {sdists[-1]})" if sdists else ""
        compiler = " There is no C compiler in the image." if "Unknown compiler" in text else ""
        return (
            f"{what} has no wheel for {py}{source} and building it from source failed",
            f"pin a version of {name} that publishes wheels for {py} "
            f"(see its 'Download files' page on PyPI).{compiler} Building from source needs the compilers "
            "and libraries in apt.txt.",
        )
    if "postBuild" in step:
        return (
            "postBuild failed",
            "postBuild exited with an error: run it by hand in the image to debug (`paperpack build "
            "--no-run` then `docker run -it IMAGE bash`), and make it fail loudly with `set -euo pipefail`.",
        )
    if "ModuleNotFoundError" in text or "ImportError" in text:
        return ("an import failed during the build", "a package is missing: declare it in requirements.txt")
    return ("the build step failed", "read the step's last lines above; the full log is in the build log file")


def diagnose(
    lines: list[str],
    *,
    python: str | None = None,
    release: str | None = None,
    tail_lines: int = 20,
    source: str | None = None,
    available: tuple[str, ...] = (),
) -> Diagnosis:
    """Find the failing step in BuildKit plain-progress output and say what to do.

    ``source`` is the file that set the Python (``runtime.txt``, ``environment.yml``…) and
    ``available`` the Pythons the build mode can give: another Python is suggested only
    when pip's output shows that one of them would install the pinned release.
    """
    steps: dict[str, str] = {}
    failed: str | None = None
    for ln in lines:
        m = _STEP.match(ln) or _INTERNAL.match(ln)
        if m:
            steps.setdefault(m.group(1), f"[{m.group(2)}] {m.group(3)}")
        e = _ERROR.match(ln)
        if e and failed is None:
            failed = e.group(1)
    if failed is not None:
        output = _step_output(lines, failed)
        step = _short(steps.get(failed, f"step #{failed}"))
    else:
        output, step = lines, "unknown step"
    tail = "\n".join(output[-tail_lines:])
    cause, hint = _hint("\n".join(output[-400:]), step, python, release, source, available)
    return Diagnosis(step=step, tail=tail, hint=hint, cause=cause)
