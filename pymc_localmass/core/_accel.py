"""Whether the compiled kernels (:mod:`._compiled`, numba) are used, and the switch.

numba is optional: where it is missing, or the environment sets
``PYMC_LOCALMASS_NUMBA=0``, or :func:`use_compiled` switched it off, the
numpy paths run. This module does not import numba; :func:`kernel` loads
:mod:`._compiled` (and so numba) on first use.
"""

import os
import warnings

_STATE = {"switch": None, "module": None}


def use_compiled(flag=None):
    """Switch the compiled (numba) kernels on or off for this process.

    Parameters
    ----------
    flag : bool or None
        True: use them where numba imports; False: the numpy paths; None: the
        default (on, unless the environment sets ``PYMC_LOCALMASS_NUMBA=0``).

    Returns
    -------
    bool or None
        The setting before the call (switching off does not load numba).

    Examples
    --------
    >>> before = use_compiled(False)   # the numpy paths
    >>> _ = use_compiled(before)       # back as it was
    """
    previous = _STATE["switch"]
    _STATE["switch"] = None if flag is None else bool(flag)
    _STATE["module"] = None
    return previous


def _module():
    if _STATE["module"] is None:
        switch = _STATE["switch"]
        if switch is None:
            switch = os.environ.get("PYMC_LOCALMASS_NUMBA", "1").strip().lower() not in ("0", "false", "no", "off")
        module = False
        if switch:
            try:
                from . import _compiled as module
            except ImportError:  # pragma: no cover - numba comes with PyMC
                module = False
            except Exception as err:  # pragma: no cover - a broken numba install: the numpy paths
                warnings.warn(f"numba did not load ({err!r}); pymc_localmass uses its numpy paths",
                              RuntimeWarning, stacklevel=3)
                module = False
        _STATE["module"] = module
    return _STATE["module"] or None


def kernel(name):
    """The compiled kernel ``name`` of :mod:`._compiled`, or None (switched off, or numba missing)."""
    module = _module()
    return None if module is None else getattr(module, name)
