"""Discovery agrees with repo2docker 2026.4.0, file for file, without changing directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import CASES, SAMPLE
from paperpack.environment import BUILDPACKS, LEGACY_PYTHON, SUPPORTED_PYTHON, detect, parse_runtime
from paperpack.environment.files import parse_conda_spec, parse_environment_yml, parse_pipfile, parse_requirements_txt
from paperpack.repository.repo import Repo

# repo2docker's own detect() needs chdir, so it runs in a child process (test only).
R2D_PROBE = textwrap.dedent("""
    import json, os, sys
    from repo2docker.app import Repo2Docker
    out = {}
    for d in sys.argv[1:]:
        os.chdir(d)
        try:
            picked = next((type(bp).__name__ for bp in (BP(base_image="x") for BP in Repo2Docker().buildpacks)
                           if bp.detect()), "PythonBuildPack")
        except (RuntimeError, ValueError) as exc:
            picked = "refused: " + type(exc).__name__
        out[d] = picked
    print(json.dumps(out))
""")

EXTRA = {
    "nix": {"default.nix": "with import <nixpkgs> {}; mkShell {}\n", "requirements.txt": "numpy==2.4.6\n"},
    "julia-require": {"REQUIRE": "julia 0.6\n"},
    "pipfile-lock-only": {
        "Pipfile.lock": json.dumps(
            {
                "_meta": {"requires": {"python_version": "3.11"}},
                "default": {"numpy": {"version": "==2.4.6"}},
                "develop": {},
            }
        )
    },
    "environment-yaml": {"environment.yaml": "dependencies:\n  - numpy=2.4.6\n", "requirements.txt": "x==1\n"},
    "dotbinder-conda": {".binder/environment.yml": "dependencies: [numpy=2.4.6]\n", "Dockerfile": "FROM x\n"},
    "binder-dockerfile": {"binder/Dockerfile": "FROM x\n", "binder/requirements.txt": "numpy==2.4.6\n"},
    "pyproject-tool-only": {"pyproject.toml": "[tool.black]\nline-length = 100\n"},
    "r-runtime-pipfile": {"runtime.txt": "r-2024-01-15\n", "Pipfile": "[packages]\nnumpy = '*'\n"},
    "python-runtime-with-conda": {"runtime.txt": "python-3.12\n", "environment.yml": "dependencies: [numpy=2.4.6]\n"},
}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


@pytest.fixture(scope="module")
def all_repos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("extra")
    # every environment fixture: validate's (env-*), the build plan's (build-*) and the dependency ones (dep-*)
    repos = sorted(p for p in CASES.iterdir() if p.name.startswith(("env-", "build-", "dep-"))) + [SAMPLE]
    for name, files in EXTRA.items():
        _write(base / name, files)
        repos.append(base / name)
    return repos


def test_same_buildpack_as_repo2docker(all_repos: list[Path]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", R2D_PROBE, *map(str, all_repos)], capture_output=True, text=True, timeout=120, check=True
    )
    theirs = json.loads(out.stdout)
    cwd = os.getcwd()
    for repo in all_repos:
        env = detect(Repo.open(repo, manifest=False))
        codes = {p.code for p in env.problems}
        expected = theirs[str(repo)]
        if expected == "refused: RuntimeError":
            assert codes & {"binder-both", "julia-require", "requires-python", "legacy-dockerfile"}, repo.name
        elif expected == "refused: ValueError":
            assert "runtime-invalid" in codes, repo.name
        else:
            assert env.buildpack == expected, (repo.name, env.buildpack, expected)
    assert os.getcwd() == cwd


def test_buildpack_order_and_python_versions_are_repo2dockers() -> None:
    code = (
        "import os, re\n"
        "from repo2docker.app import Repo2Docker\n"
        "from repo2docker.buildpacks import conda\n"
        "from repo2docker.buildpacks.conda.supported_python_version import SUPPORTED_PYTHON_VERSION as V\n"
        "locks = sorted(m.group(1) for f in os.listdir(os.path.dirname(conda.__file__))\n"
        "               if (m := re.fullmatch(r'environment.py-([0-9.]+)-linux-64.lock', f)))\n"
        "print(' '.join(b.__name__ for b in Repo2Docker().buildpacks)); print(' '.join(V)); print(' '.join(locks))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    order, versions, locks = out.stdout.splitlines()
    assert [b.name for b in BUILDPACKS] == order.split()
    assert list(SUPPORTED_PYTHON) == versions.split()
    assert set(LEGACY_PYTHON) | set(SUPPORTED_PYTHON) == set(locks.split())


def test_sample_paper() -> None:
    env = detect(SAMPLE)
    assert env.buildpack == "PythonBuildPack" and env.config_dir == "" and env.language == "python"
    assert env.files == ["requirements.txt", "runtime.txt"]
    assert env.python_version == "3.11" and env.kernels == {"python"}
    assert [(r.name, r.specifier, r.pinned, r.line) for r in env.requirements] == [
        ("numpy", "==2.4.6", True, 1),
        ("scipy", "==1.17.1", True, 2),
        ("matplotlib", "==3.11.2", True, 3),
        ("pandas", "==3.1.1", True, 4),
    ]
    d = env.to_dict()
    assert d["summary"] == "PythonBuildPack: requirements.txt, runtime.txt, Python 3.11"
    assert json.loads(json.dumps(d)) == d


def test_dockerfile_shadows_and_binder_wins(tmp_path: Path) -> None:
    _write(tmp_path, EXTRA["dotbinder-conda"] | {"requirements.txt": "numpy==1\n", ".binder/requirements.txt": "x\n"})
    env = detect(tmp_path)
    assert env.buildpack == "CondaBuildPack" and env.config_dir == ".binder"
    ignored = dict(env.ignored)
    assert "only from there" in ignored["Dockerfile"] and "only from there" in ignored["requirements.txt"]
    assert "uses conda and ignores requirements.txt" in ignored[".binder/requirements.txt"]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("python-3.11", ("python", "3.11", None)),
        ("python-3.11.4\n", ("python", "3.11.4", None)),
        ("r-4.3-2024-01-15", ("r", "4.3", "2024-01-15")),
        ("r-2024-01-15", ("r", None, "2024-01-15")),
    ],
)
def test_runtime_forms(text: str, parsed: tuple[str, str | None, str | None]) -> None:
    runtime = parse_runtime(text)
    assert (runtime.name, runtime.version, runtime.date) == parsed


@pytest.mark.parametrize("text", ["python3.11", "python-", "r-4.3-2024-1", "python-3.11-x-y"])
def test_runtime_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_runtime(text)


def test_requirements_txt_details(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "Scikit_Learn[alldeps]==1.5.0 ; python_version >= '3.9'  # comment\n"
        "numpy==2.4.6 --hash=sha256:abc\n"
        "-e .\n"
        "git+https://example.org/repo.git\n"
        "scipy \\\n  >=1.10\n"
        "-c constraints.txt\n"
        "not a requirement!!\n"
    )
    pip = parse_requirements_txt(tmp_path, "requirements.txt")
    reqs, problems, local, files = pip.requirements, pip.problems, pip.local, pip.files
    assert [(r.name, r.specifier, r.pinned, r.line) for r in reqs] == [
        ("scikit-learn", "==1.5.0", True, 1),
        ("numpy", "==2.4.6", True, 2),
        ("scipy", ">=1.10", False, 5),
    ]
    assert local == ["-e .", "git+https://example.org/repo.git"]
    assert [(p.code, p.line) for p in problems] == [("requirement-invalid", 8)]
    assert files == ["requirements.txt"]


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("numpy=1.26.4=py311h64a7726_0", ("numpy", "==1.26.4", True, "py311h64a7726_0")),
        ("numpy=1.26", ("numpy", "==1.26.*", True, None)),  # conda's =1.26 is fuzzy: 1.26.*, as the build reads it
        ("numpy=1", ("numpy", "==1.*", False, None)),
        ("numpy=1.26.*", ("numpy", "==1.26.*", True, None)),
        ("conda-forge::xarray>=2024.1", ("xarray", ">=2024.1", False, None)),
        ("pandas", ("pandas", "", False, None)),
        ("scipy==1.13.1", ("scipy", "==1.13.1", True, None)),
        ("scipy==1.13.*", ("scipy", "==1.13.*", True, None)),
    ],
)
def test_conda_specs(spec: str, parsed: tuple[str, str, bool, str | None]) -> None:
    found = parse_conda_spec(spec)
    assert found is not None and (found.name, found.specifier, found.pinned, found.build) == parsed


def test_environment_yml_r_kernel_and_python(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text("dependencies:\n  - python=3.12.3\n  - r-base=4.3\n  - r-irkernel\n")
    conda = parse_environment_yml(tmp_path, "environment.yml")
    assert conda.python == "3.12" and conda.problems == [] and "r-base" in conda.conda_names
    env = detect(tmp_path)
    assert env.kernels == {"python", "r"} and env.python_version == "3.12"


def test_environment_yml_pip_include_makes_requirements_txt_used(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "binder/environment.yml": "dependencies:\n  - pip\n  - pip:\n    - -r requirements.txt\n",
            "binder/requirements.txt": "numpy==2.4.6\n",
        },
    )
    env = detect(tmp_path)
    assert env.files == ["binder/environment.yml", "binder/requirements.txt"] and env.ignored == []
    assert [(r.name, r.path, r.line) for r in env.requirements] == [("numpy", "binder/requirements.txt", 1)]


def test_pipfile_lock_wins_over_pipfile(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text("[packages]\nnumpy = '*'\n")
    (tmp_path / "Pipfile.lock").write_text(json.dumps({"default": {"numpy": {"version": "==2.4.6"}}}, indent=2))
    pipenv = parse_pipfile(tmp_path, "Pipfile", "Pipfile.lock")
    reqs = pipenv.requirements
    assert [(r.name, r.pinned, r.source, r.line) for r in reqs] == [("numpy", True, "Pipfile.lock", 3)]
    env = detect(tmp_path)
    assert env.buildpack == "PipfileBuildPack" and env.files == ["Pipfile", "Pipfile.lock"]


def test_requirements_include_outside_repository_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r ../secret.txt\nnumpy==2.4.6\n")
    pip = parse_requirements_txt(tmp_path, "requirements.txt")
    reqs, files = pip.requirements, pip.files
    assert [r.name for r in reqs] == ["numpy"] and files == ["requirements.txt"]


def test_tool_only_pyproject_is_not_an_environment_file(tmp_path: Path) -> None:
    _write(tmp_path, {"pyproject.toml": "[tool.black]\nline-length = 100\n", "requirements.txt": "numpy==2.4.6\n"})
    env = detect(tmp_path)
    assert env.files == ["requirements.txt"] and env.ignored == []
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\ndependencies = ['scipy']\n")
    assert [p for p, _ in detect(tmp_path).ignored] == ["pyproject.toml"]
    assert "no [build-system]" in detect(tmp_path).ignored[0][1]


def test_symlink_inside_is_followed_like_repo2docker(tmp_path: Path) -> None:
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "reqs.txt").write_text("numpy==2.4.6\n")
    os.symlink("env/reqs.txt", tmp_path / "requirements.txt")
    env = detect(tmp_path)
    assert env.files == ["requirements.txt"] and [r.name for r in env.requirements] == ["numpy"]


def test_symlink_leading_outside_is_not_read(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "elsewhere.txt").write_text("numpy\n")
    os.symlink(tmp_path / "elsewhere.txt", repo / "requirements.txt")
    env = detect(repo)
    assert env.requirements == [] and env.files == []
    assert [(p.code, p.path) for p in env.problems] == [("link-outside", "requirements.txt")]


@pytest.mark.parametrize(
    ("pipfile", "section", "kind", "line"),
    [
        ('packages = ["numpy"]\n', "packages", "a list", 1),
        ('# tools\n"dev-packages" = "pytest"\n', "dev-packages", "a string", 2),
        ("[packages]\nnumpy = '*'\n[foo]\nrequires = 3\n", None, None, None),  # a key named so in another table
        ("requires = 3.11\n[packages]\nnumpy = '*'\n", "requires", "a number", 1),
    ],
)
def test_a_pipfile_table_of_another_shape_is_named_not_crashed_on(
    tmp_path: Path, pipfile: str, section: str | None, kind: str | None, line: int | None
) -> None:
    """An untrusted Pipfile whose tables are arrays or strings: a finding with its line, never a traceback."""
    from paperpack import validate

    (tmp_path / "Pipfile").write_text(pipfile)
    env = detect(tmp_path)
    toml = [(p.path, p.line, p.message) for p in env.problems if p.code == "toml-invalid"]
    if section is None:
        assert toml == [] and [r.name for r in env.requirements] == ["numpy"], toml
        return
    assert [(path, at) for path, at, _ in toml] == [("Pipfile", line)], toml
    assert toml[0][2].startswith(f"[{section}] is {kind}, not a table"), toml
    findings = [f for f in validate(tmp_path, offline=True).findings if f.path == "Pipfile"]
    assert any(f.line == line and f"[{section}] is {kind}" in f.message for f in findings), findings


def test_odd_values_in_a_pipfile_and_its_lock_are_read_as_far_as_they_go(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text(
        "[packages]\nplots = {version = '>=3', extras = [1, 'fast']}\n[requires]\npython_version = '3.11'\n"
    )
    pipenv = parse_pipfile(tmp_path, "Pipfile", None)
    assert [r.name for r in pipenv.requirements] == ["plots"] and pipenv.python == "3.11", pipenv
    from paperpack.environment.files import PipfileEntry

    assert PipfileEntry("packages", "plots", {"version": ">=3", "extras": [1, "fast"]}, 1).requirement == (
        "plots[1,fast]>=3"
    )
    for lock, read, python in (
        ({"default": ["numpy"], "_meta": []}, [("plots", "Pipfile", False)], "3.11"),  # nothing read: the Pipfile
        ({"default": {"numpy": {"version": 2}}, "_meta": {"requires": []}}, [("numpy", "Pipfile.lock", False)], None),
    ):
        (tmp_path / "Pipfile.lock").write_text(json.dumps(lock))
        pipenv = parse_pipfile(tmp_path, "Pipfile", "Pipfile.lock")
        assert [(r.name, r.source, r.pinned) for r in pipenv.requirements] == read, (lock, pipenv)
        assert pipenv.problems == [] and pipenv.python == python, pipenv
    (tmp_path / "Pipfile.lock").write_text("[]")
    pipenv = parse_pipfile(tmp_path, "Pipfile", "Pipfile.lock")
    assert [(p.code, p.path, p.line) for p in pipenv.problems] == [("json-invalid", "Pipfile.lock", 1)], pipenv
    assert "the file is a list, not the JSON object pipenv writes" in pipenv.problems[0].message


@pytest.mark.parametrize("written", ["3.10", "3.11", "3"])
def test_a_python_version_written_as_a_number_is_named_not_misread(tmp_path: Path, written: str) -> None:
    """TOML reads ``python_version = 3.10`` as the number 3.1: never taken as the paper's Python, a finding instead."""
    (tmp_path / "Pipfile").write_text(f"[packages]\nnumpy = '*'\n\n[requires]\npython_version = {written}  # ours\n")
    pipenv = parse_pipfile(tmp_path, "Pipfile", None)
    assert pipenv.python is None, pipenv
    assert [(p.code, p.path, p.line) for p in pipenv.problems] == [("toml-invalid", "Pipfile", 5)], pipenv
    assert pipenv.problems[0].message.endswith(f'write it as a string: python_version = "{written}"'), pipenv
