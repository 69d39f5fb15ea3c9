"""conda packages seen from PyPI: the one table validate (dependency closure) and the offline build share.

An offline build has no conda: it installs an ``environment.yml``'s packages from PyPI. A
package whose PyPI name differs is renamed (:data:`CONDA_TO_PYPI`); one that is not a Python
distribution on PyPI (:func:`conda_only`) cannot be installed that way, and the Debian package
giving the same program is named instead (:data:`CONDA_ONLY`).
"""

from __future__ import annotations

from .files import Requirement

__all__ = [
    "METAPACKAGE_EXTRAS",
    "CONDA_TO_PYPI",
    "CONDA_ONLY",
    "CONDA_ONLY_PREFIXES",
    "PYPI_DESPITE_PREFIX",
    "conda_only",
    "pypi_name",
    "pip_requirement",
]

#: conda package name → PyPI distribution name, where they differ.
CONDA_TO_PYPI = {
    "pytorch": "torch",
    "matplotlib-base": "matplotlib",
    "py-xgboost": "xgboost",
    "pytables": "tables",
    "python-graphviz": "graphviz",
    "msgpack-python": "msgpack",
    "pyqt": "PyQt5",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "scikit-learn-intelex": "scikit-learn-intelex",
    "jupyter_core": "jupyter-core",
}

#: conda packages that are not Python distributions on PyPI (or are a different thing there),
#: with the Debian package (for apt.txt) that provides the same program, where there is one.
CONDA_ONLY: dict[str, str] = {
    "r-base": "r-base",
    "nodejs": "nodejs",
    "openjdk": "default-jre-headless",
    "ffmpeg": "ffmpeg",
    "graphviz": "graphviz",
    "pandoc": "pandoc",
    "gdal": "gdal-bin",
    "libgdal": "libgdal-dev",
    "proj": "proj-bin",
    "geos": "libgeos-dev",
    "hdf5": "libhdf5-dev",
    "netcdf-fortran": "libnetcdff-dev",
    "libnetcdf": "libnetcdf-dev",
    "cudatoolkit": "",
    "cudnn": "",
    "nomkl": "",
    "blas": "",
    "openblas": "libopenblas-dev",
    "compilers": "build-essential",
    "c-compiler": "gcc",
    "cxx-compiler": "g++",
    "fortran-compiler": "gfortran",
    "gcc": "gcc",
    "gxx": "g++",
    "gfortran": "gfortran",
    "make": "make",
    "git": "git",
    "curl": "curl",
    "wget": "wget",
    "imagemagick": "imagemagick",
    "texlive-core": "texlive",
    "cdo": "cdo",
    "nco": "nco",
    "gmt": "gmt",
    "julia": "julia",
    "go": "golang",
    "udunits2": "libudunits2-dev",
    "eccodes": "libeccodes-dev",
    "zlib": "zlib1g-dev",
    "openssl": "openssl",
    "sqlite": "sqlite3",
    "tk": "tk",
    "xz": "xz-utils",
    "bzip2": "bzip2",
}
CONDA_ONLY_PREFIXES = ("r-", "lib", "_", "cuda-")
#: conda-only names that nonetheless are Python distributions on PyPI with the same meaning.
PYPI_DESPITE_PREFIX = frozenset({"librosa", "libpysal", "lifelines", "libtmux", "library"})


def conda_only(name: str) -> bool:
    """Whether the conda package ``name`` has no Python distribution of that meaning on PyPI."""
    low = name.lower()
    return low in CONDA_ONLY or (low.startswith(CONDA_ONLY_PREFIXES) and low not in PYPI_DESPITE_PREFIX)


def pypi_name(name: str) -> str:
    """The PyPI distribution of the conda package ``name`` (the same name unless :data:`CONDA_TO_PYPI` says)."""
    return CONDA_TO_PYPI.get(name.lower(), name)


def pip_requirement(req: Requirement) -> str:
    """A conda requirement of an ``environment.yml`` as pip reads it (``numpy=1.26`` → ``numpy==1.26.*``)."""
    return f"{pypi_name(req.name)}{req.specifier}"


#: conda packages that pull in more than their PyPI namesake: conda name → import names it brings along.
#: (conda-forge's ``dask`` is the metapackage of dask, distributed, bokeh, pyarrow …; ``dask`` on PyPI is
#: dask-core alone.) Used to tell a translation of environment.yml from an author's missing dependency
#: (validate's DEP010, the run's environment-translation cause).
METAPACKAGE_EXTRAS: dict[str, frozenset[str]] = {
    "dask": frozenset({"distributed", "bokeh", "pyarrow", "lz4", "jinja2", "cytoolz", "pandas", "numpy"}),
    "matplotlib": frozenset({"tornado", "PyQt5"}),
    "jupyter": frozenset({"ipywidgets", "notebook", "qtconsole", "nbconvert", "jupyterlab"}),
    "xarray": frozenset({"netCDF4", "scipy", "bottleneck"}),
    "geopandas": frozenset({"fiona", "pyogrio", "rtree", "mapclassify", "matplotlib", "folium"}),
    "scikit-image": frozenset({"dask", "toolz", "cloudpickle"}),
    "pymc": frozenset({"pytensor", "arviz"}),
    "holoviews": frozenset({"bokeh", "panel", "matplotlib", "plotly"}),
    "tensorflow": frozenset({"tensorboard", "keras"}),
    "astropy": frozenset({"scipy", "matplotlib", "h5py", "pyyaml"}),
}
