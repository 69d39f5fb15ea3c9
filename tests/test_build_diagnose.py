"""Failure diagnosis from BuildKit plain-progress logs (shapes taken from real failed builds)."""

from __future__ import annotations

from paperpack.image.buildpack import download_step
from paperpack.image.diagnose import diagnose, step_of

BAD_PIN = """\
#17 [stage-0 12/16] COPY --chown=1000:1000 src/requirements.txt /home/jovyan/requirements.txt
#17 DONE 0.0s
#18 [stage-0 13/16] RUN --mount=type=secret,id=cacert,mode=0444 /srv/venv/bin/pip install -r requirements.txt
#18 1.2 ERROR: Could not find a version that satisfies the requirement numpy==1.0.99 (from versions: 1.3.0, 2.4.6)
#18 1.2 ERROR: No matching distribution found for numpy==1.0.99
#18 ERROR: process "/bin/sh -c /srv/venv/bin/pip install -r requirements.txt" did not complete successfully: exit code: 1
------
 > [stage-0 13/16] RUN --mount=type=secret,id=cacert,mode=0444 /srv/venv/bin/pip install -r requirements.txt:
------
""".splitlines()

MISSING_APT = """\
#12 [stage-0  8/16] RUN apt-get -qq update && apt-get install --yes --no-install-recommends nope
#12 3.1 Reading package lists...
#12 3.3 E: Unable to locate package nope
#12 ERROR: process "/bin/sh -c apt-get -qq update" did not complete successfully: exit code: 100
""".splitlines()

POSTBUILD = """\
#20 [stage-0 15/17] RUN ./postBuild
#20 0.3 ./postBuild: line 3: frobnicate: command not found
#20 ERROR: process "/bin/sh -c ./postBuild" did not complete successfully: exit code: 127
""".splitlines()


def test_step_of_reads_plain_progress() -> None:
    assert step_of("#5 [stage-0  3/16] RUN echo hi") == "[3/16] RUN echo hi"
    assert step_of("#5 [internal] load metadata") is None
    assert step_of("#5 DONE 0.1s") is None


def test_bad_pin() -> None:
    d = diagnose(BAD_PIN, python="3.11", release="bookworm")
    assert d.step.startswith("[13/16] RUN")
    assert "numpy==1.0.99" in d.hint and "Python 3.11" in d.hint and "2.4.6" in d.hint
    assert "No matching distribution found" in d.tail
    assert "COPY" not in d.tail  # only the failing step's lines


def test_missing_apt_package() -> None:
    d = diagnose(MISSING_APT, python="3.11", release="bookworm")
    assert "nope" in d.cause and "Debian bookworm" in d.cause
    assert "apt.txt" in d.hint and "packages.debian.org" in d.hint


def test_postbuild_failure() -> None:
    d = diagnose(POSTBUILD)
    assert d.cause == "postBuild failed" and "frobnicate" in d.tail and "postBuild" in d.step


def test_unknown_failure_still_names_a_step() -> None:
    d = diagnose(["#3 [stage-0 2/9] RUN false", "#3 ERROR: process did not complete successfully: exit code: 1"])
    assert d.step == "[2/9] RUN false" and d.hint


def test_unreachable_base_image() -> None:
    log = [
        "#3 [internal] load metadata for docker.io/library/buildpack-deps:24.04",
        '#3 ERROR: failed to do request: Head "https://registry-1.docker.io/v2/": no such host',
    ]
    d = diagnose(log)
    assert d.step == "[internal] load metadata for docker.io/library/buildpack-deps:24.04"
    assert "buildpack-deps:24.04" in d.cause and "--mode offline" in d.hint and "paperpack base-image" in d.hint


NO_WHEEL = f"""\
#18 [stage-0 13/16] RUN {download_step("/srv/venv/bin/pip install -r requirements.txt")}
#18 1.280 Collecting numpy==1.26.4 (from -r requirements.txt (line 1))
#18 1.562   Downloading numpy-1.26.4.tar.gz (15.8 MB)
#18 13.66   error: subprocess-exited-with-error
#18 13.66       ../meson.build:1:0: ERROR: Unknown compiler(s): [['cc'], ['gcc']]
#18 13.66 error: metadata-generation-failed
#18 ERROR: executor failed running [/bin/sh -c pip install -r requirements.txt]: exit code: 1
""".splitlines()


def test_no_wheel_for_this_python() -> None:
    d = diagnose(NO_WHEEL, python="3.13", release="trixie")
    assert d.step == "[13/16] RUN /srv/venv/bin/pip install -r requirements.txt"  # mounts and CA preamble hidden
    assert d.cause == (
        "numpy==1.26.4 has no wheel for Python 3.13 (pip fetched the source, numpy-1.26.4.tar.gz) "
        "and building it from source failed"
    )
    assert "pin a version of numpy" in d.hint and "no C compiler" in d.hint


def test_no_wheel_without_a_collecting_line_names_no_fake_package() -> None:
    log = [ln for ln in NO_WHEEL if "Collecting" not in ln]
    d = diagnose(log, python="3.13", release="trixie")
    assert d.cause.startswith("a package has no wheel for Python 3.13")
    assert "pin a version of the package " in d.hint


def _needs_python(spec: str) -> list[str]:
    """A pin whose only release asks for ``spec``: pip skips it and says why."""
    return f"""\
#18 [stage-0 13/16] RUN /srv/venv/bin/pip install -r requirements.txt
#18 1.1 ERROR: Ignored the following versions that require a different python version: 2.2.0 Requires-Python >=3.10; 2.3.0 Requires-Python {spec}
#18 1.2 ERROR: Could not find a version that satisfies the requirement numpy==2.3.0 (from versions: 1.26.4)
#18 1.2 ERROR: No matching distribution found for numpy==2.3.0
#18 ERROR: process "/bin/sh -c /srv/venv/bin/pip install -r requirements.txt" did not complete successfully: exit code: 1
""".splitlines()


OFFLINE_PYTHONS = ("3.9", "3.11", "3.13")


def test_another_python_is_suggested_only_where_it_works() -> None:
    """Issue 9: "change runtime.txt" only when an available Python would install the pin, in the file that sets it."""
    d = diagnose(
        _needs_python(">=3.12"), python="3.11", release="bookworm", source="runtime.txt", available=OFFLINE_PYTHONS
    )
    assert "set Python 3.13 in runtime.txt" in d.hint and ">=3.12" in d.hint
    conda = diagnose(_needs_python(">=3.12"), python="3.11", source="binder/environment.yml", available=OFFLINE_PYTHONS)
    assert "set Python 3.13 in binder/environment.yml" in conda.hint and "runtime.txt" not in conda.hint
    none = diagnose(_needs_python(">=3.14"), python="3.11", source="runtime.txt", available=OFFLINE_PYTHONS)
    assert "runtime.txt" not in none.hint and "No Python this build can use (3.9, 3.11, 3.13)" in none.hint


def test_no_python_change_is_offered_without_evidence() -> None:
    for log, python in ((BAD_PIN, "3.11"), (NO_WHEEL, "3.13")):
        d = diagnose(log, python=python, source="environment.yml", available=OFFLINE_PYTHONS)
        assert "runtime.txt" not in d.hint and "Python 3.9" not in d.hint, d.hint
