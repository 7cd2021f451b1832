"""sfperf start-up shim: loaded by Python at start-up because sfperf put this directory first on
PYTHONPATH. It redirects Salesforce hosts to the mock and counts file opens (see `sfperf_shim`),
then runs the `sitecustomize` it shadows, if any. It never stops the child from starting.
"""

import importlib
import importlib.machinery
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _install_shim() -> None:
    try:
        importlib.import_module("sfperf_shim").install(os.environ)
    except Exception as exc:  # the child must run even if the shim cannot
        sys.stderr.write(f"sfperf shim: not installed: {exc!r}\n")


def _chain_shadowed_sitecustomize() -> None:
    """Run the sitecustomize that this file hides (a venv's or the distribution's)."""
    others = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["_sfperf_chained_sitecustomize"] = module
    spec.loader.exec_module(module)


_install_shim()
_chain_shadowed_sitecustomize()
