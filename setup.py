"""Build of the optional C kernel of the netfilter reader (everything else is in pyproject.toml).

``optional=True``: where no C compiler is available the install still succeeds and the
reader uses its Arrow/RE2 path (same results, slower).
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("fwforensics.formats._nfkernel", ["src/fwforensics/formats/_nfkernel.c"],
                             extra_compile_args=["-O2", "-std=c99"], optional=True)])
