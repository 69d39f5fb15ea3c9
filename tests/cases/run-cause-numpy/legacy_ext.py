"""Stands in for a compiled extension built against NumPy 1.x, imported under NumPy 2.

It writes to stderr what NumPy 2 prints when such a module is imported, and fails as the
import then fails (the observation this test case is modelled on).
"""
import sys

sys.stderr.write(
    "\nA module that was compiled using NumPy 1.x cannot be run in\n"
    "NumPy 2.0.2 as it may crash. To support both 1.x and 2.x\n"
    "versions of NumPy, modules must be compiled with NumPy 2.0.\n"
    "Some module may need to rebuild instead e.g. with 'pybind11>=2.12'.\n"
)
raise ImportError("numpy.core.multiarray failed to import")
