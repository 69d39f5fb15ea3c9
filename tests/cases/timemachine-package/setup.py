from setuptools import setup

# the paper as a package: pandas pinned to the version of the paper, NumPy left to pip
setup(name="paper", version="1.0", py_modules=[], packages=[], install_requires=["pandas==2.0.2", "numpy"])
